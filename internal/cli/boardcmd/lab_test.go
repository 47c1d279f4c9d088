package boardcmd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/cli/clitest"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/spf13/cobra"
)

func flagErrors[O any](t *testing.T, newCmd func(*cmdutil.Factory, func(context.Context, *O) error) *cobra.Command, cases [][]string) {
	t.Helper()
	for _, args := range cases {
		_, called, err := clitest.Flags(newCmd, args...)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) {
			t.Errorf("%q: want a flag error, got %v", args, err)
		}
		if called {
			t.Errorf("%q: runF called despite invalid flags", args)
		}
	}
}

func TestBuildProgramTestFlagErrors(t *testing.T) {
	flagErrors(t, NewCmdBuild, [][]string{
		{}, {"--width", "64"}, {"--out", "b.bin", "--width", "128"}, {"--out", "b.bin", "extra"},
	})
	flagErrors(t, NewCmdProgram, [][]string{
		{"--bitstream", "b.bin"},
		{"--board", "b1"},
		{"--board", "../x", "--bitstream", "b.bin"},
		{"--board", "b1", "--bitstream", "b.bin", "--in", "b0"},
		{"--board", "b1", "--bitstream", "b.bin", "--in", "b0", "--out", "b0"},
		{"--board", "b1", "--bitstream", "b.bin", "--width", "32"},
		{"--board", "b1", "--bitstream", "b.bin", "--timeout", "0s"},
	})
	ok := []string{"--bitstream", "b.bin", "--rules", "r.yaml", "--profile", "imix"}
	flagErrors(t, NewCmdTest, [][]string{
		ok,
		append([]string{"--board", "b1", "--tag", "10G"}, ok...),
		{"--board", "b1", "--rules", "r.yaml", "--profile", "imix"},
		{"--board", "b1", "--bitstream", "b.bin", "--profile", "imix"},
		{"--board", "b1", "--bitstream", "b.bin", "--rules", "r.yaml"},
		{"--board", "b1", "--bitstream", "b.bin", "--rules", "r.yaml", "--pcap", "c.pcap", "--profile", "imix"},
		append([]string{"--board", "b1", "--ttl", "0s"}, ok...),
		append([]string{"--board", "b1", "--ttl", "25h"}, ok...),
		append([]string{"--board", "b1", "extra"}, ok...),
	})
}

func TestValidFlagsReachRunF(t *testing.T) {
	p, called, err := clitest.Flags(NewCmdProgram, "--board", "b10g-1", "--bitstream", "x.bin", "--in", "b0", "--out", "b1", "--control", "/tmp/s.sock")
	if err != nil || !called || p.StateDir != DefaultStateDir || p.Timeout != time.Minute || p.In != "b0" || p.Control != "/tmp/s.sock" {
		t.Errorf("program: %v %v %+v", called, err, p)
	}
	o, called, err := clitest.Flags(NewCmdTest, "--tag", "100G", "--bitstream", "x.bit", "--rules", "r.yaml", "--pcap", "c.pcap",
		"--known-hosts", "k1", "--known-hosts", "k2", "--identity", "id", "--no-wait", "--comment", "c", "--ttl", "30m")
	if err != nil || !called || o.Tag != "100G" || o.TTL != 30*time.Minute || len(o.KnownHosts) != 2 || o.Identities[0] != "id" ||
		!o.NoWait || o.RemoteDir != "fpgactl-lab" {
		t.Errorf("test: %v %v %+v", called, err, o)
	}
	b, called, err := clitest.Flags(NewCmdBuild, "--out", "b.bin", "--width", "512")
	if err != nil || !called || b.Output != "b.bin" || b.Width != 512 {
		t.Errorf("build: %v %v %+v", called, err, b)
	}
	s, _, err := clitest.Flags(NewCmdSim, "--in", "b0", "--out", "b1", "--binary", "board.bin")
	if err != nil || s.Binary != "board.bin" {
		t.Errorf("sim --binary: %v %+v", err, s)
	}
}

func TestBoardHasLabCommands(t *testing.T) {
	cmd := NewCmdBoard(clitest.Factory())
	for _, name := range []string{"sim", "build", "program", "test"} {
		if sub, _, err := cmd.Find([]string{name}); err != nil || sub.Name() != name {
			t.Errorf("board %s not found: %v", name, err)
		}
	}
}

// program's first use needs the interfaces; a missing bitstream or one that
// is not a board is an error that says so, and nothing keeps running.
func TestProgramErrors(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	_, err := Program(ctx, &ProgramOptions{Board: "b1", Bitstream: "/nonexistent", StateDir: dir})
	if err == nil || !strings.Contains(err.Error(), "give --in and --out") {
		t.Errorf("no interfaces: %v", err)
	}
	_, err = Program(ctx, &ProgramOptions{Board: "b1", Bitstream: "/nonexistent", StateDir: dir, In: "x0", Out: "x1"})
	if err == nil || !strings.Contains(err.Error(), "bitstream") {
		t.Errorf("missing bitstream: %v", err)
	}
	// The "bitstream" is a script: board sim refuses it, program reports
	// the board's log.
	fake := filepath.Join(dir, "fake.bin")
	os.WriteFile(fake, []byte("#!/bin/sh\necho fake board >&2\nexit 1\n"), 0o755)
	exe := buildFpgactl(t)
	_, err = Program(ctx, &ProgramOptions{Board: "b1", Bitstream: fake, StateDir: dir, In: "x0", Out: "x1", Executable: exe, Timeout: 20 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "did not come up") || !strings.Contains(err.Error(), "not a simulated board") {
		t.Errorf("fake bitstream: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "b1.pid")); !os.IsNotExist(err) {
		t.Errorf("PID file left: %v", err)
	}
}

// A PID file naming a process that is not this board's (the PID was
// reused) does not get that process killed.
func TestStopBoardSparesOtherProcesses(t *testing.T) {
	dir := t.TempDir()
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleep.Process.Kill()
	files := filesOf(dir, "b1")
	os.WriteFile(files.pid, []byte(strconv.Itoa(sleep.Process.Pid)+"\n"), 0o644)
	if err := stopBoard(files); err != nil {
		t.Fatal(err)
	}
	if !alive(sleep.Process.Pid) {
		t.Error("stopBoard killed a process that is not the board")
	}
	if _, err := os.Stat(files.pid); !os.IsNotExist(err) {
		t.Error("stale PID file kept")
	}
}

// buildFpgactl builds this module's fpgactl into a temporary directory.
func buildFpgactl(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "fpgactl")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/fpgactl")
	cmd.Dir = "../../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}
