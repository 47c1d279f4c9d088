package testcmd

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/gitinfo"
	"github.com/fpgactl/fpgactl/internal/harness"
	"github.com/fpgactl/fpgactl/tests/harness/scenario"
	"github.com/spf13/cobra"
)

// FunctionalOptions of `fpgactl test functional`.
type FunctionalOptions struct {
	Factory   *cmdutil.Factory
	Widths    []int
	Scenarios []string
	Dir       string
	Jobs      int
	JUnit     string
}

// FunctionalJSON is what --output json prints.
type FunctionalJSON struct {
	*harness.FunctionalResult
	JUnit string `json:"junit"`
}

// NewCmdFunctional builds `fpgactl test functional`.
func NewCmdFunctional(f *cmdutil.Factory, runF func(context.Context, *FunctionalOptions) error) *cobra.Command {
	opts := &FunctionalOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "functional",
		Short: "Run the scenario suite through the simulated board and compare with the golden model",
		Long: `Run every scenario of tests/scenarios (a rules file, traffic from a profile or
a capture, and covers items) through the whole filter in Verilator (the
simulated board, built on demand and cached) at each data width, and compare
what comes out with the golden model: per-frame verdict, order, bytes and the
counters read back over AXI4-Lite. Expectations come from the model; a
scenario also fails when one of its covers items never happened, because it
would then not test what it claims. See tests/scenarios/README.md.

Failed scenarios leave diff.txt and mismatches.pcap under
<work_dir>/functional/<scenario>-w<width>/.`,
		Example: `  fpgactl test functional
  fpgactl test functional --width 64 --scenario syn-flood
  fpgactl test functional --output json | jq '{passed, failed, frames, mismatches}'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ValidateWidths(opts.Widths); err != nil {
				return err
			}
			if opts.Jobs < 0 {
				return cmdutil.FlagErrorf("--jobs must be 0 (number of cores) or more")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunFunctional(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.IntSliceVar(&opts.Widths, "width", nil, "run only these data widths (64, 512)")
	fl.StringSliceVar(&opts.Scenarios, "scenario", nil, "run only these scenarios (names of tests/scenarios/*.yaml)")
	fl.StringVar(&opts.Dir, "dir", harness.ScenarioDir, "scenario directory, relative to the project")
	fl.IntVarP(&opts.Jobs, "jobs", "j", 0, "simulated boards at once (default: number of CPU cores)")
	fl.StringVar(&opts.JUnit, "junit", "", "JUnit XML report path (default: <work_dir>/reports/functional.xml)")
	return cmd
}

// RunFunctional runs the suite; it returns SilentError when a scenario failed.
func RunFunctional(ctx context.Context, opts *FunctionalOptions) error {
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
	dir := s.Abs(opts.Dir)
	all, err := scenario.LoadDir(dir)
	if err != nil {
		return err
	}
	var scs []*scenario.Scenario
	for _, sc := range all {
		if len(opts.Scenarios) == 0 || slices.Contains(opts.Scenarios, sc.Name) {
			scs = append(scs, sc)
		}
	}
	for _, want := range opts.Scenarios {
		if !slices.ContainsFunc(all, func(sc *scenario.Scenario) bool { return sc.Name == want }) {
			names := make([]string, len(all))
			for i, sc := range all {
				names[i] = sc.Name
			}
			return cmdutil.FlagErrorf("--scenario %q: no such scenario in %s (have: %s)", want, dir, strings.Join(names, ", "))
		}
	}
	jobs := opts.Jobs
	if jobs == 0 {
		jobs = s.Runners.Local.Jobs
	}
	if jobs == 0 {
		jobs = f.NumCPU()
	}
	res, err := env.RunFunctional(ctx, harness.FunctionalOptions{
		Scenarios: scs, Widths: opts.Widths, Jobs: jobs,
		OutDir: filepath.Join(s.WorkPath(), "functional"), Progress: progress,
	})
	if err != nil {
		return err
	}
	// Only a run of the whole suite is a verdict a release can rely on.
	if len(opts.Scenarios) == 0 && opts.Dir == harness.ScenarioDir {
		if err := env.RecordResults(ctx, res, "fpgactl test functional", gitinfo.Read(ctx, s.Root)); err != nil {
			return err
		}
	}
	junitPath := opts.JUnit
	if junitPath == "" {
		junitPath = filepath.Join(s.WorkPath(), "reports", "functional.xml")
	}
	if err := res.JUnit().WriteFile(junitPath); err != nil {
		return err
	}
	if f.JSON() {
		if err := cmdutil.PrintJSON(f.IO.Out, FunctionalJSON{FunctionalResult: res, JUnit: junitPath}); err != nil {
			return err
		}
	} else {
		out := f.IO.Out
		for _, r := range res.Scenarios {
			if r.Status != harness.StatusPass {
				fmt.Fprintf(out, "  %-5s %s w%d", r.Status, r.Name, r.Width)
				if r.Files != nil && r.Files.MismatchPcap != "" {
					fmt.Fprintf(out, "  diff: %s", r.Files.Diff)
				}
				fmt.Fprintln(out)
			}
		}
		fmt.Fprintf(out, "JUnit report: %s\n", junitPath)
		fmt.Fprintf(out, "functional: %d passed, %d failed (%d scenario runs, %d frames, %d mismatches) in %.1fs\n",
			res.Passed, res.Failed, len(res.Scenarios), res.Frames, res.Mismatches, res.Seconds)
	}
	if !res.OK() {
		return cmdutil.SilentError
	}
	return nil
}
