package rules_test

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/sim/vectors"
)

// readBack parses a FormatYAML output into a table.
func readBack(t testing.TB, out []byte) *rules.Table {
	t.Helper()
	rs, err := rules.Parse("out.yaml", out)
	if err != nil {
		t.Fatalf("FormatYAML output does not parse: %v\n%s", err, out)
	}
	tab, err := rs.Compile(max(1, len(rs.Rules)))
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// sameTable compares tables, treating nil and empty slices alike.
func sameTable(t testing.TB, got, want *rules.Table, out []byte) {
	t.Helper()
	if got.DefaultDrop != want.DefaultDrop || got.MalformedPass != want.MalformedPass {
		t.Fatalf("default drop, malformed pass = %v, %v; want %v, %v\n%s", got.DefaultDrop, got.MalformedPass, want.DefaultDrop, want.MalformedPass, out)
	}
	if len(got.Entries) != len(want.Entries) {
		t.Fatalf("%d entries read back, want %d\n%s", len(got.Entries), len(want.Entries), out)
	}
	for i := range want.Entries {
		if got.Entries[i] != want.Entries[i] {
			t.Fatalf("entry %d reads back as\n%+v\nwant\n%+v\n%s", i, got.Entries[i], want.Entries[i], out)
		}
		if got.Names[i] != want.Names[i] {
			t.Fatalf("entry %d reads back named %q, want %q", i, got.Names[i], want.Names[i])
		}
	}
}

func formatErrors(t testing.TB, err error) rules.FormatErrors {
	t.Helper()
	var l rules.FormatErrors
	if !errors.As(err, &l) {
		t.Fatalf("error is not rules.FormatErrors: %v", err)
	}
	return l
}

// docsForbid lists why docs/rules.md says a rules file cannot say e, for the
// kinds of entries vectors.RandomTable makes (prefixes, rates and ranges it
// always draws in range). It is written from the docs, not from FormatYAML.
func docsForbid(e rules.Entry) []string {
	var why []string
	hasPortsProto := !e.ProtoValid || e.Proto == 6 || e.Proto == 17
	ports := e.SportLo != 0 || e.SportHi != 0xFFFF || e.DportLo != 0 || e.DportHi != 0xFFFF
	if ports && (!hasPortsProto || e.IPVer == rules.IPNonIP) {
		why = append(why, "ports need tcp, udp or no proto, and IP")
	}
	if e.TCPFlagsMask != 0 && (e.ProtoValid && e.Proto != 6 || e.IPVer == rules.IPNonIP) {
		why = append(why, "tcp_flags need tcp or no proto, and IP")
	}
	if e.ICMPValid {
		v4ok := e.ProtoValid && e.Proto == 1 && e.IPVer != rules.IPv6
		v6ok := e.ProtoValid && e.Proto == 58 && e.IPVer != rules.IPv4
		if !v4ok && !v6ok {
			why = append(why, "icmp_type needs proto icmp (not on IPv6) or icmpv6 (not on IPv4)")
		}
	}
	if e.ProtoValid && e.IPVer == rules.IPNonIP {
		why = append(why, "non-ip has no proto")
	}
	if e.Frag != rules.FragAny && e.IPVer != rules.IPv4 {
		why = append(why, "fragment is IPv4 only (and makes the rule ip 4)")
	}
	return why
}

func TestFormatYAMLRandomTables(t *testing.T) {
	var written, rejected, disabled int
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 300; seed++ {
		n := []int{0, 1, 3, 8, 20, 64}[seed%6]
		tab := vectors.RandomTable(seed, n)

		var wantBad []int
		for i, e := range tab.Entries {
			if e.Valid && len(docsForbid(e)) > 0 {
				wantBad = append(wantBad, i)
			}
		}
		out, err := rules.FormatYAML(tab)
		if len(wantBad) == 0 && err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if len(wantBad) > 0 {
			if err == nil {
				t.Fatalf("seed %d: entries %v cannot be written (docs) but FormatYAML wrote\n%s", seed, wantBad, out)
			}
			var gotBad []int
			for _, fe := range formatErrors(t, err) {
				if fe.Index < 0 || fe.Index >= n || fe.Field == "" {
					t.Fatalf("seed %d: error without entry or field: %v", seed, fe)
				}
				gotBad = append(gotBad, fe.Index)
			}
			if !slices.Equal(gotBad, wantBad) {
				t.Fatalf("seed %d: FormatYAML rejects entries %v, docs reject %v:\n%v", seed, gotBad, wantBad, err)
			}
			rejected += len(wantBad)
		}

		// What remains, without the invalid entries, reads back identically.
		keep := &rules.Table{DefaultDrop: tab.DefaultDrop, MalformedPass: tab.MalformedPass, Entries: []rules.Entry{}, Names: []string{}}
		full := &rules.Table{DefaultDrop: tab.DefaultDrop, MalformedPass: tab.MalformedPass}
		for i, e := range tab.Entries {
			if slices.Contains(wantBad, i) {
				continue
			}
			full.Entries, full.Names = append(full.Entries, e), append(full.Names, tab.Names[i])
			if !e.Valid {
				disabled++
				continue
			}
			keep.Entries, keep.Names = append(keep.Entries, e), append(keep.Names, tab.Names[i])
			written++
			if e.Action == rules.ActionPolice {
				seen[fmt.Sprintf("police bytes=%v", e.PoliceBytes)] = true
			}
			if e.SrcMask != ([16]byte{}) || e.DstMask != ([16]byte{}) {
				seen["prefix ip"+e.IPVer.String()] = true
			}
			if e.Frag != rules.FragAny {
				seen["fragment"] = true
			}
			if e.ICMPValid {
				seen["icmp"] = true
			}
			if e.VLANMode != rules.VLANAny {
				seen["vlan"] = true
			}
			if e.TCPFlagsMask != 0 {
				seen["tcp_flags"] = true
			}
		}
		out, err = rules.FormatYAML(full)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		sameTable(t, readBack(t, out), keep, out)
	}
	for _, k := range []string{"police bytes=true", "police bytes=false", "prefix ip4", "prefix ip6", "fragment", "icmp", "vlan", "tcp_flags"} {
		if !seen[k] {
			t.Errorf("no written entry had %s; the test covers less than it should", k)
		}
	}
	if written < 1000 || rejected == 0 || disabled == 0 {
		t.Errorf("written %d, rejected %d, disabled %d entries; want many written and some of each other", written, rejected, disabled)
	}
}

func TestFormatYAMLExampleFiles(t *testing.T) {
	files, _ := filepath.Glob("../../tests/rules/*.yaml")
	files = append(files, filepath.Join("testdata", "good.yaml"))
	for _, f := range files {
		rs, err := rules.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tab, err := rs.Compile(rules.DefaultNumRules)
		if err != nil {
			t.Fatal(err)
		}
		out, err := rules.FormatYAML(tab)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sameTable(t, readBack(t, out), tab, out)

		// Rates come back no longer than a person wrote them (the same
		// rate may get other words: 125MBps is 1Gbps).
		back, _ := rules.Parse("out.yaml", out)
		for i, r := range rs.Rules {
			if len(back.Rules[i].Rate) > len(r.Rate) {
				t.Errorf("%s: rule %s rate %q written as %q", f, r.Name, r.Rate, back.Rules[i].Rate)
			}
		}
	}
}

func TestFormatYAMLRatesExact(t *testing.T) {
	rates := []uint64{1, 2, 3, 4, 5, 42950, 1 << 32, rules.MaxRate, rules.MaxRate - 1, 1<<39 + 1}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		rates = append(rates, 1+r.Uint64N(rules.MaxRate))
		rates = append(rates, 1+r.Uint64N(1<<20))
	}
	for _, rate := range rates {
		for _, bytes := range []bool{false, true} {
			e := rules.AnyEntry(rules.ActionPolice)
			e.Rate, e.Burst, e.PoliceBytes = rate, 1, bytes
			tab := &rules.Table{Entries: []rules.Entry{e}}
			out, err := rules.FormatYAML(tab)
			if err != nil {
				t.Fatalf("rate %d bytes %v: %v", rate, bytes, err)
			}
			got := readBack(t, out)
			if got.Entries[0].Rate != rate || got.Entries[0].PoliceBytes != bytes {
				t.Fatalf("rate %d bytes %v reads back as %d bytes %v:\n%s", rate, bytes, got.Entries[0].Rate, got.Entries[0].PoliceBytes, out)
			}
		}
	}
	// A whole number of packets per second is never written longer than
	// the plain number.
	for i := 0; i < 500; i++ {
		ups := 1 + r.Int64N(100_000_000)
		rate := rules.RateFromUnitsPerSecond(big.NewRat(ups, 1)).Uint64()
		e := rules.AnyEntry(rules.ActionPolice)
		e.Rate, e.Burst = rate, 1
		out, err := rules.FormatYAML(&rules.Table{Entries: []rules.Entry{e}})
		if err != nil {
			t.Fatal(err)
		}
		back, _ := rules.Parse("out.yaml", out)
		if plain := fmt.Sprintf("%dpps", ups); len(back.Rules[0].Rate) > len(plain) {
			t.Fatalf("%d pps (rate %d) written as %q, longer than %q", ups, rate, back.Rules[0].Rate, plain)
		}
	}
}

