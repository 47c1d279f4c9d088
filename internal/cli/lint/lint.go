// Package lint implements `fpgactl lint`: Verilator, Icarus and Yosys checks of
// every design at every width, plus a Verilator lint of the testbenches.
package lint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/proc"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/unittest"
	"github.com/spf13/cobra"
)

// ExecFunc runs a program in dir and returns its combined output and exit code.
// err is set only when the program could not be started.
type ExecFunc func(ctx context.Context, dir, name string, args ...string) (out string, code int, err error)

// Options of the lint command.
type Options struct {
	IO      *cmdutil.IOStreams
	Project func() (*project.Settings, error)
	// Elaborate elaborates Chisel sources before the checks (nil: none).
	Elaborate func(context.Context, *project.Settings, io.Writer) error
	Exec      ExecFunc
	Jobs      int
	Widths    []int
	Design    string
	// SkipTestbenches leaves out the testbench lint.
	SkipTestbenches bool
	JSON            bool
}

// Check is one lint step.
type Check struct {
	Design   string   `json:"design"`
	Width    int      `json:"width"`
	Check    string   `json:"check"`
	Tool     string   `json:"tool"`
	Status   string   `json:"status"` // pass or fail
	Warnings int      `json:"warnings"`
	Seconds  float64  `json:"seconds"`
	Command  []string `json:"command"`
	Output   string   `json:"output"`
}

// Report is what --output json prints.
type Report struct {
	Passed int     `json:"passed"`
	Failed int     `json:"failed"`
	Checks []Check `json:"checks"`
}

