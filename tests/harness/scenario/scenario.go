// Package scenario loads the functional-test scenarios of tests/scenarios/:
// one YAML file per scenario naming a rules file, the traffic to replay
// (a profile spec or a capture file) and what the golden model must see
// happen for the scenario to test what its description claims.
//
// The format is described in tests/scenarios/README.md. In short:
//
//	description: SYN flood against a pps policer; established TCP still passes
//	rules: ../rules/syn-flood.yaml          # relative to this file
//	traffic:
//	  profile: "size=60,rate=10g,frames=3000,mix=legit:3+syn-flood:7,seed=11"
//	covers:
//	  - {rule: syn-police, outcome: passed}
//	  - {rule: syn-police, outcome: policed}
//	  - default: drop
//
// or, to swap tables between bursts, phases: [{rules, traffic}, ...].
//
// Expected verdicts are never written in a scenario: they come from the golden
// model (sim/model) run over the same frames (Scenario.Expect, or the
// harness's own comparison). covers only says which decisions must occur at
// least once; CheckCoverage fails a scenario whose traffic no longer
// exercises what it claims.
//
// Decoding walks the yaml.Node tree with internal/yamlnode, so every
// error is "file:line: field: what is wrong (what is allowed)". Rules files
// and captures are read at load time; their errors keep their own location.
package scenario

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/yamlnode"
	"github.com/fpgactl/fpgactl/sim/model"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/compare"
	"github.com/fpgactl/fpgactl/tests/harness/pcapio"
	"github.com/fpgactl/fpgactl/tests/harness/profile"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

// Ext is the file extension of scenario files.
const Ext = ".yaml"

// PhaseGapNS is the pause between the last frame of a phase and the first
// frame of the next one (the table swap happens in it).
const PhaseGapNS = 10_000

// MaxBackpressure is the largest back-pressure fraction a scenario may ask for.
const MaxBackpressure = 0.9

// DefaultLineRateGbps is the rate of `timing: line-rate` when rate is not given.
const DefaultLineRateGbps = 10

// Timing says how a capture's frames are spaced when replayed.
type Timing string

const (
	// TimingCapture keeps the capture's own timestamps.
	TimingCapture Timing = "capture"
	// TimingLineRate sends the frames back to back at Traffic.RateGbps.
	TimingLineRate Timing = "line-rate"
)

// Scenario is one loaded, checked scenario file.
type Scenario struct {
	// Name is the file's base name without .yaml.
	Name string
	// File is the scenario file as it was loaded.
	File string
	// Description says in one line what the scenario proves.
	Description string
	// Widths are the bus widths to run at (default: every supported width).
	Widths []int
	// Backpressure is the fraction of cycles (0..0.9) the simulated board
	// holds m_axis_tready low.
	Backpressure float64
	// Covers are the decisions the model must see at least once.
	Covers []Cover

	phases []Phase
	// spans[i] is phase i's time span, which the frames of later phases
	// are placed after.
	spans []phaseSpan
}

// Phase is one table and the traffic replayed while it is active. Before
// every phase but the first, the harness loads the phase's rules into the
// shadow table and swaps (the model swaps at the same point: policer
// buckets start full again, counters carry on).
type Phase struct {
	// Index is the phase's position, from 0.
	Index int
	// First is the scenario-wide number of the phase's first frame (frames
	// are numbered from 0 across all phases, in replay order).
	First int
	// Line is where the phase starts in the scenario file.
	Line int
	// Rules is the rules file (resolved against the scenario's directory)
	// and RuleSet its parsed contents.
	Rules   string
	RuleSet *rules.RuleSet
	Traffic Traffic

	s *Scenario
}

// Traffic is what a phase replays: a profile or a capture.
type Traffic struct {
	Line int
	// Profile is the profile spec (profile.ParseProfile syntax) and Options
	// its parsed form; empty for a capture.
	Profile string
	Options profile.Options
	// Pcap is the capture file (resolved against the scenario's directory);
	// empty for a profile.
	Pcap string
	// Timing and RateGbps say how a capture is spaced (capture only).
	Timing   Timing
	RateGbps float64
	// MACErrors are the indices (from 0, in this phase) of frames sent with
	// a bad FCS.
	MACErrors []int

	captured []pcapio.Frame
}

