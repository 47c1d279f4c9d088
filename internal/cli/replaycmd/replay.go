// Package replaycmd implements `fpgactl replay`: one ad-hoc replay of a
// capture or a traffic profile through a target, checked against the golden
// model.
package replaycmd

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/harness"
	"github.com/fpgactl/fpgactl/tests/harness/compare"
	"github.com/spf13/cobra"
)

// Options of `fpgactl replay`.
type Options struct {
	Factory *cmdutil.Factory
	harness.ReplayOptions
}

// JSONReport is what --output json prints: the comparison report plus the
// target, device and files.
type JSONReport struct {
	Target  string            `json:"target"`
	Device  any               `json:"device,omitempty"`
	Skipped int               `json:"skipped_frames"`
	Seconds float64           `json:"seconds"`
	Files   harness.Artifacts `json:"files"`
	Report  *compare.Report   `json:"report"`
}

// NewCmdReplay builds `fpgactl replay`.
func NewCmdReplay(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "replay --rules FILE (--pcap FILE | --profile SPEC) [--target sim|iface:IN,OUT]",
		Short: "Replay a capture or a traffic profile through a target and compare with the golden model",
		Long: `Load a rules file into the target, replay the traffic, capture what comes out
and compare it with the golden model: per-frame verdict, order, bytes and
counters; loss, latency and receive rates.

Targets:
  sim            the simulated board: the whole filter in Verilator (built on
                 demand, cached), with exact policer timing
  iface:IN,OUT   two network interfaces: frames are sent on IN (AF_PACKET) and
                 captured on OUT; --control names the device's register socket
                 (e.g. from 'fpgactl board sim'), without it rules are not
                 loaded and counters not checked

Traffic profiles (--profile): comma-separated items
  imix | size=N | size=A/B/C     frame sizes without FCS (60 = 64 on the wire)
  rate=10g|100g                  line rate used for timestamps
  frames=N  seed=N  start=NS
  mix=KIND:W+KIND:W              legit, syn-flood, udp-reflection[-dns|-ntp|...],
                                 fragment, vlan, qinq, ipv6, icmp-echo, malformed, ...

The run leaves diff.txt (readable, one line per mismatch), mismatches.pcap
(frames involved in mismatches) and junit.xml in --out.`,
		Example: `  fpgactl replay --rules tests/rules/example.yaml --profile imix,rate=10g,frames=5000,mix=legit:8+syn-flood:2
  fpgactl replay --rules r.yaml --pcap capture.pcapng --width 512 --output json
  fpgactl replay --target iface:veth0,veth3 --control /run/fpgactl-board.sock --rules r.yaml --pcap c.pcap`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Rules == "" {
				return cmdutil.FlagErrorf("--rules is required")
			}
			if (opts.Pcap == "") == (opts.Profile == "") {
				return cmdutil.FlagErrorf("give exactly one of --pcap and --profile")
			}
			if _, _, _, err := harness.ParseTargetSpec(opts.Target); err != nil {
				return cmdutil.FlagErrorf("--target: %v", err)
			}
			if opts.Width != 0 {
				if err := cmdutil.ValidateWidths([]int{opts.Width}); err != nil {
					return err
				}
			}
			if !(opts.Backpressure >= 0 && opts.Backpressure < 1) { // also refuses NaN
				return cmdutil.FlagErrorf("--backpressure must be in [0, 1), got %g", opts.Backpressure)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Target, "target", "sim", "sim or iface:IN,OUT")
	fl.IntVar(&opts.Width, "width", 0, "data width of the simulated board: 64 or 512 (default: the design's first)")
	fl.StringVar(&opts.Rules, "rules", "", "rules file to load")
	fl.StringVar(&opts.Pcap, "pcap", "", "capture to replay (pcap or pcapng, Ethernet)")
	fl.StringVar(&opts.Profile, "profile", "", "traffic profile to generate, e.g. imix,rate=10g,frames=1000,mix=legit:8+syn-flood:2")
	fl.BoolVar(&opts.Pace, "pace", false, "iface: keep the gaps between frame timestamps (default: as fast as possible)")
	fl.Float64Var(&opts.Backpressure, "backpressure", 0, "sim: fraction of cycles the output is not ready, 0..0.99")
	fl.StringVar(&opts.Netns, "netns", "", "iface: network namespace holding the interfaces")
	fl.StringVar(&opts.Control, "control", "", "iface: Unix socket of the device's register access")
	fl.StringVar(&opts.OutDir, "out", "", "directory for diff.txt, mismatches.pcap, junit.xml (default: <work_dir>/replay/<time>)")
	return cmd
}

// Run does the replay; it returns SilentError when the target disagreed with the model.
func Run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	env, err := harness.Load(f, f.IO.ErrOut)
	if err != nil {
		return err
	}
	opts.Env, opts.Progress = env, f.IO.ErrOut
	if opts.OutDir == "" {
		opts.OutDir = filepath.Join(env.Settings.WorkPath(), "replay", time.Now().Format("20060102-150405"))
	}
	start := time.Now()
	res, err := harness.Replay(ctx, opts.ReplayOptions)
	if err != nil {
		return err
	}
	rep := res.Result.Report
	if f.JSON() {
		var dev any
		if res.Result.Device.DataWidth != 0 {
			dev = res.Result.Device
		}
		if err := cmdutil.PrintJSON(f.IO.Out, JSONReport{Target: res.Target, Device: dev, Skipped: res.Skipped,
			Seconds: time.Since(start).Seconds(), Files: res.Files, Report: rep}); err != nil {
			return err
		}
	} else {
		out := f.IO.Out
		fmt.Fprintf(out, "target %s", res.Target)
		if d := res.Result.Device; d.DataWidth != 0 {
			fmt.Fprintf(out, " (DATA_WIDTH %d, %d rules, MAX_FRAME_BYTES %d, latency %d cycles)", d.DataWidth, d.NumRules, d.MaxFrameBytes, d.Latency)
		}
		fmt.Fprintln(out)
		if res.Skipped > 0 {
			fmt.Fprintf(out, "%d frames with MAC errors not sent: the target cannot send a bad FCS\n", res.Skipped)
		}
		// The whole list is in diff.txt; the terminal gets the first 40.
		if err := compare.WriteSummary(out, rep, 40); err != nil {
			return err
		}
		fmt.Fprintf(out, "diff: %s\n", res.Files.Diff)
		if res.Files.MismatchPcap != "" {
			fmt.Fprintf(out, "mismatched frames: %s\n", res.Files.MismatchPcap)
		}
		fmt.Fprintf(out, "JUnit report: %s\n", res.Files.JUnit)
	}
	if !rep.Passed() {
		return cmdutil.SilentError
	}
	return nil
}
