package rules

import (
	"bytes"
	"fmt"
	"math/big"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// FormatError is a table entry that FormatYAML cannot write: the rules
// format has no spelling that Parse reads back into exactly that entry.
type FormatError struct {
	Index int    // position in Table.Entries
	Field string // rules-file key at fault ("src", "rate", ...); "" for the entry as a whole
	Msg   string
}

func (e *FormatError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("entry %d: %s", e.Index, e.Msg)
	}
	return fmt.Sprintf("entry %d: %s: %s", e.Index, e.Field, e.Msg)
}

// FormatErrors is every entry FormatYAML could not write, by entry index. It
// unwraps to its *FormatError members.
type FormatErrors []*FormatError

func (l FormatErrors) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return "cannot write the table as a rules file:\n" + strings.Join(s, "\n")
}

func (l FormatErrors) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// FormatYAML writes t as a rules file (docs/rules.md) that Parse and Compile
// read back into the same table: the same DefaultDrop, MalformedPass and
// valid Entries in the same order, named by Names, or "rule-<i>" (i = index
// in t.Entries) where a name is empty or missing. Only match keys that are
// not "any" are written; ip is always written when it is not any.
//
// Invalid entries (Valid false) are left out, because a rules file has no
// disabled rules; they never match, so the written table filters the same
// frames, but later rules move up (per-rule counter indexes change). A
// comment at the top of the file lists them.
//
// Rates are written as the shortest decimal that Parse rounds to exactly
// Entry.Rate (every 40-bit rate has one: rate × 1e9 / 2^32 is a finite
// decimal), in the unit that gives the shortest text.
//
// Entries the format cannot express (a mask that is not a prefix, ports on
// an ICMP rule, fragment matching without ip 4, reserved field values, ...)
// make FormatYAML fail with FormatErrors, sorted by entry index. The output is
// checked by parsing it, so a nil error means it reads back exactly.
func FormatYAML(t *Table) ([]byte, error) {
	if t == nil {
		return nil, fmt.Errorf("rules: FormatYAML: table is nil")
	}
	if len(t.Names) > len(t.Entries) {
		return nil, fmt.Errorf("rules: FormatYAML: table has %d names for %d entries; Names must line up with Entries", len(t.Names), len(t.Entries))
	}
	var errs FormatErrors
	names, nameErrs := ruleNames(t)
	errs = append(errs, nameErrs...)

	var keep, disabled []int // entry indexes written / left out
	items := map[int][]keyValue{}
	for i, e := range t.Entries {
		if !e.Valid {
			disabled = append(disabled, i)
			continue
		}
		kv, err := entryKeys(i, e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if names[i] == "" {
			continue // its name was reported
		}
		items[i] = append([]keyValue{{"name", names[i]}}, kv...)
		keep = append(keep, i)
	}

	// Parse what is written and compare: the parser is the one definition of
	// what a rules file means, so cross-field rules (ports need tcp or udp,
	// fragment implies ip 4, ...) are checked by it rather than copied here.
	for {
		out, err := render(t, keep, items, disabled)
		if err != nil {
			return nil, err
		}
		bad, perrs, err := verify(t, out, keep, names)
		if err != nil {
			return nil, err
		}
		errs = append(errs, perrs...)
		if len(bad) == 0 {
			if len(errs) > 0 {
				slices.SortStableFunc(errs, func(a, b *FormatError) int { return a.Index - b.Index })
				return nil, errs
			}
			return out, nil
		}
		keep = slices.DeleteFunc(keep, func(i int) bool { return bad[i] })
	}
}

type keyValue struct{ key, value string }

// ruleNames gives each valid entry its rules-file name. Names that are
// present must be valid and unique; missing ones become "rule-<i>", made
// unique if a present name already took that.
func ruleNames(t *Table) ([]string, []*FormatError) {
	names := make([]string, len(t.Entries))
	var errs []*FormatError
	used := map[string]int{}
	for i, e := range t.Entries {
		if !e.Valid || i >= len(t.Names) || t.Names[i] == "" {
			continue
		}
		n := t.Names[i]
		if !nameRe.MatchString(n) || n == "any" {
			errs = append(errs, &FormatError{Index: i, Field: "name",
				Msg: fmt.Sprintf("%q is not a valid rule name; use letters, digits and _ . : - (starting with a letter or digit), or leave it empty for rule-%d", n, i)})
			continue
		}
		if first, dup := used[n]; dup {
			errs = append(errs, &FormatError{Index: i, Field: "name",
				Msg: fmt.Sprintf("name %q is already used by entry %d; names must be unique", n, first)})
			continue
		}
		used[n] = i
		names[i] = n
	}
	for i, e := range t.Entries {
		if !e.Valid || i < len(t.Names) && t.Names[i] != "" {
			continue
		}
		n := fmt.Sprintf("rule-%d", i)
		for k := 2; ; k++ {
			if _, taken := used[n]; !taken {
				break
			}
			n = fmt.Sprintf("rule-%d.%d", i, k)
		}
		used[n] = i
		names[i] = n
	}
	return names, errs
}

// entryKeys spells entry i as rule keys (without name), in docs/rules.md
// order. It rejects values that have no spelling at all; combinations the
// parser rejects are found later by verify.
func entryKeys(i int, e Entry) ([]keyValue, *FormatError) {
	fail := func(field, format string, args ...any) ([]keyValue, *FormatError) {
		return nil, &FormatError{Index: i, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	var kv []keyValue
	add := func(k, v string) { kv = append(kv, keyValue{k, v}) }

	if e.Action > ActionPolice {
		return fail("action", "action %d is reserved; a rules file has pass, drop and police", e.Action)
	}
	add("action", e.Action.String())

	if e.IPVer > IPNonIP {
		return fail("ip", "ip version %d does not exist; want 0 (any) to 3 (non-ip)", e.IPVer)
	}
	if e.IPVer != IPAny {
		add("ip", e.IPVer.String())
	}
	for _, a := range []struct {
		key        string
		addr, mask [16]byte
	}{{"src", e.SrcAddr, e.SrcMask}, {"dst", e.DstAddr, e.DstMask}} {
		s, msg := prefixText(e.IPVer, a.addr, a.mask)
		if msg != "" {
			return fail(a.key, "%s", msg)
		}
		if s != "" {
			add(a.key, s)
		}
	}

	switch {
	case e.ProtoValid:
		add("proto", ProtoName(e.Proto))
	case e.Proto != 0:
		return fail("proto", "proto %d is set but proto_valid is not; a rules file sets both or neither", e.Proto)
	}
	for _, r := range []struct {
		key    string
		lo, hi uint16
	}{{"src_port", e.SportLo, e.SportHi}, {"dst_port", e.DportLo, e.DportHi}} {
		s, msg := rangeText(r.lo, r.hi)
		if msg != "" {
			return fail(r.key, "%s", msg)
		}
		if s != "" {
			add(r.key, s)
		}
	}
	switch {
	case e.TCPFlagsValue&^e.TCPFlagsMask != 0:
		return fail("tcp_flags", "value 0x%02x has bits outside mask 0x%02x; a rules file only sets value bits under the mask", e.TCPFlagsValue, e.TCPFlagsMask)
	case e.TCPFlagsMask != 0:
		add("tcp_flags", FormatTCPFlags(e.TCPFlagsMask, e.TCPFlagsValue))
	}
	switch {
	case e.ICMPValid:
		add("icmp_type", strconv.Itoa(int(e.ICMPType)))
	case e.ICMPType != 0:
		return fail("icmp_type", "ICMP type %d is set but icmp_valid is not; a rules file sets both or neither", e.ICMPType)
	}
	s, msg := rangeText(e.LenLo, e.LenHi)
	if msg != "" {
		return fail("length", "%s", msg)
	}
	if s != "" {
		add("length", s)
	}

	switch {
	case e.VLANMode > VLANMatchID:
		return fail("vlan", "vlan mode %d is reserved (never matches); a rules file has any, untagged and a VID", e.VLANMode)
	case e.VLANID > 0xFFF:
		return fail("vlan", "VID %d does not fit in 12 bits", e.VLANID)
	case e.VLANMode == VLANMatchID:
		add("vlan", strconv.Itoa(int(e.VLANID)))
	case e.VLANID != 0:
		return fail("vlan", "VID %d is set but vlan mode is %d; a rules file only sets a VID with vlan mode 2", e.VLANID, e.VLANMode)
	case e.VLANMode == VLANUntagged:
		add("vlan", "untagged")
	}

	switch {
	case e.Frag > FragNonFirst:
		return fail("fragment", "fragment mode %d does not exist; want 0 (any) to 3 (non-first)", e.Frag)
	case e.Frag != FragAny:
		add("fragment", e.Frag.String())
	}

	if e.Action != ActionPolice {
		if e.Rate != 0 || e.Burst != 0 || e.PoliceBytes {
			return fail("rate", "a %s rule has rate %d, burst %d, police_bytes %v; a rules file only gives those to police rules (clear them)", e.Action, e.Rate, e.Burst, e.PoliceBytes)
		}
		return kv, nil
	}
	switch {
	case e.Rate == 0:
		return fail("rate", "rate 0 never refills the bucket and a rules file cannot write it; the smallest rate is 1")
	case e.Rate > MaxRate:
		return fail("rate", "rate %d does not fit in the 40-bit register (max %d)", e.Rate, uint64(MaxRate))
	case e.Burst == 0:
		return fail("burst", "burst 0 passes nothing and a rules file cannot write it; the smallest burst is 1")
	}
	add("rate", formatRate(e.Rate, e.PoliceBytes))
	add("burst", burstText(e.Burst))
	return kv, nil
}

// prefixText writes addr/mask as a prefix of the rule's IP version; "" with
// no message when the mask is 0 (any).
func prefixText(ver IPVersion, addr, mask [16]byte) (string, string) {
	if mask == ([16]byte{}) {
		if addr != ([16]byte{}) {
			return "", "address is set with mask 0; a rules file cannot write an address outside its prefix"
		}
		return "", ""
	}
	off := 0 // first byte of the version's address bits
	switch ver {
	case IPv4:
		off = 12
	case IPv6:
	default:
		return "", fmt.Sprintf("a mask is set but the rule is ip %s; a rules file sets addresses only on ip 4 or 6 rules", ver)
	}
	width := 8 * (16 - off)
	bits := 0
	for bits < width && mask[off+bits/8]&(0x80>>(bits%8)) != 0 {
		bits++
	}
	var want [16]byte
	for i := 0; i < bits; i++ {
		want[off+i/8] |= 0x80 >> (i % 8)
	}
	if want != mask {
		return "", fmt.Sprintf("mask %s is not a prefix (leading ones, then zeros, within the low %d bits); a rules file can only write prefixes", hex16(mask), width)
	}
	for i := range addr {
		if addr[i]&^mask[i] != 0 {
			return "", fmt.Sprintf("address %s has bits outside mask %s; a rules file cannot write host bits", hex16(addr), hex16(mask))
		}
	}
	a := netip.AddrFrom16(addr)
	if off == 12 {
		a = netip.AddrFrom4([4]byte(addr[12:16]))
	}
	if bits == width {
		return a.String(), "" // a bare address is a full-length prefix
	}
	return netip.PrefixFrom(a, bits).String(), ""
}

func hex16(b [16]byte) string { return fmt.Sprintf("0x%x", b[:]) }

// rangeText writes lo..hi as N or N-M; "" when it is the full 0..65535.
func rangeText(lo, hi uint16) (string, string) {
	switch {
	case lo > hi:
		return "", fmt.Sprintf("range %d-%d is empty (never matches); a rules file needs lo <= hi", lo, hi)
	case lo == 0 && hi == 0xFFFF:
		return "", ""
	case lo == hi:
		return strconv.Itoa(int(lo)), ""
	}
	return fmt.Sprintf("%d-%d", lo, hi), ""
}

func burstText(b uint32) string {
	for _, s := range []struct {
		suffix string
		mult   uint32
	}{{"G", 1e9}, {"M", 1e6}, {"k", 1e3}} {
		if b%s.mult == 0 {
			return strconv.FormatUint(uint64(b/s.mult), 10) + s.suffix
		}
	}
	return strconv.FormatUint(uint64(b), 10)
}

// formatRate writes a rate register value in the rules-file syntax: the
// shortest decimal, with unit prefix, that the parser rounds to exactly
// rate (pps for packet buckets, bps or Bps for byte buckets). rate must be
// 1..MaxRate.
func formatRate(rate uint64, bytes bool) string {
	// Parse maps units u to floor(u × 2^32/1e9 + 1/2), so the units that give
	// rate are [(rate-1/2), (rate+1/2)) × 1e9/2^32.
	scale := new(big.Rat).SetFrac(big.NewInt(1e9), new(big.Int).Lsh(big.NewInt(1), 33))
	lo := new(big.Rat).Mul(new(big.Rat).SetInt(new(big.Int).SetUint64(2*rate-1)), scale)
	hi := new(big.Rat).Mul(new(big.Rat).SetInt(new(big.Int).SetUint64(2*rate+1)), scale)
	units := []struct {
		name string
		per  int64 // written value per bucket unit
	}{{"pps", 1}}
	if bytes {
		units = []struct {
			name string
			per  int64
		}{{"bps", 8}, {"Bps", 1}}
	}
	best := ""
	for _, u := range units {
		for _, p := range []struct {
			prefix string
			mult   int64
		}{{"", 1}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}} {
			f := big.NewRat(u.per, p.mult)
			num, ok := shortestDecimal(new(big.Rat).Mul(lo, f), new(big.Rat).Mul(hi, f))
			if !ok {
				continue
			}
			if s := num + p.prefix + u.name; best == "" || len(s) < len(best) {
				best = s
			}
		}
	}
	return best
}

// shortestDecimal returns the decimal with the fewest fractional digits in
// [lo, hi), lo > 0.
func shortestDecimal(lo, hi *big.Rat) (string, bool) {
	pow := big.NewInt(1)
	for digits := 0; digits <= 40; digits++ {
		// n = ceil(lo × 10^digits)
		x := new(big.Rat).Mul(lo, new(big.Rat).SetInt(pow))
		n := new(big.Int).Quo(x.Num(), x.Denom())
		if new(big.Rat).SetInt(n).Cmp(x) < 0 {
			n.Add(n, big.NewInt(1))
		}
		if new(big.Rat).SetFrac(n, pow).Cmp(hi) < 0 && n.Sign() > 0 {
			s := n.String()
			if digits == 0 {
				return s, true
			}
			if len(s) <= digits {
				s = strings.Repeat("0", digits-len(s)+1) + s
			}
			return s[:len(s)-digits] + "." + s[len(s)-digits:], true
		}
		pow.Mul(pow, big.NewInt(10))
	}
	return "", false
}

// render lays the file out; keep are the entry indexes to write.
func render(t *Table, keep []int, items map[int][]keyValue, disabled []int) ([]byte, error) {
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	// Names are tagged as strings so that "null", "true" or "1e3" get quoted
	// and read back as text; other values are plain words the parser reads as text anyway.
	name := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	top := &yaml.Node{Kind: yaml.MappingNode}
	def, mal := "pass", "drop"
	if t.DefaultDrop {
		def = "drop"
	}
	if t.MalformedPass {
		mal = "pass"
	}
	list := &yaml.Node{Kind: yaml.SequenceNode}
	if len(keep) == 0 {
		list.Style = yaml.FlowStyle // rules: []
	}
	top.Content = append(top.Content, str("default"), str(def), str("malformed"), str(mal), str("rules"), list)
	for _, i := range keep {
		m := &yaml.Node{Kind: yaml.MappingNode}
		for _, kv := range items[i] {
			v := str(kv.value)
			if kv.key == "name" {
				v = name(kv.value)
			}
			m.Content = append(m.Content, str(kv.key), v)
		}
		list.Content = append(list.Content, m)
	}
	if len(disabled) > 0 {
		s := make([]string, len(disabled))
		for k, i := range disabled {
			s[k] = strconv.Itoa(i)
		}
		top.HeadComment = "Disabled table entries (valid = 0) left out, since a rules file has no disabled rules: " + strings.Join(s, ", ")
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{top}}); err != nil {
		return nil, fmt.Errorf("rules: FormatYAML: encoding YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("rules: FormatYAML: encoding YAML: %w", err)
	}
	return buf.Bytes(), nil
}

var ruleFieldRe = regexp.MustCompile(`^rules\[(\d+)\](?:\.([a-z_]+))?`)

// verify parses out and compares it with t. bad holds the entries that did
// not read back (reported in errs); err is a bug in FormatYAML itself.
func verify(t *Table, out []byte, keep []int, names []string) (bad map[int]bool, errs []*FormatError, err error) {
	const file = "FormatYAML output"
	bad = map[int]bool{}
	rs, perr := Parse(file, out)
	if perr != nil {
		for _, pe := range AsErrors(perr) {
			m := ruleFieldRe.FindStringSubmatch(pe.Field)
			if m == nil {
				return nil, nil, fmt.Errorf("rules: FormatYAML wrote a file that does not parse (a bug in FormatYAML): %w", perr)
			}
			j, _ := strconv.Atoi(m[1])
			if j >= len(keep) {
				return nil, nil, fmt.Errorf("rules: FormatYAML: parse error for rule %d of %d written (a bug in FormatYAML): %w", j, len(keep), perr)
			}
			i := keep[j]
			if !bad[i] {
				errs = append(errs, &FormatError{Index: i, Field: m[2], Msg: "cannot be written as a rules file: " + pe.Msg})
			}
			bad[i] = true
		}
		return bad, errs, nil
	}
	if rs.DefaultDrop != t.DefaultDrop || rs.MalformedPass != t.MalformedPass || len(rs.Rules) != len(keep) {
		return nil, nil, fmt.Errorf("rules: FormatYAML: output reads back as default drop %v, malformed pass %v, %d rules; want %v, %v, %d (a bug in FormatYAML)",
			rs.DefaultDrop, rs.MalformedPass, len(rs.Rules), t.DefaultDrop, t.MalformedPass, len(keep))
	}
	for j, i := range keep {
		r := rs.Rules[j]
		if r.Name != names[i] {
			return nil, nil, fmt.Errorf("rules: FormatYAML: entry %d reads back named %q, want %q (a bug in FormatYAML)", i, r.Name, names[i])
		}
		if field, got, want := entryDiff(r.Entry, t.Entries[i]); field != "" {
			errs = append(errs, &FormatError{Index: i, Field: fieldKeys[field],
				Msg: fmt.Sprintf("reads back from a rules file with %s = %v instead of %v; the rules format cannot express this entry", field, got, want)})
			bad[i] = true
		}
	}
	return bad, errs, nil
}

// fieldKeys names the rules-file key behind each Entry field.
var fieldKeys = map[string]string{
	"Valid": "", "Action": "action", "IPVer": "ip", "VLANMode": "vlan", "Frag": "fragment",
	"ProtoValid": "proto", "ICMPValid": "icmp_type", "PoliceBytes": "rate", "Proto": "proto",
	"ICMPType": "icmp_type", "TCPFlagsMask": "tcp_flags", "TCPFlagsValue": "tcp_flags", "VLANID": "vlan",
	"SportLo": "src_port", "SportHi": "src_port", "DportLo": "dst_port", "DportHi": "dst_port",
	"LenLo": "length", "LenHi": "length", "Rate": "rate", "Burst": "burst",
	"SrcAddr": "src", "SrcMask": "src", "DstAddr": "dst", "DstMask": "dst",
}

// entryDiff names the first field where got and want differ.
func entryDiff(got, want Entry) (field string, g, w any) {
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for k := 0; k < gv.NumField(); k++ {
		if !gv.Field(k).Equal(wv.Field(k)) {
			return gv.Type().Field(k).Name, gv.Field(k).Interface(), wv.Field(k).Interface()
		}
	}
	return "", nil, nil
}
