package testcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/unittest"
)

// fakeVerilator stands in for verilator: "building" a testbench makes a shell
// script that prints PASS unless the testbench source contains "BROKEN".
const fakeVerilator = `#!/bin/sh
if [ "$1" = "--version" ]; then echo "Verilator 5.006 fake"; exit 0; fi
mdir= top= tb=
while [ $# -gt 0 ]; do
  case "$1" in
    --Mdir) mdir=$2; shift ;;
    --top-module) top=$2; shift ;;
    *_tb.sv) tb=$1 ;;
  esac
  shift
done
if grep -q BROKEN "$tb"; then
  printf '#!/bin/sh\necho "ERROR: broken"\nexit 3\n' > "$mdir/V$top"
else
  printf '#!/bin/sh\necho "args: $*"\necho "PASS %s"\n' "$top" > "$mdir/V$top"
fi
chmod +x "$mdir/V$top"
`

type vecs struct{}

func (vecs) Names() []string { return []string{"basic"} }
func (vecs) Write(name string, p unittest.VectorParams, dir string) error {
	return os.WriteFile(filepath.Join(dir, "meta.hex"), []byte("0\n"), 0o644)
}

func setup(t *testing.T, tbs map[string]string) (*UnitOptions, *bytes.Buffer, *bytes.Buffer, string) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"rtl", "tb", "bin"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "rtl", "a.sv"), []byte("module a; endmodule\n"), 0o644)
	for name, text := range tbs {
		os.WriteFile(filepath.Join(dir, "tb", name+".sv"), []byte(text), 0o644)
	}
	vpath := filepath.Join(dir, "bin", "verilator")
	os.WriteFile(vpath, []byte(fakeVerilator), 0o755)
	settings := "designs:\n  - {name: a, top: a, rtl: [rtl/*.sv], testbenches: [tb/*_tb.sv], widths: [64, 512], parameters: {NUM_RULES: 8}}\n"
	path := filepath.Join(dir, "fpgactl.yaml")
	os.WriteFile(path, []byte(settings), 0o644)
	var out, errOut bytes.Buffer
	opts := &UnitOptions{
		IO:        &cmdutil.IOStreams{Out: &out, ErrOut: &errOut},
		Project:   func() (*project.Settings, error) { return project.Load(path) },
		Vectors:   vecs{},
		Verilator: func(context.Context) (string, error) { return vpath, nil },
		Jobs:      2,
		KeepGoing: true,
	}
	return opts, &out, &errOut, dir
}

func TestRunUnitJSON(t *testing.T) {
	opts, out, errOut, dir := setup(t, map[string]string{
		"good_tb": "// fpgactl-vectors: basic\nmodule good_tb #(parameter DATA_WIDTH = 64); endmodule\n",
		"bad_tb":  "// fpgactl-test: widths=none\n// BROKEN\nmodule bad_tb; endmodule\n",
	})
	opts.JSON = true
	err := RunUnit(context.Background(), opts)
	if !errors.Is(err, cmdutil.SilentError) {
		t.Fatalf("a failing case must fail the command, got %v\n%s", err, errOut.String())
	}
	var rep JSONReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.String())
	}
	if rep.Passed != 2 || rep.Failed != 1 || len(rep.Tests) != 3 {
		t.Fatalf("report: %+v", rep)
	}
	for _, tc := range rep.Tests {
		if tc.Name == "good_tb/w512/basic" && tc.Vectors != "basic" {
			t.Errorf("vectors field: %+v", tc)
		}
	}
	if !strings.Contains(errOut.String(), "PASS    good_tb/w64/basic") {
		t.Errorf("progress should go to stderr with --output json:\n%s", errOut.String())
	}
	junitXML, err := os.ReadFile(filepath.Join(dir, ".fpgactl", "reports", "unit.xml"))
	if err != nil || !strings.Contains(string(junitXML), `<testsuite name="bad_tb" tests="1" failures="1"`) {
		t.Errorf("junit: %v\n%s", err, junitXML)
	}
	log, _ := os.ReadFile(filepath.Join(dir, ".fpgactl", "unit", "logs", "good_tb-w64-basic.log"))
	if !strings.Contains(string(log), "+vectors="+filepath.Join(dir, ".fpgactl", "unit", "vectors", "basic-w64")) {
		t.Errorf("testbench was not given +vectors: %s", log)
	}

	// Text output, second run: cached builds, filter, custom JUnit path.
	out.Reset()
	opts.JSON = false
	opts.Run = "good"
	opts.Widths = []int{64}
	opts.JUnit = filepath.Join(dir, "r.xml")
	if err := RunUnit(context.Background(), opts); err != nil {
		t.Fatalf("filtered run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "1 passed, 0 failed") || !strings.Contains(out.String(), "1 cached") {
		t.Errorf("text output:\n%s", out.String())
	}
	if _, err := os.Stat(opts.JUnit); err != nil {
		t.Errorf("--junit not honoured: %v", err)
	}
}

func TestRunUnitNoTests(t *testing.T) {
	opts, out, _, _ := setup(t, nil)
	if err := RunUnit(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no unit tests matched") {
		t.Errorf("output: %s", out.String())
	}
}

func TestFlagValidation(t *testing.T) {
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, NumCPU: func() int { return 2 }}
	for _, args := range [][]string{{"--width", "128"}, {"--run", "("}, {"extra"}} {
		cmd := NewCmdUnit(f, func(context.Context, *UnitOptions) error { return nil })
		cmd.SetArgs(args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		var fe *cmdutil.FlagError
		if err := cmd.Execute(); !errors.As(err, &fe) {
			t.Errorf("%v: want a flag error, got %v", args, err)
		}
	}
	var got *UnitOptions
	cmd := NewCmdUnit(f, func(_ context.Context, o *UnitOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"-j", "3", "--width", "64,512", "--keep-going", "--junit", "x.xml"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Jobs != 3 || len(got.Widths) != 2 || !got.KeepGoing || got.JUnit != "x.xml" {
		t.Errorf("options: %+v", got)
	}
}
