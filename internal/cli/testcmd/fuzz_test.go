package testcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/internal/cli/clitest"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/harness"
	"github.com/fpgactl/fpgactl/internal/tools"
)

func TestFuzzFlags(t *testing.T) {
	f := clitest.Factory()
	for _, args := range [][]string{
		{"--width", "128"},
		{"--frames", "-5"},
		{"--frames", "0"},
		{"--case-frames", "0"},
		{"--max-runs", "-1"},
		{"--case", "d", "--seed", "3"},
		{"--case", "d", "--frames", "100"},
		{"--case", "d", "--backpressure"},
		{"extra"},
	} {
		cmd := NewCmdFuzz(f, func(context.Context, *FuzzOptions) error { t.Errorf("%v: ran", args); return nil })
		cmd.SetArgs(args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		var fe *cmdutil.FlagError
		if err := cmd.Execute(); !errors.As(err, &fe) {
			t.Errorf("%v: want a flag error, got %v", args, err)
		}
	}

	run := func(args ...string) *FuzzOptions {
		t.Helper()
		var got *FuzzOptions
		cmd := NewCmdFuzz(f, func(_ context.Context, o *FuzzOptions) error { got = o; return nil })
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return got
	}
	o := run("--seed", "7", "--frames", "3000", "--case-frames", "300", "--width", "64", "--backpressure", "--no-minimize", "--max-runs", "50", "--junit", "x.xml")
	if o.Seed != 7 || o.SeedFromClock || o.Frames != 3000 || o.CaseFrames != 300 || len(o.Widths) != 1 || !o.Backpressure || !o.NoMinimize || o.MaxRuns != 50 || o.JUnit != "x.xml" {
		t.Errorf("options: %+v", o)
	}
	o = run()
	if !o.SeedFromClock || o.Frames != 5000 || o.CaseFrames != 500 || o.NoMinimize || o.Case != "" {
		t.Errorf("defaults: %+v", o)
	}
	o = run("--seed", "0")
	if o.Seed != 0 || o.SeedFromClock {
		t.Errorf("--seed 0 is a seed: %+v", o)
	}
	o = run("--case", "some/dir", "--width", "512", "--max-runs", "10")
	if o.Case != "some/dir" || o.SeedFromClock || len(o.Widths) != 1 || o.Widths[0] != 512 {
		t.Errorf("--case: %+v", o)
	}
}

// One small case end to end on the repository's own project.
func TestRunFuzzJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("simulated board: not in -short")
	}
	if _, err := exec.LookPath("verilator"); err != nil {
		t.Skip("verilator is not installed")
	}
	var out, errOut bytes.Buffer
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{Out: &out, ErrOut: &errOut}, ProjectFile: "../../../fpgactl.yaml",
		OutputFormat: "json", Tools: &tools.Finder{}, NumCPU: func() int { return 2 }}
	junitPath := filepath.Join(t.TempDir(), "fuzz.xml")
	cmd := NewCmdFuzz(f, nil)
	cmd.SetArgs([]string{"--seed", "11", "--frames", "200", "--case-frames", "100", "--width", "64", "--junit", junitPath})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var res struct {
		Seed, Frames, Cases, Passed, Failed int
		Widths                              []int
		Failures                            []any
		JUnit                               string
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.String())
	}
	if res.Seed != 11 || res.Frames != 200 || res.Cases != 2 || res.Passed != 2 || res.Failed != 0 || res.Failures == nil || res.JUnit != junitPath {
		t.Errorf("JSON: %+v\n%s", res, out.String())
	}
	if !strings.Contains(errOut.String(), "pass  seed-11/w64") {
		t.Errorf("progress should go to stderr with --output json:\n%s", errOut.String())
	}
	x, err := os.ReadFile(junitPath)
	if err != nil || !strings.Contains(string(x), `name="seed-11/w64"`) {
		t.Errorf("junit: %v\n%s", err, x)
	}
}

func TestPrintFuzz(t *testing.T) {
	res := &harness.FuzzResult{Seed: 7, Frames: 1000, Cases: 4, Passed: 2, Failed: 2, Widths: []int{64, 512},
		Rates: []harness.FuzzRate{{Width: 64, Frames: 500, Seconds: 0.5, FramesPerSec: 1000}, {Width: 512, Frames: 500, Seconds: 0.25, FramesPerSec: 2000}},
		Failures: []harness.FuzzFailure{
			{Seed: 7, Width: 64, Frames: 250, Rules: 12, Backpressure: 0.25, Mismatches: 3, CounterDiffs: 1, Dir: "/w/fuzz/seed-7-w64/full",
				MinDir: "/w/fuzz/seed-7-w64/min", MinFrames: 2, MinRules: 1, Replay: "fpgactl replay --rules /w/fuzz/seed-7-w64/min/rules.yaml ...",
				Rerun: "fpgactl test fuzz --case /w/fuzz/seed-7-w64/min --width 64"},
			{Seed: 9, Width: 512, Frames: 250, Rules: 3, Error: "simulated board exited", Dir: "/w/fuzz/seed-9-w512/full",
				Replay: "fpgactl replay ...", Rerun: "fpgactl test fuzz --case /w/fuzz/seed-9-w512/full --width 512"},
		}}
	var b bytes.Buffer
	printFuzz(&b, res, "/w/reports/fuzz.xml")
	want := `  w64       500 frames in    0.5s: 1000 frames/s
  w512      500 frames in    0.2s: 2000 frames/s
JUnit report: /w/reports/fuzz.xml
fuzz: 4 cases, 1000 frames, 2 failed (seed 7)
  FAIL seed-7/w64: 250 frames, 12 rules, back-pressure 0.25: 3 mismatches, 1 counter differences
    case:      /w/fuzz/seed-7-w64/full
    minimized: /w/fuzz/seed-7-w64/min (2 frames, 1 rules)
    replay:    fpgactl replay --rules /w/fuzz/seed-7-w64/min/rules.yaml ...
    rerun:     fpgactl test fuzz --case /w/fuzz/seed-7-w64/min --width 64
  FAIL seed-9/w512: 250 frames, 3 rules
    error:     simulated board exited
    case:      /w/fuzz/seed-9-w512/full
    replay:    fpgactl replay ...
    rerun:     fpgactl test fuzz --case /w/fuzz/seed-9-w512/full --width 512
`
	if b.String() != want {
		t.Errorf("text output:\n%s\nwant:\n%s", b.String(), want)
	}
}
