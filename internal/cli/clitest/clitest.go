// Package clitest holds what the command packages' tests share: a Factory
// on buffers and a runner that checks flag handling without running the
// command's work.
package clitest

import (
	"bytes"
	"context"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/spf13/cobra"
)

// Factory returns a Factory whose streams are buffers, text output, 2 CPUs.
func Factory() *cmdutil.Factory {
	return &cmdutil.Factory{IO: &cmdutil.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, OutputFormat: "text",
		NumCPU: func() int { return 2 }}
}

// Flags builds a command with newCmd, runs it with args and returns the
// options its run function received (called says whether it was reached)
// and the command's error, e.g. a *cmdutil.FlagError.
func Flags[O any](newCmd func(*cmdutil.Factory, func(context.Context, *O) error) *cobra.Command, args ...string) (got *O, called bool, err error) {
	cmd := newCmd(Factory(), func(_ context.Context, o *O) error { got, called = o, true; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err = cmd.Execute()
	return got, called, err
}