// CoverKind is what a covers item is about.
type CoverKind string

// Kinds of covers items.
const (
	CoverRule      CoverKind = "rule"
	CoverDefault   CoverKind = "default"
	CoverMalformed CoverKind = "malformed"
)

// Cover is one covers item: the model must decide at least one frame this
// way (in Phase, when it is not 0).
type Cover struct {
	// Line is the item's line in the scenario file; Index its position in covers.
	Line  int
	Index int
	Kind  CoverKind
	// Rule is the rule name (CoverRule).
	Rule string
	// Reason is the malformed reason (CoverMalformed); "" means any.
	Reason string
	// Outcome is "passed", "dropped" or "policed"; "" means any.
	Outcome string
	// Phase is the 1-based phase the item is about; 0 means any phase.
	Phase int
}

// String is the item as a reader would say it, e.g. "rule syn-police, policed".
func (c Cover) String() string {
	var s string
	switch c.Kind {
	case CoverRule:
		s = "rule " + c.Rule
	case CoverDefault:
		s = "default action"
	case CoverMalformed:
		s = "malformed"
		if c.Reason != "" {
			s += " (" + c.Reason + ")"
		}
	}
	if c.Outcome != "" {
		s += ", " + c.Outcome
	}
	if c.Phase != 0 {
		s += fmt.Sprintf(", in phase %d", c.Phase)
	}
	return s
}

// Error is a problem in a scenario file. Problems found in a rules file or a
// capture the scenario names are wrapped in Err (a rules.Error / rules.Errors
// or a pcapio.FileError), whose text carries their own location.
type Error = yamlnode.Error

// ---- loading ----

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Load reads and checks one scenario file, with its rules files and captures.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read scenario: %v", err)}
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if !nameRe.MatchString(name) {
		return nil, &Error{File: path, Msg: fmt.Sprintf("%q is not a usable scenario name; name the file with letters, digits, _ . - only", name)}
	}
	d := &decoder{Decoder: yamlnode.Decoder{File: path, TrimSpace: true}, dir: filepath.Dir(path)}
	s, err := d.scenario(data)
	if err != nil {
		return nil, err
	}
	s.Name, s.File = name, path
	return s, nil
}

// LoadDir loads every *.yaml file of dir, sorted by name. It returns the
// scenarios that loaded and, when any file did not, an error joining one
// *Error per bad file (errors.Join), so every problem shows at once.
func LoadDir(dir string) ([]*Scenario, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("scenarios: %w", err)
	}
	var out []*Scenario
	var errs []error
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), Ext) {
			continue
		}
		s, err := Load(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) == 0 && len(errs) == 0 {
		return nil, fmt.Errorf("scenarios: no *%s files in %s", Ext, dir)
	}
	return out, errors.Join(errs...)
}

// Phases returns the scenario's phases in order (one for a scenario written
// with top-level rules and traffic).
func (s *Scenario) Phases() []Phase { return slices.Clone(s.phases) }

// NumFrames is the number of frames of all phases.
func (s *Scenario) NumFrames() int {
	n := 0
	for _, p := range s.phases {
		n += p.NumFrames()
	}
	return n
}

// NumFrames is the number of frames of the phase, known without generating them.
func (p Phase) NumFrames() int {
	if p.Traffic.Pcap != "" {
		return len(p.Traffic.captured)
	}
	return p.Traffic.Options.Frames
}

// Table compiles the phase's rules for a filter with numRules rule slots.
// Errors are sim/rules' own (rules file:line:col).
func (p Phase) Table(numRules int) (*rules.Table, error) {
	return p.RuleSet.Compile(numRules)
}

