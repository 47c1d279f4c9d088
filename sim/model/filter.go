package model

import (
	"math/bits"

	"github.com/fpgactl/fpgactl/sim/rules"
)

// Config sizes the model like the RTL build it stands for.
type Config struct {
	// MaxFrameBytes is the RTL's MAX_FRAME_BYTES (longer frames are oversize).
	MaxFrameBytes int
	// NumRules is the RTL's NUM_RULES: how many per-rule counters exist.
	// 0 means as many as the table has entries.
	NumRules int
}

// DefaultMaxFrameBytes is MAX_FRAME_BYTES of the default RTL build.
const DefaultMaxFrameBytes = 9216

// Frame is one input frame.
type Frame struct {
	Data     []byte
	TimeNS   uint64 // sampled on the first beat
	MACError bool   // tuser on the last beat
}

// Outcome is where a frame went, as the totals count it.
type Outcome int

const (
	Passed Outcome = iota
	Dropped
	Policed
)

func (o Outcome) String() string {
	return [...]string{"passed", "dropped", "policed"}[o]
}

// Verdict is the model's decision for one frame.
type Verdict struct {
	Pass      bool
	Outcome   Outcome
	Malformed bool
	Reason    string
	Hit       bool // a rule matched (never for malformed frames)
	Rule      int  // the matching rule when Hit, else -1
}

// Count is a 64-bit packets/bytes counter pair; it wraps like the RTL's.
type Count struct {
	Packets uint64
	Bytes   uint64
}

func (c *Count) add(frameLen int) {
	c.Packets++
	c.Bytes += uint64(frameLen)
}

// Counters is a snapshot of every counter of the filter.
type Counters struct {
	Totals [rules.NumTotals]Count // indexed by rules.TotalIn ...
	Rules  []Count
}

type bucket struct {
	tokens uint64 // units × 2^32
	lastNS uint64
	primed bool
}

// Filter is the whole pf_filter: table, policer state and counters.
type Filter struct {
	cfg     Config
	table   *rules.Table
	buckets []bucket
	totals  [rules.NumTotals]Count
	rules   []Count
}

// New returns a filter whose active table is t (as after loading t and one swap).
func New(t *rules.Table, cfg Config) *Filter {
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = DefaultMaxFrameBytes
	}
	f := &Filter{cfg: cfg}
	f.Swap(t)
	return f
}

// Swap makes t the active table. Every bucket becomes un-primed; counters stay.
func (f *Filter) Swap(t *rules.Table) {
	f.table = t
	f.buckets = make([]bucket, len(t.Entries))
	n := max(f.cfg.NumRules, len(t.Entries))
	for len(f.rules) < n {
		f.rules = append(f.rules, Count{})
	}
}

// Process runs one frame through the filter and updates counters and buckets.
func (f *Filter) Process(fr Frame) Verdict {
	fields := Parse(fr.Data, fr.MACError, f.cfg.MaxFrameBytes)
	v := Verdict{Rule: -1, Malformed: fields.Malformed, Reason: fields.Reason}
	f.totals[rules.TotalIn].add(fields.FrameLen)
	switch {
	case fields.Malformed:
		f.totals[rules.TotalMalformed].add(fields.FrameLen)
		v.Pass = f.table.MalformedPass
	default:
		r, hit := Match(f.table, fields)
		if !hit {
			v.Pass = !f.table.DefaultDrop
			break
		}
		v.Hit, v.Rule = true, r
		f.rules[r].add(fields.FrameLen)
		e := &f.table.Entries[r]
		switch e.Action {
		case rules.ActionPass:
			v.Pass = true
		case rules.ActionPolice:
			if f.police(r, e, fr.TimeNS, fields.FrameLen) {
				v.Pass = true
			} else {
				v.Outcome = Policed
			}
		default: // drop, and the undefined action 3, which the RTL also treats as not-pass
		}
	}
	if v.Pass {
		v.Outcome = Passed
	} else if v.Outcome != Policed {
		v.Outcome = Dropped
	}
	f.totals[[...]int{rules.TotalPassed, rules.TotalDropped, rules.TotalPoliced}[v.Outcome]].add(fields.FrameLen)
	return v
}

// police runs SPEC §4 for a frame hitting police rule r at time t; it reports
// whether the frame conforms.
func (f *Filter) police(r int, e *rules.Entry, t uint64, frameLen int) bool {
	b := &f.buckets[r]
	limit := uint64(e.Burst) << 32
	if !b.primed {
		b.tokens, b.primed = limit, true
	} else {
		var dt uint64
		if t >= b.lastNS {
			dt = t - b.lastNS
		}
		dt = min(dt, 1<<32-1)
		hi, lo := bits.Mul64(e.Rate&rules.MaxRate, dt)
		if hi != 0 || lo >= limit-b.tokens {
			b.tokens = limit
		} else {
			b.tokens += lo
		}
	}
	b.lastNS = t
	need := uint64(1) << 32
	if e.PoliceBytes {
		need = uint64(frameLen) << 32
	}
	if b.tokens >= need {
		b.tokens -= need
		return true
	}
	return false
}

// Counters returns a copy of all counters.
func (f *Filter) Counters() Counters {
	return Counters{Totals: f.totals, Rules: append([]Count(nil), f.rules...)}
}

// ClearCounters is a COUNTER_CLEAR write.
func (f *Filter) ClearCounters(totals, rules bool) {
	if totals {
		f.totals = [len(f.totals)]Count{}
	}
	if rules {
		for i := range f.rules {
			f.rules[i] = Count{}
		}
	}
}
