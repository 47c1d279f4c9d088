// Package cicmd is `fpgactl ci`, the branch pipeline (internal/pipeline).
package cicmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/build/run"
	"github.com/fpgactl/fpgactl/internal/atomicfile"
	"github.com/fpgactl/fpgactl/internal/cli/buildcmd"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/pipeline"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/spf13/cobra"
)

// Options of `fpgactl ci`.
type Options struct {
	Factory *cmdutil.Factory
	Widths  []int
	Jobs    int
	NoCache bool

	// Build and Board switch the optional steps on; Target, Seeds and
	// Runner give or override ci.build of fpgactl.yaml.
	Build  bool
	Board  bool
	Target string
	Seeds  string
	Runner string

	Shard  string
	Shards int

	JUnit   string // copy of the JUnit report (default <work_dir>/reports/ci.xml)
	Summary string // copy of the Markdown summary (default <work_dir>/reports/ci.md)
	// Executable is the fpgactl the steps run (default: this one).
	Executable string
}

// NewCmdCI builds `fpgactl ci`; runF replaces the run in tests.
func NewCmdCI(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "ci [flags]",
		Short: "Run the branch pipeline: lint, unit and functional tests (and a build and an on-board test), cached",
		Long: `Run the branch pipeline as a dependency graph, in parallel where it allows:

  chisel ─┬─ lint/w64, lint/w512 ── build (--build) ─┐
          ├─ unit                                     ├─ board (--board)
          └─ functional/w64, functional/w512 ─────────┘

Every item (a lint run, a unit case, a scenario at a width, a build, a board
test) is cached by a content hash of exactly what it reads: the HDL files its
testbench or top module reaches, its scenario, rules and capture files, the
tool versions, and this fpgactl's own code (golden model, simulated board).
A rerun with nothing changed returns cached results in seconds; a change to
one module reruns only the items that reach it. Failed items are never
cached. The output says which items were cached.

Writes <work_dir>/ci/runs/<id>/{summary.json,summary.md,junit.xml} and the
step logs; copies the JUnit report and the Markdown summary (suited to a
merge-request comment) to --junit and --summary, and appends the summary to
$GITHUB_STEP_SUMMARY when that is set. Exit status 1 when a step did not pass.

--build places and routes ci.build.target of fpgactl.yaml (or --target) with
its seeds; --board tests the best bitstream on a lab board (ci.board).
--shard spreads the unit and functional items over runner hosts (ssh,
openstack: one server per shard), --shards jobs per step, using the runners
of fpgactl build.`,
		Example: `  fpgactl ci
  fpgactl ci --build --target ecp5-ci --seeds 1-2
  fpgactl ci --shard openstack --shards 4
  fpgactl ci --output json | jq '{status, cached, ran}'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ValidateWidths(opts.Widths); err != nil {
				return err
			}
			if opts.Jobs < 0 {
				return cmdutil.FlagErrorf("--jobs must be 0 (number of cores) or more")
			}
			if opts.Shards < 1 {
				return cmdutil.FlagErrorf("--shards must be 1 or more")
			}
			if opts.Shard != "" && !slices.Contains([]string{"local", "ssh", "openstack"}, opts.Shard) {
				return cmdutil.FlagErrorf("--shard %q: use local, ssh or openstack", opts.Shard)
			}
			if opts.Seeds != "" {
				if _, err := record.ParseSeeds(opts.Seeds); err != nil {
					return cmdutil.FlagErrorf("--seeds: %v", err)
				}
			}
			if opts.Runner != "" && !slices.Contains([]string{"local", "ssh", "openstack"}, opts.Runner) {
				return cmdutil.FlagErrorf("--runner %q: use local, ssh or openstack", opts.Runner)
			}
			if (opts.Target != "" || opts.Seeds != "" || opts.Runner != "") && !opts.Build {
				return cmdutil.FlagErrorf("--target, --seeds and --runner configure the build step: add --build")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.IntSliceVar(&opts.Widths, "width", nil, "run only these data widths (64, 512)")
	fl.IntVarP(&opts.Jobs, "jobs", "j", 0, "jobs of each step's command (default: number of CPU cores)")
	fl.BoolVar(&opts.NoCache, "no-cache", false, "run every item, ignoring cached results (still stores them)")
	fl.BoolVar(&opts.Build, "build", false, "add the build step (ci.build of fpgactl.yaml, or --target/--seeds)")
	fl.StringVar(&opts.Target, "target", "", "build target of the build step (default: ci.build.target)")
	fl.StringVar(&opts.Seeds, "seeds", "", "seeds of the build step, e.g. 1-2 (default: ci.build.seeds, else 1)")
	fl.StringVar(&opts.Runner, "runner", "", "runner of the build step: local, ssh, openstack (default: ci.build.runner, else local)")
	fl.BoolVar(&opts.Board, "board", false, "add the on-board test of the build's best bitstream (ci.board of fpgactl.yaml)")
	fl.StringVar(&opts.Shard, "shard", "", "run unit and functional items on runner hosts: local, ssh or openstack")
	fl.IntVar(&opts.Shards, "shards", 2, "shards per step with --shard")
	fl.StringVar(&opts.JUnit, "junit", "", "JUnit report path (default: <work_dir>/reports/ci.xml)")
	fl.StringVar(&opts.Summary, "summary", "", "Markdown summary path (default: <work_dir>/reports/ci.md)")
	fl.StringVar(&opts.Executable, "fpgactl", "", "the fpgactl executable the steps run (default: this one)")
	_ = fl.MarkHidden("fpgactl")
	return cmd
}

// Run runs the pipeline; SilentError when a step did not pass.
func Run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	s, err := f.Project()
	if err != nil {
		return err
	}
	exe := opts.Executable
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("finding this fpgactl executable: %w", err)
		}
	}
	stamps := f.Build.Stamps
	if stamps == nil {
		stamps = []string{f.Build.Version, f.Build.Commit, f.Build.Date}
	}
	toolHash, err := pipeline.ExecutableHash(exe, stamps...)
	if err != nil {
		return err
	}
	po := pipeline.Options{Settings: s, Exe: exe, ToolHash: toolHash, Finder: f.Tools, Jobs: opts.Jobs,
		Widths: opts.Widths, NoCache: opts.NoCache, Owner: owner()}
	if opts.Build {
		if po.Build, err = buildStep(s, opts); err != nil {
			return err
		}
	}
	if opts.Board {
		if s.CI.Board == nil {
			return cmdutil.FlagErrorf("--board: %s has no ci.board (board or tag, rules, profile or pcap; docs/settings.md)", s.Path)
		}
		if !opts.Build {
			return cmdutil.FlagErrorf("--board tests the build step's bitstream: add --build")
		}
		po.Board = s.CI.Board
	}
	progress := f.IO.ErrOut
	if !f.JSON() {
		progress = f.IO.Out
	}
	po.Progress = progress
	if opts.Shard != "" {
		backend, _, closeRunner, err := buildcmd.NewRunner(ctx, s, opts.Shard, 0, opts.Shards*4, f.NumCPU)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := closeRunner(); cerr != nil {
				fmt.Fprintf(f.IO.ErrOut, "ci: cleaning up the %s runner: %v\n", opts.Shard, cerr)
			}
		}()
		cr, ok := backend.(run.CommandRunner)
		if !ok {
			return fmt.Errorf("the %s runner cannot run test shards", opts.Shard)
		}
		po.Shard, po.Shards = cr, opts.Shards
	}
	sum, runErr := pipeline.Run(ctx, po)
	if sum == nil {
		return runErr
	}
	junitPath := orDefault(opts.JUnit, filepath.Join(s.WorkPath(), "reports", "ci.xml"))
	mdPath := orDefault(opts.Summary, filepath.Join(s.WorkPath(), "reports", "ci.md"))
	if err := pipeline.JUnit(sum).WriteFile(junitPath); err != nil {
		return err
	}
	md := pipeline.Markdown(sum)
	if err := writeFile(mdPath, md); err != nil {
		return err
	}
	if gh := os.Getenv("GITHUB_STEP_SUMMARY"); gh != "" {
		if err := appendFile(gh, md); err != nil {
			fmt.Fprintf(f.IO.ErrOut, "ci: writing $GITHUB_STEP_SUMMARY: %v\n", err)
		}
	}
	if f.JSON() {
		if err := cmdutil.PrintJSON(f.IO.Out, sum); err != nil {
			return err
		}
	} else {
		printSummary(f.IO.Out, sum, junitPath, mdPath)
	}
	if runErr != nil {
		return runErr
	}
	if !sum.OK() {
		return cmdutil.SilentError
	}
	return nil
}

// buildStep is ci.build with the flags over it.
func buildStep(s *project.Settings, opts *Options) (*project.CIBuild, error) {
	b := project.CIBuild{Seeds: "1", Runner: "local"}
	if s.CI.Build != nil {
		b = *s.CI.Build
	}
	if opts.Target != "" {
		b.Target = opts.Target
	}
	if opts.Seeds != "" {
		b.Seeds = opts.Seeds
	}
	if opts.Runner != "" {
		b.Runner = opts.Runner
	}
	if b.Target == "" {
		return nil, cmdutil.FlagErrorf("--build: no target; give --target or ci.build.target in %s", s.Path)
	}
	if !slices.ContainsFunc(s.Targets, func(t project.Target) bool { return t.Name == b.Target }) {
		return nil, cmdutil.FlagErrorf("--target %q: no such target in %s", b.Target, s.Path)
	}
	return &b, nil
}

func printSummary(w io.Writer, sum *pipeline.Summary, junitPath, mdPath string) {
	fmt.Fprintln(w)
	for _, st := range sum.Steps {
		for _, it := range st.Items {
			if it.Status != pipeline.StatusPassed {
				fmt.Fprintf(w, "  %-8s %s %s: %s\n", it.Status, st.Name, it.Name, firstLine(it.Message))
			}
		}
		if st.Status != pipeline.StatusPassed && len(st.Items) == 0 {
			fmt.Fprintf(w, "  %-8s %s: %s\n", st.Status, st.Name, firstLine(st.Message))
		}
		if st.Build != nil {
			fmt.Fprintf(w, "  %s: best bitstream %s\n", st.Name, st.Build.Bitstream)
		}
	}
	fmt.Fprintf(w, "JUnit report: %s\nSummary: %s\nRun: %s\n", junitPath, mdPath, sum.Dir)
	fmt.Fprintf(w, "ci: %s in %.1fs — %d items: %d cached, %d run, %d not passed\n", sum.Status, sum.Seconds, sum.Items, sum.Cached, sum.Ran, sum.Failed)
}

func orDefault(v, d string) string {
	if v != "" {
		return v
	}
	return d
}

func writeFile(path, data string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, []byte(data), 0o644)
}

func appendFile(path, data string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, werr := io.WriteString(f, data+"\n")
	return errors.Join(werr, f.Close())
}

func owner() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// firstLine is a message's first line, for one-line listings.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
