// Package pipeline is `fpgactl ci`: the branch pipeline as a dependency
// graph of steps — Chisel elaboration, lint per width, unit tests,
// functional tests per width, and optionally a build and an on-board test —
// run in parallel where the graph allows.
//
// Every step is made of items (a lint run, a unit case, a scenario at a
// width, a build, a board test), and every item is cached by a content hash
// of exactly what it reads: the HDL files its testbench or top reaches
// (internal/hdldeps), its scenario, rules and capture files, the versions of
// the tools it runs, and the fpgactl executable itself (the golden model and
// the simulated board are built into it). A rerun with nothing changed takes
// every result from the cache; a change to one module reruns only the items
// whose files include it.
//
// Items run as fpgactl subcommands (`fpgactl test unit --run ...`,
// `fpgactl test functional --scenario ...`) with --output json, either here
// or, with a shard runner, spread over runner hosts (build/run.CommandRunner:
// SSH build hosts or OpenStack servers). The same command lines run in both
// places.
package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/build/run"
	"github.com/fpgactl/fpgactl/internal/atomicfile"
	"github.com/fpgactl/fpgactl/internal/chisel"
	"github.com/fpgactl/fpgactl/internal/gitinfo"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/tools"
)

// Status of a step or an item.
const (
	StatusPassed    = "passed"
	StatusFailed    = "failed"
	StatusError     = "error"     // could not be run
	StatusSkipped   = "skipped"   // a step it needs did not pass
	StatusCancelled = "cancelled" // interrupted
)

// Step kinds.
const (
	KindChisel     = "chisel"
	KindLint       = "lint"
	KindUnit       = "unit"
	KindFunctional = "functional"
	KindBuild      = "build"
	KindBoard      = "board"
)

// Options of a pipeline run.
type Options struct {
	Settings *project.Settings
	// Exe is the fpgactl executable the steps run; ToolHash names its code
	// (ExecutableHash). Both are required.
	Exe      string
	ToolHash string
	// Finder locates the external tools whose versions key the cache.
	Finder *tools.Finder
	// Jobs is passed to each step's command (0: one per core).
	Jobs int
	// Widths keeps only these data widths (default: the design's).
	Widths []int
	// Build and Board add those steps (nil: not run).
	Build *project.CIBuild
	Board *project.CIBoard
	// Shard, when set, runs the unit and functional items on these runner
	// hosts, Shards jobs per step.
	Shard  run.CommandRunner
	Shards int
	// NoCache runs every item (results are still stored).
	NoCache bool
	// Progress receives a line per step start and end (nil: silent).
	Progress io.Writer
	// Owner names who runs the pipeline (cloud resources carry it).
	Owner string
}

// Item is one cached unit of work of a step.
type Item struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"`
	Cached  bool    `json:"cached"`
	Seconds float64 `json:"seconds"`
	Message string  `json:"message,omitempty"`
	// Frames and Mismatches of a functional scenario.
	Frames     int `json:"frames,omitempty"`
	Mismatches int `json:"mismatches,omitempty"`
	// Key is the content hash the item is cached by.
	Key string `json:"key"`
}

// Step is one node of the graph.
type Step struct {
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	Needs   []string `json:"needs,omitempty"`
	Status  string   `json:"status"`
	Cached  int      `json:"cached"`
	Ran     int      `json:"ran"`
	Seconds float64  `json:"seconds"`
	Message string   `json:"message,omitempty"`
	// Log is the step's command output (stderr), when a command ran.
	Log   string     `json:"log,omitempty"`
	Items []Item     `json:"items"`
	Build *BuildInfo `json:"build,omitempty"`

	run  func(ctx context.Context, st *Step) error
	done chan struct{}
}

// BuildInfo is what the build step made.
type BuildInfo struct {
	ID        string   `json:"id"`
	Target    string   `json:"target"`
	Seed      int      `json:"seed"`
	Bitstream string   `json:"bitstream"`
	FmaxMHz   *float64 `json:"fmax_mhz"`
	TargetMHz float64  `json:"target_mhz"`
	Met       bool     `json:"met"`
}

