// Package compare checks what a target emitted against the golden model
// (sim/model): which frames should have come out, in which order, with which
// bytes, and what the counters should read. It also measures latency and
// receive rates.
//
// Received frames are paired with sent frames by the profile ID trailer
// (profile.ExtractID) when they carry one, else by identical bytes (the first
// unused sent frame with the same bytes), so drops and reordering do not
// throw the pairing off.
package compare

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/fpgactl/fpgactl/sim/model"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/profile"
)

// Sent is one frame as it was replayed to the target, in replay order.
type Sent struct {
	Index    int    // frame number shown in reports (e.g. position in the capture)
	Data     []byte // frame without FCS
	TimeNS   uint64 // replay time; 0 = unknown
	MACError bool   // sent with a bad FCS / MAC error
}

// Received is one frame the target emitted, in arrival order.
type Received struct {
	Data   []byte // frame without FCS
	TimeNS uint64 // arrival time; 0 = unknown
}

// Input is everything Compare needs.
type Input struct {
	Sent     []Sent
	Received []Received
	Table    *rules.Table
	Config   model.Config
	// Counters, when not nil, are the counters read back from the target;
	// they are compared with the model's after all of Sent.
	Counters *model.Counters
	// Swaps make another table active before a given sent frame (table
	// swaps between phases of a scenario), in increasing Before order.
	Swaps []Swap
	// InexactTime says Sent times are not the times the device's policer
	// used (a real interface): a frame decided by a police rule may then
	// pass or be policed, and only passed+policed totals are compared.
	InexactTime bool
}

// Swap makes Table active before Sent[Before] is processed.
type Swap struct {
	Before int
	Table  *rules.Table
}

// Kind is the kind of a mismatch.
type Kind string

// Mismatch kinds.
const (
	Missing    Kind = "missing"    // expected to pass, not received
	Unexpected Kind = "unexpected" // received, expected to be dropped
	Corrupted  Kind = "corrupted"  // paired by ID, bytes differ
	Unknown    Kind = "unknown"    // received, pairs with no sent frame
	Reordered  Kind = "reordered"  // received after a frame sent later
)

// Mismatch is one frame that did not come out as the model says.
type Mismatch struct {
	Kind Kind `json:"kind"`
	// Frame is Sent.Index of the sent frame involved, -1 for Unknown.
	Frame int `json:"frame"`
	// Received is the arrival position (0-based) of the received frame
	// involved, -1 for Missing.
	Received int `json:"received"`
	// Expected is the model's verdict: "pass", "drop" or "policed";
	// empty for Unknown.
	Expected string `json:"expected,omitempty"`
	// Seen is what the target did: "dropped", "passed", "corrupted",
	// "unknown" or "late".
	Seen string `json:"seen"`
	// Rule decided the expected verdict: a rule name, "default" or
	// "malformed: <reason>". Empty for Unknown.
	Rule string `json:"rule,omitempty"`
	// Offset is the first differing byte for Corrupted (len of the shorter
	// frame when one is a prefix of the other), else -1.
	Offset int `json:"offset"`
	// After is, for Reordered, the Sent.Index of the latest-sent frame that
	// arrived before this one; else -1.
	After int `json:"after"`

	sentPos int // position in Input.Sent, -1 if none
}

// Expectation is the model's decision for one sent frame.
type Expectation struct {
	Verdict model.Verdict
	Rule    string // rule name, "default" or "malformed: <reason>"
}

// CounterDiff is one counter whose target value differs from the model.
type CounterDiff struct {
	Name     string      `json:"name"` // "total.passed", "rule.<name>"
	Expected model.Count `json:"expected"`
	Seen     model.Count `json:"seen"`
}

// Latency summarises receive minus send time of paired frames that carry
// both timestamps.
type Latency struct {
	Samples int     `json:"samples"`
	MinNS   int64   `json:"min_ns"`
	AvgNS   float64 `json:"avg_ns"`
	MaxNS   int64   `json:"max_ns"`
	// Histogram[i] counts samples in [LatencyEdgesNS[i-1], LatencyEdgesNS[i])
	// (from -inf for i = 0); the last entry counts samples ≥ the last edge.
	Histogram []int `json:"histogram"`
}

// LatencyEdgesNS are the fixed upper bucket edges of Latency.Histogram.
var LatencyEdgesNS = []int64{100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 1_000_000, 10_000_000}

// Rates are receive rates over the received span: from the first to the last
// received timestamp. The last frame's bytes are not counted (it starts at
// the end of the span), so frames at line rate give exactly the line rate.
type Rates struct {
	SpanNS       uint64  `json:"span_ns"`
	FramesPerSec float64 `json:"frames_per_s"`
	L2BitsPerSec float64 `json:"l2_bits_per_s"` // frame bytes
	L1BitsPerSec float64 `json:"l1_bits_per_s"` // frame + profile.WireOverhead bytes
}

