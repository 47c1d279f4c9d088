package testcmd

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/harness"
	"github.com/fpgactl/fpgactl/tests/harness/fuzz"
	"github.com/spf13/cobra"
)

// FuzzOptions of `fpgactl test fuzz`.
type FuzzOptions struct {
	Factory *cmdutil.Factory
	// Seed of the run; SeedFromClock says it was not given but taken from
	// the clock.
	Seed          uint64
	SeedFromClock bool
	Frames        int
	CaseFrames    int
	Widths        []int
	Backpressure  bool
	NoMinimize    bool
	MaxRuns       int
	// Case is a saved case directory to rerun instead of generating cases.
	Case  string
	JUnit string
}

// FuzzJSON is what --output json prints.
type FuzzJSON struct {
	*harness.FuzzResult
	JUnit string `json:"junit"`
}

// NewCmdFuzz builds `fpgactl test fuzz`.
func NewCmdFuzz(f *cmdutil.Factory, runF func(context.Context, *FuzzOptions) error) *cobra.Command {
	opts := &FuzzOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "fuzz [--seed N] [--frames N] | --case DIR",
		Short: "Differential testing: random rule tables and traffic through the simulated board and the golden model",
		Long: `Generate random cases, each a rule table (up to NUM_RULES rules, every match
field and action) and frames drawn to hit those rules mixed with every kind of
profile traffic (all sizes, VLAN and QinQ, IPv6, fragments, malformed and
MAC-error frames, gaps long enough to refill police buckets), replay each
through the whole filter in Verilator (the simulated board, built on demand
and cached) at every data width, and compare with the golden model: per-frame
verdict, order, bytes and the counters read back over AXI4-Lite.

--frames frames per width are split into cases of --case-frames frames. The
seed decides everything: --seed S runs the same cases again. Case 0 has seed
S itself and the other cases' seeds are derived from it, so a single case
with seed N and F frames runs alone with --seed N --frames F --case-frames F.
With --backpressure, cases with an odd seed (every other one) run with the
output held not-ready on a random 0..50 % of cycles.

A failing case is saved under <work_dir>/fuzz/seed-<N>-w<W>/full (rules.yaml,
frames.pcap, case.json, diff.txt, mismatches.pcap), then minimized (unless
--no-minimize): frames, rules and rule fields are removed while the board
still disagrees with the model, and the result is saved in .../min. Every
case runs even after failures. For each failure the command prints an
'fpgactl replay' command; frames sent with a MAC error cannot be put in a
pcap (case.json lists them), so 'fpgactl test fuzz --case DIR' is the exact
rerun of a saved case, with its MAC errors and back-pressure.

JUnit (one test case per case and width, named seed-<N>/w<W>) goes to
<work_dir>/reports/fuzz.xml.`,
		Example: `  fpgactl test fuzz
  fpgactl test fuzz --seed 7 --frames 20000 --backpressure
  fpgactl test fuzz --width 64 --seed 7 --no-minimize --output json | jq '.failures[]'
  fpgactl test fuzz --case .fpgactl/fuzz/seed-7-w64/min
  fpgactl test fuzz --case .fpgactl/fuzz/seed-7-w64/full --width 512`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ValidateWidths(opts.Widths); err != nil {
				return err
			}
			fl := cmd.Flags()
			if opts.Case != "" {
				for _, name := range []string{"seed", "frames", "case-frames", "backpressure"} {
					if fl.Changed(name) {
						return cmdutil.FlagErrorf("--case reruns a saved case as it was run; it cannot be combined with --%s", name)
					}
				}
			}
			if opts.Frames <= 0 {
				return cmdutil.FlagErrorf("--frames must be 1 or more, not %d", opts.Frames)
			}
			if opts.CaseFrames <= 0 {
				return cmdutil.FlagErrorf("--case-frames must be 1 or more, not %d", opts.CaseFrames)
			}
			if opts.MaxRuns < 0 {
				return cmdutil.FlagErrorf("--max-runs must be 0 (default: %d) or more, not %d", fuzz.DefaultMaxRuns, opts.MaxRuns)
			}
			if opts.Case == "" && !fl.Changed("seed") {
				opts.Seed, opts.SeedFromClock = uint64(time.Now().UnixNano())%1_000_000_000, true
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunFuzz(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.Uint64Var(&opts.Seed, "seed", 0, "seed of the run (default: from the clock, printed)")
	fl.IntVar(&opts.Frames, "frames", harness.DefaultFuzzFrames, "frames per width")
	fl.IntVar(&opts.CaseFrames, "case-frames", harness.DefaultFuzzCaseFrames, "frames per case")
	fl.IntSliceVar(&opts.Widths, "width", nil, "run only these data widths (64, 512; default: the design's, or a saved case's)")
	fl.BoolVar(&opts.Backpressure, "backpressure", false, "run every other case with random back-pressure (0..50 % of cycles not ready)")
	fl.BoolVar(&opts.NoMinimize, "no-minimize", false, "save failing cases without minimizing them")
	fl.IntVar(&opts.MaxRuns, "max-runs", 0, fmt.Sprintf("replays a minimization may use (default %d)", fuzz.DefaultMaxRuns))
	fl.StringVar(&opts.Case, "case", "", "rerun the case saved in this directory (.../full or .../min of a failure)")
	fl.StringVar(&opts.JUnit, "junit", "", "JUnit XML report path (default: <work_dir>/reports/fuzz.xml)")
	return cmd
}

// RunFuzz runs the fuzzer; it returns SilentError when a case failed.
func RunFuzz(ctx context.Context, opts *FuzzOptions) error {
	f := opts.Factory
	progress := f.IO.Out
	if f.JSON() {
		progress = f.IO.ErrOut
	}
	env, err := harness.Load(f, progress)
	if err != nil {
		return err
	}
	s := env.Settings
	switch {
	case opts.Case != "":
		fmt.Fprintf(progress, "fuzz: rerunning the case in %s\n", opts.Case)
	case opts.SeedFromClock:
		fmt.Fprintf(progress, "fuzz: seed %d (from the clock; --seed %d runs the same cases again)\n", opts.Seed, opts.Seed)
	default:
		fmt.Fprintf(progress, "fuzz: seed %d\n", opts.Seed)
	}
	res, runErr := env.Fuzz(ctx, harness.FuzzOptions{
		Seed: opts.Seed, Frames: opts.Frames, CaseFrames: opts.CaseFrames, Widths: opts.Widths,
		Backpressure: opts.Backpressure, Minimize: !opts.NoMinimize, MaxRuns: opts.MaxRuns,
		OutDir: filepath.Join(s.WorkPath(), "fuzz"), Progress: progress, Case: opts.Case,
	})
	if res == nil {
		return runErr
	}
	junitPath := opts.JUnit
	if junitPath == "" {
		junitPath = filepath.Join(s.WorkPath(), "reports", "fuzz.xml")
	}
	if err := res.JUnit().WriteFile(junitPath); err != nil {
		return err
	}
	if f.JSON() {
		if err := cmdutil.PrintJSON(f.IO.Out, FuzzJSON{FuzzResult: res, JUnit: junitPath}); err != nil {
			return err
		}
	} else {
		printFuzz(f.IO.Out, res, junitPath)
	}
	if runErr != nil {
		return runErr
	}
	if !res.OK() {
		return cmdutil.SilentError
	}
	return nil
}

// printFuzz is the text summary: speed per width, JUnit path, the count
// line, and per failure its directories and commands.
func printFuzz(out io.Writer, res *harness.FuzzResult, junitPath string) {
	for _, r := range res.Rates {
		fmt.Fprintf(out, "  w%-4d %7d frames in %6.1fs: %.0f frames/s\n", r.Width, r.Frames, r.Seconds, r.FramesPerSec)
	}
	fmt.Fprintf(out, "JUnit report: %s\n", junitPath)
	fmt.Fprintf(out, "fuzz: %d cases, %d frames, %d failed (seed %d)\n", res.Cases, res.Frames, res.Failed, res.Seed)
	for _, fl := range res.Failures {
		fmt.Fprintf(out, "  FAIL seed-%d/w%d: %d frames, %d rules", fl.Seed, fl.Width, fl.Frames, fl.Rules)
		if fl.Backpressure > 0 {
			fmt.Fprintf(out, ", back-pressure %g", fl.Backpressure)
		}
		if fl.Mismatches+fl.CounterDiffs > 0 {
			fmt.Fprintf(out, ": %d mismatches, %d counter differences", fl.Mismatches, fl.CounterDiffs)
		}
		fmt.Fprintln(out)
		if fl.Error != "" {
			fmt.Fprintf(out, "    error:     %s\n", fl.Error)
		}
		if fl.Dir != "" {
			fmt.Fprintf(out, "    case:      %s\n", fl.Dir)
		}
		if fl.MinDir != "" {
			fmt.Fprintf(out, "    minimized: %s (%d frames, %d rules)\n", fl.MinDir, fl.MinFrames, fl.MinRules)
		}
		if fl.Replay != "" {
			fmt.Fprintf(out, "    replay:    %s\n", fl.Replay)
			fmt.Fprintf(out, "    rerun:     %s\n", fl.Rerun)
		}
	}
}