// NewCmdLint builds the command.
func NewCmdLint(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Project: f.Project, Elaborate: f.Elaborate, Exec: RealExec}
	cmd := &cobra.Command{
		Use:   "lint",
		Short: "Lint every design with Verilator, Icarus Verilog and Yosys",
		Long: `Lint every design of fpgactl.yaml at each of its widths:

  verilator  verilator --lint-only -Wall (warnings fail; waive them in the source with a reason)
  iverilog   iverilog -g2012 parse and elaboration (portability to a second simulator)
  yosys      yosys read_verilog -sv; hierarchy -check; proc (synthesizability)

and each testbench with verilator --lint-only --timing -Wall -Wno-fatal -Wno-BLKSEQ: errors
fail, warnings are counted and shown but do not fail.`,
		Example: `  fpgactl lint
  fpgactl lint --width 64 --jobs 1
  fpgactl lint --output json | jq '.checks[] | select(.status == "fail")'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.JSON()
			if opts.Jobs <= 0 {
				opts.Jobs = f.NumCPU()
			}
			if err := cmdutil.ValidateWidths(opts.Widths); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Jobs, "jobs", "j", 0, "checks run at once (default: number of CPU cores)")
	cmd.Flags().IntSliceVar(&opts.Widths, "width", nil, "lint only these data widths (64, 512)")
	cmd.Flags().StringVar(&opts.Design, "design", "", "lint only this design")
	cmd.Flags().BoolVar(&opts.SkipTestbenches, "no-testbenches", false, "skip the testbench lint")
	return cmd
}

// RealExec runs a program for real, in its own process group (proc.Run), so a
// cancelled lint stops the tool and everything it started.
func RealExec(ctx context.Context, dir, name string, args ...string) (string, int, error) {
	var b bytes.Buffer
	code, _, err := proc.Run(ctx, name, args, dir, nil, &b, 0)
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return "", -1, fmt.Errorf("%s is not installed; run scripts/install-deps.sh or see `fpgactl doctor`", name)
	case err != nil:
		return b.String(), -1, err
	}
	return b.String(), code, nil
}

type job struct {
	check Check
	dir   string
	// pass decides from exit code and output; nil = exit 0.
	pass func(code int, out string) bool
}

// plan lists the checks for the settings without running them.
func plan(s *project.Settings, opts *Options) ([]job, error) {
	var jobs []job
	rel := func(p string) string {
		if r, err := filepath.Rel(s.Root, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}
	found := false
	for di := range s.Designs {
		d := &s.Designs[di]
		if opts.Design != "" && d.Name != opts.Design {
			continue
		}
		found = true
		rtlAbs, err := s.RTLFiles(d)
		if err != nil {
			return nil, err
		}
		if len(rtlAbs) == 0 {
			return nil, fmt.Errorf("design %s: no RTL files match %s (fix rtl: in %s)", d.Name, strings.Join(d.RTL, ", "), s.Path)
		}
		var rtl, incs []string
		for _, f := range rtlAbs {
			rtl = append(rtl, rel(f))
		}
		for _, inc := range s.IncludeDirs(d) {
			incs = append(incs, "-I"+rel(inc))
		}
		params := sortedParams(d.Parameters)
		for _, w := range d.Widths {
			if len(opts.Widths) > 0 && !slices.Contains(opts.Widths, w) {
				continue
			}
			// Verilator: -Wall, warnings are fatal.
			va := []string{"--lint-only", "-Wall"}
			va = append(va, incs...)
			va = append(va, "--top-module", d.Top, fmt.Sprintf("-GDATA_WIDTH=%d", w))
			for _, p := range params {
				va = append(va, fmt.Sprintf("-G%s=%d", p, d.Parameters[p]))
			}
			va = append(va, rtl...)
			jobs = append(jobs, job{check: Check{Design: d.Name, Width: w, Check: "verilator", Tool: "verilator", Command: append([]string{"verilator"}, va...)}, dir: s.Root})

			ia := []string{"-g2012", "-o", "/dev/null", "-s", d.Top, fmt.Sprintf("-P%s.DATA_WIDTH=%d", d.Top, w)}
			for _, p := range params {
				ia = append(ia, fmt.Sprintf("-P%s.%s=%d", d.Top, p, d.Parameters[p]))
			}
			ia = append(ia, incs...)
			ia = append(ia, rtl...)
			jobs = append(jobs, job{check: Check{Design: d.Name, Width: w, Check: "iverilog", Tool: "iverilog", Command: append([]string{"iverilog"}, ia...)}, dir: s.Root})

			hier := fmt.Sprintf("hierarchy -check -top %s -chparam DATA_WIDTH %d", d.Top, w)
			for _, p := range params {
				hier += fmt.Sprintf(" -chparam %s %d", p, d.Parameters[p])
			}
			script := fmt.Sprintf("read_verilog -sv %s %s; %s; proc", strings.Join(incs, " "), strings.Join(rtl, " "), hier)
			ya := []string{"-q", "-p", script}
			jobs = append(jobs, job{check: Check{Design: d.Name, Width: w, Check: "yosys", Tool: "yosys", Command: append([]string{"yosys"}, ya...)}, dir: s.Root})
		}
		if opts.SkipTestbenches {
			continue
		}
		tbFiles, err := s.TestbenchFiles(d)
		if err != nil {
			return nil, err
		}
		tbSrc, err := s.TBSourceFiles(d)
		if err != nil {
			return nil, err
		}
		for _, tbf := range tbFiles {
			tb, err := unittest.ParseTestbench(tbf, d.Widths)
			if err != nil {
				return nil, err
			}
			for _, w := range tb.BuildWidths(opts.Widths) {
				// -Wno-BLKSEQ: testbenches drive stimulus with blocking assignments in
				// clocked processes on purpose; the warning is about synthesizable code.
				ta := []string{"--lint-only", "--timing", "-Wall", "-Wno-fatal", "-Wno-BLKSEQ"}
				ta = append(ta, incs...)
				ta = append(ta, "--top-module", tb.Name)
				if w != 0 {
					ta = append(ta, fmt.Sprintf("-GDATA_WIDTH=%d", w))
				}
				ta = append(ta, rtl...)
				for _, f := range tbSrc {
					ta = append(ta, rel(f))
				}
				ta = append(ta, rel(tbf))
				jobs = append(jobs, job{check: Check{Design: d.Name, Width: w, Check: "tb:" + tb.Name, Tool: "verilator", Command: append([]string{"verilator"}, ta...)}, dir: s.Root,
					pass: func(code int, out string) bool { return code == 0 && !strings.Contains(out, "%Error") }})
			}
		}
	}
	if !found {
		return nil, cmdutil.FlagErrorf("no design named %q in %s", opts.Design, s.Path)
	}
	return jobs, nil
}

func sortedParams(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Run lints and prints the report; it returns SilentError when a check failed.
func Run(ctx context.Context, opts *Options) error {
	s, err := opts.Project()
	if err != nil {
		return err
	}
	if opts.Elaborate != nil {
		progress := opts.IO.Out
		if opts.JSON {
			progress = opts.IO.ErrOut
		}
		if err := opts.Elaborate(ctx, s, progress); err != nil {
			return err
		}
	}
	jobs, err := plan(s, opts)
	if err != nil {
		return err
	}
	jobsN := opts.Jobs
	if jobsN <= 0 {
		jobsN = 1
	}
	sem := make(chan struct{}, jobsN)
	var wg sync.WaitGroup
	var mu sync.Mutex
	checks := make([]Check, len(jobs))
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			c := j.check
			start := time.Now()
			out, code, err := opts.Exec(ctx, j.dir, c.Command[0], c.Command[1:]...)
			c.Seconds = time.Since(start).Seconds()
			c.Output = strings.TrimRight(out, "\n")
			c.Warnings = countWarnings(out)
			pass := j.pass
			if pass == nil {
				pass = func(code int, _ string) bool { return code == 0 }
			}
			switch {
			case err != nil:
				c.Status, c.Output = "fail", err.Error()
			case pass(code, out):
				c.Status = "pass"
			default:
				c.Status = "fail"
				if c.Output == "" {
					c.Output = fmt.Sprintf("exited with status %d and no output", code)
				}
			}
			checks[i] = c
			if !opts.JSON {
				mu.Lock()
				printCheck(opts.IO, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return fmt.Errorf("lint interrupted: %w", ctx.Err())
	}
	rep := Report{Checks: checks}
	for _, c := range checks {
		if c.Status == "pass" {
			rep.Passed++
		} else {
			rep.Failed++
		}
	}
	if opts.JSON {
		if err := cmdutil.PrintJSON(opts.IO.Out, rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(opts.IO.Out, "\nlint: %d passed, %d failed\n", rep.Passed, rep.Failed)
	}
	if rep.Failed > 0 {
		return cmdutil.SilentError
	}
	return nil
}

func label(c Check) string {
	if c.Width == 0 {
		return fmt.Sprintf("%s %s", c.Design, c.Check)
	}
	return fmt.Sprintf("%s w%d %s", c.Design, c.Width, c.Check)
}

func printCheck(io *cmdutil.IOStreams, c Check) {
	state := "PASS"
	if c.Status != "pass" {
		state = "FAIL"
	}
	extra := ""
	if c.Warnings > 0 {
		extra = fmt.Sprintf("  (%d warnings)", c.Warnings)
	}
	fmt.Fprintf(io.Out, "%s  %-40s %5.1fs%s\n", state, label(c), c.Seconds, extra)
	if c.Status != "pass" || c.Warnings > 0 {
		fmt.Fprintf(io.Out, "    $ %s\n", shellJoin(c.Command))
		lines := strings.Split(c.Output, "\n")
		max := 40
		if c.Status == "pass" {
			// Passing with warnings: the headlines are enough.
			var heads []string
			for _, l := range lines {
				if countWarnings(l) > 0 {
					heads = append(heads, l)
				}
			}
			lines, max = heads, 10
		}
		if len(lines) > max {
			lines = append(lines[:max], fmt.Sprintf("... %d more lines (use --output json for all)", len(lines)-max))
		}
		for _, l := range lines {
			if l != "" {
				fmt.Fprintf(io.Out, "    | %s\n", l)
			}
		}
	}
}

func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " ;'\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// countWarnings counts warning lines of Verilator (%Warning-X:), Yosys
// (Warning:) and Icarus (warning:).
func countWarnings(out string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "%Warning") || strings.Contains(l, "Warning:") || strings.Contains(l, "warning:") {
			n++
		}
	}
	return n
}
