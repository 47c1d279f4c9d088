// Package profile generates seeded, reproducible Ethernet traffic for the
// fpgactl harness: legitimate TCP/UDP, attack mixes (SYN flood, UDP
// reflection), IPv4 fragments, VLAN/QinQ, IPv6, ICMP and malformed frames,
// with line-rate timestamps for 10G or 100G.
//
// # Size convention
//
// Every length in this package (SizeSpec, Frame.Data) is the frame length
// WITHOUT the 4-byte FCS, i.e. destination MAC through the last payload
// byte, the "len" of hdl/SPEC.md §2. The classic 64/594/1518-byte IMIX
// frames (with FCS) are therefore 60/590/1514 here. Valid sizes are
// MinFrameLen..MaxFrameLen.
//
// A kind whose headers are longer than the requested size produces a frame
// as long as its headers (e.g. IPv6+TCP is 74 bytes even when 60 is asked
// for). A frame carries the ID trailer (see ExtractID) whenever headers plus
// TrailerLen fit in its length; frames of the malformed kind "truncated" are
// cut inside the IPv4 header on purpose and never carry one.
//
// # Timing
//
// Frame i starts at StartNS plus the wire time of frames 0..i-1, where a
// frame occupies len + 4 (FCS) + 8 (preamble/SFD) + 12 (IFG) bytes on the
// wire at RateGbps. Times are rounded to the nearest ns from the exact
// cumulative bit count, so rounding never drifts: 60-byte frames at 10G are
// 67.2 ns apart on average (14.88 Mpps), at 100G 6.72 ns (148.8 Mpps).
package profile

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gopacket/gopacket"
)

const (
	// MinFrameLen is the minimum Ethernet frame without FCS (64 with FCS).
	MinFrameLen = 60
	// MaxFrameLen is the largest size accepted (a 9216-byte jumbo without FCS).
	MaxFrameLen = 9212
	// WireOverhead is what a frame costs on the wire beyond len: FCS 4 +
	// preamble/SFD 8 + inter-frame gap 12.
	WireOverhead = 4 + 8 + 12
	// DefaultRateGbps is used when Options.RateGbps is 0 (back to back at 10G).
	DefaultRateGbps = 10
)

// IMIXSizes are the IMIX frame sizes without FCS and IMIXWeights their
// 7:4:1 proportions.
var (
	IMIXSizes   = [3]int{60, 590, 1514}
	IMIXWeights = [3]int{7, 4, 1}
)

// Frame is one generated frame.
type Frame struct {
	Data   []byte // frame without FCS
	TimeNS uint64 // start of the frame on the wire
	ID     uint32 // index in the run; also in the trailer when the frame has one
	Kind   string // concrete kind, e.g. "udp-reflection-ntp" even when "udp-reflection" was asked for
}

// SizeSpec chooses frame sizes (bytes without FCS). Set exactly one of:
// Fixed, List (used in order, cyclically) or IMIX (blocks of 12 frames, 7×60,
// 4×590 and 1×1514, shuffled by the seed, so the ratio is exact every 12
// frames).
type SizeSpec struct {
	Fixed int
	List  []int
	IMIX  bool
}

// MixEntry is one kind of traffic and its relative weight.
type MixEntry struct {
	Kind   string
	Weight int
}

// Options describe a run. The same Options always give identical frames.
type Options struct {
	Seed     int64
	Frames   int
	Sizes    SizeSpec
	RateGbps float64    // line rate; 0 means back to back at 10G
	Mix      []MixEntry // empty means all "legit"
	StartNS  uint64
	// FirstID numbers the frames from FirstID instead of 0, so that runs
	// replayed one after another (scenario phases) keep distinct IDs.
	FirstID uint32
}

