package fuzz

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/sim/model"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/sim/vectors"
	"github.com/fpgactl/fpgactl/tests/harness/profile"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

var bg = context.Background()

func generate(t testing.TB, opts GenerateOptions) Case {
	t.Helper()
	c, err := Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkShape checks what Generate promises about every case.
func checkShape(t testing.TB, c Case, opts GenerateOptions) {
	t.Helper()
	wantFrames := opts.Frames
	if wantFrames == 0 {
		wantFrames = DefaultFrames
	}
	slots := opts.NumRules
	if slots == 0 {
		slots = rules.DefaultNumRules
	}
	maxRules := slots
	if opts.MaxRules > 0 && opts.MaxRules < slots {
		maxRules = opts.MaxRules
	}
	if c.Seed != opts.Seed {
		t.Fatalf("case seed %d, want %d", c.Seed, opts.Seed)
	}
	if n := len(c.Table.Entries); n < 1 || n > maxRules || len(c.Table.Names) != n {
		t.Fatalf("%d rules, %d names; want 1..%d of each", n, len(c.Table.Names), maxRules)
	}
	for i, e := range c.Table.Entries {
		if !e.Valid {
			t.Fatalf("entry %d is not valid", i)
		}
	}
	if _, err := rules.FormatYAML(c.Table); err != nil {
		t.Fatalf("table cannot be written: %v", err)
	}
	if len(c.Frames) != wantFrames {
		t.Fatalf("%d frames, want %d", len(c.Frames), wantFrames)
	}
	macErrors := 0
	for i, f := range c.Frames {
		if len(f.Data) < MinFrameBytes || len(f.Data) > 9216 {
			t.Fatalf("frame %d is %d bytes; want %d..9216", i, len(f.Data), MinFrameBytes)
		}
		if f.MACError {
			macErrors++
		}
		if i == 0 {
			continue
		}
		prev := c.Frames[i-1]
		// 10G wire time of the previous frame: (len + FCS + preamble + IFG) × 0.8 ns.
		if min := (uint64(len(prev.Data)+24)*8 + 9) / 10; f.TimeNS < prev.TimeNS+min {
			t.Fatalf("frame %d starts %d ns after frame %d (%d bytes); want at least %d", i, f.TimeNS-prev.TimeNS, i-1, len(prev.Data), min)
		}
	}
	if macErrors == 0 {
		t.Fatal("no MAC-error frame")
	}
}

func TestGenerateIsReproducible(t *testing.T) {
	opts := GenerateOptions{Seed: 42, Frames: 300}
	a, b := generate(t, opts), generate(t, opts)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two cases from one seed differ")
	}
	c := generate(t, GenerateOptions{Seed: 43, Frames: 300})
	if reflect.DeepEqual(a.Table, c.Table) || reflect.DeepEqual(a.Frames, c.Frames) {
		t.Fatal("seeds 42 and 43 give the same table or frames")
	}
}

