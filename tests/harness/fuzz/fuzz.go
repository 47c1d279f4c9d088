// Package fuzz makes differential-test cases for the packet filter and
// shrinks failing ones.
//
// A Case is a rule table and the frames to replay through it. Generate
// builds one from a seed (the same seed always gives the same case), mixing
// traffic drawn to hit the random rules (sim/vectors) with every kind of
// profile traffic (tests/harness/profile). A harness replays the case on a
// target and on the golden model and compares; when they disagree, Minimize
// cuts the case down to a few frames and rules that still disagree, and
// WriteCase saves it as a directory a person can replay with fpgactl:
// rules.yaml, frames.pcap and case.json.
package fuzz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/sim/vectors"
	"github.com/fpgactl/fpgactl/tests/harness/pcapio"
	"github.com/fpgactl/fpgactl/tests/harness/profile"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

// Case is one differential test: the table to load and the frames to send,
// in order.
type Case struct {
	// Seed is the Generate seed the case came from (kept through Minimize
	// and WriteCase, so a saved case says where it started).
	Seed   uint64
	Table  *rules.Table
	Frames []target.Frame
}

// GenerateOptions describe a case to generate.
type GenerateOptions struct {
	Seed uint64
	// Frames is the number of frames; 0 means DefaultFrames.
	Frames int
	// NumRules is the rule slots of the build (NUM_RULES); 0 means
	// rules.DefaultNumRules.
	NumRules int
	// MaxRules caps the rules in the table; 0 means NumRules.
	MaxRules int
}

const (
	// DefaultFrames is the number of frames Generate makes by default.
	DefaultFrames = 256
	// MinFrameBytes is the shortest frame Generate makes: an Ethernet
	// header. Shorter frames are runts (hdl/SPEC.md §2 step 3), which a
	// network interface target cannot send; the model's unit tests and the
	// vector sets cover them.
	MinFrameBytes = 14
	// StartNS is the time of the first frame: 2026-01-01 00:00 UTC, so
	// saved captures show a plausible date. Only time differences matter.
	StartNS = 1_767_225_600 * 1_000_000_000
	// lineRateGbps is the rate whose wire time is the smallest gap
	// between frames: back to back at 10G.
	lineRateGbps = 10
)

// Generate builds the case of opts.Seed. The table has between 1 and
// min(MaxRules, NumRules) rules from vectors.RandomTable, adjusted so that
// a rules file can say every rule (all valid; see writable); the traffic mixes
// vectors.RandomTraffic frames (which hit those rules) with profile frames
// of every kind in profile.Kinds(), at random sizes, plus some MAC-error
// frames. Frames are MinFrameBytes..profile.MaxFrameLen bytes long, and only
// deliberately truncated ones are under profile.MinFrameLen. They start at
// StartNS, at least a 10G wire time apart (profile.WireOverhead included):
// mostly back to back, sometimes with a random gap, sometimes milliseconds
// apart so police buckets refill.
func Generate(opts GenerateOptions) (Case, error) {
	switch {
	case opts.Frames < 0:
		return Case{}, fmt.Errorf("fuzz: Frames is %d; want a number of frames > 0 (or 0 for %d)", opts.Frames, DefaultFrames)
	case opts.NumRules < 0:
		return Case{}, fmt.Errorf("fuzz: NumRules is %d; want the build's rule slots (or 0 for %d)", opts.NumRules, rules.DefaultNumRules)
	case opts.MaxRules < 0:
		return Case{}, fmt.Errorf("fuzz: MaxRules is %d; want the most rules a table may have (or 0 for NumRules)", opts.MaxRules)
	}
	if opts.Frames == 0 {
		opts.Frames = DefaultFrames
	}
	if opts.NumRules == 0 {
		opts.NumRules = rules.DefaultNumRules
	}
	if opts.MaxRules == 0 || opts.MaxRules > opts.NumRules {
		opts.MaxRules = opts.NumRules
	}
	// One stream for every choice, in a fixed order, so the seed decides all.
	r := rand.New(rand.NewPCG(opts.Seed, 0xF022C45E))

	nRules := 1 + r.IntN(opts.MaxRules)
	tab := vectors.RandomTable(r.Uint64(), nRules)
	for i := range tab.Entries {
		tab.Entries[i] = writable(tab.Entries[i])
	}
	if _, err := rules.FormatYAML(tab); err != nil {
		return Case{}, fmt.Errorf("fuzz: seed %d: the generated table cannot be saved as a rules file (a bug in fuzz.writable): %w", opts.Seed, err)
	}

	frames, err := traffic(r, opts.Frames)
	if err != nil {
		return Case{}, fmt.Errorf("fuzz: seed %d: %w", opts.Seed, err)
	}
	return Case{Seed: opts.Seed, Table: tab, Frames: frames}, nil
}

