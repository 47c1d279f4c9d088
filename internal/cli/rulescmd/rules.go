// Package rulescmd implements `fpgactl rules`: check and compile rules files
// (sim/rules) into the pf_filter table image.
package rulescmd

import (
	"encoding/hex"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"strconv"
	"text/tabwriter"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/spf13/cobra"
)

// NewCmdRules builds `fpgactl rules` and its subcommands.
func NewCmdRules() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules <command>",
		Short: "Check and compile packet-filter rules files",
		Long: `Rules files are YAML (see docs/rules.md). The same file drives the golden model,
the simulation and a real board; compile turns it into the register writes that
load the filter's rule table.`,
		Example: `  fpgactl rules check tests/rules/example.yaml
  fpgactl rules compile tests/rules/example.yaml --output hex > rules.hex`,
	}
	cmd.AddCommand(NewCmdCheck(nil), NewCmdCompile(nil))
	return cmd
}

// CheckOptions are the inputs of `rules check`.
type CheckOptions struct {
	Out      io.Writer
	File     string
	NumRules int
}

// NewCmdCheck builds `rules check`; runF replaces RunCheck in tests.
func NewCmdCheck(runF func(*CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{}
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Report every problem in a rules file, with line and field",
		Example: `  fpgactl rules check tests/rules/example.yaml
  fpgactl rules check --rules-max 16 small-board.yaml`,
		Args: exactlyOneFile,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Out, opts.File = cmd.OutOrStdout(), args[0]
			if runF != nil {
				return runF(opts)
			}
			return RunCheck(opts)
		},
	}
	cmd.Flags().IntVar(&opts.NumRules, "rules-max", rules.DefaultNumRules, "rule slots in the target build (NUM_RULES)")
	return cmd
}

// RunCheck parses and compiles the file and prints a one-line summary.
func RunCheck(opts *CheckOptions) error {
	rs, t, err := load(opts.File, opts.NumRules)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "%s: ok, %d rules (%d of %d slots), default %s, malformed %s\n",
		opts.File, len(rs.Rules), len(t.Entries), opts.NumRules, passDrop(!t.DefaultDrop), passDrop(t.MalformedPass))
	return nil
}

// CompileOptions are the inputs of `rules compile`.
type CompileOptions struct {
	Out      io.Writer
	File     string
	NumRules int
	Format   string // text, json or hex
}

