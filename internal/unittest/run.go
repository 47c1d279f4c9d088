package unittest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fpgactl/fpgactl/internal/proc"
	"github.com/fpgactl/fpgactl/internal/verilate"
)

// VectorParams describes the design a vector set is written for.
type VectorParams struct {
	DataWidth     int
	NumRules      int
	MaxFrameBytes int
}

// VectorWriter writes the $readmemh files of a named vector set into dir
// (hdl/SPEC.md §7). The command layer adapts the Go golden model to it.
type VectorWriter interface {
	Names() []string
	Write(name string, p VectorParams, dir string) error
}

// Design is what the runner needs to know about one design.
type Design struct {
	Name        string
	RTL         []string // source files
	Include     []string // include directories
	Testbenches []string // testbench files
	Widths      []int    // default widths for testbenches without metadata
	Parameters  map[string]int
	// ExtraFlags are appended to every Verilator build of the design's testbenches.
	ExtraFlags []string
}

// Status of a case.
const (
	StatusPass       = "pass"
	StatusFail       = "fail"
	StatusTimeout    = "timeout"
	StatusBuildError = "build-error"
	StatusError      = "error" // could not run (e.g. vectors could not be written)
	StatusSkipped    = "skipped"
)

// Options configure a Run.
type Options struct {
	Designs []Design
	// WorkDir is the project's work directory (.fpgactl); the runner uses WorkDir/unit.
	WorkDir string
	// Jobs bounds concurrent builds and runs (default: number of CPU cores).
	Jobs int
	// Widths keeps only these widths (all when empty).
	Widths []int
	// Run keeps only cases whose name (tb/w64/set) matches.
	Run *regexp.Regexp
	// KeepGoing runs every case; otherwise cases not yet started are skipped after the first failure.
	KeepGoing bool
	// Timeout per run when the testbench does not set one (default 300s).
	Timeout time.Duration
	// Verilator is the executable (default "verilator").
	Verilator string
	Vectors   VectorWriter
	// Progress receives one line per finished build and case (may be nil).
	Progress io.Writer
	// TailLines of output kept as the failure message (default 30).
	TailLines int
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Name    string  `json:"name"`
	Design  string  `json:"design"`
	TB      string  `json:"tb"`
	Width   int     `json:"width"`
	Vectors string  `json:"vectors"`
	Status  string  `json:"status"`
	Seconds float64 `json:"seconds"`
	Wave    string  `json:"wave"`
	Log     string  `json:"log"`
	Message string  `json:"message,omitempty"`
	// Tail is the last lines of output, used as the JUnit failure text.
	Tail string `json:"-"`
}

// Result of a Run.
type Result struct {
	Passed       int          `json:"passed"`
	Failed       int          `json:"failed"`
	Skipped      int          `json:"skipped"`
	CachedBuilds int          `json:"cached_builds"`
	Builds       int          `json:"builds"`
	Seconds      float64      `json:"seconds"`
	Tests        []CaseResult `json:"tests"`
}

// OK reports whether every case that ran passed and none was skipped by a failure.
func (r *Result) OK() bool { return r.Failed == 0 && r.Skipped == 0 }

type buildKey struct {
	tb    string
	width int
}

type buildGroup struct {
	design *Design
	tb     *Testbench
	width  int
	cases  []int // indexes into runner.cases
}

type runner struct {
	opts    Options
	unitDir string
	builder *verilate.Builder
	sem     chan struct{}
	cases   []Case
	results []CaseResult

	mu      sync.Mutex
	stopped bool
	cached  int
	builds  int

	vecMu   sync.Mutex
	vecDone map[string]*vecOnce
}

type vecOnce struct {
	once sync.Once
	dir  string
	err  error
}