// writable returns a RandomTable entry adjusted so that a rules file can
// say it: a case that fails must be savable as rules.yaml and loadable on a
// board. It clears the conditions docs/rules.md does not allow together
// (ports without tcp/udp, ICMP type without the matching ICMP protocol,
// ...) and enables the entry, since a rules file has no disabled rules.
// Fragment matching on an any-IP rule becomes an IPv4 rule, which matches
// the same frames. Values no rules file holds (masks that are not
// prefixes, reserved codes) are not fixed: RandomTable never makes them.
func writable(e rules.Entry) rules.Entry {
	e.Valid = true
	if e.Frag != rules.FragAny {
		switch e.IPVer {
		case rules.IPAny:
			e.IPVer = rules.IPv4
		case rules.IPv6, rules.IPNonIP:
			e.Frag = rules.FragAny
		}
	}
	if e.IPVer == rules.IPNonIP {
		e.ProtoValid, e.Proto = false, 0
		e.SrcAddr, e.SrcMask, e.DstAddr, e.DstMask = [16]byte{}, [16]byte{}, [16]byte{}, [16]byte{}
	}
	tcp := !e.ProtoValid || e.Proto == 6
	ports := !e.ProtoValid || e.Proto == 6 || e.Proto == 17
	if !ports || e.IPVer == rules.IPNonIP {
		e.SportLo, e.SportHi, e.DportLo, e.DportHi = 0, 0xFFFF, 0, 0xFFFF
	}
	if !tcp || e.IPVer == rules.IPNonIP {
		e.TCPFlagsMask, e.TCPFlagsValue = 0, 0
	}
	icmp := e.ProtoValid && (e.Proto == 1 && e.IPVer != rules.IPv6 || e.Proto == 58 && e.IPVer != rules.IPv4)
	if !icmp {
		e.ICMPValid, e.ICMPType = false, 0
	}
	return e
}

// traffic makes n frames with increasing times.
func traffic(r *rand.Rand, n int) ([]target.Frame, error) {
	frames := make([]target.Frame, 0, n)

	// 30..70 % of the frames come from the pools the random rules use.
	nRandom := n * (30 + r.IntN(41)) / 100
	if nRandom > 0 {
		// Runts are left out (see MinFrameBytes); ask for enough spares.
		for _, in := range vectors.RandomTraffic(r.Uint64(), nRandom+nRandom/4+8) {
			if len(frames) == nRandom {
				break
			}
			if len(in.Data) >= MinFrameBytes {
				frames = append(frames, target.Frame{Data: in.Data, MACError: in.MACError})
			}
		}
	}

	if nProfile := n - len(frames); nProfile > 0 {
		kinds := profile.Kinds()
		mix := make([]profile.MixEntry, len(kinds))
		for i, k := range kinds {
			mix[i] = profile.MixEntry{Kind: k, Weight: 1 + r.IntN(4)}
		}
		sizes := make([]int, nProfile)
		for i := range sizes {
			sizes[i] = frameSize(r)
		}
		gen, err := profile.Generate(profile.Options{Seed: int64(r.Uint64()), Frames: nProfile,
			Sizes: profile.SizeSpec{List: sizes}, Mix: mix})
		if err != nil {
			return nil, fmt.Errorf("profile traffic: %w", err)
		}
		for _, f := range gen {
			frames = append(frames, target.Frame{Data: f.Data})
		}
	}

	r.Shuffle(len(frames), func(i, j int) { frames[i], frames[j] = frames[j], frames[i] })
	// RandomTraffic marks about 4 % of its frames; make sure every case has some.
	for k := 0; k < 1+n/50; k++ {
		frames[r.IntN(n)].MACError = true
	}
	t := uint64(StartNS)
	for i := range frames {
		frames[i].TimeNS = t
		t += gapAfter(r, len(frames[i].Data))
	}
	return frames, nil
}

