package boardcmd

import (
	"errors"
	"testing"

	"github.com/fpgactl/fpgactl/internal/cli/clitest"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
)

func execute(args ...string) (*SimOptions, bool, error) { return clitest.Flags(NewCmdSim, args...) }

func TestSimFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--in", "b0"},
		{"--out", "b1"},
		{"--in", "", "--out", "b1"},
		{"--in", "b0", "--out", "b1", "--width", "32"},
		{"--in", "b0", "--out", "b1", "--width", "256"},
		{"--in", "b0", "--out", "b1", "extra"},
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

func TestSimValidFlagsReachRunF(t *testing.T) {
	o, called, err := execute("--in", "b0", "--out", "b1", "--width", "512", "--netns", "lab", "--control", "/tmp/b.sock")
	if err != nil || !called {
		t.Fatalf("called %v err %v", called, err)
	}
	if o.In != "b0" || o.Out != "b1" || o.Width != 512 || o.Netns != "lab" || o.Control != "/tmp/b.sock" || o.Factory == nil {
		t.Errorf("options %+v", o)
	}
	o, _, err = execute("--in", "b0", "--out", "b1")
	if err != nil || o.Width != 0 || o.Control != "" || o.Netns != "" {
		t.Errorf("defaults: err %v options %+v", err, o)
	}
}

// The parent command carries `sim`.
func TestBoardHasSim(t *testing.T) {
	cmd := NewCmdBoard(clitest.Factory())
	sub, _, err := cmd.Find([]string{"sim"})
	if err != nil || sub == nil || sub.Name() != "sim" {
		t.Fatalf("board sim not found: %v", err)
	}
}
