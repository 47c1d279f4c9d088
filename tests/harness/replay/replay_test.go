package replay_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/sim/model"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/replay"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

// fakeDevice is a target with an in-memory register file that behaves like
// hdl/SPEC.md §6 for what replay uses. It does not run the golden model: it
// only understands CONTROL's default action (bit 0: 0 pass, 1 drop), which
// becomes active on a SWAP write, and passes or drops every frame by it.
// The test tables' rules never match the test frames (they are UDP/TCP, the
// rules GRE/ICMP), so "the default decides" is the right answer; the
// counters are kept by hand accordingly.
type fakeDevice struct {
	t *testing.T

	id                     uint32
	numRules, width        uint32
	maxFrameBytes, latency uint32
	pendingReads           int  // SWAP reads that report pending after each SWAP write
	pendingForever         bool // the swap never completes
	noRegs                 bool // Regs() returns nil
	caps                   target.Caps
	extraPassed            uint64 // miscount: add this to total.passed packets

	shadow        map[uint32]uint32 // rule words
	control       uint32            // CONTROL as written
	activeControl uint32            // CONTROL as of the last SWAP
	pendingLeft   int
	swapsDone     uint32

	totals   [rules.NumTotals][2]uint64 // packets, bytes
	ruleCtrs [][2]uint64
	latchOK  bool
	latchAdr uint32
	latchVal uint32

	// logs
	writes      []rules.RegWrite
	reads       []uint32
	swapReads   int
	violations  []string
	replays     []replayCall
	counterSeen bool // counters were read
}

type replayCall struct {
	writesBefore int // writes done when Replay was called
	swapReads    int // SWAP reads done when Replay was called
	pendingLeft  int // must be 0: the swap has happened
	control      uint32
	frames       int
}

func newFake(t *testing.T) *fakeDevice {
	return &fakeDevice{t: t, id: 0x50464C54, numRules: 4, width: 64, maxFrameBytes: 1518, latency: 37,
		pendingReads: 3, caps: target.Caps{ExactTime: true}}
}

func (d *fakeDevice) Name() string      { return "fake" }
func (d *fakeDevice) Caps() target.Caps { return d.caps }
func (d *fakeDevice) Close() error      { return nil }
func (d *fakeDevice) Regs() target.Regs {
	if d.noRegs {
		return nil
	}
	return d
}

func (d *fakeDevice) violate(format string, args ...any) {
	d.violations = append(d.violations, fmt.Sprintf(format, args...))
}

// counterAddr says whether a is a counter word: total k or rule r (the other
// is -1), and the word offset inside the 16-byte block.
func (d *fakeDevice) counterAddr(a uint32) (k, r int, off uint32, ok bool) {
	switch {
	case a >= 0x100 && a < 0x100+16*5:
		return int(a-0x100) / 16, -1, a % 16, true
	case a >= 0x40000 && a < 0x40000+16*d.numRules:
		return -1, int(a-0x40000) / 16, a % 16, true
	}
	return 0, 0, 0, false
}

func (d *fakeDevice) WriteReg(_ context.Context, addr, data uint32) error {
	d.writes = append(d.writes, rules.RegWrite{Addr: addr, Data: data})
	switch {
	case addr == 0x10:
		d.control = data
	case addr == 0x14:
		if data&1 != 0 {
			d.activeControl = d.control
			d.swapsDone++
			d.pendingLeft = d.pendingReads
		}
	case addr == 0x18:
		if data&1 != 0 {
			d.totals = [rules.NumTotals][2]uint64{}
		}
		if data&2 != 0 {
			for i := range d.ruleCtrs {
				d.ruleCtrs[i] = [2]uint64{}
			}
		}
	case addr >= 0x10000 && addr < 0x10000+0x80*d.numRules && (addr-0x10000)%0x80 < 4*25:
		if d.shadow == nil {
			d.shadow = map[uint32]uint32{}
		}
		d.shadow[addr] = data
	default:
		d.violate("write of 0x%08x to unmapped or read-only 0x%05x", data, addr)
	}
	return nil
}