// Summary is a whole run.
type Summary struct {
	ID       string    `json:"id"`
	Commit   string    `json:"commit,omitempty"`
	Dirty    bool      `json:"dirty,omitempty"`
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	Status   string    `json:"status"`
	Shard    string    `json:"shard,omitempty"`
	Items    int       `json:"items"`
	Cached   int       `json:"cached"`
	Ran      int       `json:"ran"`
	Failed   int       `json:"failed"`
	Steps    []*Step   `json:"steps"`
	Dir      string    `json:"dir"`
	JUnit    string    `json:"junit"`
	Markdown string    `json:"markdown"`
}

// OK reports whether every step passed.
func (s *Summary) OK() bool { return s.Status == StatusPassed }

// pipe is one run in progress.
type pipe struct {
	o     Options
	s     *project.Settings
	dir   string // the run's directory
	cache cache
	head  gitinfo.Head
	id    string
	mu    sync.Mutex
	vers  map[string]*toolVersion
	steps []*Step

	topOnce   sync.Once
	topDigest string
	topErr    error

	archiveOnce sync.Once
	archive     string
	archiveErr  error
}

// Run runs the pipeline and returns its summary (also written, with the
// JUnit report and the Markdown summary, under <work_dir>/ci/runs/<id>/).
// A failed step is a result; the error is for a pipeline that could not
// run or record itself, or was cancelled.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.Settings == nil || o.Exe == "" || o.ToolHash == "" {
		return nil, errors.New("pipeline: Settings, Exe and ToolHash are required")
	}
	if o.Finder == nil {
		o.Finder = &tools.Finder{}
	}
	if o.Shard != nil && o.Shards <= 0 {
		o.Shards = 2
	}
	s := o.Settings
	p := &pipe{o: o, s: s, id: newID(), head: gitinfo.Read(ctx, s.Root), vers: map[string]*toolVersion{}}
	p.dir = filepath.Join(s.WorkPath(), "ci", "runs", p.id)
	p.cache = cache{dir: filepath.Join(s.WorkPath(), "ci", "cache"), off: o.NoCache}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, err
	}
	if err := writeProcess(p.dir); err != nil {
		return nil, err
	}
	sum := &Summary{ID: p.id, Commit: p.head.Commit, Dirty: p.head.Dirty, Started: time.Now().UTC(), Dir: p.dir}
	if o.Shard != nil {
		sum.Shard = o.Shard.Kind()
	}
	steps, err := p.plan()
	if err != nil {
		return nil, err
	}
	sum.Steps = steps
	p.mu.Lock()
	p.steps = steps
	p.mu.Unlock()
	p.execute(ctx, steps)
	sum.Seconds = time.Since(sum.Started).Seconds()
	sum.Status = StatusPassed
	for _, st := range steps {
		sum.Items += len(st.Items)
		sum.Cached += st.Cached
		sum.Ran += st.Ran
		for _, it := range st.Items {
			if it.Status != StatusPassed {
				sum.Failed++
			}
		}
		if st.Status != StatusPassed && sum.Status != StatusCancelled {
			sum.Status = StatusFailed
			if st.Status == StatusCancelled {
				sum.Status = StatusCancelled
			}
		}
	}
	if werr := p.write(sum); werr != nil {
		return sum, werr
	}
	if ctx.Err() != nil {
		return sum, fmt.Errorf("pipeline interrupted: %w", ctx.Err())
	}
	return sum, nil
}

