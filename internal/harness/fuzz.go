package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/internal/junit"
	"github.com/fpgactl/fpgactl/sim/board"
	"github.com/fpgactl/fpgactl/tests/harness/compare"
	"github.com/fpgactl/fpgactl/tests/harness/fuzz"
	"github.com/fpgactl/fpgactl/tests/harness/replay"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

// Fuzz defaults.
const (
	DefaultFuzzFrames     = 5000 // frames per width
	DefaultFuzzCaseFrames = 500  // frames per case
	// MaxFuzzBackpressure bounds the back-pressure of back-pressured cases.
	MaxFuzzBackpressure = 0.5
	// FuzzMetaFile, next to the files of fuzz.WriteCase, records how a saved
	// case was run (width, back-pressure), which case.json has no place for.
	FuzzMetaFile = "fuzz.json"
)

// FuzzOptions configure Env.Fuzz.
type FuzzOptions struct {
	// Seed decides the whole run: case i has seed FuzzCaseSeed(Seed, i).
	Seed uint64
	// Frames per width (default DefaultFuzzFrames), in cases of CaseFrames
	// frames (default DefaultFuzzCaseFrames; the last case takes the rest):
	// ceil(Frames/CaseFrames) cases.
	Frames     int
	CaseFrames int
	// Widths to run (default: the design's); one board per width, the
	// widths in parallel.
	Widths []int
	// Backpressure runs every other case (those with an odd seed) with the
	// board holding m_axis_tready low on a fraction FuzzBackpressure(seed)
	// of cycles.
	Backpressure bool
	// Minimize shrinks each failing case (fuzz.Minimize) with at most
	// MaxRuns replays (0: fuzz.DefaultMaxRuns).
	Minimize bool
	MaxRuns  int
	// OutDir receives seed-<case seed>-w<width>/{full,min} for failing
	// cases ("" = nothing is written).
	OutDir string
	// Progress receives a line per case and per minimization (nil: silent).
	Progress io.Writer
	// Case, when set, is a directory saved by fuzz.WriteCase (a failing
	// case's full or min directory): that one case runs at each width,
	// with the back-pressure its FuzzMetaFile records, instead of generated
	// ones; Seed, Frames, CaseFrames and Backpressure are not used. Its
	// failures are saved under OutDir/rerun-seed-<seed>-w<width>.
	Case string
}

// Fuzz case statuses are those of functional tests: StatusPass, StatusFail
// (the board disagreed with the model) and StatusError (the case could not
// be run: the board failed).

// FuzzCaseResult is one case at one width.
type FuzzCaseResult struct {
	Seed         uint64  `json:"seed"`
	Width        int     `json:"width"`
	Frames       int     `json:"frames"`
	Rules        int     `json:"rules"`
	Backpressure float64 `json:"backpressure"`
	Status       string  `json:"status"`
	// Seconds is the case's replay (reset, table load, traffic, counters),
	// without minimization.
	Seconds      float64         `json:"seconds"`
	Mismatches   int             `json:"mismatches"`
	CounterDiffs int             `json:"counter_diffs"`
	Message      string          `json:"message,omitempty"`
	Failure      *FuzzFailure    `json:"failure,omitempty"`
	Report       *compare.Report `json:"-"`
}

// FuzzFailure is a case the board got wrong (or could not run), with where
// it was saved and how to replay it.
type FuzzFailure struct {
	Seed         uint64  `json:"seed"`
	Width        int     `json:"width"`
	Frames       int     `json:"frames"`
	Rules        int     `json:"rules"`
	Backpressure float64 `json:"backpressure"`
	Mismatches   int     `json:"mismatches"`
	CounterDiffs int     `json:"counter_diffs"`
	// Dir holds the whole case (rules.yaml, frames.pcap, case.json,
	// fuzz.json) and its diff.txt / mismatches.pcap; MinDir the same for the
	// minimized case ("" when not minimized), of MinFrames frames and
	// MinRules rules, found in MinRuns replays.
	Dir       string `json:"dir"`
	MinDir    string `json:"min_dir"`
	MinFrames int    `json:"min_frames"`
	MinRules  int    `json:"min_rules"`
	MinRuns   int    `json:"min_runs,omitempty"`
	// Replay is an `fpgactl replay` command for the smallest saved case;
	// Rerun runs it exactly (MAC errors and back-pressure included).
	Replay string `json:"replay"`
	Rerun  string `json:"rerun"`
	// Error says what went wrong running, saving or minimizing the case.
	Error string `json:"error,omitempty"`
}

