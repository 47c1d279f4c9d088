package boardcmd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/harness"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/sshx"
	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/boardtest"
	"github.com/fpgactl/fpgactl/labctl/client"
	"github.com/spf13/cobra"
)

// TestOptions of `fpgactl board test`.
type TestOptions struct {
	Factory *cmdutil.Factory
	Board   string
	Tag     string
	TTL     time.Duration
	Comment string
	NoWait  bool

	Bitstream string
	Rules     string
	Pcap      string
	Profile   string
	OutDir    string

	URL        string
	KnownHosts []string
	Identities []string
	RemoteDir  string
	KeepRemote bool
	Harness    string
}

// NewCmdTest builds `fpgactl board test`.
func NewCmdTest(f *cmdutil.Factory, runF func(context.Context, *TestOptions) error) *cobra.Command {
	opts := &TestOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "test (--board NAME | --tag TAG) --bitstream FILE --rules FILE (--pcap FILE | --profile SPEC)",
		Short: "Test a bitstream on a lab board: reserve, program, replay, compare, record, release",
		Long: `The on-board test of a bitstream on a lab board:

  reserve   the board, or any board with --tag, through the lab service
            (waiting in its queue when busy, unless --no-wait); a granted
            reservation you already hold for it is reused and kept
  board     its inventory entry: lab host, SSH address, interfaces, program
  connect   SSH to the lab host (known_hosts checked; ~/.ssh/config, the
            agent and your key files, or --identity and --known-hosts)
  upload    the harness (this fpgactl, once per content), the bitstream,
            rules and traffic into a run directory on the lab host
  program   the board's program command with {bitstream} replaced
  replay    'fpgactl replay --target iface:IN,OUT --control SOCKET' on the
            lab host: rules loaded over the board's registers, traffic sent
            and captured, compared with the golden model
  download  the replay's report, junit.xml, diff.txt, mismatches.pcap
  compare   passed or failed, frames, mismatches, counters
  record    the result, with the bitstream's SHA-256, in the lab service
  release   the reservation, also after a failure and on Ctrl-C

Each step prints a line with the elapsed time on stderr. The report is
<out>/board-test.json (printed with --output json) and <out>/junit.xml; the
lab host's files are in <out>/lab/. The exit status is 1 when the board
disagreed with the model.

The service is lab.url of fpgactl.yaml or --url; the token is
$FPGACTL_LAB_TOKEN or the file ~/.config/fpgactl/lab-token.`,
		Example: `  fpgactl board test --board b10g-1 --bitstream board-w64.bin \
      --rules tests/rules/syn-flood.yaml --profile imix,frames=3000,mix=legit:8+syn-flood:2
  fpgactl board test --tag 100G --bitstream filter.bit --rules r.yaml --pcap capture.pcapng --ttl 30m --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (opts.Board == "") == (opts.Tag == "") {
				return cmdutil.FlagErrorf("give exactly one of --board and --tag")
			}
			if opts.Bitstream == "" || opts.Rules == "" {
				return cmdutil.FlagErrorf("--bitstream and --rules are required")
			}
			if (opts.Pcap == "") == (opts.Profile == "") {
				return cmdutil.FlagErrorf("give exactly one of --pcap and --profile")
			}
			if opts.TTL < time.Second || opts.TTL > api.MaxTTLSeconds*time.Second {
				return cmdutil.FlagErrorf("--ttl must be between 1s and 24h, got %s", opts.TTL)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunTest(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Board, "board", "", "the lab board to test on")
	fl.StringVar(&opts.Tag, "tag", "", "test on any board with this tag (e.g. 100G)")
	fl.DurationVar(&opts.TTL, "ttl", time.Hour, "lease of the reservation (renewed while the test runs)")
	fl.StringVar(&opts.Comment, "comment", "", "why you hold the board, shown to other lab users")
	fl.BoolVar(&opts.NoWait, "no-wait", false, "fail at once when the board is busy instead of queueing")
	fl.StringVar(&opts.Bitstream, "bitstream", "", "the bitstream to program")
	fl.StringVar(&opts.Rules, "rules", "", "rules file to load")
	fl.StringVar(&opts.Pcap, "pcap", "", "capture to replay (pcap or pcapng)")
	fl.StringVar(&opts.Profile, "profile", "", "traffic profile to generate, e.g. imix,frames=3000,mix=legit:8+syn-flood:2")
	fl.StringVar(&opts.OutDir, "out", "", "directory for the report (default: <work_dir>/board-test/<board>-<time>)")
	fl.StringVar(&opts.URL, "url", "", "lab service URL (default: lab.url of fpgactl.yaml)")
	fl.StringArrayVar(&opts.KnownHosts, "known-hosts", nil, "known_hosts file to check lab host keys against, instead of ~/.ssh/known_hosts (repeatable)")
	fl.StringArrayVar(&opts.Identities, "identity", nil, "private key file to log in with (repeatable; default: ~/.ssh/config's, then ~/.ssh/id_*)")
	fl.StringVar(&opts.RemoteDir, "remote-dir", boardtest.DefaultRemoteDir, "directory on the lab host for runs and the harness (relative to the login directory)")
	fl.BoolVar(&opts.KeepRemote, "keep-remote", false, "keep the run's directory on the lab host")
	fl.StringVar(&opts.Harness, "harness", "", "fpgactl executable to run on the lab host (default: this one; give one built for the lab host's OS and CPU if they differ)")
	return cmd
}

// RunTest runs the on-board test; a failed test is SilentError after the
// report was printed.
func RunTest(ctx context.Context, opts *TestOptions) error {
	f := opts.Factory
	var settings *project.Settings
	s, err := f.Project()
	switch {
	case err == nil:
		settings = s
	case errors.Is(err, project.ErrNotFound) && opts.URL != "" && opts.OutDir != "":
		// Outside a project: everything came from flags.
	default:
		return err
	}
	url := opts.URL
	if url == "" && settings != nil {
		url = settings.Lab.URL
	}
	if url == "" {
		return cmdutil.FlagErrorf("no lab service: set lab.url in fpgactl.yaml or pass --url")
	}
	token, err := client.LoadToken(nil, "")
	if err != nil {
		return err
	}
	out := opts.OutDir
	if out == "" {
		name := opts.Board
		if name == "" {
			name = "tag-" + opts.Tag
		}
		out = filepath.Join(settings.WorkPath(), "board-test", name+"-"+time.Now().Format("20060102-150405"))
	}
	var design *project.Design
	if settings != nil {
		if d, err := (&harness.Env{Settings: settings}).Design(); err == nil {
			design = d
		}
	}
	cfg, err := sshx.LoadUserConfig()
	if err != nil {
		return err
	}
	rep, err := boardtest.Run(ctx, boardtest.Options{
		Lab: client.New(url, token), Board: opts.Board, Tag: opts.Tag, TTL: opts.TTL, Comment: opts.Comment, NoWait: opts.NoWait,
		Bitstream: opts.Bitstream, Rules: opts.Rules, Pcap: opts.Pcap, Profile: opts.Profile, OutDir: out, Design: design,
		SSH:       boardtest.SSHOptions{Config: cfg, KnownHostsFiles: opts.KnownHosts, IdentityFiles: opts.Identities, UseAgent: true},
		RemoteDir: opts.RemoteDir, KeepRemote: opts.KeepRemote, Harness: opts.Harness, Progress: f.IO.ErrOut,
	})
	if rep == nil {
		return err
	}
	if f.JSON() {
		if perr := cmdutil.PrintJSON(f.IO.Out, rep); perr != nil && err == nil {
			err = perr
		}
	} else if rep.Tested {
		verdict := "PASSED"
		if !rep.Passed {
			verdict = "FAILED"
		}
		fmt.Fprintf(f.IO.Out, "%s on %s (%s): %s\n", verdict, rep.Board, rep.LabHost, rep.Summary)
		if len(rep.FailedChecks) > 0 {
			fmt.Fprintf(f.IO.Out, "failed checks: %s; diff: %s\n", strings.Join(rep.FailedChecks, ", "), rep.Files.Diff)
		}
		fmt.Fprintf(f.IO.Out, "report: %s, JUnit: %s\n", rep.Files.Report, rep.Files.JUnit)
	}
	if err != nil {
		return err
	}
	if !rep.Passed {
		return cmdutil.SilentError
	}
	return nil
}