// TestGenerateMix checks, through the golden model, that generated traffic
// has every kind of frame the brief asks for and hits the rules.
func TestGenerateMix(t *testing.T) {
	seen := map[string]int{}
	frames, hits := 0, 0
	for seed := uint64(1); seed <= 20; seed++ {
		opts := GenerateOptions{Seed: seed, Frames: 400}
		c := generate(t, opts)
		checkShape(t, c, opts)
		f := model.New(c.Table, model.Config{})
		for i, fr := range c.Frames {
			frames++
			fields := model.Parse(fr.Data, fr.MACError, model.DefaultMaxFrameBytes)
			v := f.Process(model.Frame{Data: fr.Data, TimeNS: fr.TimeNS, MACError: fr.MACError})
			if v.Hit {
				hits++
			}
			if v.Outcome == model.Policed {
				seen["policed"]++
			}
			if fields.Malformed {
				seen["malformed "+fields.Reason]++
			}
			switch {
			case fields.IsIPv6:
				seen["ipv6"]++
			case fields.IsIPv4:
				seen["ipv4"]++
			case !fields.Malformed:
				seen["non-ip"]++
			}
			seen[[]string{"untagged", "vlan", "qinq"}[fields.VLANCount]]++
			if fields.IsNonFirst {
				seen["non-first fragment"]++
			} else if fields.IsFrag {
				seen["first fragment"]++
			}
			switch n := len(fr.Data); {
			case n < profile.MinFrameLen:
				seen["short"]++
			case n > 1518:
				seen["jumbo"]++
			}
			if i > 0 {
				gap := fr.TimeNS - c.Frames[i-1].TimeNS
				switch min := minGapNS(len(c.Frames[i-1].Data)); {
				case gap == min:
					seen["back to back"]++
				case gap > 1_000_000:
					seen["gap > 1 ms"]++
				}
			}
		}
	}
	for _, k := range []string{"policed", "malformed mac_error", "malformed ipv4_truncated", "malformed ipv4_ihl",
		"malformed ipv4_length", "ipv6", "ipv4", "non-ip", "vlan", "qinq", "untagged", "non-first fragment",
		"first fragment", "short", "jumbo", "back to back", "gap > 1 ms"} {
		if seen[k] == 0 {
			t.Errorf("no %s frame in %d generated frames", k, frames)
		}
	}
	if hits < frames/10 {
		t.Errorf("%d of %d frames hit a rule; want at least a tenth", hits, frames)
	}
}

func TestGenerateOptions(t *testing.T) {
	for _, opts := range []GenerateOptions{{Frames: -1}, {NumRules: -1}, {MaxRules: -1}} {
		if _, err := Generate(opts); err == nil {
			t.Errorf("%+v accepted", opts)
		}
	}
	counts := map[int]int{}
	for seed := uint64(0); seed < 150; seed++ {
		opts := GenerateOptions{Seed: seed, Frames: 20, NumRules: 8, MaxRules: 3}
		c := generate(t, opts)
		checkShape(t, c, opts)
		counts[len(c.Table.Entries)]++
	}
	if len(counts) != 3 || counts[1] == 0 || counts[2] == 0 || counts[3] == 0 {
		t.Errorf("rule counts %v; want 1, 2 and 3 each seen", counts)
	}
	for seed := uint64(0); seed < 30; seed++ {
		opts := GenerateOptions{Seed: seed, Frames: 1, NumRules: 2, MaxRules: 50}
		checkShape(t, generate(t, opts), opts) // at most NumRules rules
	}
	checkShape(t, generate(t, GenerateOptions{Seed: 3}), GenerateOptions{Seed: 3})
}

// TestWritable checks that writable makes RandomTable entries writable,
// leaves writable ones alone, and that turning fragment matching on an
// any-IP rule into an IPv4 rule matches the same frames.
func TestWritable(t *testing.T) {
	var fields []model.Fields
	for _, in := range vectors.RandomTraffic(5, 3000) {
		if f := model.Parse(in.Data, false, model.DefaultMaxFrameBytes); !f.Malformed {
			fields = append(fields, f)
		}
	}
	changed, kept, fragOnly := 0, 0, 0
	for seed := uint64(1); seed <= 200; seed++ {
		for _, e := range vectors.RandomTable(seed, 16).Entries {
			w := writable(e)
			if !canWrite(w) {
				t.Fatalf("writable(%+v) = %+v cannot be written", e, w)
			}
			if e.Valid && canWrite(e) {
				if w != e {
					t.Fatalf("writable changed a writable entry:\n%+v\n%+v", e, w)
				}
				kept++
				continue
			}
			changed++
			if e.Valid && e.IPVer == rules.IPAny && e.Frag != rules.FragAny {
				x := e
				x.IPVer = rules.IPv4
				if x != w {
					continue // something else was cleared too
				}
				fragOnly++
				for _, f := range fields {
					if model.Matches(&e, f) != model.Matches(&w, f) {
						t.Fatalf("fragment rule %+v matches differently as ip 4", e)
					}
				}
			}
		}
	}
	if kept == 0 || changed == 0 || fragOnly == 0 {
		t.Errorf("kept %d, changed %d, fragment-only %d entries; want some of each", kept, changed, fragOnly)
	}
}