// FuzzRate is the fuzzing speed at one width.
type FuzzRate struct {
	Width        int     `json:"width"`
	Frames       int     `json:"frames"`
	Seconds      float64 `json:"seconds"` // replaying cases, without minimization
	FramesPerSec float64 `json:"frames_per_s"`
}

// FuzzResult is a whole fuzz run. Cases counts each case at each width.
type FuzzResult struct {
	Seed     uint64        `json:"seed"`
	Frames   int           `json:"frames"` // replayed, all widths, without minimization
	Cases    int           `json:"cases"`
	Passed   int           `json:"passed"`
	Failed   int           `json:"failed"`
	Widths   []int         `json:"widths"`
	Seconds  float64       `json:"seconds"`
	Failures []FuzzFailure `json:"failures"`
	Rates    []FuzzRate    `json:"rates"`
	// Results are every case at every width, by width then case.
	Results []FuzzCaseResult `json:"-"`
}

// OK reports whether every case passed.
func (r *FuzzResult) OK() bool { return r.Failed == 0 }

// FuzzCaseSeed is the seed of case i of a run with seed: case 0 has the
// run's seed, so `--seed S --frames F --case-frames F` runs a case with seed
// S and F frames alone; the others are derived (splitmix64, cut to 53 bits
// so JSON readers keep them exact) with odd and even alternating.
func FuzzCaseSeed(seed uint64, i int) uint64 {
	if i == 0 {
		return seed
	}
	z := seed + uint64(i)*0x9E3779B97F4A7C15
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	z ^= z >> 31
	return z&(1<<53-2) | (seed^uint64(i))&1
}

// FuzzBackpressure is the back-pressure of the case with this seed in a
// run with back-pressure: 0 for even seeds, [0, MaxFuzzBackpressure) in
// steps of 0.001 for odd ones.
func FuzzBackpressure(caseSeed uint64) float64 {
	if caseSeed&1 == 0 {
		return 0
	}
	r := rand.New(rand.NewPCG(caseSeed, 0xBAC4))
	return float64(r.IntN(int(MaxFuzzBackpressure*1000))) / 1000
}

type fuzzPlanned struct {
	seed   uint64
	frames int
}

