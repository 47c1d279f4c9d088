package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/internal/chisel"
	"github.com/fpgactl/fpgactl/internal/gitinfo"
	"github.com/fpgactl/fpgactl/internal/junit"
	"github.com/fpgactl/fpgactl/internal/results"
	"github.com/fpgactl/fpgactl/sim/board"
	"github.com/fpgactl/fpgactl/tests/harness/compare"
	"github.com/fpgactl/fpgactl/tests/harness/replay"
	"github.com/fpgactl/fpgactl/tests/harness/scenario"
)

// Functional test statuses.
const (
	StatusPass  = "pass"
	StatusFail  = "fail"  // the board disagreed with the model, or a covers item never happened
	StatusError = "error" // the scenario could not be run
)

// ScenarioDir is the functional suite's directory, relative to the project.
const ScenarioDir = "tests/scenarios"

// FunctionalOptions configure RunFunctional.
type FunctionalOptions struct {
	Scenarios []*scenario.Scenario
	// Widths to run (default: the design's); a scenario runs at the widths
	// it allows among these.
	Widths []int
	// Jobs is how many simulated boards run at once (default: CPU cores).
	Jobs int
	// OutDir receives <scenario>-w<width>/{diff.txt,mismatches.pcap,junit.xml}.
	OutDir string
	// Progress receives one line per finished scenario (nil: silent).
	Progress io.Writer
}

// ScenarioResult is one scenario at one width.
type ScenarioResult struct {
	Name         string          `json:"name"`
	Width        int             `json:"width"`
	Status       string          `json:"status"`
	Seconds      float64         `json:"seconds"`
	Frames       int             `json:"frames"`
	ExpectedPass int             `json:"expected_pass"`
	Received     int             `json:"received"`
	Mismatches   int             `json:"mismatches"`
	CounterDiffs int             `json:"counter_diffs"`
	Latency      compare.Latency `json:"latency"`
	Message      string          `json:"message,omitempty"`
	Files        *Artifacts      `json:"files,omitempty"`
	Report       *compare.Report `json:"-"`
	Device       *replay.Device  `json:"-"`
	description  string
}

// FunctionalResult is the whole suite.
type FunctionalResult struct {
	Passed     int              `json:"passed"`
	Failed     int              `json:"failed"`
	Frames     int              `json:"frames"`
	Mismatches int              `json:"mismatches"`
	Seconds    float64          `json:"seconds"`
	Scenarios  []ScenarioResult `json:"scenarios"`
}

// OK reports whether every scenario passed.
func (r *FunctionalResult) OK() bool { return r.Failed == 0 }

type functionalJob struct {
	sc    *scenario.Scenario
	width int
	index int
}