func TestCaseRoundTrip(t *testing.T) {
	c := generate(t, GenerateOptions{Seed: 9, Frames: 500})
	dir := filepath.Join(t.TempDir(), "case")
	if err := WriteCase(dir, c); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCase(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatal("case read back differs from the case written")
	}

	raw, err := os.ReadFile(filepath.Join(dir, CaseFile))
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	var macs []any
	for i, f := range c.Frames {
		if f.MACError {
			macs = append(macs, float64(i))
		}
	}
	want := map[string]any{"seed": float64(9), "frames": float64(500), "rules": float64(len(c.Table.Entries)), "mac_error_frames": macs}
	if !reflect.DeepEqual(meta, want) {
		t.Errorf("case.json = %v, want %v", meta, want)
	}
}

func TestReadCaseErrorsNameTheFile(t *testing.T) {
	c := generate(t, GenerateOptions{Seed: 10, Frames: 30})
	tests := []struct {
		name  string
		edit  func(dir string) error
		file  string
		words string
	}{
		{"no case.json", func(dir string) error { return os.Remove(filepath.Join(dir, CaseFile)) }, CaseFile, ""},
		{"bad case.json", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, CaseFile), []byte(`{"seed": "x"}`), 0o644)
		}, CaseFile, "not a case file"},
		{"frame count", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, CaseFile), []byte(`{"seed": 1, "frames": 31, "rules": `+jsonInt(len(c.Table.Entries))+`, "mac_error_frames": []}`), 0o644)
		}, CaseFile, "frames"},
		{"mac error index", func(dir string) error {
			js := `{"seed": 1, "frames": 30, "rules": ` + jsonInt(len(c.Table.Entries)) + `, "mac_error_frames": [30]}`
			return os.WriteFile(filepath.Join(dir, CaseFile), []byte(js), 0o644)
		}, CaseFile, "mac_error_frames"},
		{"bad rules", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, RulesFile), []byte("rules:\n  - {name: a, action: nope}\n"), 0o644)
		}, RulesFile, "action"},
		{"no frames", func(dir string) error { return os.Remove(filepath.Join(dir, FramesFile)) }, FramesFile, ""},
		{"bad frames", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, FramesFile), []byte("not a capture"), 0o644)
		}, FramesFile, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := WriteCase(dir, c); err != nil {
				t.Fatal(err)
			}
			if err := tt.edit(dir); err != nil {
				t.Fatal(err)
			}
			_, err := ReadCase(dir)
			if err == nil {
				t.Fatal("read; want an error")
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, tt.file)) || !strings.Contains(err.Error(), tt.words) {
				t.Errorf("error %q does not name %s (and %q)", err, tt.file, tt.words)
			}
		})
	}
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestWriteCaseRejectsUnwritableTables(t *testing.T) {
	c := generate(t, GenerateOptions{Seed: 11, Frames: 5})
	off := *c.Table
	off.Entries = slices.Clone(off.Entries)
	off.Entries[0].Valid = false
	icmpPorts := rules.AnyEntry(rules.ActionDrop)
	icmpPorts.ProtoValid, icmpPorts.Proto, icmpPorts.DportLo, icmpPorts.DportHi = true, 1, 1, 2
	for _, tab := range []*rules.Table{&off, {Entries: []rules.Entry{rules.AnyEntry(rules.ActionPass), icmpPorts}}} {
		dir := filepath.Join(t.TempDir(), "case")
		c.Table = tab
		err := WriteCase(dir, c)
		if err == nil || !strings.Contains(err.Error(), RulesFile) {
			t.Errorf("err = %v; want an error naming %s", err, RulesFile)
		}
		if _, serr := os.Stat(dir); serr == nil {
			t.Errorf("%s created for a case that cannot be written", dir)
		}
	}
}