// Report is the result of Compare.
type Report struct {
	Sent         int // frames sent
	ExpectedPass int // of which the model passes
	Received     int // frames received
	Matched      int // received frames paired with a sent frame
	Mismatches   []Mismatch
	Missing      int     // count of Missing mismatches
	Loss         float64 // Missing / ExpectedPass (0 when nothing should pass)
	Latency      Latency
	Rates        Rates
	Expected     []Expectation // per sent frame, in Input.Sent order
	// ExpectedCounters are the model's counters after all of Sent.
	ExpectedCounters model.Counters
	// CountersChecked is true when Input.Counters was given.
	CountersChecked bool
	CounterDiffs    []CounterDiff

	sent     []Sent
	received []Received
	// policeDecided[i]: Sent[i]'s verdict came from a police rule and the
	// times are inexact, so either outcome is accepted.
	policeDecided []bool
}

// Passed reports whether the target did exactly what the model says.
func (r *Report) Passed() bool {
	return len(r.Mismatches) == 0 && len(r.CounterDiffs) == 0
}

// Count returns how many mismatches of kind k there are.
func (r *Report) Count(k Kind) int {
	n := 0
	for _, m := range r.Mismatches {
		if m.Kind == k {
			n++
		}
	}
	return n
}

// Compare runs the model over in.Sent and checks in.Received against it.
func Compare(in Input) (*Report, error) {
	if in.Table == nil {
		return nil, errors.New("compare: no rule table")
	}
	f := model.New(in.Table, in.Config)
	r := &Report{
		Sent:     len(in.Sent),
		Received: len(in.Received),
		Expected: make([]Expectation, len(in.Sent)),
		sent:     in.Sent,
		received: in.Received,
	}
	byID := map[uint32][]int{}
	table, swaps := in.Table, in.Swaps
	r.policeDecided = make([]bool, len(in.Sent))
	for i, s := range in.Sent {
		for len(swaps) > 0 && swaps[0].Before <= i {
			table = swaps[0].Table
			f.Swap(table)
			swaps = swaps[1:]
		}
		v := f.Process(model.Frame{Data: s.Data, TimeNS: s.TimeNS, MACError: s.MACError})
		r.Expected[i] = Expectation{Verdict: v, Rule: ruleName(table, v)}
		r.policeDecided[i] = in.InexactTime && v.Hit && table.Entries[v.Rule].Action == rules.ActionPolice
		if v.Pass {
			r.ExpectedPass++
		}
		if id, ok := profile.ExtractID(s.Data); ok {
			byID[id] = append(byID[id], i)
		}
	}
	r.ExpectedCounters = f.Counters()

	// Sent positions by bytes, for received frames the IDs do not pair;
	// built the first time one needs it.
	var byData map[string][]int
	used := make([]bool, len(in.Sent))
	// take is the first unused position in q whose frame could have come
	// out (expected to pass, or a police verdict the harness cannot time),
	// else the first unused one: a received copy of two identical frames,
	// one dropped and one passed, is the passed one.
	take := func(q []int) int {
		first := -1
		for _, p := range q {
			if used[p] {
				continue
			}
			if r.Expected[p].Verdict.Pass || r.policeDecided[p] {
				return p
			}
			if first < 0 {
				first = p
			}
		}
		return first
	}
	pairs := make([]int, len(in.Received)) // sent position per received frame, -1 = none
	var lat []int64
	maxPass := -1 // highest sent position of an expected-pass frame received so far
	for j, rc := range in.Received {
		p, byIDMatch := -1, false
		if id, ok := profile.ExtractID(rc.Data); ok {
			if p = take(byID[id]); p >= 0 {
				byIDMatch = true
			}
		}
		if p < 0 {
			if byData == nil {
				byData = make(map[string][]int, len(in.Sent))
				for i, s := range in.Sent {
					byData[string(s.Data)] = append(byData[string(s.Data)], i)
				}
			}
			p = take(byData[string(rc.Data)])
		}
		pairs[j] = p
		if p < 0 {
			r.Mismatches = append(r.Mismatches, Mismatch{Kind: Unknown, Frame: -1, Received: j,
				Seen: "unknown", Offset: -1, After: -1, sentPos: -1})
			continue
		}
		used[p] = true
		r.Matched++
		s, e := in.Sent[p], r.Expected[p]
		base := Mismatch{Frame: s.Index, Received: j, Expected: expected(e.Verdict),
			Rule: e.Rule, Offset: -1, After: -1, sentPos: p}
		if !e.Verdict.Pass && !r.policeDecided[p] {
			m := base
			m.Kind, m.Seen = Unexpected, "passed"
			r.Mismatches = append(r.Mismatches, m)
		}
		if byIDMatch && !bytes.Equal(s.Data, rc.Data) {
			m := base
			m.Kind, m.Seen, m.Offset = Corrupted, "corrupted", firstDiff(s.Data, rc.Data)
			r.Mismatches = append(r.Mismatches, m)
		}
		if e.Verdict.Pass {
			if p < maxPass {
				m := base
				m.Kind, m.Seen, m.After = Reordered, "late", in.Sent[maxPass].Index
				r.Mismatches = append(r.Mismatches, m)
			} else {
				maxPass = p
			}
		}
		if s.TimeNS != 0 && rc.TimeNS != 0 {
			lat = append(lat, int64(rc.TimeNS)-int64(s.TimeNS))
		}
	}
	for p, e := range r.Expected {
		if e.Verdict.Pass && !used[p] && !r.policeDecided[p] {
			r.Missing++
			r.Mismatches = append(r.Mismatches, Mismatch{Kind: Missing, Frame: in.Sent[p].Index, Received: -1,
				Expected: "pass", Seen: "dropped", Rule: e.Rule, Offset: -1, After: -1, sentPos: p})
		}
	}
	if r.ExpectedPass > 0 {
		r.Loss = float64(r.Missing) / float64(r.ExpectedPass)
	}
	r.Latency = latency(lat)
	r.Rates = rates(in.Received)
	if in.Counters != nil {
		r.CountersChecked = true
		want, got := r.ExpectedCounters, *in.Counters
		if in.InexactTime {
			// Which police frames passed depends on times the harness
			// cannot know; their sum can still be checked.
			foldPoliced(&want)
			foldPoliced(&got)
		}
		r.CounterDiffs = diffCounters(table, want, got)
	}
	return r, nil
}

