// Package versioncmd implements `fpgactl version`.
package versioncmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/spf13/cobra"
)

// Options of the version command.
type Options struct {
	IO    *cmdutil.IOStreams
	Build cmdutil.BuildInfo
	JSON  bool
	// ReadBuildInfo defaults to debug.ReadBuildInfo (tests replace it).
	ReadBuildInfo func() (*debug.BuildInfo, bool)
}

// Info is what `fpgactl version --output json` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// NewCmdVersion builds the command.
func NewCmdVersion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Build: f.Build}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the fpgactl version, commit and Go version",
		Example: `  fpgactl version
  fpgactl version --output json | jq -r .commit`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JSON = f.JSON()
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
}

// Collect fills Info from linker flags, falling back to the module build info.
func Collect(opts *Options) Info {
	in := Info{Version: opts.Build.Version, Commit: opts.Build.Commit, Date: opts.Build.Date,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	read := opts.ReadBuildInfo
	if read == nil {
		read = debug.ReadBuildInfo
	}
	if bi, ok := read(); ok {
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && in.Commit == "" {
				in.Commit = s.Value
			}
		}
	}
	if in.Version == "" {
		in.Version = "dev"
	}
	if in.Commit == "" {
		in.Commit = "unknown"
	}
	return in
}

// Run prints the version.
func Run(opts *Options) error {
	in := Collect(opts)
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, in)
	}
	fmt.Fprintf(opts.IO.Out, "fpgactl %s (commit %s", in.Version, in.Commit)
	if in.Date != "" {
		fmt.Fprintf(opts.IO.Out, ", built %s", in.Date)
	}
	fmt.Fprintf(opts.IO.Out, ")\n%s %s\n", in.GoVersion, in.Platform)
	return nil
}