// Fuzz generates cases from opts.Seed and runs each on a simulated board of
// every width and on the golden model; a case they disagree on is saved,
// minimized and saved again (FuzzCase). Every case runs even after
// failures. The error is non-nil when the run could not start, or ended
// early with ctx (the result then holds the cases that finished).
func (e *Env) Fuzz(ctx context.Context, opts FuzzOptions) (*FuzzResult, error) {
	start := time.Now()
	widths, err := e.Widths(opts.Widths...)
	if err != nil {
		return nil, err
	}
	if opts.Frames < 0 || opts.CaseFrames < 0 || opts.MaxRuns < 0 {
		return nil, fmt.Errorf("fuzz: Frames (%d), CaseFrames (%d) and MaxRuns (%d) must not be negative", opts.Frames, opts.CaseFrames, opts.MaxRuns)
	}
	numRules, err := e.NumRules()
	if err != nil {
		return nil, err
	}

	res := &FuzzResult{Seed: opts.Seed, Widths: widths, Failures: []FuzzFailure{}}
	var plan []fuzzPlanned
	var saved *fuzz.Case
	savedBP := 0.0
	if opts.Case != "" {
		c, err := fuzz.ReadCase(opts.Case)
		if err != nil {
			return nil, err
		}
		saved = &c
		res.Seed = c.Seed
		meta, err := readFuzzMeta(opts.Case)
		if err != nil {
			return nil, err
		}
		if meta != nil {
			savedBP = meta.Backpressure
			if len(opts.Widths) == 0 && meta.Width != 0 {
				widths = []int{meta.Width}
				res.Widths = widths
			}
		}
		if len(c.Table.Entries) > numRules {
			return nil, fmt.Errorf("%s: %d rules do not fit the design's %d rule slots (NUM_RULES)", opts.Case, len(c.Table.Entries), numRules)
		}
		plan = []fuzzPlanned{{seed: c.Seed, frames: len(c.Frames)}}
	} else {
		total, per := opts.Frames, opts.CaseFrames
		if total == 0 {
			total = DefaultFuzzFrames
		}
		if per == 0 {
			per = DefaultFuzzCaseFrames
		}
		for i := 0; i*per < total; i++ {
			plan = append(plan, fuzzPlanned{seed: FuzzCaseSeed(opts.Seed, i), frames: min(per, total-i*per)})
		}
	}

	out := &lockedWriter{w: opts.Progress}
	perWidth := make([][]FuzzCaseResult, len(widths))
	errs := make([]error, len(widths))
	var wg sync.WaitGroup
	for wi, w := range widths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b *board.Board
			defer func() {
				if b != nil {
					b.Close()
				}
			}()
			for ci, p := range plan {
				if ctx.Err() != nil {
					errs[wi] = ctx.Err()
					return
				}
				var c fuzz.Case
				bp := 0.0
				dir := ""
				if saved != nil {
					c, bp = *saved, savedBP
					if opts.OutDir != "" {
						dir = filepath.Join(opts.OutDir, fmt.Sprintf("rerun-seed-%d-w%d", c.Seed, w))
					}
				} else {
					var err error
					if c, err = fuzz.Generate(fuzz.GenerateOptions{Seed: p.seed, Frames: p.frames, NumRules: numRules}); err != nil {
						errs[wi] = err
						return
					}
					if opts.Backpressure {
						bp = FuzzBackpressure(p.seed)
					}
					if opts.OutDir != "" {
						dir = filepath.Join(opts.OutDir, fmt.Sprintf("seed-%d-w%d", p.seed, w))
					}
				}
				if b == nil {
					var err error
					if b, err = e.StartBoard(ctx, w); err != nil {
						errs[wi] = err
						return
					}
				}
				r, err := FuzzCase(ctx, b, c, FuzzCaseOptions{
					Width: w, Backpressure: bp, Minimize: opts.Minimize, MaxRuns: opts.MaxRuns,
					Dir: dir, Progress: out, Label: fmt.Sprintf("[%d/%d]", ci+1, len(plan)),
				})
				if r != nil {
					perWidth[wi] = append(perWidth[wi], *r)
				}
				if err != nil {
					errs[wi] = err
					return
				}
				if r.Status != StatusPass {
					// The board ran a failing case many times, maybe to an
					// error: start the next case on a fresh one.
					b.Close()
					b = nil
				}
			}
		}()
	}
	wg.Wait()

	for wi, w := range widths {
		rate := FuzzRate{Width: w}
		for _, r := range perWidth[wi] {
			res.Results = append(res.Results, r)
			res.Cases++
			res.Frames += r.Frames
			rate.Frames += r.Frames
			rate.Seconds += r.Seconds
			if r.Status == StatusPass {
				res.Passed++
			} else {
				res.Failed++
			}
			if r.Failure != nil {
				res.Failures = append(res.Failures, *r.Failure)
			}
		}
		if rate.Seconds > 0 {
			rate.FramesPerSec = float64(rate.Frames) / rate.Seconds
		}
		res.Rates = append(res.Rates, rate)
	}
	res.Seconds = time.Since(start).Seconds()
	if ctx.Err() != nil {
		return res, fmt.Errorf("fuzzing interrupted: %w", ctx.Err())
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	return res, nil
}