func newID() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// plan builds the graph. The Chisel step comes first because every other
// step reads the RTL it generates.
func (p *pipe) plan() ([]*Step, error) {
	var steps []*Step
	add := func(name, kind string, needs []string, run func(context.Context, *Step) error) {
		steps = append(steps, &Step{Name: name, Kind: kind, Needs: needs, run: run, done: make(chan struct{})})
	}
	add(KindChisel, KindChisel, nil, p.runChisel)
	widths, err := p.widths()
	if err != nil {
		return nil, err
	}
	var lintSteps, funcSteps []string
	for _, w := range widths {
		name := fmt.Sprintf("lint/w%d", w)
		lintSteps = append(lintSteps, name)
		add(name, KindLint, []string{KindChisel}, p.lintStep(w))
	}
	add(KindUnit, KindUnit, []string{KindChisel}, p.runUnit)
	if p.boardDesign() != nil {
		for _, w := range widths {
			name := fmt.Sprintf("functional/w%d", w)
			funcSteps = append(funcSteps, name)
			add(name, KindFunctional, []string{KindChisel}, p.functionalStep(w))
		}
	}
	if p.o.Build != nil {
		// Place and route costs minutes: only RTL that lints is built. It
		// runs beside the tests rather than after them.
		add(KindBuild, KindBuild, lintSteps, p.runBuild)
	}
	if p.o.Board != nil {
		if p.o.Build == nil {
			return nil, errors.New("the board step tests the build step's bitstream: give --build (or ci.build in fpgactl.yaml) too")
		}
		add(KindBoard, KindBoard, append([]string{KindBuild}, funcSteps...), p.runBoard)
	}
	return steps, nil
}

// widths are the data widths the design runs at, filtered by Options.Widths.
func (p *pipe) widths() ([]int, error) {
	seen := map[int]bool{}
	for _, d := range p.s.Designs {
		for _, w := range d.Widths {
			seen[w] = true
		}
	}
	var out []int
	for w := range seen {
		if len(p.o.Widths) == 0 || slices.Contains(p.o.Widths, w) {
			out = append(out, w)
		}
	}
	for _, w := range p.o.Widths {
		if !seen[w] {
			return nil, fmt.Errorf("--width %d: no design in %s is built at that width", w, p.s.Path)
		}
	}
	sort.Ints(out)
	return out, nil
}

// execute runs every step once the steps it needs are done; a step whose
// needs did not all pass is skipped.
func (p *pipe) execute(ctx context.Context, steps []*Step) {
	byName := map[string]*Step{}
	for _, st := range steps {
		byName[st.Name] = st
	}
	var wg sync.WaitGroup
	for _, st := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(st.done)
			var blocked []string
			for _, n := range st.Needs {
				dep := byName[n]
				<-dep.done
				if dep.Status != StatusPassed {
					blocked = append(blocked, n)
				}
			}
			switch {
			case ctx.Err() != nil:
				st.Status, st.Message = StatusCancelled, "not started: interrupted"
				return
			case len(blocked) > 0:
				st.Status = StatusSkipped
				st.Message = "not run: " + strings.Join(blocked, ", ") + " did not pass"
				p.progress("%-16s skipped (%s did not pass)", st.Name, strings.Join(blocked, ", "))
				return
			}
			p.progress("%-16s started", st.Name)
			start := time.Now()
			err := st.run(ctx, st)
			st.Seconds = time.Since(start).Seconds()
			for _, it := range st.Items {
				if it.Cached {
					st.Cached++
				} else if it.Status != StatusSkipped {
					st.Ran++
				}
			}
			switch {
			case ctx.Err() != nil:
				st.Status = StatusCancelled
				if st.Message == "" {
					st.Message = "interrupted"
				}
			case err != nil:
				st.Status, st.Message = StatusError, err.Error()
			case slices.ContainsFunc(st.Items, func(it Item) bool { return it.Status != StatusPassed }):
				st.Status = StatusFailed
			case len(st.Items) == 0 && st.Kind != KindChisel:
				st.Status, st.Message = StatusError, "nothing to run"
			default:
				st.Status = StatusPassed
			}
			p.progress("%s", stepLine(st))
		}()
	}
	wg.Wait()
}