// NewCmdCompile builds `rules compile`; runF replaces RunCompile in tests.
func NewCmdCompile(runF func(*CompileOptions) error) *cobra.Command {
	opts := &CompileOptions{}
	cmd := &cobra.Command{
		Use:   "compile FILE",
		Short: "Compile a rules file into the filter's rule table and register writes",
		Long: `Compile checks the file like "rules check", then prints the table:

  text  a table of the compiled rules and a summary
  json  the entries, their 25 register words each, and every register write
  hex   one "ADDR DATA" line (hex) per AXI4-Lite write, in order: all rule words
        of every slot (unused slots zeroed), CONTROL, then SWAP; a board loader
        replays them as they are`,
		Example: `  fpgactl rules compile tests/rules/example.yaml
  fpgactl rules compile tests/rules/example.yaml --output json | jq '.rules[0]'
  fpgactl rules compile --rules-max 16 --output hex tests/rules/example.yaml > load.hex`,
		Args: exactlyOneFile,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Out, opts.File = cmd.OutOrStdout(), args[0]
			switch opts.Format {
			case "text", "json", "hex":
			default:
				return cmdutil.FlagErrorf("--output must be text, json or hex, not %q", opts.Format)
			}
			if runF != nil {
				return runF(opts)
			}
			return RunCompile(opts)
		},
	}
	cmd.Flags().IntVar(&opts.NumRules, "rules-max", rules.DefaultNumRules, "rule slots in the target build (NUM_RULES)")
	// Shadows the global --output (text|json) to add hex.
	cmd.Flags().StringVarP(&opts.Format, "output", "o", "text", "output format: text, json or hex")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"text", "json", "hex"}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func exactlyOneFile(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return cmdutil.FlagErrorf("%q needs exactly one rules file, got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

func load(file string, numRules int) (*rules.RuleSet, *rules.Table, error) {
	if numRules < 1 {
		return nil, nil, cmdutil.FlagErrorf("--rules-max must be at least 1, not %d", numRules)
	}
	rs, err := rules.ParseFile(file)
	if err != nil {
		return nil, nil, err
	}
	t, err := rs.Compile(numRules)
	if err != nil {
		return nil, nil, err
	}
	return rs, t, nil
}

// RunCompile compiles the file and prints it in opts.Format.
func RunCompile(opts *CompileOptions) error {
	rs, t, err := load(opts.File, opts.NumRules)
	if err != nil {
		return err
	}
	writes := t.RegisterWrites(opts.NumRules)
	switch opts.Format {
	case "hex":
		for _, w := range writes {
			if _, err := fmt.Fprintf(opts.Out, "%08x %08x\n", w.Addr, w.Data); err != nil {
				return err
			}
		}
		return nil
	case "json":
		return cmdutil.PrintJSON(opts.Out, compiledJSON(rs, t, opts.NumRules, writes))
	}
	return printText(opts.Out, rs, t, opts.NumRules, len(writes))
}

// Compiled is what `--output json` prints.
type Compiled struct {
	File           string           `json:"file"`
	NumRules       int              `json:"num_rules"`
	DefaultDrop    bool             `json:"default_drop"`
	MalformedPass  bool             `json:"malformed_pass"`
	Control        uint32           `json:"control"`
	Rules          []CompiledRule   `json:"rules"`
	RegisterWrites []rules.RegWrite `json:"register_writes"`
}

// CompiledRule is one entry with its origin and register words.
type CompiledRule struct {
	Index int       `json:"index"`
	Name  string    `json:"name"`
	Line  int       `json:"line"`
	Entry EntryJSON `json:"entry"`
	Words []uint32  `json:"words"`
}

// EntryJSON is rules.Entry with names for enums and hex for 128-bit values.
type EntryJSON struct {
	Valid         bool   `json:"valid"`
	Action        string `json:"action"`
	IPVer         string `json:"ipver"`
	VLANMode      uint8  `json:"vlan_mode"`
	Frag          string `json:"frag"`
	ProtoValid    bool   `json:"proto_valid"`
	ICMPValid     bool   `json:"icmp_valid"`
	PoliceBytes   bool   `json:"police_bytes"`
	Proto         uint8  `json:"proto"`
	ICMPType      uint8  `json:"icmp_type"`
	TCPFlagsMask  uint8  `json:"tcp_flags_mask"`
	TCPFlagsValue uint8  `json:"tcp_flags_value"`
	VLANID        uint16 `json:"vlan_id"`
	SportLo       uint16 `json:"sport_lo"`
	SportHi       uint16 `json:"sport_hi"`
	DportLo       uint16 `json:"dport_lo"`
	DportHi       uint16 `json:"dport_hi"`
	LenLo         uint16 `json:"len_lo"`
	LenHi         uint16 `json:"len_hi"`
	Rate          uint64 `json:"rate"`
	Burst         uint32 `json:"burst"`
	SrcAddr       string `json:"src_addr"`
	SrcMask       string `json:"src_mask"`
	DstAddr       string `json:"dst_addr"`
	DstMask       string `json:"dst_mask"`
}

func entryJSON(e rules.Entry) EntryJSON {
	return EntryJSON{
		Valid: e.Valid, Action: e.Action.String(), IPVer: e.IPVer.String(), VLANMode: uint8(e.VLANMode),
		Frag: e.Frag.String(), ProtoValid: e.ProtoValid, ICMPValid: e.ICMPValid, PoliceBytes: e.PoliceBytes,
		Proto: e.Proto, ICMPType: e.ICMPType, TCPFlagsMask: e.TCPFlagsMask, TCPFlagsValue: e.TCPFlagsValue,
		VLANID: e.VLANID, SportLo: e.SportLo, SportHi: e.SportHi, DportLo: e.DportLo, DportHi: e.DportHi,
		LenLo: e.LenLo, LenHi: e.LenHi, Rate: e.Rate, Burst: e.Burst,
		SrcAddr: hex.EncodeToString(e.SrcAddr[:]), SrcMask: hex.EncodeToString(e.SrcMask[:]),
		DstAddr: hex.EncodeToString(e.DstAddr[:]), DstMask: hex.EncodeToString(e.DstMask[:]),
	}
}

func compiledJSON(rs *rules.RuleSet, t *rules.Table, numRules int, writes []rules.RegWrite) Compiled {
	c := Compiled{File: rs.File, NumRules: numRules, DefaultDrop: t.DefaultDrop, MalformedPass: t.MalformedPass,
		Control: t.Control(), Rules: []CompiledRule{}, RegisterWrites: writes}
	for i, e := range t.Entries {
		w := e.Words()
		c.Rules = append(c.Rules, CompiledRule{Index: i, Name: rs.Rules[i].Name, Line: rs.Rules[i].Line, Entry: entryJSON(e), Words: w[:]})
	}
	return c
}

func passDrop(pass bool) string {
	if pass {
		return "pass"
	}
	return "drop"
}

func printText(w io.Writer, rs *rules.RuleSet, t *rules.Table, numRules, nWrites int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tNAME\tACTION\tIP\tSRC\tDST\tPROTO\tSPORT\tDPORT\tTCP FLAGS\tICMP\tLENGTH\tVLAN\tFRAG\tRATE\tBURST")
	for i, e := range t.Entries {
		r := rs.Rules[i]
		rate, burst := "-", "-"
		if e.Action == rules.ActionPolice {
			unit := "pkt"
			if e.PoliceBytes {
				unit = "B"
			}
			rate = fmt.Sprintf("%s (%d)", r.Rate, e.Rate)
			burst = fmt.Sprintf("%d %s", e.Burst, unit)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i, r.Name, e.Action, e.IPVer,
			prefixText(e.IPVer, e.SrcAddr, e.SrcMask), prefixText(e.IPVer, e.DstAddr, e.DstMask), protoText(e),
			rangeText(e.SportLo, e.SportHi), rangeText(e.DportLo, e.DportHi), rules.FormatTCPFlags(e.TCPFlagsMask, e.TCPFlagsValue),
			icmpText(e), rangeText(e.LenLo, e.LenHi), vlanText(e), fragText(e.Frag), rate, burst)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d of %d rule slots used; default %s; malformed %s; %d register writes (CONTROL = %#x)\n",
		len(t.Entries), numRules, passDrop(!t.DefaultDrop), passDrop(t.MalformedPass), nWrites, t.Control())
	return err
}

// prefixText shows an address/mask pair as a prefix ("*" for mask 0).
func prefixText(v rules.IPVersion, addr, mask [16]byte) string {
	if mask == ([16]byte{}) {
		return "*"
	}
	a, m := addr[:], mask[:]
	if v == rules.IPv4 {
		a, m = addr[12:], mask[12:]
	}
	ones := 0
	for _, b := range m {
		ones += bits.OnesCount8(b)
	}
	for i, b := range m { // only a contiguous mask is a prefix
		want := byte(0)
		if n := ones - 8*i; n >= 8 {
			want = 0xFF
		} else if n > 0 {
			want = ^byte(0xFF >> n)
		}
		if b != want {
			return hex.EncodeToString(a) + "&" + hex.EncodeToString(m)
		}
	}
	ip, _ := netip.AddrFromSlice(a)
	return netip.PrefixFrom(ip, ones).String()
}

func protoText(e rules.Entry) string {
	if !e.ProtoValid {
		return "*"
	}
	return rules.ProtoName(e.Proto)
}

func rangeText(lo, hi uint16) string {
	switch {
	case lo == 0 && hi == 0xFFFF:
		return "*"
	case lo == hi:
		return strconv.Itoa(int(lo))
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

func icmpText(e rules.Entry) string {
	if !e.ICMPValid {
		return "*"
	}
	return strconv.Itoa(int(e.ICMPType))
}

func vlanText(e rules.Entry) string {
	switch e.VLANMode {
	case rules.VLANAny:
		return "*"
	case rules.VLANUntagged:
		return "untagged"
	case rules.VLANMatchID:
		return strconv.Itoa(int(e.VLANID))
	}
	return "reserved"
}

func fragText(f rules.FragMode) string {
	if f == rules.FragAny {
		return "*"
	}
	return f.String()
}
