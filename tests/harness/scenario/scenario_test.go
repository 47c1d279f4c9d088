package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/sim/model"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/compare"
	"github.com/fpgactl/fpgactl/tests/harness/pcapio"
	"github.com/fpgactl/fpgactl/tests/harness/profile"
)

const suiteDir = "../../scenarios"

// Suite limits: every scenario runs at both widths in CI on a simulated
// board doing 20-100k frames/s.
const (
	minFrames   = 300
	maxFrames   = 3000
	maxTotal    = 30000
	minSuite    = 20
	numRulesCfg = rules.DefaultNumRules
)

func loadSuite(t *testing.T) []*Scenario {
	t.Helper()
	ss, err := LoadDir(suiteDir)
	if err != nil {
		t.Fatalf("the suite does not load:\n%v", err)
	}
	return ss
}

func TestSuiteLoads(t *testing.T) {
	ss := loadSuite(t)
	if len(ss) < minSuite {
		t.Errorf("%d scenarios; the suite should have at least %d", len(ss), minSuite)
	}
	total := 0
	for i, s := range ss {
		if i > 0 && ss[i-1].Name >= s.Name {
			t.Errorf("LoadDir order: %s before %s", ss[i-1].Name, s.Name)
		}
		n := s.NumFrames()
		total += n
		if n < minFrames || n > maxFrames {
			t.Errorf("%s: %d frames; keep scenarios within %d..%d frames", s.File, n, minFrames, maxFrames)
		}
		if s.Description == "" || len(s.Covers) == 0 || len(s.Widths) == 0 {
			t.Errorf("%s: loaded without description, covers or widths: %+v", s.File, s)
		}
		for _, p := range s.Phases() {
			src, err := os.ReadFile(p.Rules)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(src, []byte("#")) {
				t.Errorf("%s: a rules file of the suite must begin with a comment saying what it tests", p.Rules)
			}
		}
	}
	if total > maxTotal {
		t.Errorf("the suite has %d frames; keep it under %d so CI stays fast", total, maxTotal)
	}
	t.Logf("%d scenarios, %d frames", len(ss), total)
}

// TestSuiteCoverage runs the golden model over every scenario (swapping
// tables between phases) and checks each covers item happened: each
// scenario exercises what its description claims.
func TestSuiteCoverage(t *testing.T) {
	for _, s := range loadSuite(t) {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			exp, err := s.Expect(numRulesCfg, model.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CheckCoverage(exp, nil); err != nil {
				t.Error(err)
			}
			t.Log(tally(s, exp))
		})
	}
}

// tally summarises what decided the frames, for -v runs.
func tally(s *Scenario, exp []compare.Expectation) string {
	var b strings.Builder
	for p, ph := range s.Phases() {
		list := exp[ph.First : ph.First+ph.NumFrames()]
		m := map[string]int{}
		for _, e := range list {
			m[e.Rule+" "+e.Verdict.Outcome.String()]++
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "\nphase %d (%d frames):", p+1, len(list))
		for _, k := range keys {
			fmt.Fprintf(&b, "\n  %5d %s", m[k], k)
		}
	}
	return b.String()
}

// TestSuiteFrames checks what every scenario hands the harness: times never
// go backwards, phases are PhaseGapNS apart, MAC errors where asked.
func TestSuiteFrames(t *testing.T) {
	for _, s := range loadSuite(t) {
		var last uint64
		for i, p := range s.Phases() {
			fr, err := p.Frames()
			if err != nil {
				t.Fatal(err)
			}
			if len(fr) != p.NumFrames() {
				t.Errorf("%s phase %d: %d frames, NumFrames says %d", s.Name, i+1, len(fr), p.NumFrames())
			}
			if i > 0 && fr[0].TimeNS != last+PhaseGapNS {
				t.Errorf("%s phase %d starts at %d, want %d (previous last %d + %d)", s.Name, i+1, fr[0].TimeNS, last+PhaseGapNS, last, PhaseGapNS)
			}
			for j, f := range fr {
				if j > 0 && f.TimeNS < fr[j-1].TimeNS {
					t.Fatalf("%s phase %d frame %d: time %d before %d", s.Name, i+1, j, f.TimeNS, fr[j-1].TimeNS)
				}
				if f.MACError != slices.Contains(p.Traffic.MACErrors, j) {
					t.Errorf("%s phase %d frame %d: MACError %v", s.Name, i+1, j, f.MACError)
				}
			}
			last = fr[len(fr)-1].TimeNS
		}
	}
}

