// Package root assembles the fpgactl command tree and maps errors to exit codes.
package root

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fpgactl/fpgactl/internal/cli/benchcmd"
	"github.com/fpgactl/fpgactl/internal/cli/boardcmd"
	"github.com/fpgactl/fpgactl/internal/cli/buildcmd"
	"github.com/fpgactl/fpgactl/internal/cli/chiselcmd"
	"github.com/fpgactl/fpgactl/internal/cli/cicmd"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/cli/doctor"
	"github.com/fpgactl/fpgactl/internal/cli/labcmd"
	"github.com/fpgactl/fpgactl/internal/cli/lint"
	"github.com/fpgactl/fpgactl/internal/cli/releasecmd"
	"github.com/fpgactl/fpgactl/internal/cli/replaycmd"
	"github.com/fpgactl/fpgactl/internal/cli/testcmd"
	"github.com/fpgactl/fpgactl/internal/cli/versioncmd"
	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK        = 0
	ExitError     = 1
	ExitUsage     = 2
	ExitInterrupt = 130
)

// NewCmdRoot builds the whole command tree on a Factory.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fpgactl <command> [flags]",
		Short: "Lint, test, build and release an FPGA packet filter like software",
		Long: `fpgactl is the toolchain of an L3/L4 packet filter for FPGAs (SystemVerilog on
AXI4-Stream, 64-bit for 10G and 512-bit for 100G). It lints the RTL with
Verilator, Icarus Verilog and Yosys, compiles a human-readable rules file into
the filter's table image, builds and runs the Verilator unit tests in
parallel with JUnit reports and waveforms of failures, and replays traffic
through the whole filter (a simulated board in Verilator, or network
interfaces) against the Go golden model.

Project settings come from fpgactl.yaml, found upward from the current
directory (see docs/settings.md).`,
		Example: `  fpgactl doctor
  fpgactl lint
  fpgactl rules compile tests/rules/example.yaml
  fpgactl test unit --keep-going
  fpgactl test functional --output json
  fpgactl replay --rules tests/rules/syn-flood.yaml --profile imix,frames=5000,mix=legit:8+syn-flood:2
  fpgactl version --output json`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return cmdutil.ValidateOutput(f.OutputFormat)
		},
	}
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.SetIn(f.IO.In)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.ProjectFile, "project", "", "project settings file (default: fpgactl.yaml in this directory or a parent)")
	pf.StringVarP(&f.OutputFormat, "output", "o", "text", "output format: text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp
	})

	cmd.AddCommand(versioncmd.NewCmdVersion(f, nil))
	cmd.AddCommand(doctor.NewCmdDoctor(f, nil))
	cmd.AddCommand(lint.NewCmdLint(f, nil))
	cmd.AddCommand(chiselcmd.NewCmdChisel(f, nil))
	cmd.AddCommand(testcmd.NewCmdTest(f))
	cmd.AddCommand(replaycmd.NewCmdReplay(f, nil))
	cmd.AddCommand(benchcmd.NewCmdBench(f, nil))
	cmd.AddCommand(boardcmd.NewCmdBoard(f))
	cmd.AddCommand(buildcmd.NewCmdBuild(f, nil))
	cmd.AddCommand(labcmd.NewCmdLab(f))
	cmd.AddCommand(cicmd.NewCmdCI(f, nil))
	cmd.AddCommand(releasecmd.NewCmdRelease(f, nil))
	if rules := newCmdRules(); rules != nil {
		cmd.AddCommand(rules)
	}
	cmd.AddCommand(newCmdCompletion(f))
	return cmd
}

func newCmdCompletion(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "completion <bash|zsh|fish>",
		Short: "Print a shell completion script",
		Long:  "Print the completion script of fpgactl for a shell; load it from the shell's startup file.",
		Example: `  source <(fpgactl completion bash)
  fpgactl completion zsh > "${fpath[1]}/_fpgactl"
  fpgactl completion fish > ~/.config/fish/completions/fpgactl.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdutil.FlagErrorf("name one shell: bash, zsh or fish")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(f.IO.Out, true)
			case "zsh":
				return root.GenZshCompletion(f.IO.Out)
			case "fish":
				return root.GenFishCompletion(f.IO.Out, true)
			}
			return cmdutil.FlagErrorf("unsupported shell %q (use bash, zsh or fish)", args[0])
		},
	}
}

// Execute runs the command tree with args and returns the process exit code.
func Execute(ctx context.Context, f *cmdutil.Factory, args []string) int {
	cmd := NewCmdRoot(f)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var fe *cmdutil.FlagError
	switch {
	case errors.Is(err, cmdutil.SilentError):
		return ExitError
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		fmt.Fprintln(f.IO.ErrOut, "interrupted")
		return ExitInterrupt
	case errors.As(err, &fe):
		fmt.Fprintf(f.IO.ErrOut, "error: %v\nRun '%s --help' for usage.\n", err, commandPath(cmd, args))
		return ExitUsage
	default:
		fmt.Fprintf(f.IO.ErrOut, "error: %v\n", err)
		return ExitError
	}
}

// commandPath finds the command the user ran, for the --help hint.
func commandPath(root *cobra.Command, args []string) string {
	if c, _, err := root.Find(args); err == nil && c != nil {
		return c.CommandPath()
	}
	return root.Name()
}

// Main is the whole program: SIGINT/SIGTERM cancel the context so running tools
// are stopped and reports of finished work are still written.
func Main(b cmdutil.BuildInfo) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Execute(ctx, cmdutil.NewFactory(b), os.Args[1:])
}
