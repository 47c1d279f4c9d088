package model

import (
	"fmt"
	"testing"

	"github.com/fpgactl/fpgactl/sim/rules"
)

func policeTable(rate uint64, burst uint32, bytes bool) *rules.Table {
	e := anyRule()
	e.Action, e.Rate, e.Burst, e.PoliceBytes = rules.ActionPolice, rate, burst, bytes
	return &rules.Table{Entries: []rules.Entry{e}}
}

// arp returns a well-formed non-IP frame of n bytes.
func arp(n int) []byte { return cat(header(0x0806), zeros(n-14)) }

type step struct {
	t    uint64
	len  int
	pass bool
}

func runSteps(t *testing.T, f *Filter, steps []step) {
	t.Helper()
	for i, s := range steps {
		v := f.Process(Frame{Data: arp(s.len), TimeNS: s.t})
		want := Policed
		if s.pass {
			want = Passed
		}
		if v.Outcome != want || v.Pass != s.pass || !v.Hit || v.Rule != 0 {
			t.Errorf("step %d (t=%d len=%d): got %+v, want outcome %v", i, s.t, s.len, v, want)
		}
	}
}

// Expected outcomes below are worked out by hand from SPEC §4.
func TestPolicer(t *testing.T) {
	const oneUnitPerNS = 1 << 32
	tests := []struct {
		name  string
		table *rules.Table
		steps []step
	}{
		// 1 Mpps: rate 4294967, so 1000 ns refill 4294967000 units, just under one packet (2^32).
		{"pps refill just under one packet", policeTable(4294967, 2, false), []step{
			{100, 60, true}, {100, 60, true}, {100, 60, false},
			{1100, 60, false}, // 4294967000 < 2^32
			{1101, 60, true},  // +4294967 crosses 2^32
			{1101, 60, false}, // 4294671 left
		}},
		{"burst caps the refill", policeTable(oneUnitPerNS, 3, false), []step{
			{0, 60, true},                                  // primed: 3, now 2
			{10, 60, true}, {10, 60, true}, {10, 60, true}, // +10 capped at 3
			{10, 60, false},
		}},
		{"bytes", policeTable(oneUnitPerNS, 1000, true), []step{
			{0, 600, true}, {0, 500, false}, // 400 left
			{100, 500, true}, // 500 exactly
			{100, 60, false},
			{159, 60, false}, {160, 60, true}, // 59 then 60
		}},
		{"dt is capped at 2^32-1", policeTable(1, 2, false), []step{
			{0, 60, true}, {0, 60, true},
			{1 << 32, 60, false},  // add = 1 × (2^32-1), one unit short
			{1<<32 + 1, 60, true}, // +1: exactly one packet
		}},
		{"time going back adds nothing and moves last_ns", policeTable(oneUnitPerNS, 1, false), []step{
			{1000, 60, true},
			{500, 60, false}, // dt 0
			{1000, 60, true}, // dt 500 from the new last_ns
		}},
		{"72-bit product", policeTable(1<<33, 1, false), []step{
			{0, 60, true},
			{1 << 31, 60, true}, // 2^33 × 2^31 = 2^64: must not wrap to 0
		}},
		{"frame larger than burst never passes", policeTable(oneUnitPerNS, 100, true), []step{
			{0, 101, false}, {1 << 40, 101, false}, {1 << 40, 100, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, New(tt.table, Config{MaxFrameBytes: 9216}), tt.steps)
		})
	}
}

func TestSwapUnprimesBuckets(t *testing.T) {
	tab := policeTable(1, 1, false)
	f := New(tab, Config{})
	runSteps(t, f, []step{{0, 60, true}, {5, 60, false}})
	f.Swap(tab)
	runSteps(t, f, []step{{6, 60, true}, {7, 60, false}})
	if c := f.Counters(); c.Rules[0].Packets != 4 {
		t.Errorf("swap must keep counters: rule 0 packets = %d, want 4", c.Rules[0].Packets)
	}
}

func udpFrame(dport uint16, n int) []byte {
	udp := []byte{0, 1, byte(dport >> 8), byte(dport), 0, 8, 0, 0}
	return cat(header(0x0800), v4hdr(0x45, 28, 0, 17), udp, zeros(n-42))
}

func TestCountersAndOutcomes(t *testing.T) {
	drop := anyRule()
	drop.ProtoValid, drop.Proto, drop.DportLo, drop.DportHi = true, 17, 9, 9
	pol := anyRule()
	pol.Action, pol.Rate, pol.Burst, pol.ProtoValid, pol.Proto = rules.ActionPolice, 0, 1, true, 17
	for _, malformedPass := range []bool{false, true} {
		t.Run(fmt.Sprint("malformedPass=", malformedPass), func(t *testing.T) {
			tab := &rules.Table{MalformedPass: malformedPass, Entries: []rules.Entry{drop, pol}}
			f := New(tab, Config{MaxFrameBytes: 9216, NumRules: 4})
			frames := []struct {
				fr      Frame
				outcome Outcome
				rule    int
			}{
				{Frame{Data: zeros(10)}, Dropped, -1},       // runt
				{Frame{Data: udpFrame(9, 100)}, Dropped, 0}, // drop rule
				{Frame{Data: arp(60)}, Passed, -1},          // default pass
				{Frame{Data: udpFrame(7, 70)}, Passed, 1},   // police, primed
				{Frame{Data: udpFrame(7, 80)}, Policed, 1},  // rate 0: empty
				{Frame{Data: zeros(10000)}, Dropped, -1},    // oversize, counted as 9217 bytes
				{Frame{Data: udpFrame(9, 64), MACError: true}, Dropped, -1},
			}
			for i, fr := range frames {
				want := fr.outcome
				if malformedPass && (i == 0 || i >= 5) {
					want = Passed
				}
				v := f.Process(fr.fr)
				if v.Outcome != want || v.Rule != fr.rule || v.Pass != (want == Passed) {
					t.Errorf("frame %d: got %+v, want outcome %v rule %d", i, v, want, fr.rule)
				}
			}
			c := f.Counters()
			in := Count{7, 10 + 100 + 60 + 70 + 80 + 9217 + 64}
			malformed := Count{3, 10 + 9217 + 64}
			passed, dropped := Count{2, 60 + 70}, Count{4, 10 + 100 + 9217 + 64}
			if malformedPass {
				passed, dropped = Count{5, 60 + 70 + 10 + 9217 + 64}, Count{1, 100}
			}
			want := [rules.NumTotals]Count{in, passed, dropped, {1, 80}, malformed}
			if c.Totals != want {
				t.Errorf("totals = %+v, want %+v", c.Totals, want)
			}
			if len(c.Rules) != 4 || c.Rules[0] != (Count{1, 100}) || c.Rules[1] != (Count{2, 150}) || c.Rules[2] != (Count{}) {
				t.Errorf("rule counters = %+v", c.Rules)
			}
			f.ClearCounters(true, false)
			if c := f.Counters(); c.Totals != ([rules.NumTotals]Count{}) || c.Rules[0].Packets != 1 {
				t.Errorf("clear totals only: %+v", c)
			}
			f.ClearCounters(false, true)
			if c := f.Counters(); c.Rules[1] != (Count{}) {
				t.Errorf("clear rules: %+v", c.Rules)
			}
		})
	}
}

func TestDefaultDrop(t *testing.T) {
	f := New(&rules.Table{DefaultDrop: true}, Config{})
	if v := f.Process(Frame{Data: arp(60)}); v.Pass || v.Outcome != Dropped || v.Hit {
		t.Errorf("default drop: %+v", v)
	}
}