// frameSize draws a profile frame size: mostly small, some IMIX, some near
// the standard and jumbo limits (1518 is MAX_FRAME_BYTES of small builds).
func frameSize(r *rand.Rand) int {
	switch x := r.IntN(100); {
	case x < 45:
		return profile.MinFrameLen + r.IntN(141)
	case x < 75:
		return 201 + r.IntN(1314)
	case x < 88:
		return profile.IMIXSizes[r.IntN(len(profile.IMIXSizes))]
	case x < 95:
		return 1515 + r.IntN(profile.MaxFrameLen-1515+1)
	default:
		edges := []int{profile.MinFrameLen, 1517, 1518, 1519, profile.MaxFrameLen}
		return edges[r.IntN(len(edges))]
	}
}

// minGapNS is the wire time of an n-byte frame at 10G, rounded up: the
// smallest start-to-start gap Generate leaves after it.
func minGapNS(n int) uint64 {
	bits := uint64(n+profile.WireOverhead) * 8
	return (bits + lineRateGbps - 1) / lineRateGbps
}

func gapAfter(r *rand.Rand, n int) uint64 {
	gap := minGapNS(n)
	switch x := r.IntN(100); {
	case x < 60: // back to back
	case x < 92:
		gap += uint64(r.IntN(2000))
	default:
		// 10 µs .. ~40 ms: RandomTable's slowest buckets (1000 pps, 20
		// packets; 100 kB/s, 5100 bytes) refill in 20..50 ms.
		gap += 10_000<<r.IntN(12) + uint64(r.IntN(10_000))
	}
	return gap
}

// DefaultMaxRuns is how many times Minimize calls fails by default.
const DefaultMaxRuns = 500

// MinimizeOptions tune Minimize.
type MinimizeOptions struct {
	// MaxRuns caps the calls of fails (the first, which checks that the case
	// fails, included); 0 means DefaultMaxRuns.
	MaxRuns int
	// Progress, when set, is called after every call of fails with the
	// number of calls so far and the size of the smallest failing case.
	Progress func(run, frames, rules int)
}

// Minimize shrinks a failing case: fails(ctx, c) reports whether c still
// shows the failure. It removes frames (delta debugging, ddmin; the frames
// kept keep their order and times), then rules (the rest keep their order
// and names), then sets each remaining rule's match fields to "any" one at a
// time, then removes frames again, and repeats until nothing more goes: the
// result fails, and removing any one frame or rule, or clearing any one
// field, makes it pass. Simplified rules stay writable as a rules file if
// they were.
//
// Minimize stops after opts.MaxRuns calls and returns the smallest failing
// case found. If fails returns an error or ctx ends, Minimize returns that
// error with the smallest failing case found so far. fails must not modify
// the case it is given; cases share frame bytes.
func Minimize(ctx context.Context, c Case, fails func(ctx context.Context, c Case) (bool, error), opts MinimizeOptions) (Case, error) {
	if c.Table == nil {
		return c, fmt.Errorf("fuzz: Minimize: case has no table")
	}
	if opts.MaxRuns <= 0 {
		opts.MaxRuns = DefaultMaxRuns
	}
	m := &minimizer{ctx: ctx, fails: fails, opts: opts, best: c}
	failed, err := m.try(c)
	if err != nil {
		return c, err
	}
	if !failed {
		return c, fmt.Errorf("fuzz: Minimize: the case (seed %d, %d frames, %d rules) does not fail; check the predicate or reproduce the failure first",
			c.Seed, len(c.Frames), len(c.Table.Entries))
	}
	err = m.run()
	if errors.Is(err, errBudget) {
		err = nil
	}
	return m.best, err
}

// errBudget ends a minimization that used its MaxRuns.
var errBudget = errors.New("run budget spent")

type minimizer struct {
	ctx   context.Context
	fails func(context.Context, Case) (bool, error)
	opts  MinimizeOptions
	runs  int
	// best is the smallest failing case so far; every phase only moves to
	// failing cases, so it is also the current one.
	best Case
}

