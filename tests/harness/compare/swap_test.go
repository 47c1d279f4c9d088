package compare

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/sim/model"
	"github.com/fpgactl/fpgactl/sim/rules"
)

// Tests of Input.Swaps and Input.InexactTime. Frames are built by hand and
// every expectation below is worked out by hand from docs/rules.md (first
// match decides, police buckets start full, hold `burst` and refill at
// `rate`; buckets refill on a table swap) and the Swaps/InexactTime
// contract in compare.go; nothing here asks sim/model for the answer.

const swFrameLen = 80 // every test frame is 80 bytes without FCS

// Kinds of hand-built test frames.
const (
	swUDP = iota // UDP 40000 -> 53
	swSYN        // TCP SYN
	swACK        // TCP ACK (established)
)

// swFrame builds an 80-byte Ethernet/IPv4 frame of the given kind whose
// payload ends in the profile ID trailer ("FPID" | id | CRC-32 of both),
// written here from the format described in profile/trailer.go.
func swFrame(kind int, id uint32) []byte {
	b := make([]byte, swFrameLen)
	copy(b[0:6], []byte{0x02, 0, 0, 0, 0, 0x02})
	copy(b[6:12], []byte{0x02, 0, 0, 0, 0, 0x01})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], swFrameLen-14) // total length
	binary.BigEndian.PutUint16(ip[4:], uint16(id))
	ip[8] = 64
	copy(ip[12:16], []byte{198, 51, 100, 7})
	copy(ip[16:20], []byte{192, 0, 2, 10})
	l4 := ip[20:]
	switch kind {
	case swUDP:
		ip[9] = 17
		binary.BigEndian.PutUint16(l4[0:], 40000)
		binary.BigEndian.PutUint16(l4[2:], 53)
		binary.BigEndian.PutUint16(l4[4:], swFrameLen-14-20)
	case swSYN, swACK:
		ip[9] = 6
		binary.BigEndian.PutUint16(l4[0:], 50000)
		binary.BigEndian.PutUint16(l4[2:], 80)
		binary.BigEndian.PutUint32(l4[4:], 1000+id)
		l4[12] = 5 << 4
		if kind == swSYN {
			l4[13] = 0x02
		} else {
			l4[13] = 0x10
		}
	}
	tr := b[swFrameLen-12:]
	copy(tr[0:4], "FPID")
	binary.BigEndian.PutUint32(tr[4:8], id)
	binary.BigEndian.PutUint32(tr[8:12], crc32.ChecksumIEEE(tr[0:8]))
	return b
}

// swSent makes one Sent per kind, frame i at 1000·(i+1) ns. At 1 pps a
// bucket gains about 4·10⁻⁶ packets per microsecond, so within these tests
// a bucket never refills a whole packet: only `burst` frames conform.
func swSent(kinds ...int) []Sent {
	var s []Sent
	for i, k := range kinds {
		s = append(s, Sent{Index: i, Data: swFrame(k, uint32(i)), TimeNS: 1000 * uint64(i+1)})
	}
	return s
}

// swRecv returns what a target emits when it passes exactly the given sent
// positions, in order.
func swRecv(sent []Sent, pass ...int) []Received {
	var out []Received
	for _, p := range pass {
		out = append(out, Received{Data: bytes.Clone(sent[p].Data), TimeNS: sent[p].TimeNS + 500})
	}
	return out
}

// Table A: default pass, UDP dropped, SYNs policed with a bucket of 2.
const swTableA = `
default: pass
malformed: drop
rules:
  - name: a-drop-udp
    action: drop
    proto: udp
  - name: a-police-syn
    action: police
    proto: tcp
    tcp_flags: syn,!ack
    rate: 1pps
    burst: 2
`

// Table B: the opposite default; UDP passed, SYNs policed with a bucket of 1.
const swTableB = `
default: drop
malformed: drop
rules:
  - name: b-pass-udp
    action: pass
    proto: udp
  - name: b-police-syn
    action: police
    proto: tcp
    tcp_flags: syn
    rate: 1pps
    burst: 1
`

// swScenario: phase A (frames 0-3), phase B (4-7), phase A again (8-11).
type swScenario struct {
	a, b  *rules.Table
	sent  []Sent
	swaps []Swap
}

func newSwScenario(t *testing.T) *swScenario {
	sc := &swScenario{a: table(t, swTableA), b: table(t, swTableB)}
	sc.sent = swSent(
		swUDP, swSYN, swSYN, swSYN, // A
		swUDP, swSYN, swSYN, swACK, // B
		swSYN, swSYN, swSYN, swACK, // A again
	)
	sc.swaps = []Swap{{Before: 4, Table: sc.b}, {Before: 8, Table: sc.a}}
	return sc
}