// Frames returns the frames of the phase in replay order. Profile frames keep
// their generated times; capture frames keep the capture's times (made
// non-decreasing) or are re-spaced back to back at the line rate. Every phase
// but the first is moved in time to start PhaseGapNS after the previous
// phase's last frame, so times never decrease across a scenario.
func (p Phase) Frames() ([]target.Frame, error) {
	fr, err := p.rawFrames()
	if err != nil {
		return nil, err
	}
	p.s.span(p.Index, fr) // so that later phases need not make these frames again
	if p.Index == 0 || len(fr) == 0 {
		return fr, nil
	}
	// Where the previous phase ends once moved: each earlier phase starts
	// PhaseGapNS after the one before it and keeps its own length.
	var prevLast uint64
	for i := 0; i < p.Index; i++ {
		sp, err := p.s.span(i, nil)
		if err != nil {
			return nil, err
		}
		switch {
		case sp.empty:
		case i == 0:
			prevLast = sp.last
		default:
			prevLast = prevLast + PhaseGapNS + (sp.last - sp.first)
		}
	}
	shift := prevLast + PhaseGapNS - fr[0].TimeNS
	for j := range fr {
		fr[j].TimeNS += shift
	}
	return fr, nil
}

// phaseSpan is the first and last raw frame time of a phase (empty when it
// has no frames), found once.
type phaseSpan struct {
	once        sync.Once
	first, last uint64
	empty       bool
	err         error
}

// span returns phase i's phaseSpan. raw, when not nil, are the phase's raw
// frames; otherwise they are made if no earlier call has found the span.
func (s *Scenario) span(i int, raw []target.Frame) (*phaseSpan, error) {
	sp := &s.spans[i]
	sp.once.Do(func() {
		if raw == nil {
			if raw, sp.err = s.phases[i].rawFrames(); sp.err != nil {
				return
			}
		}
		if sp.empty = len(raw) == 0; !sp.empty {
			sp.first, sp.last = raw[0].TimeNS, raw[len(raw)-1].TimeNS
		}
	})
	return sp, sp.err
}

// rawFrames are the phase's frames on their own time base.
func (p Phase) rawFrames() ([]target.Frame, error) {
	t := p.Traffic
	var out []target.Frame
	if t.Pcap == "" {
		opts := t.Options
		opts.FirstID = uint32(p.First) // IDs unique across phases: frames pair by ID
		gen, err := profile.Generate(opts)
		if err != nil {
			return nil, fmt.Errorf("%s: phase %d: %w", p.s.File, p.Index+1, err)
		}
		out = target.FromProfile(gen)
	} else {
		out = target.FromCapture(t.captured)
		var bits uint64
		for i := range out {
			out[i].Data = slices.Clone(out[i].Data) // the capture is read once, replayed many times
			if t.Timing == TimingLineRate {
				out[i].TimeNS = uint64(math.Round(float64(bits) / t.RateGbps))
				bits += uint64(len(out[i].Data)+profile.WireOverhead) * 8
			}
		}
	}
	for _, i := range t.MACErrors {
		out[i].MACError = true
	}
	return out, nil
}

// ---- expectations and coverage ----

// Expect runs the golden model over every phase's frames, in order, swapping
// to each phase's table where the harness swaps (compare.Compare with a
// compare.Swap at every Phase.First), and returns the model's expectation
// for every frame of the scenario in replay order. It uses the scheduled
// frame times; a harness that knows when the device really sent each frame
// compares with those times instead.
func (s *Scenario) Expect(numRules int, cfg model.Config) ([]compare.Expectation, error) {
	in := compare.Input{Config: cfg}
	for _, p := range s.phases {
		t, err := p.Table(numRules)
		if err != nil {
			return nil, err
		}
		frames, err := p.Frames()
		if err != nil {
			return nil, err
		}
		if in.Table == nil {
			in.Table = t
		} else {
			in.Swaps = append(in.Swaps, compare.Swap{Before: p.First, Table: t})
		}
		for j, fr := range frames {
			in.Sent = append(in.Sent, compare.Sent{Index: p.First + j, Data: fr.Data, TimeNS: fr.TimeNS, MACError: fr.MACError})
		}
	}
	rep, err := compare.Compare(in)
	if err != nil {
		return nil, err
	}
	return rep.Expected, nil
}

// CoverageError lists the covers items the model never saw happen.
type CoverageError struct {
	File    string
	Total   int      // covers items
	Missing []*Error // one per item not seen, at the item's line
}

func (e *CoverageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d covers items never happened in the model's verdicts; the scenario does not test what it claims (fix its traffic or rules):",
		e.File, len(e.Missing), e.Total)
	for _, m := range e.Missing {
		b.WriteString("\n  ")
		b.WriteString(m.Error())
	}
	return b.String()
}

