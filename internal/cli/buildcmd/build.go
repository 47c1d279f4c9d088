// Package buildcmd is `fpgactl build`: multi-seed place and route of the
// project's targets on local processes, SSH build hosts or OpenStack
// instances, recorded under <work_dir>/builds, plus `build list`, `show`,
// `cancel` and `reap`.
package buildcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fpgactl/fpgactl/build/flow"
	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/build/run"
	"github.com/fpgactl/fpgactl/build/sweep"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/gitinfo"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/results"
	"github.com/spf13/cobra"
)

// PinWrapper is the top of open-flow builds of pf_filter, relative to the
// project root, and its module name.
const (
	PinWrapper    = "build/open/pf_filter_pins.sv"
	PinWrapperTop = "pf_filter_pins"
	filterTop     = "pf_filter"
)

// Options of `fpgactl build`.
type Options struct {
	Factory  *cmdutil.Factory
	Targets  []string
	Seeds    []int
	Jobs     int
	StopWhen record.StopRule
	Runner   string
}

// BuildJSON is a build as --output json prints it: the record plus the best
// seed of each target that has one.
type BuildJSON struct {
	*record.Build
	Best map[string]record.SeedResult `json:"best"`
}

func toJSON(b *record.Build) BuildJSON {
	out := BuildJSON{Build: b, Best: map[string]record.SeedResult{}}
	for _, t := range b.Targets {
		if r, ok := b.Best(t); ok {
			out.Best[t] = r
		}
	}
	return out
}

