// Package cmdutil holds what every fpgactl command shares: I/O streams, the
// Factory that loads project settings lazily, output-format handling and the
// error types main turns into exit codes.
package cmdutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"

	"github.com/fpgactl/fpgactl/internal/chisel"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/tools"
	"github.com/spf13/cobra"
)

// IOStreams are the command's standard streams; tests use buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// System returns the process's streams.
func System() *IOStreams { return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr} }

// BuildInfo is set by main from linker flags.
type BuildInfo struct {
	Version string
	Commit  string
	Date    string
	// Stamps are the link-time strings as the binary holds them (the
	// version padded), which the executable's content hash leaves out.
	Stamps []string
}

// Factory gives commands their dependencies.
type Factory struct {
	IO    *IOStreams
	Build BuildInfo
	// ProjectFile is the --project flag ("" = search upward from WorkDir).
	ProjectFile string
	// WorkDir is where the upward search starts ("" = current directory).
	WorkDir string
	// OutputFormat is the --output flag: text or json.
	OutputFormat string
	// Tools finds external programs.
	Tools *tools.Finder
	// NumCPU defaults to runtime.NumCPU.
	NumCPU func() int
}

// NewFactory returns a Factory on the process's real environment.
func NewFactory(b BuildInfo) *Factory {
	return &Factory{IO: System(), Build: b, OutputFormat: "text", Tools: &tools.Finder{}, NumCPU: runtime.NumCPU}
}

// Project loads the settings named by --project or found upward.
func (f *Factory) Project() (*project.Settings, error) {
	path := f.ProjectFile
	if path == "" {
		dir := f.WorkDir
		if dir == "" {
			dir = "."
		}
		p, err := project.Find(dir)
		if err != nil {
			return nil, err
		}
		path = p
	}
	return project.Load(path)
}

// Verilator returns the path of a usable verilator, or an error that says
// how to install it.
func (f *Factory) Verilator(ctx context.Context) (string, error) {
	s, err := f.Tools.Require(ctx, "verilator")
	return s.Path, err
}

// Elaborate elaborates the Chisel sources of every design of s (cached by
// content hash: nothing runs when they did not change), one line per Maven
// project to progress (nil: silent). Commands that read a design's RTL call
// it first.
func (f *Factory) Elaborate(ctx context.Context, s *project.Settings, progress io.Writer) error {
	_, err := chisel.PrepareAll(ctx, s, chisel.Options{Finder: f.Tools, Progress: progress})
	return err
}

// JSON reports whether --output json was asked for.
func (f *Factory) JSON() bool { return f.OutputFormat == "json" }

// ValidateOutput checks the --output value.
func ValidateOutput(v string) error {
	if v != "text" && v != "json" {
		return FlagErrorf("--output must be text or json, not %q", v)
	}
	return nil
}

// PrintJSON writes v as indented JSON.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// SilentError makes the process exit non-zero without printing anything more:
// the command already reported what went wrong.
var SilentError = errors.New("silent error")

// FlagError is a usage mistake; main prints it with a hint to --help.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// ValidateWidths checks --width values against the data widths the designs support.
func ValidateWidths(widths []int) error {
	for _, w := range widths {
		if !slices.Contains(project.SupportedWidths, w) {
			return FlagErrorf("--width %d is not supported (use 64 or 512)", w)
		}
	}
	return nil
}

// FlagErrorf builds a FlagError.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// ExactArgs is like cobra.ExactArgs but returns a FlagError that says what
// the arguments are (hint).
func ExactArgs(n int, hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return FlagErrorf("%q takes %d argument(s), got %d: %s", cmd.CommandPath(), n, len(args), hint)
		}
		return nil
	}
}

// NoArgs is like cobra.NoArgs but returns a FlagError.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("%q takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}
