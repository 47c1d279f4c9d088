package compare

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/sim/model"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/pcapio"
	"github.com/fpgactl/fpgactl/tests/harness/profile"
)

const rulesYAML = `
default: pass
malformed: drop
rules:
  - name: ntp-reflection
    action: drop
    proto: udp
    src_port: 123
  - name: syn-flood
    action: drop
    proto: tcp
    tcp_flags: syn,!ack
`

func table(t *testing.T, src string) *rules.Table {
	t.Helper()
	rs, err := rules.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := rs.Compile(8)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func mustCompare(t *testing.T, in Input) *Report {
	t.Helper()
	r, err := Compare(in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// diffText is WriteDiff's text of r.
func diffText(r *Report) string {
	var b bytes.Buffer
	WriteDiff(&b, r)
	return b.String()
}

type fixture struct {
	tab  *rules.Table
	sent []Sent
	kind []string
	pass []bool   // model verdict, computed here
	rule []string // model rule name, computed here
}

func newFixture(t *testing.T, src string, opts profile.Options) *fixture {
	t.Helper()
	fx := &fixture{tab: table(t, src)}
	frames, err := profile.Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(fx.tab, model.Config{})
	for i, f := range frames {
		fx.sent = append(fx.sent, Sent{Index: int(f.ID), Data: f.Data, TimeNS: f.TimeNS})
		fx.kind = append(fx.kind, f.Kind)
		v := m.Process(model.Frame{Data: f.Data, TimeNS: f.TimeNS})
		fx.pass = append(fx.pass, v.Pass)
		name := "default"
		if v.Malformed {
			name = "malformed: " + v.Reason
		} else if v.Hit {
			name = fx.tab.Names[v.Rule]
		}
		fx.rule = append(fx.rule, name)
		if fx.sent[i].Index != i {
			t.Fatalf("frame %d has ID %d", i, f.ID)
		}
	}
	return fx
}

func mixed(t *testing.T) *fixture {
	return newFixture(t, rulesYAML, profile.Options{Seed: 7, Frames: 80, Sizes: profile.SizeSpec{Fixed: 128}, RateGbps: 10, StartNS: 1_000_000,
		Mix: []profile.MixEntry{{Kind: "legit", Weight: 4}, {Kind: "syn-flood", Weight: 1}, {Kind: "udp-reflection-ntp", Weight: 1}, {Kind: "malformed", Weight: 1}}})
}

// lat is the latency the simulated target adds to sent frame i.
func lat(i int) uint64 { return 800 + uint64(i%5)*130 }

// perfect returns what a correct target emits: the passed frames in order.
func (fx *fixture) perfect() []Received {
	var out []Received
	for i, s := range fx.sent {
		if fx.pass[i] {
			out = append(out, Received{Data: bytes.Clone(s.Data), TimeNS: s.TimeNS + lat(i)})
		}
	}
	return out
}

func (fx *fixture) run(t *testing.T, rc []Received, counters *model.Counters) *Report {
	t.Helper()
	return mustCompare(t, Input{Sent: fx.sent, Received: rc, Table: fx.tab, Counters: counters})
}

// firstWhere returns the first sent position with pass == want and a kind
// that satisfies ok.
func (fx *fixture) firstWhere(t *testing.T, want bool, ok func(kind string) bool) int {
	t.Helper()
	for i := range fx.sent {
		if fx.pass[i] == want && ok(fx.kind[i]) {
			return i
		}
	}
	t.Fatal("no such frame in the traffic")
	return -1
}

func only(t *testing.T, r *Report, k Kind) Mismatch {
	t.Helper()
	if len(r.Mismatches) != 1 || r.Mismatches[0].Kind != k {
		t.Fatalf("want exactly one %s mismatch, got:\n%s", k, diffText(r))
	}
	return r.Mismatches[0]
}

func TestPerfectTarget(t *testing.T) {
	fx := mixed(t)
	rc := fx.perfect()
	r := fx.run(t, rc, nil)
	if !r.Passed() || len(r.Mismatches) != 0 {
		t.Fatalf("perfect target failed: %+v", r.Mismatches)
	}
	nPass := 0
	for _, p := range fx.pass {
		if p {
			nPass++
		}
	}
	if nPass == 0 || nPass == len(fx.sent) {
		t.Fatalf("traffic should mix passes and drops, %d of %d pass", nPass, len(fx.sent))
	}
	if r.Sent != len(fx.sent) || r.ExpectedPass != nPass || r.Received != nPass || r.Matched != nPass || r.Loss != 0 {
		t.Errorf("counts: %+v", r)
	}

	// Latency, computed independently.
	var mn, mx, sum int64 = math.MaxInt64, 0, 0
	hist := make([]int, len(LatencyEdgesNS)+1)
	for i := range fx.sent {
		if !fx.pass[i] {
			continue
		}
		d := int64(lat(i))
		mn, mx, sum = min(mn, d), max(mx, d), sum+d
		switch {
		case d < 1000:
			hist[3]++ // [500, 1000)
		case d < 2500:
			hist[4]++ // [1000, 2500)
		default:
			t.Fatal("latency outside the test's expectations")
		}
	}
	l := r.Latency
	if l.Samples != nPass || l.MinNS != mn || l.MaxNS != mx || math.Abs(l.AvgNS-float64(sum)/float64(nPass)) > 1e-9 {
		t.Errorf("latency %+v, want min %d max %d avg %v", l, mn, mx, float64(sum)/float64(nPass))
	}
	if mn != 800 || mx != 800+4*130 {
		t.Errorf("test traffic should exercise the full latency range, got %d..%d", mn, mx)
	}
	for i := range hist {
		if l.Histogram[i] != hist[i] {
			t.Errorf("histogram %v, want %v", l.Histogram, hist)
			break
		}
	}

	// Rates: all received frames are 128 bytes; the span runs from the
	// first to the last arrival and covers all frames but the last.
	span := rc[len(rc)-1].TimeNS - rc[0].TimeNS
	n := float64(len(rc) - 1)
	sec := float64(span) / 1e9
	want := Rates{SpanNS: span, FramesPerSec: n / sec, L2BitsPerSec: n * 128 * 8 / sec, L1BitsPerSec: n * (128 + 24) * 8 / sec}
	if r.Rates.SpanNS != want.SpanNS || !near(r.Rates.FramesPerSec, want.FramesPerSec) ||
		!near(r.Rates.L2BitsPerSec, want.L2BitsPerSec) || !near(r.Rates.L1BitsPerSec, want.L1BitsPerSec) {
		t.Errorf("rates %+v, want %+v", r.Rates, want)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Abs(b) }

// Back-to-back traffic that all passes, with a constant latency, is
// received at exactly the line rate.
func TestLineRate(t *testing.T) {
	fx := newFixture(t, "rules: []\n", profile.Options{Seed: 1, Frames: 1000, Sizes: profile.SizeSpec{IMIX: true}, RateGbps: 10, StartNS: 5_000})
	var rc []Received
	for _, s := range fx.sent {
		rc = append(rc, Received{Data: s.Data, TimeNS: s.TimeNS + 1234})
	}
	r := fx.run(t, rc, nil)
	if !r.Passed() {
		t.Fatal("all-pass target failed")
	}
	if math.Abs(r.Rates.L1BitsPerSec-10e9) > 10e9*1e-5 { // stamps are rounded to 1 ns
		t.Errorf("L1 rate %v, want 10e9", r.Rates.L1BitsPerSec)
	}
	if r.Latency.MinNS != 1234 || r.Latency.MaxNS != 1234 || r.Latency.AvgNS != 1234 || r.Latency.Histogram[4] != 1000 {
		t.Errorf("latency %+v", r.Latency)
	}
}

func TestMissing(t *testing.T) {
	fx := mixed(t)
	skip := 1
	victim := fx.firstWhere(t, true, func(string) bool { skip--; return skip < 0 }) // second passed frame
	var rc []Received
	for _, f := range fx.perfect() {
		if id, _ := profile.ExtractID(f.Data); int(id) != victim {
			rc = append(rc, f)
		}
	}
	r := fx.run(t, rc, nil)
	m := only(t, r, Missing)
	if m.Frame != victim || m.Expected != "pass" || m.Rule != fx.rule[victim] || m.Received != -1 {
		t.Errorf("mismatch %+v, want frame %d", m, victim)
	}
	if r.Missing != 1 || r.Loss != 1/float64(r.ExpectedPass) || r.Passed() {
		t.Errorf("missing %d loss %v passed %v", r.Missing, r.Loss, r.Passed())
	}
	var b bytes.Buffer
	if err := WriteDiff(&b, r); err != nil {
		t.Fatal(err)
	}
	wantLine := "frame " + itoa(victim) + ": missing: expected pass (rule default), not received"
	if !strings.Contains(b.String(), wantLine) {
		t.Errorf("diff lacks %q:\n%s", wantLine, b.String())
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestUnexpected(t *testing.T) {
	fx := mixed(t)
	for _, tc := range []struct{ kind, rule string }{
		{"syn-flood", "syn-flood"},
		{"udp-reflection-ntp", "ntp-reflection"},
		{"bad-ihl", "malformed: " + model.ReasonIPv4IHL},
	} {
		v := fx.firstWhere(t, false, func(k string) bool { return k == tc.kind })
		rc := fx.perfect()
		rc = append(rc, Received{Data: fx.sent[v].Data, TimeNS: fx.sent[v].TimeNS + 900})
		r := fx.run(t, rc, nil)
		m := only(t, r, Unexpected)
		if m.Frame != v || m.Rule != tc.rule || m.Expected != "drop" || m.Received != len(rc)-1 {
			t.Errorf("%s: mismatch %+v, want frame %d rule %q", tc.kind, m, v, tc.rule)
		}
		if !strings.Contains(m.Line(), "(rule "+tc.rule+")") {
			t.Errorf("line %q", m.Line())
		}
	}
}

func TestCorrupted(t *testing.T) {
	fx := mixed(t)
	rc := fx.perfect()
	rc[3].Data[40] ^= 0x10
	r := fx.run(t, rc, nil)
	m := only(t, r, Corrupted)
	id, _ := profile.ExtractID(rc[3].Data)
	if m.Frame != int(id) || m.Offset != 40 || m.Received != 3 {
		t.Errorf("mismatch %+v, want frame %d offset 40", m, id)
	}
	if d := diffText(r); !strings.Contains(d, "first difference at byte 40") {
		t.Errorf("diff:\n%s", d)
	}
}

func TestReorderedAndJunk(t *testing.T) {
	fx := mixed(t)
	rc := fx.perfect()
	rc[5], rc[6] = rc[6], rc[5]
	a, _ := profile.ExtractID(rc[5].Data)
	b, _ := profile.ExtractID(rc[6].Data)
	junk := make([]byte, 70)
	junk[12] = 0x08
	rc = append(rc, Received{Data: junk, TimeNS: rc[len(rc)-1].TimeNS + 10})
	r := fx.run(t, rc, nil)
	if len(r.Mismatches) != 2 || r.Count(Reordered) != 1 || r.Count(Unknown) != 1 {
		t.Fatalf("mismatches %+v", r.Mismatches)
	}
	for _, m := range r.Mismatches {
		switch m.Kind {
		case Reordered:
			if m.Frame != int(b) || m.After != int(a) || m.Received != 6 {
				t.Errorf("reordered %+v, want frame %d after %d", m, b, a)
			}
		case Unknown:
			if m.Received != len(rc)-1 || m.Frame != -1 {
				t.Errorf("unknown %+v", m)
			}
		}
	}
}

// Frames without an ID trailer are paired by their bytes.
// Two identical frames, the first dropped by a rule and the second passed
// because it carries a MAC error (malformed: pass): the one frame that comes
// out is the second, not an unexpected first and a missing second (found
// by the differential fuzzer, seed 5211510453129930).
func TestIdenticalFramesPairWithTheExpectedPass(t *testing.T) {
	tab := table(t, "default: pass\nmalformed: pass\nrules:\n  - name: all\n    action: drop\n")
	data := bytes.Repeat([]byte{0x02, 0, 0, 0, 0, 1}, 12)
	r := mustCompare(t, Input{Table: tab,
		Sent:     []Sent{{Index: 0, Data: data}, {Index: 1, Data: data, MACError: true}},
		Received: []Received{{Data: data}}})
	if r.ExpectedPass != 1 || !r.Passed() {
		t.Fatalf("expected pass %d, mismatches %+v", r.ExpectedPass, r.Mismatches)
	}
}

func TestByteMatching(t *testing.T) {
	fx := newFixture(t, rulesYAML, profile.Options{Seed: 2, Frames: 40, Sizes: profile.SizeSpec{Fixed: 60},
		Mix: []profile.MixEntry{{Kind: "legit-tcp", Weight: 3}, {Kind: "syn-flood", Weight: 1}}})
	for _, s := range fx.sent {
		if _, ok := profile.ExtractID(s.Data); ok {
			t.Fatal("60-byte TCP frames should have no ID trailer")
		}
	}
	rc := fx.perfect()
	if r := fx.run(t, rc, nil); !r.Passed() {
		t.Fatalf("perfect target failed: %+v", r.Mismatches)
	}
	rc[0], rc[1] = rc[1], rc[0]
	rc[2].Data = bytes.Clone(rc[2].Data)
	rc[2].Data[30] ^= 1 // no ID: the frame is unknown and its original missing
	r := fx.run(t, rc, nil)
	if r.Count(Reordered) != 1 || r.Count(Unknown) != 1 || r.Count(Missing) != 1 || len(r.Mismatches) != 3 {
		t.Fatalf("mismatches %+v", r.Mismatches)
	}
}

func TestOutputs(t *testing.T) {
	fx := mixed(t)
	rc := fx.perfect()
	rc = rc[1:] // one missing
	rc[0].Data[20] ^= 0xff
	r := fx.run(t, rc, nil)
	if r.Count(Missing) != 1 || r.Count(Corrupted) != 1 {
		t.Fatalf("mismatches %+v", r.Mismatches)
	}

	// JSON
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]json.RawMessage
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"passed", "failed", "frames", "mismatches", "loss", "latency", "rates"} {
		if _, ok := j[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, raw)
		}
	}
	var failed []string
	json.Unmarshal(j["failed"], &failed)
	if strings.Join(failed, ",") != "loss,corrupted" || string(j["passed"]) != "false" {
		t.Errorf("failed %v passed %s", failed, j["passed"])
	}

	// pcap: the missing sent frame, the corrupted frame as sent and as seen.
	path := filepath.Join(t.TempDir(), "mismatch.pcap")
	if err := WriteMismatchPcap(path, r); err != nil {
		t.Fatal(err)
	}
	got, err := pcapio.ReadFile(path, pcapio.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("pcap has %d frames, want 3", len(got))
	}
	for _, g := range got {
		ok := false
		for _, s := range fx.sent {
			ok = ok || (bytes.Equal(s.Data, g.Data) && s.TimeNS == g.TimeNS)
		}
		ok = ok || (bytes.Equal(rc[0].Data, g.Data) && rc[0].TimeNS == g.TimeNS)
		if !ok {
			t.Errorf("pcap frame at %d ns is neither sent nor received", g.TimeNS)
		}
	}

	// JUnit
	s := JUnitSuite("functional", r)
	names, fails := []string{}, []string{}
	for _, c := range s.Cases {
		names = append(names, c.Name)
		if c.Failure != nil {
			fails = append(fails, c.Name)
		}
	}
	if strings.Join(names, ",") != "order,loss,unexpected,corrupted" || strings.Join(fails, ",") != "loss,corrupted" {
		t.Errorf("cases %v failures %v", names, fails)
	}
}

func TestCounters(t *testing.T) {
	fx := mixed(t)
	m := model.New(fx.tab, model.Config{})
	for _, s := range fx.sent {
		m.Process(model.Frame{Data: s.Data, TimeNS: s.TimeNS})
	}
	good := m.Counters()
	r := fx.run(t, fx.perfect(), &good)
	if !r.Passed() || len(JUnitSuite("x", r).Cases) != 5 {
		t.Fatalf("good counters: diffs %+v", r.CounterDiffs)
	}
	bad := m.Counters()
	bad.Totals[rules.TotalPassed].Packets++
	bad.Rules[1].Bytes += 60
	r = fx.run(t, fx.perfect(), &bad)
	if r.Passed() || len(r.CounterDiffs) != 2 || r.CounterDiffs[0].Name != "total.passed" || r.CounterDiffs[1].Name != "rule.syn-flood" {
		t.Fatalf("bad counters: diffs %+v", r.CounterDiffs)
	}
	cs := JUnitSuite("x", r).Cases
	if cs[4].Name != "counters" || cs[4].Failure == nil {
		t.Errorf("counters case %+v", cs[4])
	}
}

func TestNoTable(t *testing.T) {
	if _, err := Compare(Input{}); err == nil {
		t.Fatal("want an error without a table")
	}
}