func TestFormatYAMLRejects(t *testing.T) {
	good := rules.AnyEntry(rules.ActionDrop)
	v4 := func(a, b, c, d byte) (x [16]byte) { x[12], x[13], x[14], x[15] = a, b, c, d; return x }
	tests := []struct {
		name  string
		edit  func(e *rules.Entry)
		field string
	}{
		{"non-prefix mask", func(e *rules.Entry) { e.IPVer, e.SrcMask = rules.IPv4, v4(255, 0, 255, 0) }, "src"},
		{"v4 mask above bit 31", func(e *rules.Entry) { e.IPVer = rules.IPv4; e.DstMask[0] = 0xff }, "dst"},
		{"host bits", func(e *rules.Entry) {
			e.IPVer, e.SrcAddr, e.SrcMask = rules.IPv4, v4(10, 0, 0, 1), v4(255, 0, 0, 0)
		}, "src"},
		{"mask without ip version", func(e *rules.Entry) { e.SrcMask = v4(255, 255, 255, 255) }, "src"},
		{"reserved action", func(e *rules.Entry) { e.Action = 3 }, "action"},
		{"empty port range", func(e *rules.Entry) { e.SportLo, e.SportHi = 9, 8 }, "src_port"},
		{"ports on icmp", func(e *rules.Entry) { e.ProtoValid, e.Proto, e.DportLo, e.DportHi = true, 1, 1, 2 }, "dst_port"},
		{"fragment on ip any", func(e *rules.Entry) { e.Frag = rules.FragYes }, "ip"},
		{"proto number without proto_valid", func(e *rules.Entry) { e.Proto = 6 }, "proto"},
		{"tcp value outside mask", func(e *rules.Entry) { e.TCPFlagsMask, e.TCPFlagsValue = 1, 3 }, "tcp_flags"},
		{"reserved vlan mode", func(e *rules.Entry) { e.VLANMode = 3 }, "vlan"},
		{"vid without vlan mode", func(e *rules.Entry) { e.VLANID = 5 }, "vlan"},
		{"rate on a drop rule", func(e *rules.Entry) { e.Rate = 1 }, "rate"},
		{"police rate 0", func(e *rules.Entry) { e.Action, e.Burst = rules.ActionPolice, 1 }, "rate"},
		{"police burst 0", func(e *rules.Entry) { e.Action, e.Rate = rules.ActionPolice, 1 }, "burst"},
		{"rate above 40 bits", func(e *rules.Entry) { e.Action, e.Rate, e.Burst = rules.ActionPolice, 1<<40, 1 }, "rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := good
			tt.edit(&bad)
			tab := &rules.Table{Entries: []rules.Entry{good, good, bad, good}}
			_, err := rules.FormatYAML(tab)
			if err == nil {
				t.Fatal("written; want an error")
			}
			l := formatErrors(t, err)
			if len(l) != 1 || l[0].Index != 2 || l[0].Field != tt.field {
				t.Fatalf("got %v; want one error for entry 2, field %s", err, tt.field)
			}
			if !strings.Contains(err.Error(), "entry 2") {
				t.Errorf("message does not name the entry: %v", err)
			}
		})
	}
}