// Worked out by hand, per frame: verdict ("pass", "drop", "policed") and rule.
var swWant = []struct{ verdict, rule string }{
	{"drop", "a-drop-udp"},      // 0 A: UDP
	{"pass", "a-police-syn"},    // 1 A: bucket 2 -> 1
	{"pass", "a-police-syn"},    // 2 A: bucket 1 -> 0
	{"policed", "a-police-syn"}, // 3 A: empty
	{"pass", "b-pass-udp"},      // 4 B: UDP passes in B
	{"pass", "b-police-syn"},    // 5 B: fresh bucket of 1
	{"policed", "b-police-syn"}, // 6 B: empty
	{"drop", "default"},         // 7 B: ACK, default drop
	{"pass", "a-police-syn"},    // 8 A again: bucket full again (2 -> 1)
	{"pass", "a-police-syn"},    // 9
	{"policed", "a-police-syn"}, // 10
	{"pass", "default"},         // 11 A: ACK, default pass
}

var swPassPositions = []int{1, 2, 4, 5, 8, 9, 11}

// compareSwapped compares the output of a target that does what the swapped
// tables say (it passes swPassPositions) and read back counters (nil: none).
func (sc *swScenario) compareSwapped(t *testing.T, counters *model.Counters) *Report {
	t.Helper()
	return mustCompare(t, Input{Sent: sc.sent, Received: swRecv(sc.sent, swPassPositions...), Table: sc.a, Swaps: sc.swaps, Counters: counters})
}

func TestSwapVerdictsFollowActiveTable(t *testing.T) {
	sc := newSwScenario(t)
	r := sc.compareSwapped(t, nil)
	if !r.Passed() {
		t.Fatalf("a target doing what the swapped tables say failed:\n%s", diffText(r))
	}
	if r.Sent != 12 || r.ExpectedPass != len(swPassPositions) || r.Matched != len(swPassPositions) {
		t.Errorf("sent %d expected-pass %d matched %d, want 12, %d, %d", r.Sent, r.ExpectedPass, r.Matched, len(swPassPositions), len(swPassPositions))
	}
	if len(r.Expected) != len(swWant) {
		t.Fatalf("%d expectations for %d frames", len(r.Expected), len(swWant))
	}
	for i, w := range swWant {
		e := r.Expected[i]
		if got := expected(e.Verdict); got != w.verdict || e.Rule != w.rule {
			t.Errorf("frame %d: expected %s (rule %s), want %s (rule %s)", i, got, e.Rule, w.verdict, w.rule)
		}
		if (w.verdict == "pass") != e.Verdict.Pass {
			t.Errorf("frame %d: Pass %v, want verdict %s", i, e.Verdict.Pass, w.verdict)
		}
		if w.verdict == "policed" && e.Verdict.Outcome != model.Policed {
			t.Errorf("frame %d: outcome %v, want policed", i, e.Verdict.Outcome)
		}
	}
}