func (d *fakeDevice) ReadReg(_ context.Context, addr uint32) (uint32, error) {
	d.reads = append(d.reads, addr)
	switch addr {
	case 0x0:
		return d.id, nil
	case 0x4:
		return 0x00010000, nil
	case 0x8:
		return d.numRules<<16 | d.width, nil
	case 0xC:
		return d.latency<<16 | d.maxFrameBytes, nil
	case 0x10:
		return d.control, nil
	case 0x14:
		d.swapReads++
		v := d.swapsDone << 16
		if d.pendingForever {
			return v | 1, nil
		}
		if d.pendingLeft > 0 {
			d.pendingLeft--
			return v | 1, nil
		}
		return v, nil
	}
	k, r, off, ok := d.counterAddr(addr)
	if !ok {
		d.violate("read of unmapped 0x%05x", addr)
		return 0, nil
	}
	d.counterSeen = true
	var pair [2]uint64
	if k >= 0 {
		pair = d.totals[k]
	} else {
		if r < len(d.ruleCtrs) {
			pair = d.ruleCtrs[r]
		}
	}
	if k == rules.TotalPassed {
		pair[0] += d.extraPassed
	}
	v := pair[off/8]
	if off%8 == 0 { // low word: latch the high word
		d.latchOK, d.latchAdr, d.latchVal = true, addr+4, uint32(v>>32)
		return uint32(v), nil
	}
	if !d.latchOK || d.latchAdr != addr {
		d.violate("high word 0x%05x read without reading its low word first", addr)
		return uint32(v >> 32), nil
	}
	d.latchOK = false
	return d.latchVal, nil
}

// Replay passes every frame when the active default is pass, drops every
// frame when it is drop, and cannot send MAC errors (unless caps say so).
func (d *fakeDevice) Replay(_ context.Context, frames []target.Frame, opts target.ReplayOptions) (*target.Capture, error) {
	d.replays = append(d.replays, replayCall{writesBefore: len(d.writes), swapReads: d.swapReads,
		pendingLeft: d.pendingLeft, control: d.activeControl, frames: len(frames)})
	if d.pendingForever {
		d.violate("Replay while the swap is pending")
	}
	c := &target.Capture{SentTimeNS: make([]uint64, len(frames))}
	pass := d.activeControl&1 == 0
	for i, f := range frames {
		if f.MACError && !d.caps.MACError {
			if c.Skipped == nil {
				c.Skipped = make([]bool, len(frames))
			}
			c.Skipped[i] = true
			continue
		}
		at := 5_000_000 + 1000*uint64(len(d.replays)*100+i) // the device's own clock
		c.SentTimeNS[i] = at
		n := uint64(len(f.Data))
		add := func(k int) { d.totals[k][0]++; d.totals[k][1] += n }
		add(rules.TotalIn)
		if pass {
			add(rules.TotalPassed)
			c.Received = append(c.Received, target.Received{Data: bytes.Clone(f.Data), TimeNS: at + 300})
		} else {
			add(rules.TotalDropped)
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(c.Received), len(frames))
		}
	}
	c.Elapsed = time.Millisecond
	return c, nil
}

// frame builds a well-formed Ethernet/IPv4 UDP or TCP frame of size bytes;
// seq makes every frame unique.
func frame(tcp bool, size int, seq uint16) []byte {
	b := make([]byte, size)
	copy(b[0:12], []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(size-14))
	binary.BigEndian.PutUint16(ip[4:], seq)
	ip[8] = 64
	copy(ip[12:20], []byte{198, 51, 100, 1, 192, 0, 2, 1})
	l4 := ip[20:]
	binary.BigEndian.PutUint16(l4[0:], 40000+seq)
	binary.BigEndian.PutUint16(l4[2:], 443)
	if tcp {
		ip[9] = 6
		l4[12] = 5 << 4
		l4[13] = 0x10 // ACK
	} else {
		ip[9] = 17
		binary.BigEndian.PutUint16(l4[4:], uint16(size-34))
	}
	return b
}

