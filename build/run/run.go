// Package run fans the seeds of one or more targets out over a pool of
// workers, synthesizes each target once (here), has a Backend place and route
// each seed (local processes, SSH build hosts, OpenStack instances), records
// every phase change and every result in the build record as it happens,
// applies the stop rule per target, and on cancellation leaves a record that
// says what happened to every seed.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/build/flow"
	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/build/report"
)

// The flows a target can use. Vendor flows (Vivado, Quartus) synthesize,
// place and route per seed with the vendor tool, which must be on PATH
// where the seed runs: they run with the local backend only.
const (
	FlowOpen    = "open"
	FlowVivado  = "vivado"
	FlowQuartus = "quartus"
)

// Target is one thing to build: a design for a device at a clock.
type Target struct {
	Name string
	// Flow is open (the default when empty), vivado or quartus.
	Flow     string
	Device   string // the part: e.g. LFE5U-85F-6BG381C, xcvu9p-flga2104-2L-e, 5SGXEA7N2F45C2
	ClockMHz float64
	Design   flow.Design
	// DesignName and RTLHash name the project design and the content hash
	// of its RTL (internal/results.RTLHash), kept in the build record so a
	// release can find the tests that ran on the same sources.
	DesignName string
	RTLHash    string
	Width      int
}

// Options of a local build.
type Options struct {
	Store   *record.Store
	Targets []Target
	Seeds   []int
	// Jobs is how many seeds place and route at once; 0 means the number of
	// CPU cores.
	Jobs     int
	StopWhen record.StopRule
	Commit   string
	// Dirty says the work tree differed from Commit.
	Dirty bool
	Owner string
	// Dir receives the artifacts: Dir/<build id>/<target>/seed-<n>/ (report,
	// logs, bitstream) and Dir/<build id>/<target>/synth/ (the netlist).
	Dir string
	// Tools are the local open-flow tools (synthesis, and place and route
	// when Backend is nil).
	Tools flow.Tools
	// Backend places and routes the seeds; nil means Local with Tools.
	Backend Backend
	// NetlistCache, when set, keeps synthesized netlists across builds
	// (NetlistCache/<hash>/netlist.json; the hash covers the sources, the
	// parameters and the yosys executable). Empty: per build, in Dir.
	NetlistCache string
	// Progress, when set, is called (never concurrently) with a copy of a
	// seed's record on each phase change and on its result.
	Progress func(record.SeedResult)
}

// recordTimeout bounds one record update; updates must still happen after
// the build's context is cancelled, so they do not use it.
const recordTimeout = time.Minute

// Run runs the build and returns its final record. The record is created
// first (every seed queued) and updated as the build goes. When ctx is
// cancelled, every unfinished seed is marked cancelled, the build is marked
// cancelled, and Run returns the record with an error wrapping ctx.Err().
// Seeds that fail timing are results, not errors; Run's error is for a build
// that could not be run or recorded.
func Run(ctx context.Context, o Options) (*record.Build, error) {
	if err := validate(&o); err != nil {
		return nil, err
	}
	devices := make([]flow.ECP5Device, len(o.Targets))
	b := &record.Build{Commit: o.Commit, Dirty: o.Dirty, Owner: o.Owner, Seeds: o.Seeds, Runner: o.Backend.Kind(), StopWhen: o.StopWhen}
	for i, t := range o.Targets {
		if t.RTLHash != "" {
			if b.Inputs == nil {
				b.Inputs = map[string]record.TargetInput{}
			}
			b.Inputs[t.Name] = record.TargetInput{Design: t.DesignName, RTLHash: t.RTLHash, Device: t.Device,
				Flow: t.Flow, Width: t.Width, ClockMHz: t.ClockMHz, Parameters: t.Design.Parameters}
		}
		if t.Flow == FlowOpen {
			d, err := flow.ParseECP5Device(t.Device)
			if err != nil {
				return nil, fmt.Errorf("target %s: %w", t.Name, err)
			}
			devices[i] = d
		}
		b.Targets = append(b.Targets, t.Name)
		for _, seed := range o.Seeds {
			b.Results = append(b.Results, record.SeedResult{Target: t.Name, Seed: seed, Status: record.SeedQueued, TargetMHz: t.ClockMHz})
		}
	}
	id, err := o.Store.Create(b)
	if err != nil {
		return nil, err
	}
	r := &runner{o: o, id: id, dir: filepath.Join(o.Dir, id), targets: map[string]*targetState{}}
	for i, t := range o.Targets {
		tctx, cancel := context.WithCancelCause(ctx)
		r.targets[t.Name] = &targetState{t: t, dev: devices[i], ctx: tctx, cancel: cancel}
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range o.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r.runSeed(ctx, j)
			}
		}()
	}
	// Seed-major order: every target gets its first results early.