func (e *CoverageError) Unwrap() []error {
	out := make([]error, len(e.Missing))
	for i, m := range e.Missing {
		out[i] = m
	}
	return out
}

// CheckCoverage checks that every covers item decided at least one frame.
// exp are the model's expectations in replay order over all phases: Expect's
// result, or compare.Report.Expected of a run over the whole scenario.
// frameOf(i) is the scenario-wide frame number of exp[i] (see Phase.First),
// for runs that did not send every frame (e.g. replay.Result.Sent[i].Index);
// nil means exp has one entry per frame. The error is a *CoverageError
// naming the scenario file and the line of every item that did not happen,
// with what the model decided instead.
func (s *Scenario) CheckCoverage(exp []compare.Expectation, frameOf func(i int) int) error {
	n := s.NumFrames()
	if frameOf == nil {
		if len(exp) != n {
			return fmt.Errorf("%s: CheckCoverage got %d expectations; the scenario has %d frames (pass frameOf when some were not sent)", s.File, len(exp), n)
		}
		frameOf = func(i int) int { return i }
	}
	phase := make([]int, len(exp)) // 1-based phase of each expectation
	for i := range exp {
		f := frameOf(i)
		if f < 0 || f >= n {
			return fmt.Errorf("%s: CheckCoverage: expectation %d is for frame %d; the scenario has frames 0..%d", s.File, i, f, n-1)
		}
		for p := len(s.phases) - 1; p >= 0; p-- {
			if f >= s.phases[p].First {
				phase[i] = p + 1
				break
			}
		}
	}
	ce := &CoverageError{File: s.File, Total: len(s.Covers)}
	for _, c := range s.Covers {
		seen := map[string]int{} // what the model decided in this item's scope
		hit := false
		for i, e := range exp {
			if c.Phase != 0 && phase[i] != c.Phase {
				continue
			}
			v := e.Verdict
			out := v.Outcome.String()
			switch c.Kind {
			case CoverRule:
				if v.Malformed || !v.Hit || e.Rule != c.Rule {
					continue
				}
				seen[out]++
			case CoverDefault:
				if v.Malformed || v.Hit {
					continue
				}
				seen[out]++
			case CoverMalformed:
				if !v.Malformed {
					continue
				}
				seen[v.Reason+" "+out]++
				if c.Reason != "" && v.Reason != c.Reason {
					continue
				}
			}
			if c.Outcome == "" || out == c.Outcome {
				hit = true
			}
		}
		if !hit {
			ce.Missing = append(ce.Missing, &Error{File: s.File, Line: c.Line, Field: fmt.Sprintf("covers[%d]", c.Index),
				Msg: fmt.Sprintf("%s: the model decided no frame this way (%s)", c, describeSeen(c, seen))})
		}
	}
	if len(ce.Missing) > 0 {
		return ce
	}
	return nil
}

func describeSeen(c Cover, seen map[string]int) string {
	what := map[CoverKind]string{CoverRule: "rule " + c.Rule, CoverDefault: "the default action", CoverMalformed: "malformed frames"}[c.Kind]
	if len(seen) == 0 {
		return what + " decided no frame at all"
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, seen[k])
	}
	return "seen for " + what + ": " + strings.Join(parts, ", ")
}

// ---- decoding (the yaml.Node walk of internal/yamlnode) ----

// decoder is yamlnode's, plus the scenario's directory that paths are
// relative to. A key with nothing after it is an error (not an empty mapping
// or list), and strings are trimmed.
type decoder struct {
	yamlnode.Decoder
	dir string
}

// path resolves a path given relative to the scenario file.
func (d *decoder) path(n *yaml.Node, f string) (string, error) {
	v, err := d.Path(n, f)
	if err != nil {
		return "", err
	}
	if filepath.IsAbs(v) {
		return filepath.Clean(v), nil
	}
	return filepath.Join(d.dir, v), nil
}

