// Package vectors writes the test-vector directories of hdl/SPEC.md §7: input
// frames, register writes and expected outputs computed by the golden model
// (sim/model), for the pf_filter SystemVerilog testbench.
//
// Sets (Names): features (every match field, hit and near miss), malformed and
// malformed_pass (every malformed reason), police (pps and byte buckets at
// their edges), default_drop, zero_bubble (gap-free, every size 60..200 and a
// sweep to MAX_FRAME_BYTES, meta flag bit0), backpressure (random gaps, then a
// gap-free run of long frames that fills the delay FIFO; flag bit1) and random (random rules and traffic from Params.Seed). Every set is
// deterministic. Expectations are never typed by hand: each frame goes
// through model.Filter. For a quick look:
//
//	go run ./sim/vectors/cmd/writevectors -set police -dir /tmp/police -list
package vectors

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/fpgactl/fpgactl/sim/model"
	"github.com/fpgactl/fpgactl/sim/rules"
)

// Params are the RTL build parameters the vectors are written for.
type Params struct {
	DataWidth     int // bits per beat (64 or 512)
	NumRules      int // NUM_RULES
	MaxFrameBytes int // MAX_FRAME_BYTES
	// Seed of the random set (0: RandomSeed), so a differential run that
	// fails can be replayed.
	Seed uint64
}

// DefaultParams is the default 10G build.
func DefaultParams() Params {
	return Params{DataWidth: 64, NumRules: rules.DefaultNumRules, MaxFrameBytes: model.DefaultMaxFrameBytes}
}

func (p Params) check() error {
	switch {
	case p.DataWidth < 8 || p.DataWidth%8 != 0:
		return fmt.Errorf("data width %d is not a whole number of bytes; use 64 or 512", p.DataWidth)
	case p.NumRules < 1:
		return fmt.Errorf("rule table size %d is too small; want at least 1", p.NumRules)
	case p.MaxFrameBytes < model.HeaderBytes || p.MaxFrameBytes > 65534:
		return fmt.Errorf("max frame bytes %d is out of range; want %d..65534", p.MaxFrameBytes, model.HeaderBytes)
	}
	return nil
}

// Meta flags (SPEC §7 meta.hex [5]).
const (
	FlagGapFree      = 1 << 0 // no input gaps, tready held high: check exact latency
	FlagBackpressure = 1 << 1 // testbench toggles m_axis_tready at random
)

// Input is one frame to send, as the testbench drives it.
type Input struct {
	Data     []byte
	TimeNS   uint64
	Idle     int // idle cycles after the frame, 0..255
	MACError bool
}

// set is what a vector-set generator produces; expectations are added by
// the model in Build.
type set struct {
	Table  *rules.Table
	Frames []Input
	Flags  uint32
}

type generator func(p Params) (*set, error)

var generators = map[string]generator{
	"features":       genFeatures,
	"malformed":      func(p Params) (*set, error) { return genMalformed(p, false) },
	"malformed_pass": func(p Params) (*set, error) { return genMalformed(p, true) },
	"police":         genPolice,
	"default_drop":   genDefaultDrop,
	"zero_bubble":    genZeroBubble,
	"backpressure":   genBackpressure,
	"random":         genRandom,
}

