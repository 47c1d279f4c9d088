// Package benchcmd implements `fpgactl bench`: the harness's speed measured
// side by side with its limits, printed as ratios (never a pass/fail test).
package benchcmd

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/harness"
	"github.com/spf13/cobra"
)

// Options of `fpgactl bench`.
type Options struct {
	Factory *cmdutil.Factory
	Widths  []int
	Frames  int
	Repeat  int
	// Iface also measures the iface target against tcpreplay on a veth pair.
	Iface       bool
	IfaceFrames int
}

// JSONReport is what --output json prints.
type JSONReport struct {
	Sim   []harness.SimBenchRow     `json:"sim"`
	Iface *harness.IfaceBenchResult `json:"iface,omitempty"`
}

// NewCmdBench builds `fpgactl bench`.
func NewCmdBench(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the traffic harness against its limits, side by side",
		Long: `Measure, in one run, with runs alternating so both sides see the same load:

  sim    frames/s through the harness to the simulated board (Go, pipe, board,
         pipe, Go) next to the same request stream played by the board from
         memory with no harness (the limit), for 64-byte frames and IMIX at line
         rate at each width; ratio = harness / raw (target >= 0.8)
  iface  frames/s the iface target sends on a veth pair in a namespace it
         creates, next to tcpreplay --topspeed of the same capture on the same
         pair (target >= 1.0; needs root and tcpreplay)

Medians of --repeat runs are reported. Nothing here passes or fails.`,
		Example: `  fpgactl bench
  fpgactl bench --width 64 --frames 50000 --repeat 5
  fpgactl bench --iface --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.ValidateWidths(opts.Widths); err != nil {
				return err
			}
			if opts.Frames < 0 || opts.Repeat < 0 || opts.IfaceFrames < 0 {
				return cmdutil.FlagErrorf("--frames, --repeat and --iface-frames must not be negative")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.IntSliceVar(&opts.Widths, "width", nil, "data widths to measure (default: the design's)")
	fl.IntVar(&opts.Frames, "frames", 20000, "frames per simulated run")
	fl.IntVar(&opts.Repeat, "repeat", 3, "runs of each side; medians are reported")
	fl.BoolVar(&opts.Iface, "iface", false, "also measure the iface target against tcpreplay on a veth pair (root)")
	fl.IntVar(&opts.IfaceFrames, "iface-frames", 200000, "frames per iface run")
	return cmd
}

// Run measures and prints.
func Run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	env, err := harness.Load(f, f.IO.ErrOut)
	if err != nil {
		return err
	}
	widths, err := env.Widths(opts.Widths...)
	if err != nil {
		return err
	}
	progress := func(line string) { fmt.Fprintln(f.IO.ErrOut, line) }
	var rep JSONReport
	rep.Sim, err = env.BenchSim(ctx, harness.SimBenchOptions{Widths: widths, Frames: opts.Frames, Repeat: opts.Repeat}, progress)
	if err != nil {
		return err
	}
	if opts.Iface {
		r, err := env.BenchIface(ctx, harness.IfaceBenchOptions{Frames: opts.IfaceFrames, Repeat: opts.Repeat}, progress)
		if err != nil {
			return err
		}
		rep.Iface = r
	}
	if f.JSON() {
		return cmdutil.PrintJSON(f.IO.Out, rep)
	}
	tw := tabwriter.NewWriter(f.IO.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "width\ttraffic\tframes\tharness frames/s\traw Verilator frames/s\tratio\traw cycles/s\t")
	for _, r := range rep.Sim {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%.0f\t%.0f\t%.2f\t%.0f\t\n", r.Width, r.Traffic, r.Frames, r.Harness, r.Raw, r.Ratio, r.RawCyclesPerSecond)
	}
	tw.Flush()
	if r := rep.Iface; r != nil {
		fmt.Fprintln(f.IO.Out)
		tw = tabwriter.NewWriter(f.IO.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "iface (veth)\tframes\tfpgactl frames/s\ttcpreplay --topspeed frames/s\tratio\t")
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.2f\t\n", r.Traffic, r.Frames, r.Harness, r.Tcpreplay, r.Ratio)
		tw.Flush()
	}
	return nil
}