func compile(t *testing.T, src string) *rules.Table {
	t.Helper()
	rs, err := rules.Parse("replay_test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := rs.Compile(8)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// Phase 1: default pass, one valid rule (GRE dropped) in slot 0.
const tablePass = `
default: pass
rules:
  - name: gre
    action: drop
    proto: gre
`

// Phase 2: default drop, no rules.
const tableDrop = `
default: drop
rules: []
`

// twoPhases: phase 1 frames 0-3 (frame 1 has a MAC error: the fake skips
// it), phase 2 frames 4-6. Sizes differ so byte counters mean something.
func twoPhases(t *testing.T) []replay.Phase {
	return []replay.Phase{
		{Table: compile(t, tablePass), Frames: []target.Frame{
			{Data: frame(false, 80, 0), TimeNS: 100},
			{Data: frame(true, 90, 1), TimeNS: 200, MACError: true},
			{Data: frame(true, 100, 2), TimeNS: 300},
			{Data: frame(false, 110, 3), TimeNS: 400},
		}},
		{Table: compile(t, tableDrop), Frames: []target.Frame{
			{Data: frame(false, 120, 4), TimeNS: 500},
			{Data: frame(true, 130, 5), TimeNS: 600},
			{Data: frame(false, 140, 6), TimeNS: 700},
		}},
	}
}

func TestRunTwoPhases(t *testing.T) {
	d := newFake(t)
	phases := twoPhases(t)
	type prog struct{ sent, received, total int }
	var progress []prog
	res, err := replay.Run(context.Background(), replay.Options{Target: d, Phases: phases,
		Progress: func(s, r, n int) { progress = append(progress, prog{s, r, n}) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.violations) > 0 {
		t.Fatalf("register protocol violations:\n%s", strings.Join(d.violations, "\n"))
	}

	// Identity from ID/CONFIG/GEOMETRY.
	if want := (replay.Device{DataWidth: 64, NumRules: 4, MaxFrameBytes: 1518, Latency: 37}); res.Device != want {
		t.Errorf("device %+v, want %+v", res.Device, want)
	}
	if len(d.reads) < 3 || d.reads[0] != 0x0 {
		t.Errorf("the ID register should be read first, reads %x", d.reads[:min(3, len(d.reads))])
	}

	// Writes: COUNTER_CLEAR (not a Resetter), then per phase 4·25 rule
	// words, CONTROL and SWAP.
	const perPhase = 4*25 + 2
	if len(d.writes) != 1+2*perPhase {
		t.Fatalf("%d register writes, want 1 + 2·%d", len(d.writes), perPhase)
	}
	if w := d.writes[0]; w.Addr != 0x18 || w.Data != 3 {
		t.Errorf("first write %+v, want COUNTER_CLEAR = 3", w)
	}
	for p, ph := range [][]rules.RegWrite{d.writes[1 : 1+perPhase], d.writes[1+perPhase:]} {
		seen := map[uint32]int{}
		for _, w := range ph[:perPhase-2] {
			seen[w.Addr]++
		}
		for r := uint32(0); r < 4; r++ {
			for w := uint32(0); w < 25; w++ {
				if a := 0x10000 + 0x80*r + 4*w; seen[a] != 1 {
					t.Errorf("phase %d: rule %d word %d (0x%05x) written %d times, want once", p+1, r, w, a, seen[a])
				}
			}
		}
		wantControl := uint32(p) // phase 1 default pass (0), phase 2 default drop (bit 0)
		if c := ph[perPhase-2]; c.Addr != 0x10 || c.Data != wantControl {
			t.Errorf("phase %d: next-to-last write %+v, want CONTROL = %d", p+1, c, wantControl)
		}
		if s := ph[perPhase-1]; s.Addr != 0x14 || s.Data != 1 {
			t.Errorf("phase %d: last write %+v, want SWAP = 1", p+1, s)
		}
	}
	// Slot 0 holds the GRE rule in phase 1 (CTRL valid bit set) and must be
	// zeroed in phase 2; slots 1-3 are zero throughout.
	for p, ph := range [][]rules.RegWrite{d.writes[1 : 1+perPhase], d.writes[1+perPhase:]} {
		for _, w := range ph[:perPhase-2] {
			slot, word := (w.Addr-0x10000)/0x80, (w.Addr-0x10000)%0x80/4
			switch {
			case p == 0 && slot == 0 && word == 0:
				if w.Data&1 != 1 {
					t.Errorf("phase 1: slot 0 CTRL 0x%08x lacks the valid bit", w.Data)
				}
			case p == 0 && slot == 0:
			case w.Data != 0:
				t.Errorf("phase %d: slot %d word %d = 0x%08x, want 0", p+1, slot, word, w.Data)
			}
		}
	}

	// The swap-pending poll: 3 pending reads + 1 done per phase, before
	// each Replay.
	if len(d.replays) != 2 {
		t.Fatalf("%d Replay calls, want 2", len(d.replays))
	}
	for i, rc := range d.replays {
		if rc.pendingLeft != 0 {
			t.Errorf("phase %d replayed with the swap still pending", i+1)
		}
		if rc.swapReads != 4*(i+1) {
			t.Errorf("phase %d: %d SWAP reads before Replay, want %d", i+1, rc.swapReads, 4*(i+1))
		}
		if rc.writesBefore != 1+(i+1)*perPhase {
			t.Errorf("phase %d: Replay after %d writes, want %d", i+1, rc.writesBefore, 1+(i+1)*perPhase)
		}
		if rc.control != uint32(i) {
			t.Errorf("phase %d: active CONTROL %d at Replay", i+1, rc.control)
		}
	}

	// Sent: frame 1 was skipped; indices run across phases; times are the
	// target's.
	wantIdx := []int{0, 2, 3, 4, 5, 6}
	if len(res.Sent) != len(wantIdx) {
		t.Fatalf("%d sent frames, want %d", len(res.Sent), len(wantIdx))
	}
	for i, s := range res.Sent {
		if s.Index != wantIdx[i] {
			t.Errorf("Sent[%d].Index = %d, want %d", i, s.Index, wantIdx[i])
		}
		ph, pos := 0, wantIdx[i]
		if pos >= 4 {
			ph, pos = 1, pos-4
		}
		if !bytes.Equal(s.Data, phases[ph].Frames[pos].Data) {
			t.Errorf("Sent[%d] is not frame %d", i, wantIdx[i])
		}
		if s.TimeNS != res.Captures[ph].SentTimeNS[pos] || s.TimeNS < 5_000_000 {
			t.Errorf("Sent[%d].TimeNS = %d, want the target's %d", i, s.TimeNS, res.Captures[ph].SentTimeNS[pos])
		}
		if s.MACError {
			t.Errorf("Sent[%d] has a MAC error; the skipped frame must be left out", i)
		}
	}
	if len(res.Captures) != 2 || len(res.Received) != 3 {
		t.Errorf("%d captures, %d received; want 2, 3", len(res.Captures), len(res.Received))
	}

	// One swap before frame 4: frames 0-3 pass by default, 4-6 drop by default.
	rep := res.Report
	if !rep.Passed() {
		var b bytes.Buffer
		for _, m := range rep.Mismatches {
			b.WriteString(m.Line() + "\n")
		}
		t.Fatalf("report failed: %s diffs %+v", b.String(), rep.CounterDiffs)
	}
	if rep.Sent != 6 || rep.ExpectedPass != 3 || rep.Received != 3 {
		t.Errorf("report sent %d expected-pass %d received %d, want 6, 3, 3", rep.Sent, rep.ExpectedPass, rep.Received)
	}
	for i, e := range rep.Expected {
		if want := i < 3; e.Verdict.Pass != want || e.Rule != "default" {
			t.Errorf("frame %d: pass %v rule %q, want pass %v by default", wantIdx[i], e.Verdict.Pass, e.Rule, want)
		}
	}

	// Counters: read back and checked, sized by the device's NUM_RULES.
	if !rep.CountersChecked || !d.counterSeen {
		t.Error("counters were not read and checked")
	}
	if n := len(rep.ExpectedCounters.Rules); n != 4 {
		t.Errorf("%d rule counters, want NUM_RULES = 4", n)
	}
	tot := rep.ExpectedCounters.Totals
	if tot[rules.TotalIn] != (model.Count{Packets: 6, Bytes: 80 + 100 + 110 + 120 + 130 + 140}) ||
		tot[rules.TotalPassed] != (model.Count{Packets: 3, Bytes: 80 + 100 + 110}) ||
		tot[rules.TotalDropped] != (model.Count{Packets: 3, Bytes: 120 + 130 + 140}) {
		t.Errorf("expected totals %+v", tot)
	}

	// Progress numbers frames across phases (skipped ones count as sent).
	if len(progress) == 0 {
		t.Fatal("no progress")
	}
	if last := progress[len(progress)-1]; last.sent != 7 || last.total != 7 {
		t.Errorf("last progress %+v, want 7 of 7 sent", last)
	}
	for _, p := range progress {
		if p.total != 7 {
			t.Errorf("progress total %d, want 7", p.total)
			break
		}
	}
}

// Counters are read low word, then high word, for every total and every
// rule slot; each high read follows its own low read (the latch).
func TestCounterReadOrder(t *testing.T) {
	d := newFake(t)
	if _, err := replay.Run(context.Background(), replay.Options{Target: d, Phases: twoPhases(t)}); err != nil {
		t.Fatal(err)
	}
	var ctr []uint32
	for _, a := range d.reads {
		if _, _, _, ok := d.counterAddr(a); ok {
			ctr = append(ctr, a)
		}
	}
	if want := (5 + 4) * 4; len(ctr) != want {
		t.Fatalf("%d counter reads, want %d", len(ctr), want)
	}
	blocks := map[uint32]bool{}
	for i := 0; i+1 < len(ctr); i += 2 {
		lo, hi := ctr[i], ctr[i+1]
		if lo%8 != 0 || hi != lo+4 {
			t.Errorf("counter reads %d, %d: 0x%05x then 0x%05x, want a low word then its high word", i, i+1, lo, hi)
		}
		blocks[lo&^0xF] = true
	}
	for k := uint32(0); k < 5; k++ {
		if !blocks[0x100+16*k] {
			t.Errorf("total %d not read", k)
		}
	}
	for r := uint32(0); r < 4; r++ {
		if !blocks[0x40000+16*r] {
			t.Errorf("rule counter %d not read", r)
		}
	}
	if len(d.violations) > 0 {
		t.Errorf("violations: %v", d.violations)
	}
}

// ReadCounters assembles 64-bit values from low and high words.
func TestReadCounters64(t *testing.T) {
	d := newFake(t)
	d.numRules = 2
	d.totals[rules.TotalIn] = [2]uint64{0x1_0000_0002, 0x23_0000_0400}
	d.totals[rules.TotalMalformed] = [2]uint64{0xFFFF_FFFF, 0x1_0000_0000}
	d.ruleCtrs = [][2]uint64{{0, 0}, {0x7_8000_0001, 0x9_0000_00FF}}
	c, err := replay.ReadCounters(context.Background(), d, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c.Totals[rules.TotalIn] != (model.Count{Packets: 0x1_0000_0002, Bytes: 0x23_0000_0400}) ||
		c.Totals[rules.TotalMalformed] != (model.Count{Packets: 0xFFFF_FFFF, Bytes: 0x1_0000_0000}) ||
		c.Totals[rules.TotalPassed] != (model.Count{}) {
		t.Errorf("totals %+v", c.Totals)
	}
	if len(c.Rules) != 2 || c.Rules[0] != (model.Count{}) || c.Rules[1] != (model.Count{Packets: 0x7_8000_0001, Bytes: 0x9_0000_00FF}) {
		t.Errorf("rules %+v", c.Rules)
	}
	if len(d.violations) > 0 {
		t.Errorf("violations: %v", d.violations)
	}
}

// A device that counts wrong is caught.
func TestCounterMismatchReported(t *testing.T) {
	d := newFake(t)
	d.extraPassed = 1
	res, err := replay.Run(context.Background(), replay.Options{Target: d, Phases: twoPhases(t)})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	if r.Passed() || len(r.Mismatches) != 0 || len(r.CounterDiffs) != 1 || r.CounterDiffs[0].Name != "total.passed" ||
		r.CounterDiffs[0].Seen.Packets != 4 || r.CounterDiffs[0].Expected.Packets != 3 {
		t.Errorf("want one diff on total.passed 3 -> 4, got %+v", r.CounterDiffs)
	}
}

func TestWrongID(t *testing.T) {
	d := newFake(t)
	d.id = 0xDEADBEEF
	_, err := replay.Run(context.Background(), replay.Options{Target: d, Phases: twoPhases(t)})
	if err == nil || !strings.Contains(err.Error(), "PFLT") {
		t.Fatalf("want an error mentioning PFLT, got %v", err)
	}
	if len(d.writes) != 0 || len(d.replays) != 0 {
		t.Errorf("a wrong device must not be written (%d writes) or replayed to (%d)", len(d.writes), len(d.replays))
	}
}

func TestSwapNeverCompletes(t *testing.T) {
	d := newFake(t)
	d.pendingForever = true
	_, err := replay.Run(context.Background(), replay.Options{Target: d, Phases: twoPhases(t)})
	if err == nil || !strings.Contains(err.Error(), "pending") {
		t.Fatalf("want a swap-pending error, got %v", err)
	}
	if len(d.replays) != 0 {
		t.Error("frames replayed although the swap never happened")
	}
}

func TestTableTooBigForDevice(t *testing.T) {
	d := newFake(t)
	d.numRules = 2
	big := compile(t, `
rules:
  - {name: a, action: drop, proto: gre}
  - {name: b, action: drop, proto: esp}
  - {name: c, action: drop, proto: ah}
`)
	_, err := replay.Run(context.Background(), replay.Options{Target: d, Phases: []replay.Phase{{Table: big, Frames: []target.Frame{{Data: frame(false, 80, 0)}}}}})
	if err == nil {
		t.Fatal("3 rules on a 2-slot device must fail")
	}
	if len(d.replays) != 0 {
		t.Error("replayed although the table does not fit")
	}
}

// Without registers: Config sizes the model, no counters are checked.
func TestRunWithoutRegs(t *testing.T) {
	d := newFake(t)
	d.noRegs = true
	d.caps = target.Caps{}
	tab := compile(t, tablePass)
	frames := []target.Frame{
		{Data: frame(false, 80, 0)},
		{Data: frame(true, 120, 1)}, // over Config.MaxFrameBytes: malformed (oversize), dropped
		{Data: frame(false, 90, 2)},
	}
	res, err := replay.Run(context.Background(), replay.Options{Target: d, Phases: []replay.Phase{{Table: tab, Frames: frames}},
		Config: model.Config{MaxFrameBytes: 100, NumRules: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.writes) != 0 || len(d.reads) != 0 {
		t.Errorf("no register access expected, got %d writes %d reads", len(d.writes), len(d.reads))
	}
	if res.Device != (replay.Device{}) {
		t.Errorf("device %+v, want zero without registers", res.Device)
	}
	r := res.Report
	if r.CountersChecked {
		t.Error("counters checked without registers")
	}
	if n := len(r.ExpectedCounters.Rules); n != 3 {
		t.Errorf("%d rule counters, want Config.NumRules = 3", n)
	}
	// The fake passes all three; the model (MAX_FRAME_BYTES 100) drops the
	// 120-byte frame as oversize.
	if len(r.Mismatches) != 1 {
		t.Fatalf("mismatches %+v, want one", r.Mismatches)
	}
	if m := r.Mismatches[0]; m.Kind != "unexpected" || m.Frame != 1 || m.Rule != "malformed: oversize" {
		t.Errorf("mismatch %+v, want frame 1 unexpected (malformed: oversize)", m)
	}
}

func TestRunNeedsTargetAndPhases(t *testing.T) {
	if _, err := replay.Run(context.Background(), replay.Options{Phases: twoPhases(t)}); err == nil {
		t.Error("no target: want an error")
	}
	if _, err := replay.Run(context.Background(), replay.Options{Target: newFake(t)}); err == nil {
		t.Error("no phases: want an error")
	}
	if _, err := replay.Run(context.Background(), replay.Options{Target: newFake(t), Phases: []replay.Phase{{}}}); err == nil {
		t.Error("phase without table: want an error")
	}
}