// Names lists the vector sets, sorted.
func Names() []string {
	n := make([]string, 0, len(generators))
	for k := range generators {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// CounterCheck is one expected counter value read after all traffic.
type CounterCheck struct {
	Addr  uint32 // address of the low word
	Value uint64
}

// Vectors is a complete vector set, ready to write.
type Vectors struct {
	Name     string
	Params   Params
	Flags    uint32
	Table    *rules.Table
	Regs     []rules.RegWrite
	Frames   []model.Frame
	Idle     []int
	Verdicts []model.Verdict
	Expect   []int // indexes of frames that come out, in order
	Counters []CounterCheck
}

// Build generates set name and runs it through the golden model.
func Build(name string, p Params) (*Vectors, error) {
	gen, ok := generators[name]
	if !ok {
		return nil, fmt.Errorf("unknown vector set %q; known sets: %v", name, Names())
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	s, err := gen(p)
	if err != nil {
		return nil, fmt.Errorf("vector set %s: %w", name, err)
	}
	if len(s.Table.Entries) > p.NumRules {
		return nil, fmt.Errorf("vector set %s needs %d rules but the build has %d; raise NUM_RULES", name, len(s.Table.Entries), p.NumRules)
	}
	v := &Vectors{Name: name, Params: p, Flags: s.Flags, Table: s.Table, Regs: s.Table.RegisterWrites(p.NumRules)}
	f := model.New(s.Table, model.Config{MaxFrameBytes: p.MaxFrameBytes, NumRules: p.NumRules})
	for i, in := range s.Frames {
		fr := model.Frame{Data: in.Data, TimeNS: in.TimeNS, MACError: in.MACError}
		verdict := f.Process(fr)
		v.Frames = append(v.Frames, fr)
		v.Idle = append(v.Idle, in.Idle)
		v.Verdicts = append(v.Verdicts, verdict)
		if verdict.Pass {
			v.Expect = append(v.Expect, i)
		}
	}
	c := f.Counters()
	for k := 0; k < rules.NumTotals; k++ {
		v.Counters = append(v.Counters,
			CounterCheck{rules.TotalAddr(k) + rules.CounterPacketsLo, c.Totals[k].Packets},
			CounterCheck{rules.TotalAddr(k) + rules.CounterBytesLo, c.Totals[k].Bytes})
	}
	for r := range s.Table.Entries {
		v.Counters = append(v.Counters,
			CounterCheck{rules.RuleCounterAddr(r) + rules.CounterPacketsLo, c.Rules[r].Packets},
			CounterCheck{rules.RuleCounterAddr(r) + rules.CounterBytesLo, c.Rules[r].Bytes})
	}
	return v, nil
}

// Write builds vector set name for p and writes its SPEC §7 files into dir.
func Write(name string, p Params, dir string) error {
	v, err := Build(name, p)
	if err != nil {
		return err
	}
	return v.WriteDir(dir)
}

// WriteAll writes every set into dir/<name>.
func WriteAll(p Params, dir string) error {
	for _, n := range Names() {
		if err := Write(n, p, filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

// WriteDir writes the SPEC §7 files of v into dir, creating it.
func (v *Vectors) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create vector directory: %w", err)
	}
	total := 0
	for _, f := range v.Frames {
		total += len(f.Data)
	}
	files := []struct {
		name  string
		write func(w *bufio.Writer)
	}{
		{"meta.hex", func(w *bufio.Writer) {
			for _, x := range []uint32{uint32(len(v.Frames)), uint32(len(v.Regs)), uint32(len(v.Expect)), uint32(len(v.Counters)), uint32(total), v.Flags} {
				fmt.Fprintf(w, "%08x\n", x)
			}
		}},
		{"regs.hex", func(w *bufio.Writer) {
			for _, r := range v.Regs {
				fmt.Fprintf(w, "%08x%08x\n", r.Addr, r.Data)
			}
		}},
		{"frames.hex", func(w *bufio.Writer) {
			const hexdigits = "0123456789abcdef"
			for _, f := range v.Frames {
				for _, b := range f.Data {
					w.WriteByte(hexdigits[b>>4])
					w.WriteByte(hexdigits[b&15])
					w.WriteByte('\n')
				}
			}
		}},
		{"desc.hex", func(w *bufio.Writer) {
			off := 0
			for i, f := range v.Frames {
				tuser := 0
				if f.MACError {
					tuser = 1
				}
				fmt.Fprintf(w, "%016x%08x%04x%02x%02x\n", f.TimeNS, off, len(f.Data), v.Idle[i], tuser)
				off += len(f.Data)
			}
		}},
		{"expect.hex", func(w *bufio.Writer) {
			for _, i := range v.Expect {
				fmt.Fprintf(w, "%08x\n", i)
			}
		}},
		{"counters.hex", func(w *bufio.Writer) {
			for _, c := range v.Counters {
				fmt.Fprintf(w, "%08x%016x\n", c.Addr, c.Value)
			}
		}},
	}
	for _, f := range files {
		fh, err := os.Create(filepath.Join(dir, f.name))
		if err != nil {
			return fmt.Errorf("cannot write vectors: %w", err)
		}
		w := bufio.NewWriter(fh)
		f.write(w)
		if err := w.Flush(); err != nil {
			fh.Close()
			return fmt.Errorf("cannot write %s: %w", fh.Name(), err)
		}
		if err := fh.Close(); err != nil {
			return fmt.Errorf("cannot write %s: %w", fh.Name(), err)
		}
	}
	return nil
}
