// Package boardcmd implements `fpgactl board`: boards as devices. `board
// sim` bridges a simulated board to two network interfaces, the stand-in
// for a real board on a lab host; `board build` writes the simulated board's
// executable, which is the "bitstream" of the emulated lab; `board program`
// is an emulated lab board's programming command (run on the lab host);
// `board test` is the on-board test of a lab board (labctl/boardtest).
package boardcmd

import (
	"context"
	"fmt"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/harness"
	"github.com/fpgactl/fpgactl/internal/netns"
	"github.com/spf13/cobra"
)

// NewCmdBoard is the parent `board` command.
func NewCmdBoard(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "board <command>",
		Short: "Work with boards: simulated boards, emulated lab boards, on-board tests",
		Example: `  fpgactl board sim --in b0 --out b1 --control /run/fpgactl/board.sock
  fpgactl replay --target iface:h0,h1 --control /run/fpgactl/board.sock --rules r.yaml --profile imix
  fpgactl board build --out board-w64.bin --width 64
  fpgactl board test --board b10g-1 --bitstream board-w64.bin --rules r.yaml --profile imix,frames=3000`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdSim(f, nil))
	cmd.AddCommand(NewCmdBuild(f, nil))
	cmd.AddCommand(NewCmdProgram(f, nil))
	cmd.AddCommand(NewCmdTest(f, nil))
	return cmd
}

// SimOptions of `fpgactl board sim`.
type SimOptions struct {
	Factory *cmdutil.Factory
	Width   int
	In, Out string
	Netns   string
	Control string
	// Binary is a prebuilt board executable (`fpgactl board build`); ""
	// builds the project's design.
	Binary string
}

// NewCmdSim builds `fpgactl board sim`.
func NewCmdSim(f *cmdutil.Factory, runF func(context.Context, *SimOptions) error) *cobra.Command {
	opts := &SimOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "sim --in IFACE --out IFACE [--control SOCKET]",
		Short: "Run the simulated board on two network interfaces until interrupted",
		Long: `Run the whole filter in Verilator (the simulated board, built on demand and
cached) as if it were a board cabled to this host: every frame arriving on --in
goes through the filter, every frame it passes is sent on --out. Register
access (rule loading, counters) is served on the Unix socket --control, which
'fpgactl replay --target iface:... --control SOCKET' uses. Stops on SIGINT or
SIGTERM.

With --binary FILE the board is that prebuilt executable (written by 'fpgactl
board build', the emulated lab's "bitstream") and no project is needed; its
data width is read from the executable itself.

Linux cannot carry frames with a bad FCS, runts under 14 bytes, or frames whose
VLAN tag is cut short through its interfaces; the iface target skips those.`,
		Example: `  ip netns add lab; ...veth pairs h0-b0 and b1-h1 inside...
  fpgactl board sim --netns lab --in b0 --out b1 --control /tmp/board.sock &
  fpgactl replay --netns lab --target iface:h0,h1 --control /tmp/board.sock \
      --rules tests/rules/syn-flood.yaml --profile imix,frames=2000,mix=legit:8+syn-flood:2`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.In == "" || opts.Out == "" {
				return cmdutil.FlagErrorf("--in and --out are required")
			}
			if opts.Width != 0 {
				if err := cmdutil.ValidateWidths([]int{opts.Width}); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunSim(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opts.Width, "width", 0, "data width: 64 or 512 (default: the design's first)")
	fl.StringVar(&opts.In, "in", "", "interface the board takes frames from")
	fl.StringVar(&opts.Out, "out", "", "interface the board sends passed frames on")
	fl.StringVar(&opts.Netns, "netns", "", "network namespace holding both interfaces")
	fl.StringVar(&opts.Control, "control", "", "Unix socket to serve register access on")
	fl.StringVar(&opts.Binary, "binary", "", "prebuilt board executable to run (from 'fpgactl board build'); no project needed")
	return cmd
}

// RunSim runs the board until ctx ends.
func RunSim(ctx context.Context, opts *SimOptions) error {
	f := opts.Factory
	var env *harness.Env
	var width int
	var err error
	if opts.Binary != "" {
		// A prebuilt board says its own width; no project (a lab host has none).
		env = &harness.Env{}
		if width, err = binaryWidth(ctx, opts.Binary, opts.Width); err != nil {
			return err
		}
	} else {
		if env, err = harness.Load(f, f.IO.ErrOut); err != nil {
			return err
		}
		if width, err = env.Width(opts.Width); err != nil {
			return err
		}
	}
	var ns *netns.Namespace
	if opts.Netns != "" {
		if ns, err = netns.Open(opts.Netns); err != nil {
			return err
		}
	}
	return env.AttachBoard(ctx, harness.AttachOptions{
		Width: width, In: opts.In, Out: opts.Out, Netns: ns, Control: opts.Control, Binary: opts.Binary,
		Ready: func() {
			fmt.Fprintf(f.IO.ErrOut, "simulated board w%d on %s -> %s", width, opts.In, opts.Out)
			if opts.Control != "" {
				fmt.Fprintf(f.IO.ErrOut, ", registers on %s", opts.Control)
			}
			fmt.Fprintln(f.IO.ErrOut, "; Ctrl-C stops it")
		},
	})
}
