// Package chiselcmd implements `fpgactl chisel`: elaborate the Chisel sources
// of the designs (cached by content hash) and say where the Verilog is.
// Lint, tests and builds do the same on their own; this command is for
// scripts and for looking at the generated files.
package chiselcmd

import (
	"context"
	"fmt"
	"io"

	"github.com/fpgactl/fpgactl/internal/chisel"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/spf13/cobra"
)

// Options of the chisel command.
type Options struct {
	IO      *cmdutil.IOStreams
	Project func() (*project.Settings, error)
	Chisel  chisel.Options
	Design  string
	// Files prints only the generated files, one per line.
	Files bool
	JSON  bool
}

// Report is what --output json prints.
type Report struct {
	Projects []chisel.Result `json:"projects"`
}

// NewCmdChisel builds the command.
func NewCmdChisel(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Project: f.Project, Chisel: chisel.Options{Finder: f.Tools}}
	cmd := &cobra.Command{
		Use:   "chisel",
		Short: "Elaborate the Chisel sources of the designs into Verilog",
		Long: `Elaborate every designs[].chisel Maven project of fpgactl.yaml: run its generator with
Maven (mvn compile exec:java) unless the output for the same sources, pom.xml, generator
arguments, Java and Maven versions is already under <work_dir>/chisel/<hash>/.

lint, test unit, test functional, replay, bench, board build and build do this themselves
before they read the RTL; this command shows what they get.`,
		Example: `  fpgactl chisel
  fpgactl chisel --files            # the generated files, one per line (for scripts)
  fpgactl chisel --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.JSON()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Design, "design", "", "only this design")
	cmd.Flags().BoolVar(&opts.Files, "files", false, "print only the generated files, one per line")
	return cmd
}

// Run elaborates and prints the result.
func Run(ctx context.Context, opts *Options) error {
	s, err := opts.Project()
	if err != nil {
		return err
	}
	co := opts.Chisel
	if !opts.JSON && !opts.Files {
		co.Progress = opts.IO.Out
	} else {
		co.Progress = opts.IO.ErrOut
	}
	var rep Report
	found := false
	for i := range s.Designs {
		d := &s.Designs[i]
		if opts.Design != "" && d.Name != opts.Design {
			continue
		}
		found = true
		res, err := chisel.Prepare(ctx, s, d, co)
		rep.Projects = append(rep.Projects, res...)
		if err != nil {
			return err
		}
	}
	if !found && opts.Design != "" {
		return cmdutil.FlagErrorf("no design named %q in %s", opts.Design, s.Path)
	}
	switch {
	case opts.JSON:
		if rep.Projects == nil {
			rep.Projects = []chisel.Result{}
		}
		return cmdutil.PrintJSON(opts.IO.Out, rep)
	case opts.Files:
		for _, r := range rep.Projects {
			for _, f := range r.Files {
				fmt.Fprintln(opts.IO.Out, f)
			}
		}
	default:
		printText(opts.IO.Out, rep)
	}
	return nil
}

func printText(w io.Writer, rep Report) {
	if len(rep.Projects) == 0 {
		fmt.Fprintln(w, "no design has Chisel sources (designs[].chisel in fpgactl.yaml)")
		return
	}
	for _, r := range rep.Projects {
		fmt.Fprintf(w, "%s -> %s\n", r.Project, r.Dir)
		for _, f := range r.Files {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
}