// Discover returns the testbenches of the designs, sorted by name.
func Discover(designs []Design) ([]*Testbench, error) {
	var out []*Testbench
	seen := map[string]string{}
	for i := range designs {
		d := &designs[i]
		for _, p := range d.Testbenches {
			tb, err := ParseTestbench(p, d.Widths)
			if err != nil {
				return nil, err
			}
			if prev, dup := seen[tb.Name]; dup {
				return nil, fmt.Errorf("testbench %s is defined twice (%s and %s); names must be unique", tb.Name, prev, p)
			}
			seen[tb.Name] = p
			tb.Design = d.Name
			out = append(out, &tb)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Run discovers, builds and runs the unit tests. The error is non-nil only when
// the run could not be set up or was cancelled; test failures are in the Result.
func Run(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 300 * time.Second
	}
	if opts.Verilator == "" {
		opts.Verilator = "verilator"
	}
	if opts.TailLines <= 0 {
		opts.TailLines = 30
	}
	if opts.WorkDir == "" {
		return nil, errors.New("unittest: WorkDir is not set")
	}
	r := &runner{opts: opts, unitDir: filepath.Join(opts.WorkDir, "unit"), sem: make(chan struct{}, opts.Jobs), vecDone: map[string]*vecOnce{}}
	r.builder = &verilate.Builder{Verilator: opts.Verilator, Dir: filepath.Join(r.unitDir, "build")}

	tbs, err := Discover(opts.Designs)
	if err != nil {
		return nil, err
	}
	designByName := map[string]*Design{}
	for i := range opts.Designs {
		designByName[opts.Designs[i].Name] = &opts.Designs[i]
	}
	var groups []*buildGroup
	for _, tb := range tbs {
		byWidth := map[int]*buildGroup{}
		for _, c := range tb.Cases(opts.Widths) {
			if opts.Run != nil && !opts.Run.MatchString(c.Name()) {
				continue
			}
			g := byWidth[c.Width]
			if g == nil {
				g = &buildGroup{design: designByName[tb.Design], tb: tb, width: c.Width}
				byWidth[c.Width] = g
				groups = append(groups, g)
			}
			g.cases = append(g.cases, len(r.cases))
			r.cases = append(r.cases, c)
		}
	}
	r.results = make([]CaseResult, len(r.cases))
	for i, c := range r.cases {
		r.results[i] = CaseResult{Name: c.Name(), Design: c.TB.Design, TB: c.TB.Name, Width: c.Width, Vectors: c.Vectors, Status: StatusSkipped}
	}
	res := &Result{Tests: r.results}
	if len(r.cases) == 0 {
		res.Seconds = time.Since(start).Seconds()
		return res, nil
	}

	for _, d := range []string{"build", "logs", "waves", "vectors", "run"} {
		if err := os.MkdirAll(filepath.Join(r.unitDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating work directory: %w", err)
		}
	}
	if _, err := r.builder.Version(ctx); err != nil {
		return nil, err
	}

	r.progress("unit: %d cases from %d testbenches, %d builds, %d jobs at once", len(r.cases), len(tbs), len(groups), opts.Jobs)
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runGroup(ctx, g, &wg)
		}()
	}
	wg.Wait()

	for _, cr := range r.results {
		switch cr.Status {
		case StatusPass:
			res.Passed++
		case StatusSkipped:
			res.Skipped++
		default:
			res.Failed++
		}
	}
	res.CachedBuilds = r.cached
	res.Builds = r.builds
	res.Seconds = time.Since(start).Seconds()
	if ctx.Err() != nil {
		return res, fmt.Errorf("unit tests interrupted: %w", ctx.Err())
	}
	return res, nil
}

func (r *runner) acquire(ctx context.Context) bool {
	select {
	case r.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *runner) release() { <-r.sem }

func (r *runner) shouldStop(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped
}

func (r *runner) failed() {
	if r.opts.KeepGoing {
		return
	}
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
}

func (r *runner) progress(format string, args ...any) {
	if r.opts.Progress == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.opts.Progress, format+"\n", args...)
}

func groupLabel(g *buildGroup) string {
	if g.width == 0 {
		return g.tb.Name
	}
	return fmt.Sprintf("%s w%d", g.tb.Name, g.width)
}

func (r *runner) runGroup(ctx context.Context, g *buildGroup, wg *sync.WaitGroup) {
	if r.shouldStop(ctx) || !r.acquire(ctx) {
		return
	}
	if r.shouldStop(ctx) {
		r.release()
		return
	}
	bin, logPath, err := r.build(ctx, g)
	r.release()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		tail := tailFile(logPath, r.opts.TailLines)
		for _, i := range g.cases {
			r.setResult(i, func(cr *CaseResult) {
				cr.Status, cr.Log, cr.Message, cr.Tail = StatusBuildError, logPath, err.Error(), tail
			})
		}
		msg := fmt.Sprintf("BUILD FAILED %s: %v\n  log: %s", groupLabel(g), err, logPath)
		if tail != "" {
			msg += "\n" + indent(tail)
		}
		r.progress("%s", msg)
		r.failed()
		return
	}
	for _, i := range g.cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runCase(ctx, i, bin, g.design)
		}()
	}
}