// FuzzCaseOptions configure FuzzCase.
type FuzzCaseOptions struct {
	// Width names the case (seed-<n>/w<width>) and goes into replay hints
	// (0: the device's).
	Width int
	// Backpressure is applied, with the case's seed, to a target that can
	// hold its output (the simulated board) before every replay.
	Backpressure float64
	// Minimize a failing case with at most MaxRuns replays
	// (0: fuzz.DefaultMaxRuns).
	Minimize bool
	MaxRuns  int
	// Dir receives a failing case: Dir/full and, when minimized, Dir/min,
	// each with the case files (fuzz.WriteCase), FuzzMetaFile, diff.txt,
	// junit.xml and mismatches.pcap. Anything already in Dir is removed
	// first. "" = nothing is written.
	Dir string
	// Progress receives the case's line and minimization lines (nil:
	// silent); Label is added to the case's line.
	Progress io.Writer
	Label    string
}

// backpressurer is a target that can hold its output (the simulated board).
type backpressurer interface {
	SetBackpressure(fraction float64, seed uint64) error
}

// FuzzCase replays c on tgt and on the golden model. When they disagree
// (or the replay fails) the case is saved under opts.Dir, minimized on the
// same target (replay.Run resets a target that can be reset, the simulated
// board, before each replay) and saved again. The result's Status says
// whether the case passed; the error is non-nil only when ctx ended.
func FuzzCase(ctx context.Context, tgt target.Target, c fuzz.Case, opts FuzzCaseOptions) (*FuzzCaseResult, error) {
	if c.Table == nil {
		return nil, errors.New("fuzz case has no rule table")
	}
	r := &FuzzCaseResult{Seed: c.Seed, Width: opts.Width, Frames: len(c.Frames), Rules: len(c.Table.Entries), Backpressure: opts.Backpressure}
	start := time.Now()
	rr, runErr := fuzzReplay(ctx, tgt, c, opts.Backpressure)
	r.Seconds = time.Since(start).Seconds()
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	if r.Width == 0 && rr != nil {
		r.Width = rr.Device.DataWidth
	}
	name := fmt.Sprintf("seed-%d/w%d", c.Seed, r.Width)
	var problems []string
	switch {
	case runErr != nil:
		r.Status = StatusError
		problems = append(problems, runErr.Error())
	case rr.Report.Passed():
		r.Status = StatusPass
	default:
		r.Status = StatusFail
		r.Report = rr.Report
		r.Mismatches, r.CounterDiffs = len(rr.Report.Mismatches), len(rr.Report.CounterDiffs)
		problems = append(problems, fmt.Sprintf("%d mismatches and %d counter differences with the golden model", r.Mismatches, r.CounterDiffs))
	}
	say := func(format string, args ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", args...)
		}
	}
	line := fmt.Sprintf("%-5s %-28s %5d frames %3d rules", r.Status, name, r.Frames, r.Rules)
	if r.Backpressure > 0 {
		line += fmt.Sprintf("  bp %.3f", r.Backpressure)
	} else {
		line += "          "
	}
	line += fmt.Sprintf("  %5.2fs", r.Seconds)
	if r.Seconds > 0 && runErr == nil {
		line += fmt.Sprintf(" %6.0f frames/s", float64(r.Frames)/r.Seconds)
	}
	if opts.Label != "" {
		line += "  " + opts.Label
	}
	if len(problems) > 0 {
		line += "\n      " + strings.Join(problems, "; ")
	}
	say("%s", line)
	if r.Status == StatusPass {
		return r, nil
	}

	f := &FuzzFailure{Seed: c.Seed, Width: r.Width, Frames: r.Frames, Rules: r.Rules, Backpressure: r.Backpressure,
		Mismatches: r.Mismatches, CounterDiffs: r.CounterDiffs}
	r.Failure = f
	var errs []string
	if runErr != nil {
		errs = append(errs, runErr.Error())
	}
	smallest := c
	if opts.Dir != "" {
		if err := os.RemoveAll(opts.Dir); err != nil {
			errs = append(errs, err.Error())
		}
		f.Dir = filepath.Join(opts.Dir, "full")
		var rep *compare.Report
		if rr != nil {
			rep = rr.Report
		}
		if err := saveFuzzCase(f.Dir, name, c, r.Width, opts.Backpressure, rep); err != nil {
			errs = append(errs, err.Error())
		} else {
			say("      %s saved: %s", name, f.Dir)
		}
	}
	// A case the board could not run is not minimized: the board may be
	// gone, and the failure is not a disagreement with the model.
	if opts.Minimize && runErr == nil {
		mstart := time.Now()
		say("      minimizing %s (up to %d replays)...", name, orDefault(opts.MaxRuns, fuzz.DefaultMaxRuns))
		m, err := fuzz.Minimize(ctx, c, func(ctx context.Context, c fuzz.Case) (bool, error) {
			rr, err := fuzzReplay(ctx, tgt, c, opts.Backpressure)
			if err != nil {
				return false, err
			}
			return !rr.Report.Passed(), nil
		}, fuzz.MinimizeOptions{MaxRuns: opts.MaxRuns, Progress: func(run, _, _ int) { f.MinRuns = run }})
		if ctx.Err() != nil {
			r.Message = strings.Join(append(problems, errs...), "; ")
			return r, ctx.Err()
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("minimizing: %v", err))
		}
		if err == nil || len(m.Frames) < len(c.Frames) || len(m.Table.Entries) < len(c.Table.Entries) {
			smallest = m
			f.MinFrames, f.MinRules = len(m.Frames), len(m.Table.Entries)
			// The last replay was not necessarily of m: replay it for its diff.
			mr, err := fuzzReplay(ctx, tgt, m, opts.Backpressure)
			var rep *compare.Report
			switch {
			case err != nil:
				errs = append(errs, fmt.Sprintf("replaying the minimized case: %v", err))
			case mr.Report.Passed():
				errs = append(errs, "the minimized case passed when replayed once more: the failure is not reproducible")
			default:
				rep = mr.Report
			}
			if opts.Dir != "" {
				f.MinDir = filepath.Join(opts.Dir, "min")
				if err := saveFuzzCase(f.MinDir, name+" (minimized)", m, r.Width, opts.Backpressure, rep); err != nil {
					errs = append(errs, err.Error())
					f.MinDir = ""
				}
			}
			where := ""
			if f.MinDir != "" {
				where = ": " + f.MinDir
			}
			say("      minimized to %s, %s in %d replays (%.1fs)%s", plural(f.MinFrames, "frame"), plural(f.MinRules, "rule"), f.MinRuns, time.Since(mstart).Seconds(), where)
		}
	}
	if f.MinDir != "" {
		f.Replay, f.Rerun = fuzzHints(f.MinDir, smallest, r.Width, opts.Backpressure)
	} else if f.Dir != "" {
		f.Replay, f.Rerun = fuzzHints(f.Dir, c, r.Width, opts.Backpressure)
	}
	if len(errs) > 0 {
		f.Error = strings.Join(errs, "; ")
		if runErr == nil {
			problems = append(problems, f.Error)
			say("      %s", f.Error)
		}
	}
	r.Message = strings.Join(problems, "; ")
	return r, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// fuzzReplay runs one case: back-pressure (reseeded, so every replay of a
