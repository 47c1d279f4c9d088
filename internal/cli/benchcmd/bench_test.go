package benchcmd

import (
	"errors"
	"testing"

	"github.com/fpgactl/fpgactl/internal/cli/clitest"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
)

func execute(args ...string) (*Options, bool, error) { return clitest.Flags(NewCmdBench, args...) }

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--width", "32"},
		{"--width", "64,128"},
		{"--frames", "-1"},
		{"--repeat", "-2"},
		{"--iface-frames", "-5"},
		{"extra"},
	} {
		_, called, err := execute(args...)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) {
			t.Errorf("%q: want a flag error, got %v", args, err)
		}
		if called {
			t.Errorf("%q: runF called despite invalid flags", args)
		}
	}
}

func TestValidFlagsReachRunF(t *testing.T) {
	o, called, err := execute("--width", "64,512", "--frames", "500", "--repeat", "5", "--iface", "--iface-frames", "1000")
	if err != nil || !called {
		t.Fatalf("called %v err %v", called, err)
	}
	if len(o.Widths) != 2 || o.Widths[0] != 64 || o.Widths[1] != 512 || o.Frames != 500 || o.Repeat != 5 || !o.Iface || o.IfaceFrames != 1000 {
		t.Errorf("options %+v", o)
	}
	o, called, err = execute()
	if err != nil || !called {
		t.Fatalf("defaults: called %v err %v", called, err)
	}
	// Defaults documented in the flag help: 20000 frames, 3 repeats, 200000 iface frames.
	if len(o.Widths) != 0 || o.Frames != 20000 || o.Repeat != 3 || o.Iface || o.IfaceFrames != 200000 {
		t.Errorf("default options %+v", o)
	}
}