func (r *runner) setResult(i int, f func(*CaseResult)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.results[i])
}

// spec is the Verilator build of one testbench at one width.
func (r *runner) spec(g *buildGroup) verilate.Spec {
	flags := []string{"--binary", "--timing", "--trace-fst", "-Wno-fatal", "-j", "1"}
	for _, inc := range g.design.Include {
		flags = append(flags, "-I"+inc)
	}
	flags = append(flags, g.design.RTL...)
	flags = append(flags, g.tb.Path)
	if g.width > 0 {
		flags = append(flags, fmt.Sprintf("-GDATA_WIDTH=%d", g.width))
	}
	flags = append(flags, g.design.ExtraFlags...)
	name := g.tb.Name
	if g.width > 0 {
		name = fmt.Sprintf("%s-w%d", g.tb.Name, g.width)
	}
	files := append(slices.Clone(g.design.RTL), g.tb.Path)
	return verilate.Spec{Name: name, Top: g.tb.Name, Flags: flags, Files: files, IncludeDirs: g.design.Include}
}

func (r *runner) build(ctx context.Context, g *buildGroup) (bin, logPath string, err error) {
	spec := r.spec(g)
	logPath = filepath.Join(r.unitDir, "logs", "build-"+spec.Name+".log")
	if _, err := r.builder.Hash(ctx, spec); err != nil {
		return "", "", err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return "", logPath, err
	}
	defer logf.Close()
	start := time.Now()
	bin, cached, err := r.builder.Build(ctx, spec, logf)
	if err != nil {
		return "", logPath, err
	}
	r.mu.Lock()
	if cached {
		r.cached++
	} else {
		r.builds++
	}
	r.mu.Unlock()
	if cached {
		r.progress("build   %-34s cached", groupLabel(g))
	} else {
		r.progress("build   %-34s built in %.1fs", groupLabel(g), time.Since(start).Seconds())
	}
	return bin, logPath, nil
}

// vectorsFor writes a vector set for a width once per run and returns its directory.
func (r *runner) vectorsFor(c Case, d *Design) (string, error) {
	key := fmt.Sprintf("%s-w%d", c.Vectors, c.Width)
	r.vecMu.Lock()
	v := r.vecDone[key]
	if v == nil {
		v = &vecOnce{}
		r.vecDone[key] = v
	}
	r.vecMu.Unlock()
	v.once.Do(func() {
		if r.opts.Vectors == nil {
			v.err = fmt.Errorf("testbench wants vector set %q but no vector writer is available (sim/vectors is not wired into this build)", c.Vectors)
			return
		}
		if !slices.Contains(r.opts.Vectors.Names(), c.Vectors) {
			v.err = fmt.Errorf("unknown vector set %q in %s (known sets: %s)", c.Vectors, c.TB.Path, strings.Join(r.opts.Vectors.Names(), ", "))
			return
		}
		v.dir = filepath.Join(r.unitDir, "vectors", key)
		if err := os.RemoveAll(v.dir); err != nil {
			v.err = err
			return
		}
		if err := os.MkdirAll(v.dir, 0o755); err != nil {
			v.err = err
			return
		}
		p := VectorParams{DataWidth: c.Width, NumRules: d.Parameters["NUM_RULES"], MaxFrameBytes: d.Parameters["MAX_FRAME_BYTES"]}
		if err := r.opts.Vectors.Write(c.Vectors, p, v.dir); err != nil {
			v.err = fmt.Errorf("writing vector set %q for width %d: %w", c.Vectors, c.Width, err)
		}
	})
	return v.dir, v.err
}