// Generate builds opts.Frames frames. It fails, saying which option to fix,
// when the options are invalid.
func Generate(opts Options) ([]Frame, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	rate := opts.RateGbps
	if rate == 0 {
		rate = DefaultRateGbps
	}
	mix := opts.Mix
	if len(mix) == 0 {
		mix = []MixEntry{{Kind: "legit", Weight: 1}}
	}
	total := 0
	for _, m := range mix {
		total += m.Weight
	}

	seed := uint64(opts.Seed)
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), buf: gopacket.NewSerializeBuffer()}
	sizes := newSizer(opts.Sizes, g.rng)

	frames := make([]Frame, 0, opts.Frames)
	var bits uint64 // wire bits of all previous frames
	for i := 0; i < opts.Frames; i++ {
		kind := pickKind(g.rng, mix, total)
		id := opts.FirstID + uint32(i)
		data, concrete := g.build(kind, sizes.next(), id)
		frames = append(frames, Frame{
			Data:   data,
			TimeNS: opts.StartNS + uint64(math.Round(float64(bits)/rate)),
			ID:     id,
			Kind:   concrete,
		})
		bits += uint64(len(data)+WireOverhead) * 8
	}
	return frames, nil
}

func (o Options) validate() error {
	if o.Frames <= 0 {
		return fmt.Errorf("profile: Frames is %d: set it to the number of frames to generate (> 0)", o.Frames)
	}
	if o.RateGbps < 0 || math.IsNaN(o.RateGbps) || math.IsInf(o.RateGbps, 0) {
		return fmt.Errorf("profile: RateGbps is %v: use a positive rate in Gbit/s (10 or 100 typical) or 0 for back to back at 10G", o.RateGbps)
	}
	if err := o.Sizes.validate(); err != nil {
		return err
	}
	for _, m := range o.Mix {
		if _, ok := kinds[m.Kind]; !ok {
			return fmt.Errorf("profile: unknown kind %q in Mix: use one of %v", m.Kind, Kinds())
		}
		if m.Weight <= 0 {
			return fmt.Errorf("profile: kind %q has weight %d in Mix: weights must be > 0", m.Kind, m.Weight)
		}
	}
	return nil
}

func (s SizeSpec) validate() error {
	set := 0
	if s.Fixed != 0 {
		set++
	}
	if len(s.List) > 0 {
		set++
	}
	if s.IMIX {
		set++
	}
	if set != 1 {
		return errors.New("profile: Sizes: set exactly one of Fixed, List or IMIX")
	}
	check := func(n int) error {
		if n < MinFrameLen || n > MaxFrameLen {
			return fmt.Errorf("profile: frame size %d is out of range: use %d..%d bytes without FCS (64-byte frames are %d)",
				n, MinFrameLen, MaxFrameLen, MinFrameLen)
		}
		return nil
	}
	if s.Fixed != 0 {
		return check(s.Fixed)
	}
	for _, n := range s.List {
		if err := check(n); err != nil {
			return err
		}
	}
	return nil
}

type sizer struct {
	spec SizeSpec
	rng  *rand.Rand
	i    int
	imix []int
}

func newSizer(s SizeSpec, rng *rand.Rand) *sizer { return &sizer{spec: s, rng: rng} }

func (s *sizer) next() int {
	switch {
	case s.spec.Fixed != 0:
		return s.spec.Fixed
	case len(s.spec.List) > 0:
		n := s.spec.List[s.i%len(s.spec.List)]
		s.i++
		return n
	default:
		if len(s.imix) == 0 {
			for k, size := range IMIXSizes {
				for j := 0; j < IMIXWeights[k]; j++ {
					s.imix = append(s.imix, size)
				}
			}
			s.rng.Shuffle(len(s.imix), func(a, b int) { s.imix[a], s.imix[b] = s.imix[b], s.imix[a] })
		}
		n := s.imix[0]
		s.imix = s.imix[1:]
		return n
	}
}

func pickKind(rng *rand.Rand, mix []MixEntry, total int) string {
	if len(mix) == 1 {
		return mix[0].Kind
	}
	r := rng.IntN(total)
	for _, m := range mix {
		if r < m.Weight {
			return m.Kind
		}
		r -= m.Weight
	}
	return mix[len(mix)-1].Kind
}