// TestDdminFindsTheCause checks ddmin against predicates whose minimal
// failing sets are known: "contains all of S" (exactly S) and "contains at
// least k of S" (any k of S).
func TestDdminFindsTheCause(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	m := &minimizer{ctx: context.Background()}
	for trial := 0; trial < 300; trial++ {
		n := 1 + r.IntN(80)
		var s []int
		for i := 0; i < n; i++ {
			if r.IntN(n) < 3 {
				s = append(s, i)
			}
		}
		k := len(s)
		if trial%2 == 1 && k > 1 {
			k = 1 + r.IntN(k)
		}
		runs := 0
		test := func(keep []int) (bool, error) {
			runs++
			hit := 0
			for _, i := range keep {
				if slices.Contains(s, i) {
					hit++
				}
			}
			return hit >= k, nil
		}
		got, err := m.ddmin(n, test)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != k || !slices.IsSorted(got) {
			t.Fatalf("n %d, cause %v, k %d: got %v", n, s, k, got)
		}
		for _, i := range got {
			if !slices.Contains(s, i) {
				t.Fatalf("n %d, cause %v, k %d: got %v, which has %d", n, s, k, got, i)
			}
		}
		if runs > 4*max(k, 1)*(n+1) {
			t.Errorf("n %d, k %d: %d runs", n, k, runs)
		}
	}
}

func findFrames(c Case, pattern []byte) int {
	n := 0
	for _, f := range c.Frames {
		if bytes.Equal(f.Data, pattern) {
			n++
		}
	}
	return n
}

// matchKeys lists the rules-file keys of e that are not any (docs/rules.md).
func matchKeys(e rules.Entry) []string {
	var keys []string
	add := func(set bool, k string) {
		if set {
			keys = append(keys, k)
		}
	}
	add(e.IPVer != rules.IPAny, "ip")
	add(e.SrcMask != [16]byte{}, "src")
	add(e.DstMask != [16]byte{}, "dst")
	add(e.SportLo != 0 || e.SportHi != 0xFFFF, "src_port")
	add(e.DportLo != 0 || e.DportHi != 0xFFFF, "dst_port")
	add(e.TCPFlagsMask != 0, "tcp_flags")
	add(e.ICMPValid, "icmp_type")
	add(e.LenLo != 0 || e.LenHi != 0xFFFF, "length")
	add(e.VLANMode != rules.VLANAny, "vlan")
	add(e.Frag != rules.FragAny, "fragment")
	return keys
}

// TestMinimizeToPatternAndRule minimizes cases that "fail" when two given
// frames and a given rule with its protocol (or its IP version) are
// present: the result must be exactly those two frames (in order, with their
// times) and that rule with every other match key set to any. Rules are
// chosen until every match key has been cleared on its own in some run.
func TestMinimizeToPatternAndRule(t *testing.T) {
	covered := map[string]bool{}
	for seed := uint64(1); seed <= 300 && len(covered) < 10; seed++ {
		c := generate(t, GenerateOptions{Seed: seed, Frames: 300, MaxRules: 40})
		// Keeping proto, "ip" clears src, dst and fragment with it; keeping
		// ip, those are cleared one by one.
		keepIP := seed%2 == 0
		counts := func(k string) bool {
			if keepIP {
				return k != "ip"
			}
			return k != "src" && k != "dst" && k != "fragment"
		}
		rule, gain := -1, 0
		for i, e := range c.Table.Entries {
			n := 0
			for _, k := range matchKeys(e) {
				if counts(k) && !covered[k] {
					n++
				}
			}
			ok := e.ProtoValid
			if keepIP {
				ok = e.IPVer == rules.IPv4 || e.IPVer == rules.IPv6
			}
			if ok && n > gain {
				rule, gain = i, n
			}
		}
		if rule < 0 {
			continue
		}
		for _, k := range matchKeys(c.Table.Entries[rule]) {
			if counts(k) {
				covered[k] = true
			}
		}
		checkPatternAndRule(t, c, rule, keepIP)
	}
	if len(covered) < 10 {
		t.Errorf("only %v were cleared; the test should cover every match key", covered)
	}
}