func (m *minimizer) try(c Case) (bool, error) {
	if err := m.ctx.Err(); err != nil {
		return false, err
	}
	if m.runs >= m.opts.MaxRuns {
		return false, errBudget
	}
	m.runs++
	failed, err := m.fails(m.ctx, c)
	if err != nil {
		return false, fmt.Errorf("fuzz: Minimize: run %d: %w", m.runs, err)
	}
	if failed {
		m.best = c
	}
	if m.opts.Progress != nil {
		m.opts.Progress(m.runs, len(m.best.Frames), len(m.best.Table.Entries))
	}
	return failed, nil
}

func (m *minimizer) run() error {
	if _, err := m.frames(); err != nil {
		return err
	}
	for {
		if _, err := m.rules(); err != nil {
			return err
		}
		fieldsChanged, err := m.fields()
		if err != nil {
			return err
		}
		// Fewer rules or simpler ones may make more frames unnecessary. If
		// neither fields nor frames changed, the rules pass saw the final
		// frames and fields, so every part is 1-minimal.
		framesChanged, err := m.frames()
		if err != nil {
			return err
		}
		if !fieldsChanged && !framesChanged {
			return nil
		}
	}
}

func (m *minimizer) frames() (bool, error) { return m.remove(len(m.best.Frames), Case.withFrames) }

func (m *minimizer) rules() (bool, error) { return m.remove(len(m.best.Table.Entries), Case.withRules) }

// remove drops as many of the best case's n items (frames or rules) as ddmin
// can; with(c, keep) is c with only the items in keep. It reports whether
// any went.
func (m *minimizer) remove(n int, with func(c Case, keep []int) Case) (bool, error) {
	base := m.best
	keep, err := m.ddmin(n, func(keep []int) (bool, error) { return m.try(with(base, keep)) })
	m.best = with(base, keep)
	return len(keep) < n, err
}

// fields sets match fields of each rule to any, one at a time, keeping each
// change that still fails.
func (m *minimizer) fields() (bool, error) {
	changed := false
	for i := range m.best.Table.Entries {
		wasWritable := canWrite(m.best.Table.Entries[i])
		for _, s := range simplifications {
			e := m.best.Table.Entries[i]
			cand := s.apply(e)
			if cand == e || wasWritable && !canWrite(cand) {
				continue
			}
			failed, err := m.try(m.best.withEntry(i, cand))
			if err != nil {
				return changed, err
			}
			changed = changed || failed
		}
	}
	return changed, nil
}

func canWrite(e rules.Entry) bool {
	_, err := rules.FormatYAML(&rules.Table{Entries: []rules.Entry{e}})
	return err == nil
}

// simplifications set one rules-file key to any, with the keys that cannot
// stay without it (icmp_type needs proto; addresses and fragment need ip).
// Broad ones come first: one run may save several.
var simplifications = []struct {
	key   string
	apply func(rules.Entry) rules.Entry
}{
	{"ip", func(e rules.Entry) rules.Entry {
		e.IPVer, e.Frag = rules.IPAny, rules.FragAny
		e.SrcAddr, e.SrcMask, e.DstAddr, e.DstMask = [16]byte{}, [16]byte{}, [16]byte{}, [16]byte{}
		return e
	}},
	{"proto", func(e rules.Entry) rules.Entry {
		e.ProtoValid, e.Proto, e.ICMPValid, e.ICMPType = false, 0, false, 0
		return e
	}},
	{"src", func(e rules.Entry) rules.Entry { e.SrcAddr, e.SrcMask = [16]byte{}, [16]byte{}; return e }},
	{"dst", func(e rules.Entry) rules.Entry { e.DstAddr, e.DstMask = [16]byte{}, [16]byte{}; return e }},
	{"src_port", func(e rules.Entry) rules.Entry { e.SportLo, e.SportHi = 0, 0xFFFF; return e }},
	{"dst_port", func(e rules.Entry) rules.Entry { e.DportLo, e.DportHi = 0, 0xFFFF; return e }},
	{"tcp_flags", func(e rules.Entry) rules.Entry { e.TCPFlagsMask, e.TCPFlagsValue = 0, 0; return e }},
	{"icmp_type", func(e rules.Entry) rules.Entry { e.ICMPValid, e.ICMPType = false, 0; return e }},
	{"length", func(e rules.Entry) rules.Entry { e.LenLo, e.LenHi = 0, 0xFFFF; return e }},
	{"vlan", func(e rules.Entry) rules.Entry { e.VLANMode, e.VLANID = rules.VLANAny, 0; return e }},
	{"fragment", func(e rules.Entry) rules.Entry { e.Frag = rules.FragAny; return e }},
}