func TestFormatYAMLDisabledAndNames(t *testing.T) {
	a, b, c := rules.AnyEntry(rules.ActionDrop), rules.AnyEntry(rules.ActionPass), rules.AnyEntry(rules.ActionDrop)
	b.Valid = false
	c.ProtoValid, c.Proto = true, 17
	tab := &rules.Table{DefaultDrop: true, Entries: []rules.Entry{a, b, c, a}, Names: []string{"", "off", "rule-0"}}
	out, err := rules.FormatYAML(tab)
	if err != nil {
		t.Fatal(err)
	}
	got := readBack(t, out)
	want := &rules.Table{DefaultDrop: true, Entries: []rules.Entry{a, c, a}, Names: []string{"rule-0.2", "rule-0", "rule-3"}}
	sameTable(t, got, want, out)
	if !strings.Contains(string(out), "# Disabled table entries (valid = 0) left out, since a rules file has no disabled rules: 1\n") {
		t.Errorf("no comment for the disabled entry:\n%s", out)
	}

	for _, names := range [][]string{{"x", "x"}, {"bad name"}, {"any"}} {
		tab := &rules.Table{Entries: []rules.Entry{a, a}, Names: names}
		if _, err := rules.FormatYAML(tab); err == nil || formatErrors(t, err)[0].Field != "name" {
			t.Errorf("names %q: err = %v; want a name error", names, err)
		}
	}
	// Names that YAML would read as other types are quoted.
	tab = &rules.Table{Entries: []rules.Entry{a, a, a, a}, Names: []string{"null", "true", "1e3", "0x10"}}
	out, err = rules.FormatYAML(tab)
	if err != nil {
		t.Fatal(err)
	}
	sameTable(t, readBack(t, out), tab, out)

	if _, err := rules.FormatYAML(&rules.Table{Entries: []rules.Entry{a}, Names: []string{"a", "b"}}); err == nil {
		t.Error("more names than entries accepted")
	}
	out, err = rules.FormatYAML(&rules.Table{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, out); len(got.Entries) != 0 || got.DefaultDrop || got.MalformedPass {
		t.Errorf("empty table reads back as %+v", got)
	}
}

// FuzzFormatYAML checks that every table a rules file can give is written
// back identically, and that one arbitrary extra entry (from raw register
// words) is either written exactly or rejected by its own index alone.
func FuzzFormatYAML(f *testing.F) {
	f.Fuzz(func(t *testing.T, src []byte, raw []byte) {
		rs, err := rules.Parse("f.yaml", src)
		if err != nil {
			return
		}
		tab, err := rs.Compile(max(1, len(rs.Rules)))
		if err != nil {
			t.Fatal(err)
		}
		out, err := rules.FormatYAML(tab)
		if err != nil {
			t.Fatalf("a parsed table cannot be written: %v\n%s", err, src)
		}
		sameTable(t, readBack(t, out), tab, out)

		if len(raw) < 4*rules.WordsPerRule {
			return
		}
		var w [rules.WordsPerRule]uint32
		for i := range w {
			w[i] = uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24
		}
		e := rules.DecodeEntry(w)
		at := int(raw[0]) % (len(tab.Entries) + 1)
		ext := &rules.Table{DefaultDrop: tab.DefaultDrop, MalformedPass: tab.MalformedPass}
		ext.Entries = slices.Insert(slices.Clone(tab.Entries), at, e)
		ext.Names = slices.Insert(slices.Clone(tab.Names), at, "")
		out, err = rules.FormatYAML(ext)
		if err != nil {
			for _, fe := range formatErrors(t, err) {
				if fe.Index != at {
					t.Fatalf("extra entry at %d, but entry %d rejected: %v", at, fe.Index, err)
				}
			}
			return
		}
		want := &rules.Table{DefaultDrop: tab.DefaultDrop, MalformedPass: tab.MalformedPass}
		for i, x := range ext.Entries {
			if x.Valid {
				want.Entries = append(want.Entries, x)
				want.Names = append(want.Names, ext.Names[i])
			}
		}
		got := readBack(t, out)
		if len(got.Entries) != len(want.Entries) {
			t.Fatalf("%d entries read back, want %d", len(got.Entries), len(want.Entries))
		}
		for i := range want.Entries {
			if !reflect.DeepEqual(got.Entries[i], want.Entries[i]) {
				t.Fatalf("entry %d reads back as\n%+v\nwant\n%+v\n%s", i, got.Entries[i], want.Entries[i], out)
			}
		}
	})
}