// NewCmdBuild builds `fpgactl build` and its subcommands; runF replaces the
// build itself in tests.
func NewCmdBuild(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	var targets, seeds, stopWhen string
	cmd := &cobra.Command{
		Use:   "build --target T[,T...] --seeds SPEC [flags]",
		Short: "Place and route targets with many seeds in parallel and keep the best",
		Long: `Build one or more targets of fpgactl.yaml (targets:) with several place-and-route
seeds at once, and record every seed's result as it arrives: status (met,
failed-timing, error, cancelled), WNS, TNS and Fmax against the target clock,
the bitstream and the logs. The best seed of each target is the one that met
timing, then the highest WNS, then the highest TNS.

Open-flow targets (flow: open, ECP5): yosys synthesizes each target once
here, then nextpnr-ecp5 places and routes each seed and ecppack writes the
bitstream, on the runner --runner names:
  local      processes on this machine, --jobs at once (default: one per core)
  ssh        the build hosts of runners.ssh (~/.ssh/config aliases, known_hosts,
             ssh-agent); the netlist is uploaded once per host
  openstack  one server per seed, booted from runners.openstack with clouds.yaml
             (OS_CLOUD), deleted when its seed ends, also on failure and Ctrl-C
pf_filter is built inside its pin wrapper (build/open/pf_filter_pins.sv, top
pf_filter_pins) with the design's parameters, the target's parameters over
them, and DATA_WIDTH = the target's width.

Vendor targets (flow: vivado or quartus) run generated non-project Tcl per
seed with --runner local where vivado or quartus_sh is on PATH; Vivado's seed
picks its place and route directives, Quartus's is its fitter SEED.

Each build writes a seed-sweep plot (Fmax per seed and target) to
<work_dir>/builds/<id>/sweep.svg. Records are kept in <work_dir>/builds/<id>/build.json, artifacts next to them
in <work_dir>/builds/<id>/<target>/seed-<n>/. Progress (one line per phase
change) goes to stderr; a summary table, or the build as JSON with
--output json, to stdout. Interrupting (Ctrl-C) stops every tool and records
the unfinished seeds as cancelled.`,
		Example: `  fpgactl build --target ecp5-10g --seeds 1-4
  fpgactl build --target ecp5-10g --seeds 1,5,9 --jobs 2 --stop-when first-met
  fpgactl build --target ecp5-10g --seeds 1-8 --stop-when 2-met --output json | jq '.best'
  OS_CLOUD=fpga fpgactl build --target ecp5-10g --seeds 1-16 --runner openstack --stop-when first-met
  fpgactl build --target ecp5-10g --seeds 1-8 --runner ssh
  fpgactl build list
  fpgactl build show                 # the latest build
  fpgactl build show 20261123-151500-ab12 --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, t := range strings.Split(targets, ",") {
				if t = strings.TrimSpace(t); t != "" && !slices.Contains(opts.Targets, t) {
					opts.Targets = append(opts.Targets, t)
				}
			}
			if len(opts.Targets) == 0 {
				return cmdutil.FlagErrorf("--target is required: name one or more targets of fpgactl.yaml (e.g. --target ecp5-10g)")
			}
			if !cmd.Flags().Changed("seeds") {
				return cmdutil.FlagErrorf("--seeds is required (e.g. --seeds 1-4 or --seeds 1,5,9)")
			}
			s, err := record.ParseSeeds(seeds)
			if err != nil {
				return cmdutil.FlagErrorf("--seeds: %v", err)
			}
			opts.Seeds = s
			if opts.Jobs < 0 {
				return cmdutil.FlagErrorf("--jobs must be 0 (number of cores) or more")
			}
			if opts.StopWhen, err = record.ParseStopWhen(stopWhen); err != nil {
				return cmdutil.FlagErrorf("%v", err)
			}
			switch opts.Runner {
			case "local", "ssh", "openstack":
			default:
				return cmdutil.FlagErrorf("--runner %q: use local, ssh (runners.ssh hosts) or openstack (runners.openstack)", opts.Runner)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunBuild(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&targets, "target", "t", "", "targets to build, comma-separated (names under targets: in fpgactl.yaml)")
	fl.StringVarP(&seeds, "seeds", "s", "", `place-and-route seeds: "1-8", "1,5,9" or "1-4,10"`)
	fl.IntVarP(&opts.Jobs, "jobs", "j", 0, "seeds at once (default: runners.local.jobs, else the number of CPU cores)")
	fl.StringVar(&stopWhen, "stop-when", "all", "stop a target's remaining seeds after: all (run every seed), first-met, or N-met")
	fl.StringVar(&opts.Runner, "runner", "local", "where seeds run: local, ssh (runners.ssh build hosts) or openstack (one instance per seed)")
	cmd.AddCommand(newCmdList(f), newCmdShow(f), newCmdCancel(f), newCmdReap(f))
	return cmd
}

func store(s *project.Settings) *record.Store {
	return &record.Store{Dir: filepath.Join(s.WorkPath(), "builds")}
}

// Targets turns the named targets of the project into runner targets.
func Targets(s *project.Settings, names []string) ([]run.Target, error) {
	var out []run.Target
	for _, name := range names {
		i := slices.IndexFunc(s.Targets, func(t project.Target) bool { return t.Name == name })
		if i < 0 {
			have := make([]string, len(s.Targets))
			for j, t := range s.Targets {
				have[j] = t.Name
			}
			return nil, cmdutil.FlagErrorf("--target %q: no such target in %s (have: %s)", name, s.Path, strings.Join(have, ", "))
		}
		pt := s.Targets[i]
		d, ok := s.Design(pt.Design)
		if !ok {
			return nil, fmt.Errorf("%s: target %s: no design named %q", s.Path, pt.Name, pt.Design)
		}
		rtl, err := s.RTLFiles(d)
		if err != nil {
			return nil, err
		}
		if len(rtl) == 0 {
			return nil, fmt.Errorf("%s: design %s: rtl: matches no files", s.Path, d.Name)
		}
		params := maps.Clone(d.Parameters)
		if params == nil {
			params = map[string]int{}
		}
		maps.Copy(params, pt.Parameters)
		top := d.Top
		if d.Top == filterTop {
			wrapper := s.Abs(PinWrapper)
			if _, err := os.Stat(wrapper); err != nil {
				return nil, fmt.Errorf("target %s: the pin wrapper of open builds is missing: %w", pt.Name, err)
			}
			rtl = append([]string{wrapper}, rtl...)
			top = PinWrapperTop
			if pt.Width != 0 {
				params["DATA_WIDTH"] = pt.Width
			}
		}
		rtlHash, err := results.RTLHash(s, d)
		if err != nil {
			return nil, err
		}
		out = append(out, run.Target{Name: pt.Name, Flow: pt.Flow, Device: pt.Device, ClockMHz: pt.ClockMHz,
			Design:     flow.Design{Sources: rtl, Include: s.IncludeDirs(d), Top: top, Parameters: params},
			DesignName: d.Name, RTLHash: rtlHash, Width: pt.Width})
	}
	return out, nil
}

// RunBuild runs the build with the local runner.
func RunBuild(ctx context.Context, opts *Options) error {
	f := opts.Factory
	s, err := f.Project()
	if err != nil {
		return err
	}
	// Chisel sources are elaborated (or found cached) before synthesis reads the RTL.
	if err := f.Elaborate(ctx, s, f.IO.ErrOut); err != nil {
		return err
	}
	targets, err := Targets(s, opts.Targets)
	if err != nil {
		return err
	}
	backend, jobs, closeBackend, err := NewRunner(ctx, s, opts.Runner, opts.Jobs, len(targets)*len(opts.Seeds), f.NumCPU)
	if err != nil {
		return err
	}
	st := store(s)
	errOut := f.IO.ErrOut
	fmt.Fprintf(errOut, "build: %s, seeds %s, runner %s, %d jobs, stop when %s\n", strings.Join(opts.Targets, ", "), seedList(opts.Seeds),
		backend.Kind(), jobs, opts.StopWhen)
	head := gitinfo.Read(ctx, s.Root)
	b, runErr := run.Run(ctx, run.Options{
		Store: st, Targets: targets, Seeds: opts.Seeds, Jobs: jobs, StopWhen: opts.StopWhen,
		Commit: head.Commit, Dirty: head.Dirty, Owner: owner(), Dir: st.Dir, Backend: backend,
		NetlistCache: filepath.Join(s.WorkPath(), "netlists"),
		Progress:     func(r record.SeedResult) { fmt.Fprintln(errOut, progressLine(r)) },
	})
	if cerr := closeBackend(); cerr != nil {
		fmt.Fprintf(errOut, "build: cleaning up the %s runner: %v\n", backend.Kind(), cerr)
		runErr = errors.Join(runErr, cerr)
	}
	if b == nil {
		return runErr
	}
	plot := filepath.Join(st.Path(b.ID), "sweep.svg")
	if err := sweep.WriteFile(plot, b); err != nil {
		fmt.Fprintf(errOut, "build: writing the seed-sweep plot: %v\n", err)
	} else {
		fmt.Fprintf(errOut, "build: seed-sweep plot %s\n", plot)
	}
	if f.JSON() {
		if err := cmdutil.PrintJSON(f.IO.Out, toJSON(b)); err != nil {
			return err
		}
	} else {
		printBuild(f.IO.Out, b)
	}
	if runErr != nil {
		return runErr
	}
	if b.Status != record.StatusDone {
		if !f.JSON() {
			fmt.Fprintf(errOut, "build %s %s: %s\n", b.ID, b.Status, b.Error)
		}
		return cmdutil.SilentError
	}
	return nil
}

func progressLine(r record.SeedResult) string {
	elapsed := ""
	if !r.StartedAt.IsZero() {
		end := time.Now()
		if !r.FinishedAt.IsZero() {
			end = r.FinishedAt
		}
		elapsed = fmt.Sprintf(" %.1fs", end.Sub(r.StartedAt).Seconds())
	}
	if r.Status == record.SeedRunning {
		return fmt.Sprintf("  %s seed %d %s%s", r.Target, r.Seed, r.Phase, elapsed)
	}
	line := fmt.Sprintf("  %s seed %d %s%s", r.Target, r.Seed, r.Status, elapsed)
	if r.FmaxMHz != nil {
		line += fmt.Sprintf(" fmax %.2f MHz (target %g)", *r.FmaxMHz, r.TargetMHz)
	}
	if r.Error != "" {
		line += ": " + r.Error
	}
	return line
}

func seedList(seeds []int) string {
	parts := make([]string, len(seeds))
	for i, s := range seeds {
		parts[i] = fmt.Sprint(s)
	}
	return strings.Join(parts, ",")
}

func owner() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

func num(v *float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}

// printBuild writes the summary table of a build.
func printBuild(w io.Writer, b *record.Build) {
	fmt.Fprintf(w, "build %s  %s  commit %s  stop-when %s\n", b.ID, b.Status, gitinfo.Head{Commit: b.Commit, Dirty: b.Dirty}.Short(), b.StopWhen)
	bests := map[string]record.SeedResult{}
	for _, t := range b.Targets {
		if best, ok := b.Best(t); ok {
			bests[t] = best
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tSEED\tSTATUS\tFMAX MHz\tTARGET MHz\tWNS ns\tTNS ns\tBEST")
	for _, t := range b.Targets {
		best, ok := bests[t]
		for _, r := range b.TargetResults(t) {
			mark := ""
			if ok && best.Seed == r.Seed {
				mark = "*"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%g\t%s\t%s\t%s\n", t, r.Seed, r.Status, num(r.FmaxMHz, "%.2f"), r.TargetMHz,
				num(r.WNSns, "%.3f"), num(r.TNSns, "%.3f"), mark)
		}
	}
	tw.Flush()
	for _, t := range b.Targets {
		if best, ok := bests[t]; ok {
			bit := best.Bitstream
			if bit == "" {
				bit = "(no bitstream)"
			}
			fmt.Fprintf(w, "best %s: seed %d (%s), %s\n", t, best.Seed, best.Status, bit)
		} else {
			fmt.Fprintf(w, "best %s: none (no seed produced a timing result)\n", t)
		}
	}
	if b.Error != "" {
		fmt.Fprintf(w, "error: %s\n", b.Error)
	}
}

func newCmdList(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List recorded builds, newest first",
		Long: `List the builds recorded under <work_dir>/builds, newest first. A build whose
fpgactl process died (killed, crashed, machine rebooted) is marked interrupted
first, its running seeds lost.`,
		Example: `  fpgactl build list
  fpgactl build list --output json | jq '.[0].best'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.Project()
			if err != nil {
				return err
			}
			st := store(s)
			builds, _, err := st.MarkInterrupted(cmd.Context())
			if f.JSON() {
				out := make([]BuildJSON, 0, len(builds))
				for _, b := range builds {
					out = append(out, toJSON(b))
				}
				if err := cmdutil.PrintJSON(f.IO.Out, out); err != nil {
					return err
				}
			} else if len(builds) == 0 {
				fmt.Fprintf(f.IO.ErrOut, "no builds in %s yet; start one with fpgactl build --target T --seeds 1-4\n", st.Dir)
			} else {
				tw := tabwriter.NewWriter(f.IO.Out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATUS\tCREATED\tCOMMIT\tTARGETS\tSEEDS\tMET")
				for _, b := range builds {
					met := 0
					for _, r := range b.Results {
						if r.Status == record.SeedMet {
							met++
						}
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d/%d\n", b.ID, b.Status, b.CreatedAt.Local().Format("2006-01-02 15:04"),
						gitinfo.Head{Commit: b.Commit, Dirty: b.Dirty}.Short(), strings.Join(b.Targets, ","), len(b.Seeds), met, len(b.Results))
				}
				tw.Flush()
			}
			return err
		},
	}
}

func newCmdShow(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "show [ID]",
		Short: "Show a build's seeds and best seed (default: the latest build)",
		Example: `  fpgactl build show
  fpgactl build show 20261123-151500-ab12 --output json | jq '.results[] | {target, seed, status, fmax_mhz}'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return cmdutil.FlagErrorf("name at most one build ID")
			}
			if len(args) == 1 {
				if err := record.CheckID(args[0]); err != nil {
					return cmdutil.FlagErrorf("%v", err)
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.Project()
			if err != nil {
				return err
			}
			st := store(s)
			st.MarkInterrupted(cmd.Context())
			var b *record.Build
			if len(args) == 1 {
				b, err = st.Get(args[0])
			} else {
				b, err = st.Latest()
			}
			if err != nil {
				return err
			}
			if f.JSON() {
				return cmdutil.PrintJSON(f.IO.Out, toJSON(b))
			}
			printBuild(f.IO.Out, b)
			return nil
		},
	}
}