// topKeys of a scenario file; rules+traffic and phases are alternatives.
func (d *decoder) scenario(data []byte) (*Scenario, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 messages already carry "line N:".
		return nil, &Error{File: d.File, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: d.File, Msg: "file is empty; a scenario needs description, rules + traffic (or phases) and covers (see tests/scenarios/README.md)"}
	}
	root := doc.Content[0]
	s := &Scenario{}
	var (
		rulesNode, trafficNode, phasesNode, coversNode, descNode *yaml.Node
		single                                                   Phase
	)
	err := d.Mapping(root, "", map[string]func(*yaml.Node, string) error{
		"description": func(n *yaml.Node, f string) (err error) {
			descNode = n
			if s.Description, err = d.Str(n, f); err == nil && strings.ContainsAny(s.Description, "\r\n") {
				err = d.Errorf(n, f, "must be one line: what feature or attack mix the scenario proves")
			}
			return err
		},
		"rules": func(n *yaml.Node, f string) (err error) {
			rulesNode = n
			single.Rules, single.RuleSet, err = d.rules(n, f)
			return err
		},
		"traffic": func(n *yaml.Node, f string) (err error) {
			trafficNode = n
			single.Traffic, err = d.traffic(n, f)
			return err
		},
		"phases": func(n *yaml.Node, f string) error {
			phasesNode = n
			return d.Seq(n, f, func(item *yaml.Node, f string) error {
				p, err := d.phase(item, f)
				if err == nil {
					p.Index = len(s.phases)
					s.phases = append(s.phases, p)
				}
				return err
			})
		},
		"covers": func(n *yaml.Node, f string) error {
			coversNode = n
			return nil // checked once the phases are known
		},
		"widths": func(n *yaml.Node, f string) error {
			if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
				return d.Errorf(n, f, "is empty; list widths to run at (%s), or leave the key out for all of them", joinInts(project.SupportedWidths))
			}
			return d.Seq(n, f, func(item *yaml.Node, f string) error {
				w, err := d.Int(item, f)
				if err != nil {
					return err
				}
				if !slices.Contains(project.SupportedWidths, w) {
					return d.Errorf(item, f, "width %d is not supported (use %s)", w, joinInts(project.SupportedWidths))
				}
				if slices.Contains(s.Widths, w) {
					return d.Errorf(item, f, "width %d listed twice", w)
				}
				s.Widths = append(s.Widths, w)
				return nil
			})
		},
		"backpressure": func(n *yaml.Node, f string) error {
			if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
				return d.Errorf(n, f, "expected a fraction of cycles 0.0..%.1f, found %s", MaxBackpressure, yamlnode.KindName(n))
			}
			v, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || math.IsNaN(v) || v < 0 || v > MaxBackpressure {
				return d.Errorf(n, f, "%q is not a fraction of cycles 0.0..%.1f (how often m_axis_tready is held low)", n.Value, MaxBackpressure)
			}
			s.Backpressure = v
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	switch {
	case descNode == nil:
		return nil, d.Errorf(root, "description", "required: one line saying what feature or attack mix the scenario proves")
	case phasesNode != nil && (rulesNode != nil || trafficNode != nil):
		n := rulesNode
		if n == nil {
			n = trafficNode
		}
		return nil, d.Errorf(n, "phases", "give either rules + traffic (one table) or phases (a list of {rules, traffic}), not both")
	case phasesNode != nil && len(s.phases) < 2:
		return nil, d.Errorf(phasesNode, "phases", "has %d phase(s); phases need at least 2 (one table is written as top-level rules + traffic)", len(s.phases))
	case phasesNode == nil && rulesNode == nil:
		return nil, d.Errorf(root, "rules", "required: the rules file (relative to this file), or phases: [{rules, traffic}, ...]")
	case phasesNode == nil && trafficNode == nil:
		return nil, d.Errorf(root, "traffic", "required: {profile: \"<spec>\"} or {pcap: <file>}, or phases: [{rules, traffic}, ...]")
	case phasesNode == nil:
		single.Line = root.Line
		s.phases = []Phase{single}
	}
	s.spans = make([]phaseSpan, len(s.phases))
	first := 0
	for i := range s.phases {
		s.phases[i].s = s
		s.phases[i].First = first
		first += s.phases[i].NumFrames()
	}
	if coversNode == nil {
		return nil, d.Errorf(root, "covers", "required: a non-empty list of what the model must see decide a frame (- rule: NAME, - default, - malformed: REASON)")
	}
	if err := d.covers(coversNode, "covers", s); err != nil {
		return nil, err
	}
	if len(s.Widths) == 0 {
		s.Widths = slices.Clone(project.SupportedWidths)
	}
	return s, nil
}