// RunFunctional runs every scenario at every selected width on simulated
// boards (one per worker and width, reset between scenarios). The error is
// non-nil only when the run could not start or was cancelled.
func (e *Env) RunFunctional(ctx context.Context, opts FunctionalOptions) (*FunctionalResult, error) {
	start := time.Now()
	widths, err := e.Widths(opts.Widths...)
	if err != nil {
		return nil, err
	}
	numRules, err := e.NumRules()
	if err != nil {
		return nil, err
	}
	var jobs []functionalJob
	for _, w := range widths {
		for _, sc := range opts.Scenarios {
			if len(sc.Widths) == 0 || slices.Contains(sc.Widths, w) {
				jobs = append(jobs, functionalJob{sc: sc, width: w, index: len(jobs)})
			}
		}
	}
	res := &FunctionalResult{Scenarios: make([]ScenarioResult, len(jobs))}
	if len(jobs) == 0 {
		return res, nil
	}
	// Build every width first (in parallel: separate Verilator runs).
	var bwg sync.WaitGroup
	berr := make([]error, len(widths))
	for i, w := range widths {
		bwg.Add(1)
		go func() {
			defer bwg.Done()
			_, berr[i] = e.BoardBinary(ctx, w)
		}()
	}
	bwg.Wait()
	if err := errors.Join(berr...); err != nil {
		return nil, err
	}

	workers := opts.Jobs
	if workers <= 0 {
		workers = defaultJobs()
	}
	workers = min(workers, len(jobs))
	// Longest scenarios first, so no worker is left with a long one at the end.
	queue := make(chan functionalJob, len(jobs))
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].sc.NumFrames() > jobs[j].sc.NumFrames() })
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			boards := map[int]*board.Board{}
			defer func() {
				for _, b := range boards {
					b.Close()
				}
			}()
			for j := range queue {
				if ctx.Err() != nil {
					return
				}
				r := e.runScenario(ctx, boards, j, numRules, opts.OutDir)
				mu.Lock()
				res.Scenarios[j.index] = r
				if opts.Progress != nil {
					line := fmt.Sprintf("%-5s %-24s w%-4d %6d frames %6d passed through  %5.1fs", r.Status, r.Name, r.Width, r.Frames, r.Received, r.Seconds)
					if r.Message != "" {
						line += "\n      " + r.Message
					}
					fmt.Fprintln(opts.Progress, line)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("functional tests interrupted: %w", ctx.Err())
	}
	for _, r := range res.Scenarios {
		res.Frames += r.Frames
		res.Mismatches += r.Mismatches
		if r.Status == StatusPass {
			res.Passed++
		} else {
			res.Failed++
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func (e *Env) runScenario(ctx context.Context, boards map[int]*board.Board, j functionalJob, numRules int, outDir string) ScenarioResult {
	start := time.Now()
	r := ScenarioResult{Name: j.sc.Name, Width: j.width, Frames: j.sc.NumFrames(), description: j.sc.Description}
	fail := func(status string, err error) ScenarioResult {
		r.Status, r.Message, r.Seconds = status, err.Error(), time.Since(start).Seconds()
		return r
	}
	var phases []replay.Phase
	for _, p := range j.sc.Phases() {
		t, err := p.Table(numRules)
		if err != nil {
			return fail(StatusError, err)
		}
		frames, err := p.Frames()
		if err != nil {
			return fail(StatusError, err)
		}
		phases = append(phases, replay.Phase{Table: t, Frames: frames})
	}
	b := boards[j.width]
	if b == nil {
		var err error
		if b, err = e.StartBoard(ctx, j.width); err != nil {
			return fail(StatusError, err)
		}
		boards[j.width] = b
	}
	if err := b.SetBackpressure(j.sc.Backpressure, uint64(j.index)+1); err != nil {
		return fail(StatusError, err)
	}
	res, err := replay.Run(ctx, replay.Options{Target: b, Phases: phases})
	if err != nil {
		// A board that failed mid-exchange is not reused.
		b.Close()
		delete(boards, j.width)
		return fail(StatusError, err)
	}
	rep := res.Report
	r.Report = rep
	r.ExpectedPass, r.Received = rep.ExpectedPass, rep.Received
	r.Mismatches, r.CounterDiffs, r.Latency = len(rep.Mismatches), len(rep.CounterDiffs), rep.Latency
	r.Status = StatusPass
	var problems []error
	if !rep.Passed() {
		r.Status = StatusFail
		problems = append(problems, fmt.Errorf("%d mismatches and %d counter differences with the golden model", r.Mismatches, r.CounterDiffs))
	}
	if err := j.sc.CheckCoverage(rep.Expected, func(i int) int { return res.Sent[i].Index }); err != nil {
		r.Status = StatusFail
		problems = append(problems, err)
	}
	if outDir != "" {
		a, err := WriteArtifacts(filepath.Join(outDir, fmt.Sprintf("%s-w%d", j.sc.Name, j.width)), fmt.Sprintf("%s w%d", j.sc.Name, j.width), rep)
		if err != nil {
			problems = append(problems, err)
			r.Status = StatusError
		}
		r.Files = &a
		if !rep.Passed() {
			problems = append(problems, fmt.Errorf("diff: %s", a.Diff))
		}
	}
	if len(problems) > 0 {
		r.Message = errors.Join(problems...).Error()
	}
	r.Seconds = time.Since(start).Seconds()
	return r
}

// JUnit is one suite per scenario and width: the comparison's checks
// (order, loss, unexpected, corrupted, counters) plus coverage.
func (r *FunctionalResult) JUnit() *junit.Suites {
	s := &junit.Suites{Name: "fpgactl test functional"}
	for _, sr := range r.Scenarios {
		name := fmt.Sprintf("functional.%s.w%d", sr.Name, sr.Width)
		var su junit.Suite
		if sr.Report != nil {
			su = compare.JUnitSuite(name, sr.Report)
		} else {
			su = junit.Suite{Name: name}
		}
		cov := junit.Case{Name: "scenario", Classname: name, Time: sr.Seconds, SystemOut: sr.description}
		switch {
		case sr.Status == StatusError:
			cov.Error = &junit.Problem{Message: "scenario could not run", Text: junit.Clean(sr.Message)}
		case sr.Status == StatusFail:
			cov.Failure = &junit.Problem{Message: "scenario failed", Text: junit.Clean(sr.Message)}
		}
		su.Cases = append(su.Cases, cov)
		s.Suites = append(s.Suites, su)
	}
	s.Finish()
	return s
}

// RecordResults keeps the verdict of a complete suite run per width
// (internal/results), named by the RTL it ran on, so a release can require
// it. Call it only when res covers every scenario: a partial run says
// nothing about the suite. head is the work tree the suite ran on.
func (e *Env) RecordResults(ctx context.Context, res *FunctionalResult, by string, head gitinfo.Head) error {
	d, err := e.Design()
	if err != nil {
		return err
	}
	if _, err := chisel.Prepare(ctx, e.Settings, d, chisel.Options{}); err != nil {
		return err
	}
	rtlHash, err := results.RTLHash(e.Settings, d)
	if err != nil {
		return err
	}
	perWidth := map[int]*results.Record{}
	var widths []int
	for _, sr := range res.Scenarios {
		r := perWidth[sr.Width]
		if r == nil {
			r = &results.Record{Kind: results.KindFunctional, Design: d.Name, Width: sr.Width, RTLHash: rtlHash, Head: head, By: by, Time: time.Now().UTC()}
			perWidth[sr.Width] = r
			widths = append(widths, sr.Width)
		}
		if sr.Status == StatusPass {
			r.Passed++
		} else {
			r.Failed++
		}
		r.Frames += sr.Frames
		r.Mismatches += sr.Mismatches
	}
	for _, w := range widths {
		if err := results.Save(e.Settings.WorkPath(), *perWidth[w]); err != nil {
			return fmt.Errorf("recording the functional results: %w", err)
		}
	}
	return nil
}