func checkPatternAndRule(t *testing.T, c Case, rule int, keepIP bool) {
	t.Helper()
	x, z := len(c.Frames)/3, 2*len(c.Frames)/3
	for findFrames(c, c.Frames[x].Data) != 1 {
		x++
	}
	for findFrames(c, c.Frames[z].Data) != 1 {
		z++
	}
	orig := c.Table.Entries[rule]
	name := c.Table.Names[rule]
	calls := 0
	fails := func(_ context.Context, k Case) (bool, error) {
		calls++
		hasRule := false
		for i, e := range k.Table.Entries {
			kept := e.ProtoValid && e.Proto == orig.Proto
			if keepIP {
				kept = e.IPVer == orig.IPVer
			}
			hasRule = hasRule || k.Table.Names[i] == name && kept
		}
		return hasRule && findFrames(k, c.Frames[x].Data) > 0 && findFrames(k, c.Frames[z].Data) > 0, nil
	}
	lastRun := 0
	got, err := Minimize(context.Background(), c, fails, MinimizeOptions{MaxRuns: 5000, Progress: func(run, frames, rules int) {
		if run != lastRun+1 {
			t.Errorf("seed %d: progress run %d after %d", c.Seed, run, lastRun)
		}
		lastRun = run
	}})
	if err != nil {
		t.Fatal(err)
	}
	if lastRun != calls || calls >= 5000 {
		t.Errorf("seed %d: %d calls, last progress run %d; want equal and under the budget", c.Seed, calls, lastRun)
	}
	if want := []target.Frame{c.Frames[x], c.Frames[z]}; !reflect.DeepEqual(got.Frames, want) {
		t.Errorf("seed %d: got %d frames, want frames %d and %d as they were", c.Seed, len(got.Frames), x, z)
	}
	want := rules.AnyEntry(orig.Action)
	if keepIP {
		want.IPVer = orig.IPVer
	} else {
		want.ProtoValid, want.Proto = true, orig.Proto
	}
	want.Rate, want.Burst, want.PoliceBytes = orig.Rate, orig.Burst, orig.PoliceBytes
	if len(got.Table.Entries) != 1 || got.Table.Entries[0] != want || !slices.Equal(got.Table.Names, []string{name}) {
		t.Errorf("seed %d, rule %d %+v:\ngot %+v names %q\nwant [%+v] [%q]", c.Seed, rule, orig, got.Table.Entries, got.Table.Names, want, name)
	}
	if got.Seed != c.Seed || got.Table.DefaultDrop != c.Table.DefaultDrop || got.Table.MalformedPass != c.Table.MalformedPass {
		t.Errorf("seed %d: seed or table flags changed", c.Seed)
	}
	if c.Table.Entries[rule] != orig || len(c.Frames) != 300 {
		t.Errorf("seed %d: Minimize modified the case it was given", c.Seed)
	}
}

// polices is a failure the golden model can show: some frame is policed.
func polices(_ context.Context, c Case) (bool, error) {
	f := model.New(c.Table, model.Config{})
	for _, fr := range c.Frames {
		if f.Process(model.Frame{Data: fr.Data, TimeNS: fr.TimeNS, MACError: fr.MACError}).Outcome == model.Policed {
			return true, nil
		}
	}
	return false, nil
}

func policingCase(t *testing.T) Case {
	for seed := uint64(1); ; seed++ {
		c := generate(t, GenerateOptions{Seed: seed, Frames: 400})
		if ok, _ := polices(bg, c); ok && len(c.Table.Entries) > 10 {
			return c
		}
	}
}

// isSubsequence reports whether sub is sub's frames taken from all in order,
// unchanged.
func isSubsequence(sub, all []target.Frame) bool {
	j := 0
	for _, f := range all {
		if j < len(sub) && reflect.DeepEqual(sub[j], f) {
			j++
		}
	}
	return j == len(sub)
}