func (d *decoder) phase(n *yaml.Node, f string) (Phase, error) {
	p := Phase{Line: n.Line}
	var haveRules, haveTraffic bool
	err := d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
		"rules": func(n *yaml.Node, f string) (err error) {
			haveRules = true
			p.Rules, p.RuleSet, err = d.rules(n, f)
			return err
		},
		"traffic": func(n *yaml.Node, f string) (err error) {
			haveTraffic = true
			p.Traffic, err = d.traffic(n, f)
			return err
		},
	})
	switch {
	case err != nil:
		return p, err
	case !haveRules:
		return p, d.Errorf(n, f+".rules", "required: the rules file of this phase (relative to this file)")
	case !haveTraffic:
		return p, d.Errorf(n, f+".traffic", "required: {profile: \"<spec>\"} or {pcap: <file>}")
	}
	return p, nil
}

func (d *decoder) rules(n *yaml.Node, f string) (string, *rules.RuleSet, error) {
	path, err := d.path(n, f)
	if err != nil {
		return "", nil, err
	}
	rs, err := rules.ParseFile(path)
	if err != nil {
		msg := err.Error()
		if len(rules.AsErrors(err)) > 1 {
			msg = "rules file has errors:\n    " + strings.ReplaceAll(msg, "\n", "\n    ")
		}
		return "", nil, &Error{File: d.File, Line: n.Line, Field: f, Msg: msg, Err: err}
	}
	return path, rs, nil
}

func (d *decoder) traffic(n *yaml.Node, f string) (Traffic, error) {
	t := Traffic{Line: n.Line}
	var profNode, pcapNode, timingNode, rateNode, macNode *yaml.Node
	err := d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
		"profile": func(n *yaml.Node, f string) error {
			profNode = n
			spec, err := d.Str(n, f)
			if err != nil {
				return err
			}
			o, perr := profile.ParseProfile(spec)
			if perr != nil {
				return &Error{File: d.File, Line: n.Line, Field: f, Msg: perr.Error(), Err: perr}
			}
			t.Profile, t.Options = spec, o
			return nil
		},
		"pcap": func(n *yaml.Node, f string) (err error) {
			pcapNode = n
			t.Pcap, err = d.path(n, f)
			return err
		},
		"timing": func(n *yaml.Node, f string) error {
			timingNode = n
			v, err := d.Str(n, f)
			if err != nil {
				return err
			}
			switch Timing(v) {
			case TimingCapture, TimingLineRate:
				t.Timing = Timing(v)
				return nil
			}
			return d.Errorf(n, f, "%q is not a timing; use capture (the capture's own timestamps) or line-rate (back to back at rate)", v)
		},
		"rate": func(n *yaml.Node, f string) error {
			rateNode = n
			v, err := d.Str(n, f)
			if err != nil {
				return err
			}
			r, perr := strconv.ParseFloat(strings.TrimSuffix(strings.ToLower(v), "g"), 64)
			if perr != nil || math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 || r > 1e6 {
				return d.Errorf(n, f, "%q is not a line rate; use Gbit/s such as 10g or 100g", v)
			}
			t.RateGbps = r
			return nil
		},
		"mac_errors": func(n *yaml.Node, f string) error {
			macNode = n
			return d.Seq(n, f, func(item *yaml.Node, f string) error {
				i, err := d.Int(item, f)
				if err != nil {
					return err
				}
				if i < 0 {
					return d.Errorf(item, f, "frame index %d is negative; indices count from 0", i)
				}
				if slices.Contains(t.MACErrors, i) {
					return d.Errorf(item, f, "frame index %d listed twice", i)
				}
				t.MACErrors = append(t.MACErrors, i)
				return nil
			})
		},
	})
	if err != nil {
		return t, err
	}
	switch {
	case profNode != nil && pcapNode != nil:
		return t, d.Errorf(pcapNode, f+".pcap", "give exactly one of profile or pcap, not both")
	case profNode == nil && pcapNode == nil:
		return t, d.Errorf(n, f, "give exactly one of profile: \"<spec>\" (profile syntax) or pcap: <file> (relative to this file)")
	case profNode != nil && timingNode != nil:
		return t, d.Errorf(timingNode, f+".timing", "applies to pcap traffic only; a profile sets its own rate= in the spec")
	case profNode != nil && rateNode != nil:
		return t, d.Errorf(rateNode, f+".rate", "applies to pcap traffic with timing: line-rate only; a profile sets its own rate= in the spec")
	case rateNode != nil && t.Timing != TimingLineRate:
		return t, d.Errorf(rateNode, f+".rate", "only used with timing: line-rate; add it or remove rate")
	}
	count := t.Options.Frames
	if pcapNode != nil {
		if t.Timing == "" {
			t.Timing = TimingCapture
		}
		if t.Timing == TimingLineRate && t.RateGbps == 0 {
			t.RateGbps = DefaultLineRateGbps
		}
		frames, rerr := pcapio.ReadFile(t.Pcap, pcapio.ReadOptions{})
		if rerr != nil {
			return t, &Error{File: d.File, Line: pcapNode.Line, Field: f + ".pcap", Msg: "cannot read capture: " + rerr.Error(), Err: rerr}
		}
		if len(frames) == 0 {
			return t, d.Errorf(pcapNode, f+".pcap", "capture %s has no frames", t.Pcap)
		}
		for i, fr := range frames {
			if fr.Truncated() {
				return t, d.Errorf(pcapNode, f+".pcap", "capture %s: frame %d was cut at the snap length (%d of %d bytes); replaying it would send a different frame: recapture with a full snap length (tcpdump -s 0)",
					t.Pcap, i, len(fr.Data), fr.OrigLen)
			}
		}
		t.captured = frames
		count = len(frames)
	}
	if macNode != nil {
		for i, idx := range t.MACErrors {
			if idx >= count {
				return t, d.Errorf(macNode.Content[i], fmt.Sprintf("%s.mac_errors[%d]", f, i), "frame index %d is past the end of the traffic (%d frames, indices 0..%d)", idx, count, count-1)
			}
		}
		sort.Ints(t.MACErrors)
	}
	return t, nil
}

