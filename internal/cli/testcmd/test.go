// Package testcmd implements `fpgactl test` and its unit, functional and fuzz subcommands.
package testcmd

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"time"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/unittest"
	"github.com/spf13/cobra"
)

// NewCmdTest is the parent `test` command.
func NewCmdTest(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test <kind>",
		Short: "Run tests of the designs: unit, functional, fuzz",
		Example: `  fpgactl test unit
  fpgactl test unit --width 64 --run 'pf_parser'
  fpgactl test functional --width 512
  fpgactl test fuzz --seed 7 --frames 5000`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdUnit(f, nil))
	cmd.AddCommand(NewCmdFunctional(f, nil))
	cmd.AddCommand(NewCmdFuzz(f, nil))
	return cmd
}

// UnitOptions of `fpgactl test unit`.
type UnitOptions struct {
	IO      *cmdutil.IOStreams
	Project func() (*project.Settings, error)
	Vectors unittest.VectorWriter
	// Verilator returns the path of a usable verilator or an error that says how to install it.
	Verilator func(context.Context) (string, error)
	// Elaborate elaborates Chisel sources before the builds (nil: none).
	Elaborate func(context.Context, *project.Settings, io.Writer) error

	Jobs      int
	Widths    []int
	Run       string
	JUnit     string
	KeepGoing bool
	Timeout   time.Duration
	JSON      bool
}