// stepLine is a step's one-line result.
func stepLine(st *Step) string {
	line := fmt.Sprintf("%-16s %-9s %3d item(s): %d cached, %d run  %6.1fs", st.Name, st.Status, len(st.Items), st.Cached, st.Ran, st.Seconds)
	if st.Message != "" {
		line += "  " + firstLine(st.Message)
	}
	return line
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func (p *pipe) progress(format string, args ...any) {
	if p.o.Progress == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.o.Progress, "ci: "+format+"\n", args...)
}

// runChisel elaborates the Chisel sources (internal/chisel caches them by
// their own content hash), so the other steps read the generated RTL.
func (p *pipe) runChisel(ctx context.Context, st *Step) error {
	res, err := chisel.PrepareAll(ctx, p.s, chisel.Options{Finder: p.o.Finder})
	for _, r := range res {
		st.Items = append(st.Items, Item{Name: r.Project, Status: StatusPassed, Cached: r.Cached, Seconds: r.Seconds, Key: r.Hash})
	}
	return err
}

// toolVersion is a tool's version line, asked once per run.
func (p *pipe) toolVersion(ctx context.Context, name string) (string, error) {
	p.mu.Lock()
	v, ok := p.vers[name]
	if !ok {
		// Steps start together: the first asks, the others wait for it.
		v = &toolVersion{}
		p.vers[name] = v
	}
	p.mu.Unlock()
	v.once.Do(func() {
		t, found := tools.Lookup(name)
		if !found {
			v.err = fmt.Errorf("unknown tool %s", name)
			return
		}
		st := p.o.Finder.Check(ctx, t)
		v.version = st.Version
		if !st.Found {
			v.err = fmt.Errorf("%s: %s", name, st.Problem)
		}
	})
	return v.version, v.err
}

// toolVersion is one tool's version line, asked once per run.
type toolVersion struct {
	once    sync.Once
	version string
	err     error
}

// versions writes the named tools' versions into a key description.
func (p *pipe) versions(ctx context.Context, names ...string) (string, error) {
	var b strings.Builder
	for _, n := range names {
		v, err := p.toolVersion(ctx, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s=%s\n", n, v)
	}
	return b.String(), nil
}

// rel names a file in keys (project.Settings.KeyName).
func (p *pipe) rel(f string) string { return p.s.KeyName(f) }

// write stores summary.json, the JUnit report and summary.md in the run's
// directory and points <work_dir>/ci/latest at it.
func (p *pipe) write(sum *Summary) error {
	sum.JUnit = filepath.Join(p.dir, "junit.xml")
	sum.Markdown = filepath.Join(p.dir, "summary.md")
	if err := JUnit(sum).WriteFile(sum.JUnit); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(sum.Markdown, []byte(Markdown(sum)), 0o644); err != nil {
		return err
	}
	data, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(p.dir, "summary.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	latest := filepath.Join(p.s.WorkPath(), "ci", "latest")
	tmp := latest + ".new-" + p.id
	if err := os.Symlink(filepath.Join("runs", p.id), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, latest); err != nil {
		return err
	}
	pruneRuns(filepath.Join(p.s.WorkPath(), "ci", "runs"), keepRuns)
	return nil
}

// keepRuns is how many run directories (logs, reports, shard inputs) stay.
const keepRuns = 30

// pruneRuns removes all but the newest keep finished run directories. Run
// IDs start with their UTC time, so names sort by age; a run still going
// (its process alive) is never removed.
func pruneRuns(dir string, keep int) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var runs []string
	for _, e := range entries {
		if e.IsDir() && record.ValidID(e.Name()) {
			runs = append(runs, e.Name())
		}
	}
	sort.Strings(runs)
	workDir := filepath.Dir(filepath.Dir(dir))
	for _, id := range runs[:max(0, len(runs)-keep)] {
		_, err := os.Stat(filepath.Join(dir, id, processFile))
		if err == nil && !ShardRunStale(workDir, ShardBuildPrefix+id) {
			continue // its process may still be running
		}
		os.RemoveAll(filepath.Join(dir, id))
	}
}
