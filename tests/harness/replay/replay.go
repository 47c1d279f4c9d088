// Package replay runs traffic through a target and checks it against the
// golden model: it loads each phase's rule table over the target's
// registers, replays the phase's frames, reads the counters back and hands
// everything to compare. The device describes itself (ID, CONFIG, GEOMETRY
// registers), so the model is sized like the build actually under test.
package replay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fpgactl/fpgactl/sim/model"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/compare"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

// Phase is one table and the frames replayed while it is active.
type Phase struct {
	Table  *rules.Table
	Frames []target.Frame
}

// Options describe one run.
type Options struct {
	Target target.Target
	Phases []Phase
	// Config sizes the model when the target has no registers to ask;
	// otherwise it is read from the device.
	Config   model.Config
	Pace     bool
	Progress target.Progress
}

// Result is a checked run.
type Result struct {
	Report   *compare.Report
	Captures []*target.Capture // per phase
	// Sent are the frames the model saw, in order, with the times the target
	// reported; Sent[i].Index numbers frames across phases from 0.
	Sent     []compare.Sent
	Received []compare.Received
	Device   Device
	Elapsed  time.Duration
}

// Device is what the filter says about itself.
type Device struct {
	DataWidth     int `json:"data_width"`
	NumRules      int `json:"num_rules"`
	MaxFrameBytes int `json:"max_frame_bytes"`
	Latency       int `json:"latency_cycles"`
}

// Resetter is a target whose device can be reset to its power-on state (the
// simulated board); others get their counters cleared instead.
type Resetter interface {
	Reset(ctx context.Context) error
}

// batchWriter and batchReader do many register accesses in one exchange.
type batchWriter interface {
	WriteRegs(ctx context.Context, w []rules.RegWrite) error
}

type batchReader interface {
	ReadRegs(ctx context.Context, addrs []uint32) ([]uint32, error)
}

// Run replays every phase and compares.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Target == nil {
		return nil, errors.New("replay: no target")
	}
	if len(opts.Phases) == 0 {
		return nil, errors.New("replay: no phases")
	}
	start := time.Now()
	res := &Result{}
	regs := opts.Target.Regs()
	cfg := opts.Config
	if regs != nil {
		dev, err := prepare(ctx, opts.Target, regs)
		if err != nil {
			return nil, err
		}
		res.Device = dev
		cfg = model.Config{MaxFrameBytes: dev.MaxFrameBytes, NumRules: dev.NumRules}
	}
	numRules := cfg.NumRules
	if numRules == 0 {
		numRules = rules.DefaultNumRules
	}

	caps := opts.Target.Caps()
	var swaps []compare.Swap
	total := 0
	for _, ph := range opts.Phases {
		total += len(ph.Frames)
	}
	done := 0
	for pi, ph := range opts.Phases {
		if ph.Table == nil {
			return nil, fmt.Errorf("replay: phase %d has no rule table", pi+1)
		}
		if len(ph.Table.Entries) > numRules {
			return nil, fmt.Errorf("phase %d: %d rules do not fit the device's %d rule slots", pi+1, len(ph.Table.Entries), numRules)
		}
		if regs != nil {
			if err := loadTable(ctx, regs, ph.Table, numRules); err != nil {
				return nil, fmt.Errorf("phase %d: loading rules: %w", pi+1, err)
			}
		}
		if pi > 0 {
			swaps = append(swaps, compare.Swap{Before: len(res.Sent), Table: ph.Table})
		}
		var progress target.Progress
		if opts.Progress != nil {
			base := done
			progress = func(sent, received, _ int) { opts.Progress(base+sent, received, total) }
		}
		capt, err := opts.Target.Replay(ctx, ph.Frames, target.ReplayOptions{Pace: opts.Pace, Progress: progress})
		if err != nil {
			return nil, fmt.Errorf("phase %d: replay on %s: %w", pi+1, opts.Target.Name(), err)
		}
		res.Captures = append(res.Captures, capt)
		for i, f := range ph.Frames {
			if capt.Skipped != nil && capt.Skipped[i] {
				continue
			}
			res.Sent = append(res.Sent, compare.Sent{Index: done + i, Data: f.Data, TimeNS: capt.SentTimeNS[i], MACError: f.MACError})
		}
		for _, r := range capt.Received {
			res.Received = append(res.Received, compare.Received{Data: r.Data, TimeNS: r.TimeNS})
		}
		done += len(ph.Frames)
	}

	in := compare.Input{
		Sent: res.Sent, Received: res.Received, Table: opts.Phases[0].Table, Config: cfg,
		Swaps: swaps, InexactTime: !caps.ExactTime,
	}
	if regs != nil {
		c, err := ReadCounters(ctx, regs, numRules)
		if err != nil {
			return nil, fmt.Errorf("reading counters: %w", err)
		}
		in.Counters = c
	}
	rep, err := compare.Compare(in)
	if err != nil {
		return nil, err
	}
	res.Report = rep
	res.Elapsed = time.Since(start)
	return res, nil
}