// ---- format and API on small files ----

// fixture writes files into a temporary directory and returns it.
func fixture(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const goodRules = `# test rules
default: drop
rules:
  - name: syn-police
    action: police
    proto: tcp
    tcp_flags: syn,!ack
    rate: 1Mpps
    burst: 10
  - name: legit
    action: pass
    src: 10.0.0.0/8
  - name: reflection
    action: drop
    proto: udp
`

const otherRules = `# other
default: pass
malformed: pass
rules:
  - name: legit
    action: drop
    src: 10.0.0.0/8
`

func writePcap(t *testing.T, path string, times ...uint64) {
	t.Helper()
	gen, err := profile.Generate(profile.Options{Seed: 5, Frames: len(times), Sizes: profile.SizeSpec{List: []int{60, 100}}})
	if err != nil {
		t.Fatal(err)
	}
	fr := make([]pcapio.Frame, len(times))
	for i, ts := range times {
		fr[i] = pcapio.Frame{Data: gen[i].Data, TimeNS: ts}
	}
	if err := pcapio.WriteFile(path, fr); err != nil {
		t.Fatal(err)
	}
}

func TestLoadSingle(t *testing.T) {
	dir := fixture(t, map[string]string{
		"rules/r.yaml": goodRules,
		"sc/syn.yaml": `description: a SYN flood test
rules: ../rules/r.yaml
traffic:
  profile: "size=60,frames=300,mix=legit:1+syn-flood:1+ipv6:1,seed=3"
  mac_errors: [5, 2]
covers:
  - rule: legit
  - {rule: syn-police, outcome: policed}
  - default
  - default: drop
  - malformed
  - {malformed: mac_error, outcome: dropped}
backpressure: 0.25
widths: [512]
`,
	})
	s, err := Load(filepath.Join(dir, "sc/syn.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "syn" || s.Description != "a SYN flood test" || s.Backpressure != 0.25 || !slices.Equal(s.Widths, []int{512}) {
		t.Errorf("got %+v", s)
	}
	ph := s.Phases()
	if len(ph) != 1 || ph[0].Rules != filepath.Join(dir, "rules/r.yaml") || ph[0].Traffic.Options.Frames != 300 {
		t.Fatalf("phases %+v", ph)
	}
	if !slices.Equal(ph[0].Traffic.MACErrors, []int{2, 5}) {
		t.Errorf("mac_errors %v, want sorted [2 5]", ph[0].Traffic.MACErrors)
	}
	want := []Cover{
		{Line: 7, Index: 0, Kind: CoverRule, Rule: "legit"},
		{Line: 8, Index: 1, Kind: CoverRule, Rule: "syn-police", Outcome: "policed"},
		{Line: 9, Index: 2, Kind: CoverDefault},
		{Line: 10, Index: 3, Kind: CoverDefault, Outcome: "dropped"},
		{Line: 11, Index: 4, Kind: CoverMalformed},
		{Line: 12, Index: 5, Kind: CoverMalformed, Reason: "mac_error", Outcome: "dropped"},
	}
	if !slices.Equal(s.Covers, want) {
		t.Errorf("covers\n got %+v\nwant %+v", s.Covers, want)
	}
	tab, err := ph[0].Table(4)
	if err != nil || len(tab.Entries) != 3 || !tab.DefaultDrop {
		t.Fatalf("table %+v, %v", tab, err)
	}
	if _, err := ph[0].Table(2); err == nil || !strings.Contains(err.Error(), "r.yaml:") {
		t.Errorf("Table(2) of 3 rules: %v, want the rules compiler's error", err)
	}
	exp, err := s.Expect(4, model.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckCoverage(exp, nil); err != nil {
		t.Fatal(err)
	}
	if !exp[2].Verdict.Malformed || exp[2].Rule != "malformed: mac_error" {
		t.Errorf("frame 2: %+v, want a mac_error", exp[2])
	}
}

func TestDefaultsAndPhases(t *testing.T) {
	dir := fixture(t, map[string]string{
		"a.yaml": goodRules,
		"b.yaml": otherRules,
		"s.yaml": `description: swap
phases:
  - rules: a.yaml
    traffic: {profile: "frames=300,mix=legit:1+syn-flood:1+ipv6:1,seed=1,start=5000"}
  - rules: b.yaml
    traffic: {pcap: c.pcap, timing: line-rate, rate: 100g}
  - rules: a.yaml
    traffic: {pcap: c.pcap}
covers:
  - {rule: legit, outcome: passed, phase: 1}
  - {rule: legit, outcome: dropped, phase: 2}
  - {rule: legit, outcome: passed, phase: 3}
  - {default: drop, phase: 1}
`,
	})
	writePcap(t, filepath.Join(dir, "c.pcap"), 1_000_000, 1_000_500, 1_000_400, 1_002_000)
	s, err := Load(filepath.Join(dir, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Widths, []int{64, 512}) || s.Backpressure != 0 {
		t.Errorf("defaults: widths %v backpressure %v", s.Widths, s.Backpressure)
	}
	ph := s.Phases()
	if len(ph) != 3 || ph[1].Traffic.Timing != TimingLineRate || ph[1].Traffic.RateGbps != 100 || ph[2].Traffic.Timing != TimingCapture {
		t.Fatalf("phases %+v", ph)
	}
	p1, _ := ph[0].Frames()
	p2, _ := ph[1].Frames()
	p3, _ := ph[2].Frames()
	if p1[0].TimeNS != 5000 {
		t.Errorf("phase 1 starts at %d, want the profile's start=5000", p1[0].TimeNS)
	}
	end1 := p1[len(p1)-1].TimeNS
	// line rate at 100G: 60-byte frame + 24 bytes overhead = 6.72 ns, 100-byte 10.32 ns
	want2 := []uint64{end1 + 10_000, end1 + 10_000 + 7, end1 + 10_000 + 17, end1 + 10_000 + 23}
	for i, f := range p2 {
		if f.TimeNS != want2[i] {
			t.Errorf("phase 2 frame %d at %d, want %d", i, f.TimeNS, want2[i])
		}
	}
	end2 := p2[3].TimeNS
	want3 := []uint64{end2 + 10_000, end2 + 10_500, end2 + 10_500, end2 + 12_000} // capture times, the step back clamped
	for i, f := range p3 {
		if f.TimeNS != want3[i] {
			t.Errorf("phase 3 frame %d at %d, want %d", i, f.TimeNS, want3[i])
		}
	}
	exp, err := s.Expect(8, model.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if ph[1].First != 300 || ph[2].First != 304 || len(exp) != 308 {
		t.Errorf("First %d, %d, %d expectations; want 300, 304, 308", ph[1].First, ph[2].First, len(exp))
	}
	if err := s.CheckCoverage(exp, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckCoverage(exp[:304], nil); err == nil {
		t.Error("CheckCoverage with the frames of 2 of 3 phases: no error")
	}
	// A run that did not send some frames: expectations name their frames.
	sent := []int{}
	for i := range exp {
		if i%2 == 0 {
			sent = append(sent, i)
		}
	}
	part := make([]compare.Expectation, len(sent))
	for i, f := range sent {
		part[i] = exp[f]
	}
	if err := s.CheckCoverage(part, func(i int) int { return sent[i] }); err != nil {
		t.Errorf("every other frame: %v", err)
	}
	// The same expectations placed in the wrong phases miss phase-bound items.
	err = s.CheckCoverage(part, func(i int) int { return i })
	if err == nil || !strings.Contains(err.Error(), "covers[2]: rule legit, passed, in phase 3") {
		t.Errorf("shifted frames: %v, want covers[2] missing", err)
	}
	if err := s.CheckCoverage(part, func(i int) int { return 308 }); err == nil || !strings.Contains(err.Error(), "frame 308; the scenario has frames 0..307") {
		t.Errorf("frame out of range: %v", err)
	}
}

func TestCheckCoverageMissing(t *testing.T) {
	dir := fixture(t, map[string]string{
		"r.yaml": goodRules,
		"s.yaml": `description: claims more than its traffic does
rules: r.yaml
traffic:
  profile: "frames=300,mix=legit,seed=1"
  mac_errors: [0]
covers:
  - rule: legit
  - rule: reflection
  - {rule: syn-police, outcome: policed}
  - default: drop
  - malformed: ipv4_ihl
`,
	})
	path := filepath.Join(dir, "s.yaml")
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := s.Expect(8, model.Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.CheckCoverage(exp, nil)
	var ce *CoverageError
	if !errors.As(err, &ce) {
		t.Fatalf("err %v, want a *CoverageError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		path + ": 4 of 5 covers items",
		path + ":8: covers[1]: rule reflection: the model decided no frame this way (rule reflection decided no frame at all)",
		path + ":9: covers[2]: rule syn-police, policed",
		path + ":10: covers[3]: default action, dropped",
		path + ":11: covers[4]: malformed (ipv4_ihl): the model decided no frame this way (seen for malformed frames: mac_error dropped 1)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "covers[0]") {
		t.Errorf("covers[0] happened but is listed:\n%s", msg)
	}
	if len(ce.Missing) != 4 || ce.Missing[0].Line != 8 {
		t.Errorf("Missing %+v", ce.Missing)
	}
}

// TestBadFiles checks that every bad scenario is reported with file, line
// and field, and says what is allowed.
func TestBadFiles(t *testing.T) {
	base := map[string]string{
		"r.yaml":       goodRules,
		"o.yaml":       otherRules,
		"bad.yaml":     "# bad rules\nrules:\n  - name: x\n    action: pass\n    src_port: 70000\n",
		"garbage.pcap": "this is not a capture at all, just text",
	}
	const head = "description: d\nrules: r.yaml\n"
	cases := []struct {
		name string
		body string
		want []string // substrings; "FILE" is replaced by the scenario path
	}{
		{"unknown-top", head + "traffic: {profile: frames=300}\ncovers: [default]\nspeed: 3\n",
			[]string{"FILE:5: speed: unknown key (allowed here: backpressure, covers, description, phases, rules, traffic, widths)"}},
		{"unknown-traffic", head + "traffic:\n  profile: frames=300\n  loop: 2\ncovers: [default]\n",
			[]string{"FILE:5: traffic.loop: unknown key (allowed here: mac_errors, pcap, profile, rate, timing)"}},
		{"both-sources", head + "traffic:\n  profile: frames=300\n  pcap: c.pcap\ncovers: [default]\n",
			[]string{"FILE:5: traffic.pcap: give exactly one of profile or pcap, not both"}},
		{"no-source", head + "traffic: {mac_errors: [1]}\ncovers: [default]\n",
			[]string{"FILE:3: traffic: give exactly one of profile"}},
		{"missing-covers", head + "traffic: {profile: frames=300}\n",
			[]string{"FILE:1: covers: required"}},
		{"empty-covers", head + "traffic: {profile: frames=300}\ncovers: []\n",
			[]string{"FILE:4: covers: is empty"}},
		{"bad-outcome", head + "traffic: {profile: frames=300}\ncovers:\n  - rule: legit\n    outcome: accepted\n",
			[]string{"FILE:6: covers[0].outcome: \"accepted\" is not an outcome; use passed, dropped, policed"}},
		{"impossible-outcome", head + "traffic: {profile: frames=300}\ncovers:\n  - {rule: legit, outcome: policed}\n",
			[]string{"FILE:5: covers[0].outcome: rule legit is a pass rule in", "can never have outcome policed"}},
		{"unknown-rule", head + "traffic: {profile: frames=300}\ncovers:\n  - default\n  - rule: synflood\n",
			[]string{"FILE:6: covers[1].rule: no rule named \"synflood\" in", "r.yaml (its rules: syn-police, legit, reflection)"}},
		{"rule-not-in-phase", "description: d\nphases:\n  - {rules: r.yaml, traffic: {profile: frames=300}}\n  - {rules: o.yaml, traffic: {profile: frames=300}}\ncovers:\n  - {rule: reflection, phase: 2}\n",
			[]string{"FILE:6: covers[0].rule: no rule named \"reflection\" in", "o.yaml"}},
		{"bad-phase-number", "description: d\nphases:\n  - {rules: r.yaml, traffic: {profile: frames=300}}\n  - {rules: o.yaml, traffic: {profile: frames=300}}\ncovers:\n  - {default: any, phase: 3}\n",
			[]string{"FILE:6: covers[0].phase: phase 3 does not exist; the scenario has phases 1..2"}},
		{"impossible-default", head + "traffic: {profile: frames=300}\ncovers:\n  - default: pass\n",
			[]string{"FILE:5: covers[0].default:", "never says default: pass"}},
		{"bad-reason", head + "traffic: {profile: frames=300}\ncovers:\n  - malformed: too_short\n",
			[]string{"FILE:5: covers[0].malformed: \"too_short\" is not a malformed reason; use any or one of mac_error, oversize"}},
		{"two-kinds", head + "traffic: {profile: frames=300}\ncovers:\n  - {rule: legit, default: drop}\n",
			[]string{"FILE:5: covers[0].default: give one of rule, default or malformed per covers item"}},
		{"bad-cover-scalar", head + "traffic: {profile: frames=300}\ncovers:\n  - legit\n",
			[]string{"FILE:5: covers[0]: \"legit\" is not a covers item; use - rule: NAME"}},
		{"unreadable-pcap", head + "traffic:\n  pcap: garbage.pcap\ncovers: [default]\n",
			[]string{"FILE:4: traffic.pcap: cannot read capture: ", "garbage.pcap: file header at byte 0"}},
		{"missing-pcap", head + "traffic:\n  pcap: nowhere.pcap\ncovers: [default]\n",
			[]string{"FILE:4: traffic.pcap: cannot read capture: ", "nowhere.pcap"}},
		{"bad-profile", head + "traffic:\n  profile: \"frames=300,mix=legit+smurf\"\ncovers: [default]\n",
			[]string{"FILE:4: traffic.profile: profile: mix: unknown kind \"smurf\""}},
		{"timing-on-profile", head + "traffic:\n  profile: frames=300\n  timing: line-rate\ncovers: [default]\n",
			[]string{"FILE:5: traffic.timing: applies to pcap traffic only"}},
		{"bad-timing", head + "traffic:\n  pcap: c.pcap\n  timing: fast\ncovers: [default]\n",
			[]string{"FILE:5: traffic.timing: \"fast\" is not a timing; use capture"}},
		{"rate-without-line-rate", head + "traffic:\n  pcap: c.pcap\n  rate: 100g\ncovers: [default]\n",
			[]string{"FILE:5: traffic.rate: only used with timing: line-rate"}},
		{"bad-rate", head + "traffic:\n  pcap: c.pcap\n  timing: line-rate\n  rate: fast\ncovers: [default]\n",
			[]string{"FILE:6: traffic.rate: \"fast\" is not a line rate; use Gbit/s such as 10g or 100g"}},
		{"mac-error-past-end", head + "traffic:\n  profile: frames=300\n  mac_errors: [3, 300]\ncovers: [default]\n",
			[]string{"FILE:5: traffic.mac_errors[1]: frame index 300 is past the end of the traffic (300 frames, indices 0..299)"}},
		{"mac-error-twice", head + "traffic:\n  profile: frames=300\n  mac_errors: [3, 3]\ncovers: [default]\n",
			[]string{"FILE:5: traffic.mac_errors[1]: frame index 3 listed twice"}},
		{"bad-width", head + "traffic: {profile: frames=300}\ncovers: [default]\nwidths: [64, 128]\n",
			[]string{"FILE:5: widths[1]: width 128 is not supported (use 64, 512)"}},
		{"bad-backpressure", head + "traffic: {profile: frames=300}\ncovers: [default]\nbackpressure: 0.95\n",
			[]string{"FILE:5: backpressure: \"0.95\" is not a fraction of cycles 0.0..0.9"}},
		{"no-description", "rules: r.yaml\ntraffic: {profile: frames=300}\ncovers: [default]\n",
			[]string{"FILE:1: description: required"}},
		{"two-line-description", "description: |\n  one\n  two\nrules: r.yaml\ntraffic: {profile: frames=300}\ncovers: [default]\n",
			[]string{"FILE:1: description: must be one line"}},
		{"rules-and-phases", head + "traffic: {profile: frames=300}\nphases: []\ncovers: [default]\n",
			[]string{"FILE:2: phases: give either rules + traffic"}},
		{"one-phase", "description: d\nphases:\n  - {rules: r.yaml, traffic: {profile: frames=300}}\ncovers: [default]\n",
			[]string{"FILE:3: phases: has 1 phase(s); phases need at least 2"}},
		{"phase-without-traffic", "description: d\nphases:\n  - {rules: r.yaml, traffic: {profile: frames=300}}\n  - rules: r.yaml\ncovers: [default]\n",
			[]string{"FILE:4: phases[1].traffic: required"}},
		{"no-traffic", "description: d\nrules: r.yaml\ncovers: [default]\n",
			[]string{"FILE:1: traffic: required"}},
		{"duplicate-key", head + "traffic: {profile: frames=300}\ncovers: [default]\nrules: o.yaml\n",
			[]string{"FILE:5: rules: key given twice (first at line 2)"}},
		{"not-yaml", "description: [unclosed\n",
			[]string{"FILE: not valid YAML: line"}},
		{"missing-rules-file", "description: d\nrules: none.yaml\ntraffic: {profile: frames=300}\ncovers: [default]\n",
			[]string{"FILE:2: rules: ", "none.yaml: cannot read rules file"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{tc.name + ".yaml": tc.body}
			for k, v := range base {
				files[k] = v
			}
			dir := fixture(t, files)
			writePcap(t, filepath.Join(dir, "c.pcap"), 1, 2, 3)
			path := filepath.Join(dir, tc.name+".yaml")
			_, err := Load(path)
			if err == nil {
				t.Fatal("loaded without error")
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "FILE", path)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %v\nlacks\n  %s", err, w)
				}
			}
		})
	}
}

// TestBadRulesFile checks that a rules file's own errors come through with
// their file:line:col, under the scenario's line.
func TestBadRulesFile(t *testing.T) {
	dir := fixture(t, map[string]string{
		"bad.yaml": "# bad rules\nrules:\n  - name: x\n    action: pass\n    src_port: 70000\n  - name: y\n    action: drop\n    dport: 1\n",
		"s.yaml":   "description: d\nrules: bad.yaml\ntraffic: {profile: frames=300}\ncovers: [default]\n",
	})
	path := filepath.Join(dir, "s.yaml")
	_, err := Load(path)
	if err == nil {
		t.Fatal("no error")
	}
	rp := filepath.Join(dir, "bad.yaml")
	for _, w := range []string{path + ":2: rules: rules file has errors:", rp + ":5:15: rules[0].src_port:", rp + ":8:5: rules[1].dport: unknown key"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error\n%v\nlacks %q", err, w)
		}
	}
	if len(rules.AsErrors(err)) != 2 {
		t.Errorf("rules.AsErrors found %d errors, want the rules file's 2", len(rules.AsErrors(err)))
	}
}

func TestCapturedFrameCut(t *testing.T) {
	dir := fixture(t, map[string]string{
		"r.yaml": goodRules,
		"s.yaml": "description: d\nrules: r.yaml\ntraffic:\n  pcap: cut.pcap\ncovers: [default]\n",
	})
	gen, _ := profile.Generate(profile.Options{Seed: 1, Frames: 2, Sizes: profile.SizeSpec{Fixed: 100}})
	if err := pcapio.WriteFile(filepath.Join(dir, "cut.pcap"), []pcapio.Frame{
		{Data: gen[0].Data, TimeNS: 1}, {Data: gen[1].Data[:64], TimeNS: 2, OrigLen: 100}}); err != nil {
		t.Fatal(err)
	}
	_, err := Load(filepath.Join(dir, "s.yaml"))
	if err == nil || !strings.Contains(err.Error(), "s.yaml:4: traffic.pcap:") || !strings.Contains(err.Error(), "frame 1 was cut at the snap length (64 of 100 bytes)") {
		t.Errorf("err %v", err)
	}
}

func TestLoadDirReportsEveryBadFile(t *testing.T) {
	ok := "description: d\nrules: ../r.yaml\ntraffic: {profile: frames=300}\ncovers: [default]\n"
	dir := fixture(t, map[string]string{
		"r.yaml":       goodRules,
		"sc/b.yaml":    ok,
		"sc/a.yaml":    ok,
		"sc/bad1.yaml": "description: d\n",
		"sc/bad2.yaml": strings.ReplaceAll(ok, "covers: [default]", "covers: [rule: nope]"),
		"sc/README.md": "not a scenario",
	})
	ss, err := LoadDir(filepath.Join(dir, "sc"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"bad1.yaml:1: rules: required", "bad2.yaml:4: covers[0].rule: no rule named \"nope\""} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error\n%v\nlacks %q", err, w)
		}
	}
	if len(ss) != 2 || ss[0].Name != "a" || ss[1].Name != "b" {
		t.Errorf("loaded %d scenarios, want a and b in order", len(ss))
	}
	if _, err := LoadDir(filepath.Join(dir, "nowhere")); err == nil {
		t.Error("LoadDir of a missing directory: no error")
	}
}