// The same traffic judged by table A alone disagrees with the swapped
// target: Swaps are really applied.
func TestSwapIgnoredWithoutSwaps(t *testing.T) {
	sc := newSwScenario(t)
	r := mustCompare(t, Input{Sent: sc.sent, Received: swRecv(sc.sent, swPassPositions...), Table: sc.a})
	if r.Passed() {
		t.Fatal("without Swaps, table A alone should not accept the swapped target's output")
	}
	// Under A alone: frame 4 (UDP) is dropped by a-drop-udp, frame 5 (SYN)
	// finds A's bucket empty, frame 7 (ACK) passes by default.
	for _, c := range []struct {
		frame int
		kind  Kind
		rule  string
	}{{4, Unexpected, "a-drop-udp"}, {5, Unexpected, "a-police-syn"}, {7, Missing, "default"}} {
		found := false
		for _, m := range r.Mismatches {
			if m.Frame == c.frame && m.Kind == c.kind && m.Rule == c.rule {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s mismatch for frame %d (rule %s):\n%s", c.kind, c.frame, c.rule, diffText(r))
		}
	}
}

// A swap at Before 0 replaces the first table before any frame.
func TestSwapBeforeFirstFrame(t *testing.T) {
	sc := newSwScenario(t)
	sent := sc.sent[:2] // UDP, SYN
	r := mustCompare(t, Input{Sent: sent, Received: swRecv(sent, 0, 1), Table: sc.a, Swaps: []Swap{{Before: 0, Table: sc.b}}})
	if !r.Passed() {
		t.Fatalf("table B from frame 0 passes both frames:\n%s", diffText(r))
	}
	if r.Expected[0].Rule != "b-pass-udp" || r.Expected[1].Rule != "b-police-syn" {
		t.Errorf("rules %q, %q; want b-pass-udp, b-police-syn", r.Expected[0].Rule, r.Expected[1].Rule)
	}
}

func TestSwapMismatchRuleNames(t *testing.T) {
	sc := newSwScenario(t)
	// The target drops frame 4 (passed by B's b-pass-udp) and wrongly passes
	// frame 0 (A's a-drop-udp), 6 (B's bucket), 7 (B's default drop) and
	// 10 (A's bucket after the swap back).
	rc := swRecv(sc.sent, 0, 1, 2, 5, 6, 7, 8, 9, 10, 11)
	r := mustCompare(t, Input{Sent: sc.sent, Received: rc, Table: sc.a, Swaps: sc.swaps})
	type key struct {
		kind  Kind
		frame int
	}
	want := map[key]struct{ expected, rule string }{
		{Missing, 4}:     {"pass", "b-pass-udp"},
		{Unexpected, 0}:  {"drop", "a-drop-udp"},
		{Unexpected, 6}:  {"policed", "b-police-syn"},
		{Unexpected, 7}:  {"drop", "default"},
		{Unexpected, 10}: {"policed", "a-police-syn"},
	}
	if len(r.Mismatches) != len(want) {
		t.Fatalf("want %d mismatches, got:\n%s", len(want), diffText(r))
	}
	for _, m := range r.Mismatches {
		w, ok := want[key{m.Kind, m.Frame}]
		if !ok {
			t.Errorf("unwanted mismatch %+v", m)
			continue
		}
		if m.Expected != w.expected || m.Rule != w.rule {
			t.Errorf("frame %d %s: expected %q rule %q, want %q rule %q", m.Frame, m.Kind, m.Expected, m.Rule, w.expected, w.rule)
		}
		if !strings.Contains(m.Line(), "(rule "+w.rule+")") {
			t.Errorf("line %q lacks the rule %s", m.Line(), w.rule)
		}
	}
	if r.Missing != 1 {
		t.Errorf("Missing %d, want 1", r.Missing)
	}
}

// swCounts builds counters by hand: totals in, passed, dropped, policed,
// malformed (packets; bytes are packets·80) and rule packets.
func swCounts(in, passed, dropped, policed, malformed int, rulePkts ...int) *model.Counters {
	c := func(n int) model.Count { return model.Count{Packets: uint64(n), Bytes: uint64(n * swFrameLen)} }
	m := &model.Counters{}
	m.Totals[rules.TotalIn] = c(in)
	m.Totals[rules.TotalPassed] = c(passed)
	m.Totals[rules.TotalDropped] = c(dropped)
	m.Totals[rules.TotalPoliced] = c(policed)
	m.Totals[rules.TotalMalformed] = c(malformed)
	for _, n := range rulePkts {
		m.Rules = append(m.Rules, c(n))
	}
	return m
}

// Counters continue across swaps: totals over all 12 frames, rule counters
// by slot over both tables (slot 0: frames 0 and 4; slot 1: 1-3, 5, 6, 8-10).
func TestSwapCountersContinue(t *testing.T) {
	sc := newSwScenario(t)
	good := swCounts(12, 7, 2, 3, 0, 2, 8)
	r := sc.compareSwapped(t, good)
	if !r.CountersChecked || !r.Passed() {
		t.Fatalf("hand-counted counters rejected: checked %v diffs %+v", r.CountersChecked, r.CounterDiffs)
	}
	want := *good
	if r.ExpectedCounters.Totals != want.Totals || len(r.ExpectedCounters.Rules) != 2 ||
		r.ExpectedCounters.Rules[0] != want.Rules[0] || r.ExpectedCounters.Rules[1] != want.Rules[1] {
		t.Errorf("expected counters %+v, want %+v", r.ExpectedCounters, want)
	}

	// Counters as if they restarted at the last swap (only frames 8-11).
	restarted := swCounts(4, 3, 0, 1, 0, 0, 3)
	r = sc.compareSwapped(t, restarted)
	if r.Passed() || len(r.CounterDiffs) == 0 {
		t.Fatal("counters that restarted at a swap must differ")
	}

	// One packet too many on slot 1: named after the rule in the table
	// active at the end (A after the swap back).
	bad := swCounts(12, 7, 2, 3, 0, 2, 9)
	r = sc.compareSwapped(t, bad)
	if len(r.CounterDiffs) != 1 || r.CounterDiffs[0].Name != "rule.a-police-syn" ||
		r.CounterDiffs[0].Expected.Packets != 8 || r.CounterDiffs[0].Seen.Packets != 9 {
		t.Errorf("diffs %+v, want one on rule.a-police-syn 8 -> 9", r.CounterDiffs)
	}
}

// Buckets restart on a swap even to the very same table.
func TestSwapSameTableRefillsBucket(t *testing.T) {
	a := table(t, swTableA)
	sent := swSent(swSYN, swSYN, swSYN, swSYN)
	// Without a swap: 2 pass, 2 policed. With a swap to A before frame 2,
	// the bucket is full again: all 4 pass.
	r := mustCompare(t, Input{Sent: sent, Received: swRecv(sent, 0, 1), Table: a})
	if !r.Passed() || r.ExpectedPass != 2 {
		t.Fatalf("no swap: expected-pass %d, diff:\n%s", r.ExpectedPass, diffText(r))
	}
	r = mustCompare(t, Input{Sent: sent, Received: swRecv(sent, 0, 1, 2, 3), Table: a, Swaps: []Swap{{Before: 2, Table: a}}})
	if !r.Passed() || r.ExpectedPass != 4 {
		t.Fatalf("swap to the same table: expected-pass %d, diff:\n%s", r.ExpectedPass, diffText(r))
	}
}

// Table P: UDP dropped, SYNs policed with a bucket of 1, rest passes.
const swTableP = `
default: pass
rules:
  - name: drop-udp
    action: drop
    proto: udp
  - name: police-syn
    action: police
    proto: tcp
    tcp_flags: syn,!ack
    rate: 1pps
    burst: 1
`

// swInexact: frames 0-2 SYNs (exact times: pass, policed, policed),
// 3 UDP (drop-udp), 4 and 5 ACKs (default pass).
func swInexact(t *testing.T) (*rules.Table, []Sent) {
	return table(t, swTableP), swSent(swSYN, swSYN, swSYN, swUDP, swACK, swACK)
}

func TestInexactTimePoliceEitherWay(t *testing.T) {
	p, sent := swInexact(t)
	for _, pass := range [][]int{
		{0, 4, 5},       // what exact times predict
		{1, 2, 4, 5},    // the device's bucket saw other times
		{4, 5},          // all SYNs policed
		{0, 1, 2, 4, 5}, // all SYNs passed
	} {
		r := mustCompare(t, Input{Sent: sent, Received: swRecv(sent, pass...), Table: p, InexactTime: true})
		if !r.Passed() {
			t.Errorf("inexact time, passed %v: police frames must not be mismatches:\n%s", pass, diffText(r))
		}
		if r.Missing != 0 || r.Loss != 0 {
			t.Errorf("inexact time, passed %v: missing %d loss %v", pass, r.Missing, r.Loss)
		}
	}
	// With exact times the second case is three mismatches.
	r := mustCompare(t, Input{Sent: sent, Received: swRecv(sent, 1, 2, 4, 5), Table: p})
	if r.Count(Missing) != 1 || r.Count(Unexpected) != 2 || len(r.Mismatches) != 3 {
		t.Errorf("exact time: want missing 0, unexpected 1 and 2, got:\n%s", diffText(r))
	}
}

func TestInexactTimeOtherFramesStrict(t *testing.T) {
	p, sent := swInexact(t)

	// The drop-rule frame 3 passed: still an error.
	r := mustCompare(t, Input{Sent: sent, Received: swRecv(sent, 0, 3, 4, 5), Table: p, InexactTime: true})
	if len(r.Mismatches) != 1 {
		t.Fatalf("want one mismatch, got:\n%s", diffText(r))
	}
	if m := r.Mismatches[0]; m.Kind != Unexpected || m.Frame != 3 || m.Rule != "drop-udp" || m.Expected != "drop" {
		t.Errorf("mismatch %+v, want unexpected frame 3 (drop-udp)", m)
	}

	// A default-pass frame lost: still missing.
	r = mustCompare(t, Input{Sent: sent, Received: swRecv(sent, 0, 5), Table: p, InexactTime: true})
	if len(r.Mismatches) != 1 {
		t.Fatalf("want one mismatch, got:\n%s", diffText(r))
	}
	if m := r.Mismatches[0]; m.Kind != Missing || m.Frame != 4 || m.Rule != "default" {
		t.Errorf("mismatch %+v, want missing frame 4 (default)", m)
	}
}

// With swaps, "decided by a police rule" is about the table active for
// the frame: slot 1 is a police rule in P but a drop rule in D.
func TestInexactTimeUsesActiveTable(t *testing.T) {
	p := table(t, swTableP)
	d := table(t, `
default: pass
rules:
  - name: d-pass-udp
    action: pass
    proto: udp
  - name: d-drop-syn
    action: drop
    proto: tcp
    tcp_flags: syn
`)
	sent := swSent(swSYN, swSYN, swSYN, swSYN) // 0, 1 under P; 2, 3 under D
	swaps := []Swap{{Before: 2, Table: d}}
	r := mustCompare(t, Input{Sent: sent, Received: swRecv(sent, 1), Table: p, Swaps: swaps, InexactTime: true})
	if !r.Passed() {
		t.Errorf("police frames under P may go either way:\n%s", diffText(r))
	}
	r = mustCompare(t, Input{Sent: sent, Received: swRecv(sent, 0, 1, 3), Table: p, Swaps: swaps, InexactTime: true})
	if len(r.Mismatches) != 1 {
		t.Fatalf("want one mismatch, got:\n%s", diffText(r))
	}
	if m := r.Mismatches[0]; m.Kind != Unexpected || m.Frame != 3 || m.Rule != "d-drop-syn" || m.Expected != "drop" {
		t.Errorf("mismatch %+v, want unexpected frame 3 (d-drop-syn)", m)
	}
}

func TestInexactTimeCounters(t *testing.T) {
	p, sent := swInexact(t)
	rc := swRecv(sent, 1, 2, 4, 5)
	// Exact times: passed 0, 4, 5; policed 1, 2; dropped 3.
	// The device passed 1, 2, 4, 5 and policed 0: same passed+policed sum.
	device := swCounts(6, 4, 1, 1, 0, 1, 3)
	r := mustCompare(t, Input{Sent: sent, Received: rc, Table: p, InexactTime: true, Counters: device})
	if !r.CountersChecked || !r.Passed() {
		t.Fatalf("passed+policed agree, want no diffs: %+v\n%s", r.CounterDiffs, diffText(r))
	}
	// Strictly, those counters differ in passed and policed.
	r = mustCompare(t, Input{Sent: sent, Received: swRecv(sent, 0, 4, 5), Table: p, Counters: device})
	names := []string{}
	for _, d := range r.CounterDiffs {
		names = append(names, d.Name)
	}
	if strings.Join(names, ",") != "total.passed,total.policed" {
		t.Errorf("exact time: diffs %v, want total.passed,total.policed", names)
	}

	for _, c := range []struct {
		name string
		ctr  *model.Counters
		want string
	}{
		{"sum off by one", swCounts(6, 4, 1, 2, 0, 1, 3), "total.passed"},
		{"dropped", swCounts(6, 4, 2, 1, 0, 1, 3), "total.dropped"},
		{"in", swCounts(7, 4, 1, 1, 0, 1, 3), "total.in"},
		{"malformed", swCounts(6, 4, 1, 1, 1, 1, 3), "total.malformed"},
		{"police rule", swCounts(6, 4, 1, 1, 0, 1, 2), "rule.police-syn"},
		{"drop rule", swCounts(6, 4, 1, 1, 0, 0, 3), "rule.drop-udp"},
	} {
		r := mustCompare(t, Input{Sent: sent, Received: rc, Table: p, InexactTime: true, Counters: c.ctr})
		if len(r.CounterDiffs) != 1 || r.CounterDiffs[0].Name != c.want {
			t.Errorf("%s: diffs %+v, want one on %s", c.name, r.CounterDiffs, c.want)
		}
	}
	// The merged counter compares the sums: expected 5 (3 + 2), seen 6.
	r = mustCompare(t, Input{Sent: sent, Received: rc, Table: p, InexactTime: true, Counters: swCounts(6, 4, 1, 2, 0, 1, 3)})
	if len(r.CounterDiffs) == 1 {
		d := r.CounterDiffs[0]
		if d.Expected.Packets != 5 || d.Seen.Packets != 6 || d.Expected.Bytes != 5*swFrameLen || d.Seen.Bytes != 6*swFrameLen {
			t.Errorf("merged diff %+v, want 5 -> 6 packets", d)
		}
	}
	// The report's own expectation stays the model's split.
	if got := r.ExpectedCounters.Totals; got[rules.TotalPassed].Packets != 3 || got[rules.TotalPoliced].Packets != 2 {
		t.Errorf("ExpectedCounters totals %+v, want passed 3 policed 2", got)
	}
}