// prepare identifies the filter and brings it to a known state: reset, or
// counters cleared when the target cannot reset.
func prepare(ctx context.Context, t target.Target, regs target.Regs) (Device, error) {
	resetter, canReset := t.(Resetter)
	if canReset {
		if err := resetter.Reset(ctx); err != nil {
			return Device{}, fmt.Errorf("resetting %s: %w", t.Name(), err)
		}
	}
	v, err := readRegs(ctx, regs, []uint32{rules.RegID, rules.RegConfig, rules.RegGeometry})
	if err != nil {
		return Device{}, fmt.Errorf("identifying the filter on %s: %w", t.Name(), err)
	}
	if v[0] != rules.IDValue {
		return Device{}, fmt.Errorf("%s: ID register reads 0x%08x, not 0x%08x (PFLT); is the filter bitstream loaded?", t.Name(), v[0], rules.IDValue)
	}
	dev := Device{
		DataWidth: int(v[1] & 0xFFFF), NumRules: int(v[1] >> 16),
		MaxFrameBytes: int(v[2] & 0xFFFF), Latency: int(v[2] >> 16),
	}
	if !canReset {
		if err := regs.WriteReg(ctx, rules.RegCounterClear, rules.ClearTotals|rules.ClearRules); err != nil {
			return Device{}, fmt.Errorf("clearing counters on %s: %w", t.Name(), err)
		}
	}
	return dev, nil
}

// loadTable writes the table into the shadow rules, sets CONTROL, swaps, and
// waits until the swap has happened.
func loadTable(ctx context.Context, regs target.Regs, t *rules.Table, numRules int) error {
	writes := t.RegisterWrites(numRules)
	if bw, ok := regs.(batchWriter); ok {
		if err := bw.WriteRegs(ctx, writes); err != nil {
			return err
		}
	} else {
		for _, w := range writes {
			if err := regs.WriteReg(ctx, w.Addr, w.Data); err != nil {
				return err
			}
		}
	}
	for i := 0; ; i++ {
		v, err := regs.ReadReg(ctx, rules.RegSwap)
		if err != nil {
			return err
		}
		if v&1 == 0 {
			return nil
		}
		if i == 1000 {
			return errors.New("the table swap is still pending after 1000 reads of SWAP")
		}
	}
}

// ReadCounters reads every total and numRules rule counters, low word
// before high word (reading the low word latches the high one).
func ReadCounters(ctx context.Context, regs target.Regs, numRules int) (*model.Counters, error) {
	var addrs []uint32
	block := func(a uint32) {
		addrs = append(addrs, a+rules.CounterPacketsLo, a+rules.CounterPacketsHi, a+rules.CounterBytesLo, a+rules.CounterBytesHi)
	}
	for k := 0; k < rules.NumTotals; k++ {
		block(rules.TotalAddr(k))
	}
	for r := 0; r < numRules; r++ {
		block(rules.RuleCounterAddr(r))
	}
	v, err := readRegs(ctx, regs, addrs)
	if err != nil {
		return nil, err
	}
	count := func(i int) model.Count {
		return model.Count{Packets: uint64(v[i]) | uint64(v[i+1])<<32, Bytes: uint64(v[i+2]) | uint64(v[i+3])<<32}
	}
	c := &model.Counters{Rules: make([]model.Count, numRules)}
	for k := 0; k < rules.NumTotals; k++ {
		c.Totals[k] = count(4 * k)
	}
	for r := 0; r < numRules; r++ {
		c.Rules[r] = count(4 * (rules.NumTotals + r))
	}
	return c, nil
}

func readRegs(ctx context.Context, regs target.Regs, addrs []uint32) ([]uint32, error) {
	if br, ok := regs.(batchReader); ok {
		return br.ReadRegs(ctx, addrs)
	}
	out := make([]uint32, len(addrs))
	for i, a := range addrs {
		v, err := regs.ReadReg(ctx, a)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}