feed:
	for _, seed := range o.Seeds {
		for _, t := range o.Targets {
			select {
			case jobs <- job{target: t.Name, seed: seed}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	for _, ts := range r.targets {
		ts.cancel(nil)
	}
	return r.finish(ctx)
}

func validate(o *Options) error {
	if o.Store == nil {
		return errors.New("run: no record store")
	}
	if len(o.Targets) == 0 {
		return errors.New("run: no targets to build")
	}
	if len(o.Seeds) == 0 {
		return errors.New("run: no seeds to build")
	}
	if o.Dir == "" {
		o.Dir = o.Store.Dir
	}
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	if o.Backend == nil {
		o.Backend = Local{Tools: o.Tools}
	}
	for i := range o.Targets {
		if o.Targets[i].Flow == "" {
			o.Targets[i].Flow = FlowOpen
		}
	}
	seen := map[string]bool{}
	for _, t := range o.Targets {
		if t.Name == "" || strings.ContainsAny(t.Name, `/\`) || t.Name == "." || t.Name == ".." {
			return fmt.Errorf("target name %q cannot name a directory", t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("target %s is given twice", t.Name)
		}
		seen[t.Name] = true
		switch t.Flow {
		case FlowOpen:
		case FlowVivado, FlowQuartus:
			if o.Backend.Kind() != "local" {
				return fmt.Errorf("target %s uses the %s flow, which runs with --runner local on a machine where the tool is installed (the %s runner ships netlists for the open flow)", t.Name, t.Flow, o.Backend.Kind())
			}
		default:
			return fmt.Errorf("target %s: unknown flow %q (use open, vivado or quartus)", t.Name, t.Flow)
		}
		if !(t.ClockMHz > 0) || math.IsInf(t.ClockMHz, 0) {
			return fmt.Errorf("target %s: clock %v MHz must be a positive number", t.Name, t.ClockMHz)
		}
		if t.Design.Top == "" || len(t.Design.Sources) == 0 {
			return fmt.Errorf("target %s: the design needs a top module and sources", t.Name)
		}
	}
	return nil
}

type job struct {
	target string
	seed   int
}

type targetState struct {
	t      Target
	dev    flow.ECP5Device
	ctx    context.Context // cancelled by the stop rule or with the build
	cancel context.CancelCauseFunc

	synthOnce sync.Once
	netlist   string
	synthLog  string
	synthErr  error
}

// errStopRule is the cause of a target's cancellation by the stop rule.
var errStopRule = errors.New("stop rule reached")

type runner struct {
	o       Options
	id      string
	dir     string
	targets map[string]*targetState

	progressMu sync.Mutex
	errMu      sync.Mutex
	recErr     error // the first failure to write the record
}

func recordCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), recordTimeout)
}

// update changes one seed's record and reports it; fn returns false to
// leave the record alone (the seed was already finished or cancelled).
func (r *runner) update(target string, seed int, fn func(*record.SeedResult) bool) bool {
	ctx, cancel := recordCtx()
	defer cancel()
	var (
		changed bool
		copyOf  record.SeedResult
	)
	err := r.o.Store.UpdateSeed(ctx, r.id, target, seed, func(s *record.SeedResult) {
		changed = fn(s)
		copyOf = *s
	})
	if err != nil {
		r.recordErr(err)
		return false
	}
	if changed {
		r.progress(copyOf)
	}
	return changed
}

func (r *runner) recordErr(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if r.recErr == nil {
		r.recErr = err
	}
}

func (r *runner) progress(s record.SeedResult) {
	if r.o.Progress == nil {
		return
	}
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	r.o.Progress(s)
}

func (r *runner) runSeed(buildCtx context.Context, j job) {
	ts := r.targets[j.target]
	if ts.ctx.Err() != nil {
		return // stopped before it started: finish or the stop rule marks it
	}
	started := r.update(j.target, j.seed, func(s *record.SeedResult) bool {
		if s.Status != record.SeedQueued {
			return false
		}
		s.Status, s.Phase, s.StartedAt = record.SeedRunning, record.PhaseSynth, time.Now().UTC()
		return true
	})
	if !started {
		return
	}
	seedDir := filepath.Join(r.dir, j.target, fmt.Sprintf("seed-%d", j.seed))
	res, err := r.place(ts, j.seed, seedDir)
	r.finishSeed(buildCtx, ts, j.seed, res, err)
}

// synth synthesizes the target once; every seed of the target waits for it.
func (r *runner) synth(ts *targetState) (string, error) {
	ts.synthOnce.Do(func() {
		dir := filepath.Join(r.dir, ts.t.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			ts.synthErr = err
			return
		}
		ts.synthLog = filepath.Join(dir, "synth.log")
		f, err := os.Create(ts.synthLog)
		if err != nil {
			ts.synthErr = err
			return
		}
		defer f.Close()
		cache := r.o.NetlistCache
		if cache == "" {
			cache = filepath.Join(dir, "synth")
		}
		ts.netlist, ts.synthErr = flow.Synth(ts.ctx, ts.t.Design, r.o.Tools, cache, f)
	})
	return ts.netlist, ts.synthErr
}

type seedOutcome struct {
	pnr     flow.PnRResult
	flowLog string
	// timing is set by flows that parse their own reports (vendor flows);
	// nil means: read pnr.Report as nextpnr's.
	timing *report.Timing
	// reports are more report files to keep (vendor flows).
	reports []string
}

// place runs one seed's flow and returns what it left, with its log in
// seedDir/flow.log.
func (r *runner) place(ts *targetState, seed int, seedDir string) (seedOutcome, error) {
	var netlist string
	if ts.t.Flow == FlowOpen {
		var err error
		if netlist, err = r.synth(ts); err != nil {
			return seedOutcome{flowLog: ts.synthLog}, err
		}
	}
	if err := os.MkdirAll(seedDir, 0o755); err != nil {
		return seedOutcome{}, err
	}
	out := seedOutcome{flowLog: filepath.Join(seedDir, "flow.log")}
	logf, err := os.Create(out.flowLog)
	if err != nil {
		return out, err
	}
	defer logf.Close()
	// Flows report each phase once, in order and never concurrently. The
	// log exists from now on: the first phase update records it.
	phase := func(p record.Phase) {
		r.update(ts.t.Name, seed, func(s *record.SeedResult) bool {
			if s.Status != record.SeedRunning {
				return false
			}
			s.Phase, s.Log = p, out.flowLog
			return true
		})
	}
	if ts.t.Flow != FlowOpen {
		return placeVendor(ts, seed, seedDir, logf, phase, out)
	}
	instance := func(where string) {
		r.update(ts.t.Name, seed, func(s *record.SeedResult) bool {
			if s.Instance == where {
				return false
			}
			s.Instance = where
			return true
		})
	}
	out.pnr, err = r.o.Backend.PlaceAndRoute(ts.ctx, SeedJob{
		BuildID: r.id, Target: ts.t.Name, Seed: seed, Owner: r.o.Owner, Commit: r.o.Commit,
		Netlist: netlist, Device: ts.dev, ClockMHz: ts.t.ClockMHz,
		Dir: seedDir, Log: logf, Phase: phase, Instance: instance,
	})
	return out, err
}

// placeVendor runs a vendor flow's synthesis, place and route for one seed
// here (Vivado's seed picks its directives, Quartus's is its fitter SEED).
func placeVendor(ts *targetState, seed int, seedDir string, log io.Writer, phase func(record.Phase), out seedOutcome) (seedOutcome, error) {
	vo := flow.VendorOptions{Design: ts.t.Design, Part: ts.t.Device, ClockMHz: ts.t.ClockMHz, Seed: seed,
		Dir: seedDir, Phase: phase, Log: log}
	var (
		res flow.VendorResult
		err error
	)
	if ts.t.Flow == FlowVivado {
		res, err = flow.RunVivado(ts.ctx, vo)
	} else {
		res, err = flow.RunQuartus(ts.ctx, vo)
	}
	out.pnr = flow.PnRResult{Log: res.Log, Bitstream: res.Bitstream}
	out.reports = res.Reports
	if err == nil {
		out.timing = &res.Timing
	}
	return out, err
}

func (r *runner) finishSeed(buildCtx context.Context, ts *targetState, seed int, out seedOutcome, runErr error) {
	now := time.Now().UTC()
	var (
		timing    report.Timing
		parseErr  error
		bitstream string
	)
	if runErr == nil {
		if out.timing != nil {
			timing = *out.timing
		} else {
			timing, _, parseErr = report.ParseNextpnrReport(out.pnr.Report)
		}
		if st, err := os.Stat(out.pnr.Bitstream); err == nil && st.Size() > 0 {
			bitstream = out.pnr.Bitstream
		}
	}
	var reports []string
	for _, p := range append([]string{out.pnr.Report, out.pnr.Log}, out.reports...) {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				reports = append(reports, p)
			}
		}
	}
	cancelled := runErr != nil && ts.ctx.Err() != nil
	r.recordResult(ts, seed, func(s *record.SeedResult) {
		s.FinishedAt = now
		s.Log = out.flowLog
		s.Reports = reports
		switch {
		case cancelled:
			s.Status = record.SeedCancelled
			s.Error = cancelReason(buildCtx, ts)
		case runErr != nil:
			s.Status, s.Error = record.SeedError, runErr.Error()
		case parseErr != nil:
			s.Status, s.Error = record.SeedError, "timing report: "+parseErr.Error()
		default:
			// The report package refuses NaN and infinities (FormatError),
			// and gives 0 for an Fmax or target it cannot tell.
			wns, fmax := timing.WNSns, timing.FmaxMHz
			s.WNSns, s.TNSns = &wns, timing.TNSns
			if fmax > 0 {
				s.FmaxMHz = &fmax
			}
			if timing.TargetMHz > 0 {
				s.TargetMHz = timing.TargetMHz
			}
			s.Met = timing.Met
			s.Bitstream = bitstream
			s.Status = record.SeedFailedTiming
			if timing.Met {
				s.Status = record.SeedMet
			}
		}
	})
}

// recordResult records a seed's result and, in the same record update,
// applies the stop rule to its target: when it is reached, queued seeds are
// marked cancelled and running ones are stopped (they record themselves as
// cancelled when their tools have exited).
func (r *runner) recordResult(ts *targetState, seed int, set func(*record.SeedResult)) {
	ctx, cancel := recordCtx()
	defer cancel()
	var reported []record.SeedResult
	stop := false
	err := r.o.Store.Update(ctx, r.id, func(b *record.Build) error {
		reported = reported[:0]
		s := b.Seed(ts.t.Name, seed)
		if s == nil {
			return fmt.Errorf("build %s has no seed %d for target %q", r.id, seed, ts.t.Name)
		}
		set(s)
		reported = append(reported, *s)
		if s.Status == record.SeedCancelled || !r.o.StopWhen.Done(b.TargetResults(ts.t.Name)) {
			return nil
		}
		for i := range b.Results {
			q := &b.Results[i]
			if q.Target == ts.t.Name && q.Status == record.SeedQueued {
				stop = true
				q.Status = record.SeedCancelled
				q.FinishedAt = time.Now().UTC()
				q.Error = fmt.Sprintf("never started: --stop-when %s was reached for target %s", r.o.StopWhen, ts.t.Name)
				reported = append(reported, *q)
			} else if q.Target == ts.t.Name && q.Status == record.SeedRunning {
				stop = true
			}
		}
		return nil
	})
	if err != nil {
		r.recordErr(err)
		return
	}
	if stop {
		ts.cancel(errStopRule)
	}
	for _, s := range reported {
		r.progress(s)
	}
}

func cancelReason(buildCtx context.Context, ts *targetState) string {
	if buildCtx.Err() != nil {
		return "the build was cancelled (interrupt)"
	}
	if errors.Is(context.Cause(ts.ctx), errStopRule) {
		return "stopped: the stop rule was reached for target " + ts.t.Name
	}
	return "stopped before it finished"
}

// finish marks what never finished and sets the build's status.
func (r *runner) finish(ctx context.Context) (*record.Build, error) {
	interrupted := ctx.Err() != nil
	rctx, cancel := recordCtx()
	defer cancel()
	var reported []record.SeedResult
	err := r.o.Store.Update(rctx, r.id, func(b *record.Build) error {
		reported = reported[:0]
		now := time.Now().UTC()
		for i := range b.Results {
			s := &b.Results[i]
			if s.Status.Finished() {
				continue
			}
			s.Status, s.FinishedAt = record.SeedCancelled, now
			switch {
			case interrupted:
				s.Error = "the build was cancelled (interrupt)"
			case b.TargetDone(s.Target):
				s.Error = fmt.Sprintf("stopped: --stop-when %s was reached for target %s", b.StopWhen, s.Target)
			default:
				s.Error = "the runner stopped before this seed finished"
			}
			reported = append(reported, *s)
		}
		b.FinishedAt = now
		b.Status, b.Error = record.StatusDone, ""
		if interrupted {
			b.Status, b.Error = record.StatusCancelled, "cancelled (interrupt) before every seed finished"
			return nil
		}
		var failed []string
		for _, t := range b.Targets {
			if _, ok := b.Best(t); !ok {
				failed = append(failed, t)
			}
		}
		if len(failed) > 0 {
			b.Status = record.StatusFailed
			b.Error = "no seed produced a timing result for target(s) " + strings.Join(failed, ", ") + "; see the seeds' errors and logs"
		}
		return nil
	})
	for _, s := range reported {
		r.progress(s)
	}
	if err != nil {
		r.recordErr(err)
	}
	b, getErr := r.o.Store.Get(r.id)
	if getErr != nil {
		return nil, errors.Join(r.recErr, getErr)
	}
	if r.recErr != nil {
		return b, fmt.Errorf("build %s: recording results: %w", r.id, r.recErr)
	}
	if interrupted {
		return b, fmt.Errorf("build %s: %w", r.id, ctx.Err())
	}
	return b, nil
}