// foldPoliced adds the policed total to the passed one and zeroes it.
func foldPoliced(c *model.Counters) {
	t := &c.Totals
	t[rules.TotalPassed].Packets += t[rules.TotalPoliced].Packets
	t[rules.TotalPassed].Bytes += t[rules.TotalPoliced].Bytes
	t[rules.TotalPoliced] = model.Count{}
}

func ruleName(t *rules.Table, v model.Verdict) string {
	switch {
	case v.Malformed:
		return "malformed: " + v.Reason
	case !v.Hit:
		return "default"
	case v.Rule < len(t.Names) && t.Names[v.Rule] != "":
		return t.Names[v.Rule]
	default:
		return fmt.Sprintf("rule %d", v.Rule)
	}
}

func expected(v model.Verdict) string {
	switch {
	case v.Pass:
		return "pass"
	case v.Outcome == model.Policed:
		return "policed"
	default:
		return "drop"
	}
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func latency(samples []int64) Latency {
	l := Latency{Samples: len(samples), Histogram: make([]int, len(LatencyEdgesNS)+1)}
	if len(samples) == 0 {
		return l
	}
	l.MinNS, l.MaxNS = math.MaxInt64, math.MinInt64
	var sum float64
	for _, d := range samples {
		l.MinNS, l.MaxNS = min(l.MinNS, d), max(l.MaxNS, d)
		sum += float64(d)
		b := len(LatencyEdgesNS)
		for i, e := range LatencyEdgesNS {
			if d < e {
				b = i
				break
			}
		}
		l.Histogram[b]++
	}
	l.AvgNS = sum / float64(len(samples))
	return l
}

func rates(rc []Received) Rates {
	var first, last uint64
	var frames, l2 uint64
	have := false
	lastLen := 0
	for _, f := range rc {
		if f.TimeNS == 0 {
			continue
		}
		if !have || f.TimeNS < first {
			first = f.TimeNS
		}
		if !have || f.TimeNS >= last {
			last, lastLen = f.TimeNS, len(f.Data)
		}
		have = true
		frames++
		l2 += uint64(len(f.Data))
	}
	if !have || last == first {
		return Rates{}
	}
	// Count every stamped frame but the last one to arrive.
	frames--
	l2 -= uint64(lastLen)
	span := last - first
	sec := float64(span) / 1e9
	return Rates{
		SpanNS:       span,
		FramesPerSec: float64(frames) / sec,
		L2BitsPerSec: float64(l2*8) / sec,
		L1BitsPerSec: float64((l2+frames*profile.WireOverhead)*8) / sec,
	}
}

func diffCounters(t *rules.Table, want, got model.Counters) []CounterDiff {
	var d []CounterDiff
	for k := range want.Totals {
		if want.Totals[k] != got.Totals[k] {
			d = append(d, CounterDiff{Name: "total." + rules.TotalNames[k], Expected: want.Totals[k], Seen: got.Totals[k]})
		}
	}
	for i := 0; i < max(len(want.Rules), len(got.Rules)); i++ {
		var w, g model.Count
		if i < len(want.Rules) {
			w = want.Rules[i]
		}
		if i < len(got.Rules) {
			g = got.Rules[i]
		}
		if w != g {
			name := fmt.Sprintf("rule.%d", i)
			if i < len(t.Names) && t.Names[i] != "" {
				name = "rule." + t.Names[i]
			}
			d = append(d, CounterDiff{Name: name, Expected: w, Seen: g})
		}
	}
	return d
}