// NewCmdUnit builds `fpgactl test unit`.
func NewCmdUnit(f *cmdutil.Factory, runF func(context.Context, *UnitOptions) error) *cobra.Command {
	opts := &UnitOptions{
		IO:        f.IO,
		Project:   f.Project,
		Vectors:   defaultVectorWriter(),
		Verilator: f.Verilator,
		Elaborate: f.Elaborate,
	}
	cmd := &cobra.Command{
		Use:   "unit",
		Short: "Build and run the Verilator unit testbenches",
		Long: `Discover the testbenches of every design (hdl/tb/*_tb.sv by default), build each
once per data width with verilator --binary --timing (cached by a hash of the
sources, flags and Verilator version), and run the cases in parallel.

Metadata in a testbench's first lines:
  // fpgactl-test: widths=64,512     or widths=none
  // fpgactl-vectors: setA,setB      vector sets from the Go golden model, passed as +vectors=DIR
  // fpgactl-timeout: 300            seconds per run

A case passes when the simulation exits 0 and prints a line starting with PASS.
A failing case is run again with +trace=FILE.fst and the waveform is kept under
.fpgactl/unit/waves. Results go to a JUnit file (.fpgactl/reports/unit.xml).`,
		Example: `  fpgactl test unit
  fpgactl test unit --jobs 4 --width 512 --keep-going
  fpgactl test unit --run 'pf_parser_tb/w64' --junit out/unit.xml
  fpgactl test unit --output json | jq '.tests[] | select(.status != "pass")'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.JSON()
			if opts.Jobs < 0 {
				return cmdutil.FlagErrorf("--jobs must be 0 (number of cores) or more")
			}
			if err := cmdutil.ValidateWidths(opts.Widths); err != nil {
				return err
			}
			if opts.Run != "" {
				if _, err := regexp.Compile(opts.Run); err != nil {
					return cmdutil.FlagErrorf("--run %q is not a valid regular expression: %v", opts.Run, err)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunUnit(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Jobs, "jobs", "j", 0, "builds and runs at once (default: number of CPU cores, or runners.local.jobs)")
	cmd.Flags().IntSliceVar(&opts.Widths, "width", nil, "run only these data widths (64, 512)")
	cmd.Flags().StringVar(&opts.Run, "run", "", "run only cases whose name (tb/w64/vectors) matches this regular expression")
	cmd.Flags().StringVar(&opts.JUnit, "junit", "", "JUnit XML report path (default: <work_dir>/reports/unit.xml)")
	cmd.Flags().BoolVar(&opts.KeepGoing, "keep-going", false, "run every case even after a failure (default: stop starting new ones)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 300*time.Second, "time limit per run when the testbench sets none")
	return cmd
}

// JSONReport is what --output json prints.
type JSONReport struct {
	Passed       int                   `json:"passed"`
	Failed       int                   `json:"failed"`
	Skipped      int                   `json:"skipped"`
	CachedBuilds int                   `json:"cached_builds"`
	Seconds      float64               `json:"seconds"`
	JUnit        string                `json:"junit"`
	Tests        []unittest.CaseResult `json:"tests"`
}

// RunUnit runs the unit tests; it returns SilentError when any case failed.
func RunUnit(ctx context.Context, opts *UnitOptions) error {
	s, err := opts.Project()
	if err != nil {
		return err
	}
	verilator, err := opts.Verilator(ctx)
	if err != nil {
		return err
	}
	var re *regexp.Regexp
	if opts.Run != "" {
		re = regexp.MustCompile(opts.Run)
	}
	progress := opts.IO.Out
	if opts.JSON {
		progress = opts.IO.ErrOut
	}
	if progress == nil {
		progress = io.Discard
	}
	if opts.Elaborate != nil {
		if err := opts.Elaborate(ctx, s, progress); err != nil {
			return err
		}
	}
	designs, err := unittest.DesignsOf(s)
	if err != nil {
		return err
	}
	jobs := opts.Jobs
	if jobs == 0 { // 0 = runners.local.jobs, else one per core (unittest's default)
		jobs = s.Runners.Local.Jobs
	}
	res, runErr := unittest.Run(ctx, unittest.Options{
		Designs:   designs,
		WorkDir:   s.WorkPath(),
		Jobs:      jobs,
		Widths:    opts.Widths,
		Run:       re,
		KeepGoing: opts.KeepGoing,
		Timeout:   opts.Timeout,
		Verilator: verilator,
		Vectors:   opts.Vectors,
		Progress:  progress,
	})
	if res == nil {
		return runErr
	}
	junitPath := opts.JUnit
	if junitPath == "" {
		junitPath = filepath.Join(s.WorkPath(), "reports", "unit.xml")
	}
	if len(res.Tests) > 0 {
		if err := res.JUnit().WriteFile(junitPath); err != nil {
			return err
		}
	} else {
		junitPath = ""
	}
	if opts.JSON {
		if err := cmdutil.PrintJSON(opts.IO.Out, JSONReport{Passed: res.Passed, Failed: res.Failed, Skipped: res.Skipped,
			CachedBuilds: res.CachedBuilds, Seconds: res.Seconds, JUnit: junitPath, Tests: res.Tests}); err != nil {
			return err
		}
	} else {
		out := opts.IO.Out
		if len(res.Tests) == 0 {
			fmt.Fprintln(out, "no unit tests matched (testbenches: designs[].testbenches in fpgactl.yaml; filters: --run, --width)")
		} else {
			fmt.Fprintf(out, "\nunit: %s\n", res.Timing())
			var failed []unittest.CaseResult
			for _, t := range res.Tests {
				if t.Status != unittest.StatusPass && t.Status != unittest.StatusSkipped {
					failed = append(failed, t)
				}
			}
			for _, t := range failed {
				fmt.Fprintf(out, "  %-8s %s", t.Status, t.Name)
				if t.Wave != "" {
					fmt.Fprintf(out, "  wave: %s", t.Wave)
				}
				fmt.Fprintln(out)
			}
			switch {
			case res.Skipped > 0 && runErr != nil:
				fmt.Fprintln(out, "  interrupted: cases still running were stopped and are reported as skipped")
			case res.Skipped > 0:
				fmt.Fprintln(out, "  some cases were not run after the first failure; --keep-going runs them all")
			}
			fmt.Fprintf(out, "JUnit report: %s\n", junitPath)
			// Last, alone on its line: the count a CI log reader looks for.
			fmt.Fprintf(out, "unit: %s\n", res.Summary())
		}
	}
	if runErr != nil {
		return runErr
	}
	if !res.OK() {
		return cmdutil.SilentError
	}
	return nil
}
