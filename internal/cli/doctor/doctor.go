// Package doctor implements `fpgactl doctor`: which external tools are
// installed, their versions, what needs them and how to install them here.
package doctor

import (
	"context"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/tools"
	"github.com/spf13/cobra"
)

// Options of the doctor command.
type Options struct {
	IO     *cmdutil.IOStreams
	Finder *tools.Finder
	Tools  []tools.Tool
	// Project loads the settings, when there are any: a project with Chisel
	// sources makes java and mvn required (nil or an error: they stay optional).
	Project func() (*project.Settings, error)
	JSON    bool
}

// chiselTools are required by a project whose designs have Chisel sources.
var chiselTools = []string{"java", "mvn"}

// Report is what --output json prints.
type Report struct {
	OK    bool           `json:"ok"`
	Tools []tools.Status `json:"tools"`
}

// NewCmdDoctor builds the command.
func NewCmdDoctor(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Finder: f.Tools, Tools: tools.Known, Project: f.Project}
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check that the external tools fpgactl drives are installed",
		Long: `Check every external tool fpgactl uses: whether it is found, where, its version,
which fpgactl feature needs it and the command that installs it on this machine.

Exits with status 1 when a required tool (go, verilator >= 5.0, iverilog, yosys;
java and mvn too when a design of fpgactl.yaml has Chisel sources) is missing or
too old; optional tools only produce a note.`,
		Example: `  fpgactl doctor
  fpgactl doctor --output json | jq '.tools[] | select(.found == false) | .name'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.JSON()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
}

// Run checks the tools and prints the report.
func Run(ctx context.Context, opts *Options) error {
	ts := opts.Tools
	if opts.Project != nil {
		if s, err := opts.Project(); err == nil && s.HasChisel() {
			ts = slices.Clone(ts)
			for i := range ts {
				if slices.Contains(chiselTools, ts[i].Name) {
					ts[i].Required = true
				}
			}
		}
	}
	statuses := opts.Finder.CheckAll(ctx, ts)
	rep := Report{OK: true, Tools: statuses}
	for _, s := range statuses {
		if s.Required && !s.OK {
			rep.OK = false
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if opts.JSON {
		if err := cmdutil.PrintJSON(opts.IO.Out, rep); err != nil {
			return err
		}
	} else {
		w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "TOOL\tSTATUS\tVERSION\tPATH\tNEEDED BY")
		for _, s := range statuses {
			state := "ok"
			switch {
			case !s.Found && s.Required:
				state = "MISSING"
			case !s.Found:
				state = "missing (optional)"
			case !s.OK:
				state = "TOO OLD"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.Name, state, dash(s.Version), dash(s.Path), s.NeededBy)
		}
		w.Flush()
		var notes []tools.Status
		for _, s := range statuses {
			if !s.OK || s.Problem != "" {
				notes = append(notes, s)
			}
		}
		if len(notes) > 0 {
			fmt.Fprintln(opts.IO.Out, "\nTo install:")
			for _, s := range notes {
				fmt.Fprintf(opts.IO.Out, "  %-20s %s\n", s.Name, s.Install)
			}
		}
		if rep.OK {
			fmt.Fprintln(opts.IO.Out, "\nAll required tools are present.")
		} else {
			fmt.Fprintln(opts.IO.Out, "\nRequired tools are missing or too old; run scripts/install-deps.sh (as root) or the commands above.")
		}
	}
	if !rep.OK {
		return cmdutil.SilentError
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