// case sees the same stalls), then replay.Run, which resets the board.
func fuzzReplay(ctx context.Context, tgt target.Target, c fuzz.Case, bp float64) (*replay.Result, error) {
	if bpt, ok := tgt.(backpressurer); ok {
		if err := bpt.SetBackpressure(bp, c.Seed); err != nil {
			return nil, err
		}
	} else if bp > 0 {
		return nil, fmt.Errorf("%s cannot apply back-pressure", tgt.Name())
	}
	return replay.Run(ctx, replay.Options{Target: tgt, Phases: []replay.Phase{{Table: c.Table, Frames: c.Frames}}})
}

// fuzzHints are the replay and rerun commands of a saved case.
func fuzzHints(dir string, c fuzz.Case, width int, bp float64) (replayCmd, rerun string) {
	replayCmd = fmt.Sprintf("fpgactl replay --rules %s --pcap %s --width %d",
		shellQuote(filepath.Join(dir, fuzz.RulesFile)), shellQuote(filepath.Join(dir, fuzz.FramesFile)), width)
	if bp > 0 {
		replayCmd += " --backpressure " + strconv.FormatFloat(bp, 'g', -1, 64)
	}
	var macErr []string
	for i, fr := range c.Frames {
		if fr.MACError {
			macErr = append(macErr, strconv.Itoa(i))
		}
	}
	rerun = fmt.Sprintf("fpgactl test fuzz --case %s --width %d", shellQuote(dir), width)
	var notes []string
	if len(macErr) > 0 {
		s := "s"
		if len(macErr) == 1 {
			s = ""
		}
		if len(macErr) > 8 {
			macErr = append(macErr[:8], "...")
		}
		notes = append(notes, fmt.Sprintf("frame%s %s (0-based) must be sent with a MAC error, which a pcap cannot hold (case.json lists them), so this replay sends them clean", s, strings.Join(macErr, ", ")))
	}
	if bp > 0 {
		notes = append(notes, "its back-pressure stalls differ from the fuzz run's")
	}
	if len(notes) > 0 {
		replayCmd += "  # " + strings.Join(notes, "; ") + "; exact: " + rerun
	}
	return replayCmd, rerun
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fuzzMeta is FuzzMetaFile.
type fuzzMeta struct {
	Seed         uint64  `json:"seed"`
	Width        int     `json:"width"`
	Backpressure float64 `json:"backpressure"`
}

func saveFuzzCase(dir, suite string, c fuzz.Case, width int, bp float64, rep *compare.Report) error {
	if err := fuzz.WriteCase(dir, c); err != nil {
		return err
	}
	js, err := json.MarshalIndent(fuzzMeta{Seed: c.Seed, Width: width, Backpressure: bp}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, FuzzMetaFile), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if rep != nil {
		if _, err := WriteArtifacts(dir, suite, rep); err != nil {
			return err
		}
	}
	return nil
}

// readFuzzMeta reads dir's FuzzMetaFile; nil when there is none (a case
// saved by other means).
func readFuzzMeta(dir string) (*fuzzMeta, error) {
	path := filepath.Join(dir, FuzzMetaFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m fuzzMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Backpressure < 0 || m.Backpressure >= 1 {
		return nil, fmt.Errorf("%s: backpressure %g is outside [0, 1)", path, m.Backpressure)
	}
	return &m, nil
}

// JUnit is one suite with a test case per case and width, named
// seed-<n>/w<width>.
func (r *FuzzResult) JUnit() *junit.Suites {
	s := &junit.Suites{Name: "fpgactl test fuzz"}
	su := junit.Suite{Name: fmt.Sprintf("fuzz.seed-%d", r.Seed)}
	for _, cr := range r.Results {
		tc := junit.Case{Name: fmt.Sprintf("seed-%d/w%d", cr.Seed, cr.Width), Classname: fmt.Sprintf("fuzz.w%d", cr.Width), Time: cr.Seconds}
		tc.SystemOut = fmt.Sprintf("%d frames, %d rules, back-pressure %g", cr.Frames, cr.Rules, cr.Backpressure)
		if cr.Status != StatusPass {
			var b strings.Builder
			if cr.Report != nil {
				compare.WriteSummary(&b, cr.Report, 20)
			}
			if f := cr.Failure; f != nil {
				if f.Dir != "" {
					fmt.Fprintf(&b, "case: %s\n", f.Dir)
				}
				if f.MinDir != "" {
					fmt.Fprintf(&b, "minimized (%d frames, %d rules): %s\n", f.MinFrames, f.MinRules, f.MinDir)
				}
				if f.Rerun != "" {
					fmt.Fprintf(&b, "rerun: %s\nreplay: %s\n", f.Rerun, f.Replay)
				}
			}
			p := &junit.Problem{Message: cr.Message, Text: junit.Clean(b.String())}
			if cr.Status == StatusError {
				tc.Error = p
			} else {
				tc.Failure = p
			}
		}
		su.Cases = append(su.Cases, tc)
	}
	s.Suites = append(s.Suites, su)
	s.Finish()
	return s
}

// lockedWriter serializes the progress lines of the widths' goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	if l.w == nil {
		return len(p), nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