var outcomes = []string{"passed", "dropped", "policed"}

func (d *decoder) covers(n *yaml.Node, f string, s *Scenario) error {
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return d.Errorf(n, f, "is empty; list at least one decision the model must see (- rule: NAME, - default, - malformed: REASON)")
	}
	return d.Seq(n, f, func(item *yaml.Node, f string) error {
		c, err := d.cover(item, f, s)
		if err == nil {
			c.Index = len(s.Covers)
			s.Covers = append(s.Covers, c)
		}
		return err
	})
}

const coverShapes = "- rule: NAME, - {rule: NAME, outcome: passed|dropped|policed}, - default, - default: pass|drop, - malformed, - malformed: REASON (optionally with phase: N)"

func (d *decoder) cover(n *yaml.Node, f string, s *Scenario) (Cover, error) {
	c := Cover{Line: n.Line}
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "default":
			c.Kind = CoverDefault
		case "malformed":
			c.Kind = CoverMalformed
		default:
			return c, d.Errorf(n, f, "%q is not a covers item; use %s", n.Value, coverShapes)
		}
		return c, nil
	}
	var outcomeNode, kindNode *yaml.Node
	set := func(k CoverKind, n *yaml.Node, f string) error {
		if c.Kind != "" {
			return d.Errorf(n, f, "give one of rule, default or malformed per covers item, not both %s and %s", c.Kind, k)
		}
		c.Kind, kindNode = k, n
		return nil
	}
	err := d.Mapping(n, f, map[string]func(*yaml.Node, string) error{
		"rule": func(n *yaml.Node, f string) (err error) {
			if err = set(CoverRule, n, f); err == nil {
				c.Rule, err = d.Str(n, f)
			}
			return err
		},
		"default": func(n *yaml.Node, f string) error {
			if err := set(CoverDefault, n, f); err != nil {
				return err
			}
			v, err := d.Str(n, f)
			if err != nil {
				return err
			}
			switch v {
			case "pass":
				c.Outcome = "passed"
			case "drop":
				c.Outcome = "dropped"
			case "any":
			default:
				return d.Errorf(n, f, "%q is not a default action; use pass, drop or any", v)
			}
			return nil
		},
		"malformed": func(n *yaml.Node, f string) error {
			if err := set(CoverMalformed, n, f); err != nil {
				return err
			}
			v, err := d.Str(n, f)
			if err != nil {
				return err
			}
			if v != "any" && !slices.Contains(model.Reasons, v) {
				return d.Errorf(n, f, "%q is not a malformed reason; use any or one of %s", v, strings.Join(model.Reasons, ", "))
			}
			if v != "any" {
				c.Reason = v
			}
			return nil
		},
		"outcome": func(n *yaml.Node, f string) error {
			outcomeNode = n
			v, err := d.Str(n, f)
			if err != nil {
				return err
			}
			if !slices.Contains(outcomes, v) {
				return d.Errorf(n, f, "%q is not an outcome; use %s", v, strings.Join(outcomes, ", "))
			}
			c.Outcome = v
			return nil
		},
		"phase": func(n *yaml.Node, f string) error {
			p, err := d.Int(n, f)
			if err != nil {
				return err
			}
			if p < 1 || p > len(s.phases) {
				return d.Errorf(n, f, "phase %d does not exist; the scenario has phases 1..%d", p, len(s.phases))
			}
			c.Phase = p
			return nil
		},
	})
	if err != nil {
		return c, err
	}
	if c.Kind == "" {
		return c, d.Errorf(n, f, "says nothing to cover; use %s", coverShapes)
	}
	// The item must be possible with the scenario's rules files.
	scope := s.phases
	if c.Phase != 0 {
		scope = s.phases[c.Phase-1 : c.Phase]
	}
	where := func() string {
		var files []string
		for _, p := range scope {
			if !slices.Contains(files, p.Rules) {
				files = append(files, p.Rules)
			}
		}
		return strings.Join(files, ", ")
	}
	switch c.Kind {
	case CoverDefault:
		if outcomeNode != nil {
			return c, d.Errorf(outcomeNode, f+".outcome", "not used with default; write default: pass or default: drop")
		}
		if c.Outcome != "" && !slices.ContainsFunc(scope, func(p Phase) bool { return p.RuleSet.DefaultDrop == (c.Outcome == "dropped") }) {
			act := map[string]string{"passed": "pass", "dropped": "drop"}[c.Outcome]
			return c, d.Errorf(kindNode, f+".default", "%s never says default: %s, so the default action can never %s a frame", where(), act, act)
		}
	case CoverMalformed:
		if c.Outcome == "policed" {
			return c, d.Errorf(outcomeNode, f+".outcome", "malformed frames are passed or dropped, never policed")
		}
		if c.Outcome != "" && !slices.ContainsFunc(scope, func(p Phase) bool { return p.RuleSet.MalformedPass == (c.Outcome == "passed") }) {
			act := map[string]string{"passed": "pass", "dropped": "drop"}[c.Outcome]
			return c, d.Errorf(outcomeNode, f+".outcome", "%s never says malformed: %s, so malformed frames can never be %s", where(), act, c.Outcome)
		}
	case CoverRule:
		var actions []rules.Action
		for _, p := range scope {
			for _, r := range p.RuleSet.Rules {
				if r.Name == c.Rule {
					actions = append(actions, r.Entry.Action)
				}
			}
		}
		if len(actions) == 0 {
			return c, d.Errorf(kindNode, f+".rule", "no rule named %q in %s (its rules: %s)", c.Rule, where(), strings.Join(ruleNames(scope), ", "))
		}
		if c.Outcome != "" {
			ok := slices.ContainsFunc(actions, func(a rules.Action) bool {
				switch c.Outcome {
				case "passed":
					return a == rules.ActionPass || a == rules.ActionPolice
				case "policed":
					return a == rules.ActionPolice
				default:
					return a == rules.ActionDrop
				}
			})
			if !ok {
				return c, d.Errorf(outcomeNode, f+".outcome", "rule %s is a %s rule in %s; it can never have outcome %s (pass rules pass, drop rules drop, police rules pass or police)", c.Rule, actions[0], where(), c.Outcome)
			}
		}
	}
	return c, nil
}

func ruleNames(ps []Phase) []string {
	var out []string
	for _, p := range ps {
		for _, r := range p.RuleSet.Rules {
			if !slices.Contains(out, r.Name) {
				out = append(out, r.Name)
			}
		}
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}