func (r *runner) runCase(ctx context.Context, i int, bin string, d *Design) {
	if r.shouldStop(ctx) || !r.acquire(ctx) {
		return
	}
	defer r.release()
	if r.shouldStop(ctx) {
		return
	}
	c := r.cases[i]
	name := c.Name()
	timeout := c.TB.Timeout
	if timeout == 0 {
		timeout = r.opts.Timeout
	}
	logPath := filepath.Join(r.unitDir, "logs", c.FileName()+".log")
	var args []string
	if c.Vectors != "" {
		dir, err := r.vectorsFor(c, d)
		if err != nil {
			r.setResult(i, func(cr *CaseResult) { cr.Status, cr.Message, cr.Log = StatusError, err.Error(), logPath })
			os.WriteFile(logPath, []byte(err.Error()+"\n"), 0o644)
			r.progress("ERROR  %s: %v", name, err)
			r.failed()
			return
		}
		args = append(args, "+vectors="+dir)
	}
	runDir := filepath.Join(r.unitDir, "run", c.FileName())
	os.RemoveAll(runDir)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		r.setResult(i, func(cr *CaseResult) { cr.Status, cr.Message = StatusError, err.Error() })
		r.failed()
		return
	}

	start := time.Now()
	status, msg := r.execCase(ctx, bin, args, runDir, logPath, timeout)
	secs := time.Since(start).Seconds()
	if ctx.Err() != nil {
		return // interrupted: stays "skipped"
	}
	if status == StatusPass {
		r.setResult(i, func(cr *CaseResult) { cr.Status, cr.Seconds, cr.Log = StatusPass, secs, logPath })
		r.progress("PASS    %-34s %6.1fs", name, secs)
		return
	}
	r.failed()
	tail := tailFile(logPath, r.opts.TailLines)

	// Re-run with tracing to keep a waveform of the failure.
	wave := filepath.Join(r.unitDir, "waves", c.FileName()+".fst")
	os.Remove(wave)
	traceLog := filepath.Join(r.unitDir, "logs", c.FileName()+".trace.log")
	r.execCase(ctx, bin, append(slices.Clone(args), "+trace="+wave), runDir, traceLog, timeout)
	if st, err := os.Stat(wave); err != nil || st.Size() == 0 {
		if ctx.Err() == nil {
			msg += "; no waveform: the testbench did not write one for +trace=FILE"
		}
		wave = ""
	}
	r.setResult(i, func(cr *CaseResult) {
		cr.Status, cr.Seconds, cr.Log, cr.Wave, cr.Message, cr.Tail = status, secs, logPath, wave, msg, tail
	})
	label := "FAIL"
	if status == StatusTimeout {
		label = "TIMEOUT"
	}
	line := fmt.Sprintf("%-7s %-34s %6.1fs  %s\n  log:  %s", label, name, secs, msg, logPath)
	if wave != "" {
		line += "\n  wave: " + wave
	}
	if tail != "" {
		line += "\n" + indent(lastLines(tail, 8))
	}
	r.progress("%s", line)
}

// execCase runs the simulator once and classifies the outcome.
func (r *runner) execCase(ctx context.Context, bin string, args []string, dir, logPath string, timeout time.Duration) (status, msg string) {
	logf, err := os.Create(logPath)
	if err != nil {
		return StatusError, err.Error()
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ %s %s\n", bin, strings.Join(args, " "))
	code, timedOut, err := proc.Run(ctx, bin, args, dir, nil, logf, timeout)
	switch {
	case err != nil:
		return StatusError, fmt.Sprintf("could not start the simulation: %v", err)
	case timedOut:
		return StatusTimeout, fmt.Sprintf("timed out after %s (raise it with // fpgactl-timeout: SECONDS)", timeout)
	case code > 128:
		return StatusFail, fmt.Sprintf("simulation exited with status %d (%v)", code, syscall.Signal(code-128))
	case code != 0:
		return StatusFail, fmt.Sprintf("simulation exited with status %d", code)
	}
	logf.Sync()
	if !hasPassLine(logPath) {
		return StatusFail, "simulation exited 0 but printed no line starting with PASS"
	}
	return StatusPass, ""
}

func hasPassLine(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "PASS") {
			return true
		}
	}
	return false
}

// tailFile returns the last n lines of a file.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 64 * 1024
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return lastLines(string(buf), n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    | " + strings.ReplaceAll(s, "\n", "\n    | ")
}