// ddmin returns a subset of 0..n-1 (in order) for which test still fails,
// given that the whole set fails (Zeller and Hildebrandt's ddmin): removing
// any one more item makes test pass, unless it stopped early with an error,
// in which case the subset is the smallest failing one found.
func (m *minimizer) ddmin(n int, test func(keep []int) (bool, error)) ([]int, error) {
	cur := make([]int, n)
	for i := range cur {
		cur[i] = i
	}
	tried := map[string]bool{}
	check := func(keep []int) (bool, error) {
		k := setKey(n, keep)
		if v, ok := tried[k]; ok {
			return v, nil
		}
		v, err := test(keep)
		if err == nil {
			tried[k] = v
		}
		return v, err
	}
	parts := 2
	for len(cur) > 0 {
		parts = min(parts, len(cur))
		chunks := split(cur, parts)
		next := []int(nil)
		if parts > 1 {
			for _, ch := range chunks {
				failed, err := check(ch)
				if err != nil {
					return cur, err
				}
				if failed {
					next, parts = ch, 2
					break
				}
			}
		}
		// With two parts the complements are the parts themselves; with one,
		// the complement is the empty set.
		if next == nil && parts != 2 {
			for i := range chunks {
				comp := complement(chunks, i)
				failed, err := check(comp)
				if err != nil {
					return cur, err
				}
				if failed {
					next, parts = comp, max(parts-1, 2)
					break
				}
			}
		}
		if next != nil {
			cur = next
			continue
		}
		if parts >= len(cur) {
			break
		}
		parts = min(2*parts, len(cur))
	}
	return cur, nil
}

func split(s []int, parts int) [][]int {
	out := make([][]int, 0, parts)
	for i := 0; i < parts; i++ {
		out = append(out, s[i*len(s)/parts:(i+1)*len(s)/parts])
	}
	return out
}

func complement(chunks [][]int, skip int) []int {
	out := []int{}
	for i, ch := range chunks {
		if i != skip {
			out = append(out, ch...)
		}
	}
	return out
}

// setKey identifies a subset of 0..n-1 as a bitmap.
func setKey(n int, keep []int) string {
	b := make([]byte, (n+7)/8)
	for _, i := range keep {
		b[i/8] |= 1 << (i % 8)
	}
	return string(b)
}

func (c Case) withFrames(keep []int) Case {
	fr := make([]target.Frame, len(keep))
	for k, i := range keep {
		fr[k] = c.Frames[i]
	}
	c.Frames = fr
	return c
}

func (c Case) withRules(keep []int) Case {
	t := *c.Table
	t.Entries = make([]rules.Entry, len(keep))
	if c.Table.Names != nil {
		t.Names = make([]string, len(keep))
	}
	for k, i := range keep {
		t.Entries[k] = c.Table.Entries[i]
		if t.Names != nil && i < len(c.Table.Names) {
			t.Names[k] = c.Table.Names[i]
		}
	}
	c.Table = &t
	return c
}

func (c Case) withEntry(i int, e rules.Entry) Case {
	t := *c.Table
	t.Entries = slices.Clone(t.Entries)
	t.Entries[i] = e
	c.Table = &t
	return c
}

// Files of a saved case.
const (
	RulesFile  = "rules.yaml"
	FramesFile = "frames.pcap"
	CaseFile   = "case.json"
)

// caseJSON is case.json: what rules.yaml and frames.pcap cannot hold.
type caseJSON struct {
	Seed   uint64 `json:"seed"`
	Frames int    `json:"frames"`
	Rules  int    `json:"rules"`
	// MACErrorFrames are the 0-based indexes of frames sent with a MAC
	// error (frames.pcap record i+1); pcap has no place for the flag.
	MACErrorFrames []int `json:"mac_error_frames"`
}