func TestMinimizeIsOneMinimal(t *testing.T) {
	c := policingCase(t)
	calls := 0
	count := func(ctx context.Context, k Case) (bool, error) { calls++; return polices(ctx, k) }
	got, err := Minimize(context.Background(), c, count, MinimizeOptions{MaxRuns: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if calls >= 5000 {
		t.Fatalf("used the whole budget (%d runs); cannot check minimality", calls)
	}
	if ok, _ := polices(bg, got); !ok {
		t.Fatal("minimized case does not fail")
	}
	if !isSubsequence(got.Frames, c.Frames) {
		t.Fatal("minimized frames are not the original frames in order")
	}
	for i := range got.Frames {
		smaller := got
		smaller.Frames = slices.Delete(slices.Clone(got.Frames), i, i+1)
		if ok, _ := polices(bg, smaller); ok {
			t.Errorf("still fails without frame %d of %d", i, len(got.Frames))
		}
	}
	for i := range got.Table.Entries {
		tab := *got.Table
		tab.Entries = slices.Delete(slices.Clone(tab.Entries), i, i+1)
		tab.Names = slices.Delete(slices.Clone(tab.Names), i, i+1)
		smaller := got
		smaller.Table = &tab
		if ok, _ := polices(bg, smaller); ok {
			t.Errorf("still fails without rule %d of %d", i, len(got.Table.Entries))
		}
		if j := slices.Index(c.Table.Names, got.Table.Names[i]); j < 0 || c.Table.Entries[j].Action != got.Table.Entries[i].Action {
			t.Errorf("rule %d (%s) is not one of the original rules", i, got.Table.Names[i])
		}
	}
	for i, e := range got.Table.Entries {
		for _, s := range simplifications {
			if x := s.apply(e); x != e && canWrite(x) {
				if ok, _ := polices(bg, got.withEntry(i, x)); ok {
					t.Errorf("rule %d still fails with %s set to any", i, s.key)
				}
			}
		}
	}
	if _, err := rules.FormatYAML(got.Table); err != nil {
		t.Errorf("minimized table cannot be written: %v", err)
	}
	t.Logf("%d frames, %d rules → %d frames, %d rules in %d runs", len(c.Frames), len(c.Table.Entries), len(got.Frames), len(got.Table.Entries), calls)
}

// udpFrame is a 60-byte IPv4/UDP frame to dport.
func udpFrame(dport uint16) []byte {
	b := make([]byte, 60)
	b[12], b[13] = 0x08, 0x00
	ip := b[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], 28)
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(ip[20:], 1000)
	binary.BigEndian.PutUint16(ip[22:], dport)
	binary.BigEndian.PutUint16(ip[24:], 8)
	return b
}

// TestMinimizeRepeatsUntilStable needs a second round: two drop rules are
// each needed until one is simplified to drop everything, which makes the
// other removable.
func TestMinimizeRepeatsUntilStable(t *testing.T) {
	x, y := udpFrame(53), udpFrame(80)
	drop := func(dport uint16) rules.Entry {
		e := rules.AnyEntry(rules.ActionDrop)
		e.ProtoValid, e.Proto, e.DportLo, e.DportHi = true, 17, dport, dport
		return e
	}
	tcp := rules.AnyEntry(rules.ActionPass)
	tcp.ProtoValid, tcp.Proto = true, 6
	c := Case{Table: &rules.Table{Entries: []rules.Entry{tcp, drop(53), tcp, drop(80)}, Names: []string{"t1", "a", "t2", "b"}}}
	for i, d := range [][]byte{udpFrame(1), x, udpFrame(2), y, udpFrame(3)} {
		c.Frames = append(c.Frames, target.Frame{Data: d, TimeNS: uint64(1000 * i)})
	}
	bothDropped := func(_ context.Context, k Case) (bool, error) {
		f := model.New(k.Table, model.Config{})
		dropped := 0
		for _, fr := range k.Frames {
			v := f.Process(model.Frame{Data: fr.Data, TimeNS: fr.TimeNS})
			if !v.Pass && (bytes.Equal(fr.Data, x) || bytes.Equal(fr.Data, y)) {
				dropped++
			}
		}
		return dropped == 2, nil
	}
	got, err := Minimize(context.Background(), c, bothDropped, MinimizeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []target.Frame{c.Frames[1], c.Frames[3]}
	if !reflect.DeepEqual(got.Frames, want) || len(got.Table.Entries) != 1 || got.Table.Entries[0] != rules.AnyEntry(rules.ActionDrop) {
		t.Errorf("got %d frames, rules %+v %q; want frames 1 and 3 and one drop-everything rule", len(got.Frames), got.Table.Entries, got.Table.Names)
	}
}

func TestMinimizeStops(t *testing.T) {
	c := policingCase(t)
	size := func(k Case) int { return len(k.Frames) + len(k.Table.Entries) }

	t.Run("budget", func(t *testing.T) {
		calls := 0
		got, err := Minimize(context.Background(), c, func(ctx context.Context, k Case) (bool, error) {
			calls++
			return polices(ctx, k)
		}, MinimizeOptions{MaxRuns: 6})
		if err != nil || calls != 6 {
			t.Fatalf("err %v after %d calls; want nil after 6", err, calls)
		}
		if ok, _ := polices(bg, got); !ok || size(got) > size(c) {
			t.Fatalf("result fails %v, size %d of %d", ok, size(got), size(c))
		}
	})
	t.Run("error", func(t *testing.T) {
		boom := errors.New("target went away")
		calls := 0
		got, err := Minimize(context.Background(), c, func(ctx context.Context, k Case) (bool, error) {
			if calls++; calls == 4 {
				return false, boom
			}
			return polices(ctx, k)
		}, MinimizeOptions{})
		if !errors.Is(err, boom) || calls != 4 {
			t.Fatalf("err %v after %d calls; want %v after 4", err, calls, boom)
		}
		if ok, _ := polices(bg, got); !ok {
			t.Fatal("case returned with the error does not fail")
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		calls := 0
		got, err := Minimize(ctx, c, func(ctx context.Context, k Case) (bool, error) {
			if calls++; calls == 3 {
				cancel()
			}
			return polices(ctx, k)
		}, MinimizeOptions{})
		if !errors.Is(err, context.Canceled) || calls != 3 {
			t.Fatalf("err %v after %d calls; want context.Canceled after 3", err, calls)
		}
		if ok, _ := polices(bg, got); !ok {
			t.Fatal("case returned on cancel does not fail")
		}
	})
	t.Run("not failing", func(t *testing.T) {
		calls := 0
		_, err := Minimize(context.Background(), c, func(context.Context, Case) (bool, error) { calls++; return false, nil }, MinimizeOptions{})
		if err == nil || calls != 1 {
			t.Fatalf("err %v after %d calls; want an error after 1", err, calls)
		}
	})
}

// FuzzGenerate checks that Generate never panics, gives the same case for
// a seed, keeps its promises, and that the golden model takes every frame.
func FuzzGenerate(f *testing.F) {
	f.Fuzz(func(t *testing.T, seed uint64, frames uint16, numRules uint8, maxRules uint8) {
		opts := GenerateOptions{Seed: seed, Frames: int(frames % 500), NumRules: int(numRules), MaxRules: int(maxRules)}
		a, err := Generate(opts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Generate(opts)
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("second Generate differs (err %v)", err)
		}
		checkShape(t, a, opts)
		for _, max := range []int{model.DefaultMaxFrameBytes, 1518} {
			m := model.New(a.Table, model.Config{MaxFrameBytes: max, NumRules: opts.NumRules})
			for _, fr := range a.Frames {
				model.Parse(fr.Data, fr.MACError, max)
				m.Process(model.Frame{Data: fr.Data, TimeNS: fr.TimeNS, MACError: fr.MACError})
			}
		}
	})
}