// WriteCase saves c in dir (created if missing) as RulesFile (the table,
// rules.FormatYAML), FramesFile (nanosecond pcap, times = Frame.TimeNS) and
// CaseFile (seed, counts and MAC-error frame indexes). The table must be one
// a rules file can say, with every entry valid; rules without a name are
// saved as rule-<i>.
func WriteCase(dir string, c Case) error {
	if c.Table == nil {
		return fmt.Errorf("fuzz: WriteCase: case has no table")
	}
	rulesPath := filepath.Join(dir, RulesFile)
	for i, e := range c.Table.Entries {
		if !e.Valid {
			return fmt.Errorf("%s: entry %d is disabled (valid = 0) and a rules file has no disabled rules; remove it from the case", rulesPath, i)
		}
	}
	y, err := rules.FormatYAML(c.Table)
	if err != nil {
		return fmt.Errorf("%s: %w", rulesPath, err)
	}
	meta := caseJSON{Seed: c.Seed, Frames: len(c.Frames), Rules: len(c.Table.Entries), MACErrorFrames: []int{}}
	pf := make([]pcapio.Frame, len(c.Frames))
	for i, f := range c.Frames {
		pf[i] = pcapio.Frame{Data: f.Data, TimeNS: f.TimeNS}
		if f.MACError {
			meta.MACErrorFrames = append(meta.MACErrorFrames, i)
		}
	}
	js, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, CaseFile), err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("fuzz: WriteCase: %w", err)
	}
	if err := os.WriteFile(rulesPath, y, 0o644); err != nil {
		return fmt.Errorf("fuzz: WriteCase: %w", err)
	}
	if err := pcapio.WriteFile(filepath.Join(dir, FramesFile), pf); err != nil {
		return fmt.Errorf("fuzz: WriteCase: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, CaseFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("fuzz: WriteCase: %w", err)
	}
	return nil
}

// ReadCase loads a case saved by WriteCase. The files may have been edited
// by hand (fewer rules, fewer frames), as long as they still agree: the
// counts in CaseFile must match the other two files.
func ReadCase(dir string) (Case, error) {
	casePath := filepath.Join(dir, CaseFile)
	raw, err := os.ReadFile(casePath)
	if err != nil {
		return Case{}, fmt.Errorf("fuzz: ReadCase: %w", err)
	}
	var meta caseJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil {
		return Case{}, fmt.Errorf("%s: not a case file: %w", casePath, err)
	}

	rs, err := rules.ParseFile(filepath.Join(dir, RulesFile))
	if err != nil {
		return Case{}, err // a rules.Error names the file, line and field
	}
	tab, err := rs.Compile(max(1, len(rs.Rules)))
	if err != nil {
		return Case{}, err
	}
	framesPath := filepath.Join(dir, FramesFile)
	pf, err := pcapio.ReadFile(framesPath, pcapio.ReadOptions{})
	if err != nil {
		return Case{}, err // a pcapio.FileError names the file and record
	}

	switch {
	case meta.Rules != len(tab.Entries):
		return Case{}, fmt.Errorf("%s: says %d rules but %s has %d; fix the count to match", casePath, meta.Rules, RulesFile, len(tab.Entries))
	case meta.Frames != len(pf):
		return Case{}, fmt.Errorf("%s: says %d frames but %s has %d; fix the count to match", casePath, meta.Frames, FramesFile, len(pf))
	}
	frames := make([]target.Frame, len(pf))
	for i, f := range pf {
		if f.Truncated() {
			return Case{}, fmt.Errorf("%s: frame %d holds %d of its %d bytes; a case needs whole frames", framesPath, i, len(f.Data), f.OrigLen)
		}
		frames[i] = target.Frame{Data: f.Data, TimeNS: f.TimeNS}
	}
	for _, i := range meta.MACErrorFrames {
		if i < 0 || i >= len(frames) {
			return Case{}, fmt.Errorf("%s: mac_error_frames has %d, but frames are numbered 0..%d", casePath, i, len(frames)-1)
		}
		frames[i].MACError = true
	}
	return Case{Seed: meta.Seed, Table: tab, Frames: frames}, nil
}
