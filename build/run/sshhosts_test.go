package run_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/build/flow"
	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/build/run"
	"github.com/fpgactl/fpgactl/internal/sshx"
	"github.com/fpgactl/fpgactl/internal/sshx/sshdtest"
	"golang.org/x/crypto/ssh"
)

// The SSH runner end to end against real OpenSSH servers (sshdtest) with
// the stand-in tools of testdata/fakeflow. Each build host is an sshd on
// 127.0.0.1 with a work directory of its own; the remote commands run on
// this machine, so the tests check the hosts' files and processes directly.

// fakeflow is the absolute path of a stand-in tool.
func fakeflow(t testing.TB, tool string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "fakeflow", tool))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// buildHost is an sshd and the runner's settings for it.
type buildHost struct {
	srv  *sshdtest.Server
	host run.SSHHost
	// nextpnr is the host's nextpnr, a wrapper script around the fake one.
	// Its path is unique to the test: a marker in the process list while a
	// seed runs on the host.
	nextpnr string
	// runs is where the wrapper appends a line per seed it runs: the inode
	// of the netlist it was given and its working directory.
	runs string
}

// newBuildHost starts an sshd and makes a host for it: Jobs 1, an absolute
// work directory of its own, the fake tools. The remote commands get their
// environment from sshd, not from the test, so the fake nextpnr's settings
// (fakeEnv: FAKE_PNR_...=value) are exported by the wrapper script that
// the host uses as its nextpnr.
func newBuildHost(t *testing.T, name string, fakeEnv ...string) *buildHost {
	t.Helper()
	srv := sshdtest.Start(t, sshdtest.Options{})
	base := t.TempDir()
	h := &buildHost{srv: srv, nextpnr: filepath.Join(base, "bin", "nextpnr-"+name), runs: filepath.Join(base, "runs")}
	var script strings.Builder
	fmt.Fprintf(&script, "#!/bin/sh\n# nextpnr of build host %s in %s\n", name, t.Name())
	for _, kv := range fakeEnv {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&script, "export %s=%s\n", k, sshx.Quote(v))
	}
	// Not exec: the wrapper stays in the process list while the fake runs.
	fmt.Fprintf(&script, `prev=
for a in "$@"; do
  [ "$prev" = --json ] && echo "$(stat -c %%i "$a") $PWD" >> %s
  prev=$a
done
%s "$@"
`, sshx.Quote(h.runs), sshx.Quote(fakeflow(t, "nextpnr")))
	if err := os.MkdirAll(filepath.Dir(h.nextpnr), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.nextpnr, []byte(script.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	h.host = run.SSHHost{
		Name: name,
		Dial: sshx.Options{
			Address:         srv.Addr,
			User:            srv.User,
			IdentityFiles:   []string{srv.ClientKeyFile},
			KnownHostsFiles: []string{srv.KnownHostsFile(t)},
			ConnectTimeout:  10 * time.Second,
		},
		Jobs:  1,
		Dir:   filepath.Join(base, "work"),
		Tools: flow.Tools{Nextpnr: h.nextpnr, Pack: fakeflow(t, "ecppack")},
	}
	return h
}

// seedDir is the seed's directory on the host.
func (h *buildHost) seedDir(b *record.Build, seed int) string {
	return filepath.Join(h.host.Dir, b.ID, "ecp5", fmt.Sprintf("seed-%d", seed))
}

// pnrRun is one line of the wrapper's runs file.
type pnrRun struct {
	netlistInode string
	dir          string
}

func (h *buildHost) pnrRuns(t *testing.T) []pnrRun {
	t.Helper()
	f, err := os.Open(h.runs)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var runs []pnrRun
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		inode, dir, _ := strings.Cut(sc.Text(), " ")
		runs = append(runs, pnrRun{inode, dir})
	}
	return runs
}

// netlist returns the one netlist on the host and its inode.
func (h *buildHost) netlist(t *testing.T) (string, string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(h.host.Dir, "netlists"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), ".json") {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("%s: netlists %v, want exactly one .json", h.host.Name, names)
	}
	p := filepath.Join(h.host.Dir, "netlists", entries[0].Name())
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, strconv.FormatUint(st.Sys().(*syscall.Stat_t).Ino, 10)
}

func newSSHHosts(t *testing.T, hosts ...*buildHost) *run.SSHHosts {
	t.Helper()
	var hs []run.SSHHost
	for _, h := range hosts {
		hs = append(hs, h.host)
	}
	s, err := run.NewSSHHosts(hs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sshDesign(t *testing.T) flow.Design {
	t.Helper()
	src := filepath.Join(t.TempDir(), "top.sv")
	if err := os.WriteFile(src, []byte("module top(input clk, output reg q); always @(posedge clk) q <= !q; endmodule\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return flow.Design{Sources: []string{src}, Top: "top"}
}

// sshBuild runs seeds of one target, "ecp5" at 100 MHz, on the hosts,
// synthesized by the fake yosys, with as many jobs as the hosts have slots.
func sshBuild(ctx context.Context, t *testing.T, store *record.Store, hosts *run.SSHHosts, seeds ...int) (*record.Build, error) {
	t.Helper()
	return run.Run(ctx, run.Options{
		Store: store, Seeds: seeds, Jobs: hosts.Slots(), Owner: "tester", Commit: "0123456789abcdef",
		Targets: []run.Target{{Name: "ecp5", Device: "LFE5U-25F-6BG256C", ClockMHz: 100, Design: sshDesign(t)}},
		Tools:   flow.Tools{Yosys: fakeflow(t, "yosys")},
		Backend: hosts,
	})
}

func sshSeed(t *testing.T, b *record.Build, seed int) record.SeedResult {
	t.Helper()
	s := b.Seed("ecp5", seed)
	if s == nil {
		t.Fatalf("no seed %d in the record", seed)
	}
	return *s
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Four seeds on two hosts with one job slot each: every result recorded
// with the host it ran on, the files fetched, the netlist sent once per
// host (and not again for the next build), nothing left running.
func TestSSHHostsTwoHosts(t *testing.T) {
	env := []string{"FAKE_PNR_SECONDS=0.4", "FAKE_PNR_MET_SEEDS=1 3"}
	hosts := map[string]*buildHost{"buildA": newBuildHost(t, "buildA", env...), "buildB": newBuildHost(t, "buildB", env...)}
	store := &record.Store{Dir: t.TempDir()}
	start := time.Now()
	b, err := sshBuild(t.Context(), t, store, newSSHHosts(t, hosts["buildA"], hosts["buildB"]), 1, 2, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("4 seeds on 2 hosts: %v", time.Since(start).Round(time.Millisecond))
	if b.Runner != "ssh" || b.Status != record.StatusDone {
		t.Fatalf("build %s by %s: %s", b.Status, b.Runner, b.Error)
	}

	ranOn := map[string][]string{} // host → the remote seed directories of its seeds
	for _, seed := range []int{1, 2, 3, 4} {
		r := sshSeed(t, b, seed)
		want := record.SeedFailedTiming
		if seed == 1 || seed == 3 {
			want = record.SeedMet
		}
		if r.Status != want || r.FmaxMHz == nil || r.WNSns == nil {
			t.Errorf("seed %d: %s fmax %v wns %v (%s), want %s with figures", seed, r.Status, r.FmaxMHz, r.WNSns, r.Error, want)
		}
		h := hosts[r.Instance]
		if h == nil {
			t.Errorf("seed %d: instance %q is not a build host", seed, r.Instance)
			continue
		}
		remote := h.seedDir(b, seed)
		ranOn[r.Instance] = append(ranOn[r.Instance], remote)
		// The report, log and bitstream made on the host are in the local
		// seed directory, and the record points at them.
		local := filepath.Join(store.Dir, b.ID, "ecp5", fmt.Sprintf("seed-%d", seed))
		for _, name := range []string{flow.ReportFile, flow.LogFile, flow.BitstreamFile} {
			got, err := os.ReadFile(filepath.Join(local, name))
			if err != nil {
				t.Errorf("seed %d: %s not fetched: %v", seed, name, err)
				continue
			}
			if !bytes.Equal(got, readFile(t, filepath.Join(remote, name))) {
				t.Errorf("seed %d: local %s differs from the one on %s", seed, name, r.Instance)
			}
		}
		if r.Bitstream != filepath.Join(local, flow.BitstreamFile) || !bytes.HasPrefix(readFile(t, r.Bitstream), []byte("FAKEBIT")) {
			t.Errorf("seed %d: bitstream %q, want the fake one in %s", seed, r.Bitstream, local)
		}
		if !slices.Contains(r.Reports, filepath.Join(local, flow.ReportFile)) || !slices.Contains(r.Reports, filepath.Join(local, flow.LogFile)) {
			t.Errorf("seed %d: reports %v", seed, r.Reports)
		}
		if !strings.Contains(string(readFile(t, r.Log)), "seed "+strconv.Itoa(seed)+" of ecp5 runs on "+r.Instance) {
			t.Errorf("seed %d: the flow log does not say where it ran", seed)
		}
	}
	if len(ranOn["buildA"]) == 0 || len(ranOn["buildB"]) == 0 {
		t.Errorf("seeds per host %v, want both hosts used", ranOn)
	}

	inodes := map[string]string{}
	for name, h := range hosts {
		// Each host ran exactly the seeds recorded on it, all from one
		// netlist file, uploaded once: a second upload would have
		// replaced it (mv) with a new inode.
		_, inode := h.netlist(t)
		inodes[name] = inode
		var dirs []string
		for _, r := range h.pnrRuns(t) {
			dirs = append(dirs, r.dir)
			if r.netlistInode != inode {
				t.Errorf("%s: a seed in %s read netlist inode %s, the host has %s: uploaded more than once", name, r.dir, r.netlistInode, inode)
			}
		}
		slices.Sort(dirs)
		slices.Sort(ranOn[name])
		if !slices.Equal(dirs, ranOn[name]) {
			t.Errorf("%s ran nextpnr in %q, the record says it ran %q", name, dirs, ranOn[name])
		}
		h.srv.WaitNoRemoteProcesses(t, 3*time.Second)
	}

	// The next build of the same netlist (new runner, as a new fpgactl
	// process has) finds it on the hosts and does not send it again.
	b2, err := sshBuild(t.Context(), t, store, newSSHHosts(t, hosts["buildA"], hosts["buildB"]), 5, 6)
	if err != nil || b2.Status != record.StatusDone {
		t.Fatalf("second build: %v %+v", err, b2)
	}
	for name, h := range hosts {
		if _, inode := h.netlist(t); inode != inodes[name] {
			t.Errorf("%s: the second build uploaded the netlist again (inode %s, was %s)", name, inode, inodes[name])
		}
		h.srv.WaitNoRemoteProcesses(t, 3*time.Second)
	}
}

// A host named by a ~/.ssh/config alias: host name, port, user, key and
// known_hosts all come from the config, and the host is named after the
// alias.
func TestSSHHostsConfigAlias(t *testing.T) {
	h := newBuildHost(t, "alias", "FAKE_PNR_SECONDS=0.2")
	cfg, err := sshx.ParseConfig(strings.NewReader(fmt.Sprintf(`# build hosts
Host buildA
    HostName 127.0.0.1
    Port %d
    User root
    IdentityFile %s
    UserKnownHostsFile %s
Host *
    User nobody
    Port 1
`, h.srv.Port, h.srv.ClientKeyFile, h.srv.KnownHostsFile(t))), "ssh_config")
	if err != nil {
		t.Fatal(err)
	}
	h.host.Name = ""
	h.host.Dial = sshx.Options{Address: "buildA", Config: cfg}
	store := &record.Store{Dir: t.TempDir()}
	b, err := sshBuild(t.Context(), t, store, newSSHHosts(t, h), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != record.StatusDone {
		t.Fatalf("build %s: %s", b.Status, b.Error)
	}
	for _, seed := range []int{1, 2} {
		r := sshSeed(t, b, seed)
		if r.Status != record.SeedMet || r.FmaxMHz == nil || r.Instance != "buildA" {
			t.Errorf("seed %d: %s on %q (%s), want met on buildA", seed, r.Status, r.Instance, r.Error)
		}
		if _, err := os.Stat(filepath.Join(h.seedDir(b, seed), flow.BitstreamFile)); err != nil {
			t.Errorf("seed %d did not run on the alias's host: %v", seed, err)
		}
		if !bytes.HasPrefix(readFile(t, r.Bitstream), []byte("FAKEBIT")) {
			t.Errorf("seed %d: bitstream not fetched", seed)
		}
	}
	h.srv.WaitNoRemoteProcesses(t, 3*time.Second)
}

// Cancelling the build while the jobs run stops them on the hosts at once
// and records every seed as cancelled.
func TestSSHHostsCancel(t *testing.T) {
	a := newBuildHost(t, "buildA", "FAKE_PNR_SECONDS=30")
	bh := newBuildHost(t, "buildB", "FAKE_PNR_SECONDS=30")
	store := &record.Store{Dir: t.TempDir()}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type cancelled struct {
		at      time.Time
		running bool
	}
	done := make(chan cancelled, 1)
	go func() {
		// Cancel once both hosts run their job.
		deadline := time.Now().Add(20 * time.Second)
		running := false
		for !running && time.Now().Before(deadline) {
			running = len(sshdtest.ProcessesWith(a.nextpnr)) > 0 && len(sshdtest.ProcessesWith(bh.nextpnr)) > 0
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // into the fake's sleep
		done <- cancelled{time.Now(), running}
		cancel()
	}()
	b, err := sshBuild(ctx, t, store, newSSHHosts(t, a, bh), 1, 2, 3)
	returned := time.Now()
	c := <-done
	if !c.running {
		t.Fatalf("the jobs did not start on both hosts within 20s: %v %+v", err, b)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	took := returned.Sub(c.at)
	t.Logf("Run returned %v after the cancel", took.Round(time.Millisecond))
	if took > 8*time.Second {
		t.Errorf("Run returned %v after the cancel; the jobs run 30s, the kill should take seconds", took)
	}
	b, err = store.Get(b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != record.StatusCancelled {
		t.Errorf("build status %s, want cancelled", b.Status)
	}
	hosts := map[string]*buildHost{"buildA": a, "buildB": bh}
	for _, seed := range []int{1, 2, 3} {
		r := sshSeed(t, b, seed)
		if r.Status != record.SeedCancelled || r.FinishedAt.IsZero() {
			t.Errorf("seed %d: %s, want cancelled", seed, r.Status)
		}
		if seed == 3 {
			continue // queued behind the two jobs
		}
		h := hosts[r.Instance]
		if h == nil {
			t.Errorf("seed %d ran on %q, not a build host", seed, r.Instance)
			continue
		}
		// Killed, not finished: the job script never wrote its status.
		if _, err := os.Stat(filepath.Join(h.seedDir(b, seed), "status")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("seed %d: the job on %s wrote its exit status (%v): it was not killed", seed, r.Instance, err)
		}
		if log := string(readFile(t, r.Log)); strings.Contains(log, "could not stop") {
			t.Errorf("seed %d: %s", seed, log)
		}
	}
	// The jobs' processes are gone: the wrappers, the fake's sleep, the
	// job scripts and the followers (all have the hosts' SSH_CONNECTION).
	for _, h := range []*buildHost{a, bh} {
		sshdtest.WaitGone(t, h.nextpnr, 2*time.Second)
		h.srv.WaitNoRemoteProcesses(t, 2*time.Second)
	}
}

// A host whose key known_hosts does not have: the seed fails with the
// fingerprint to check, and nothing runs there.
func TestSSHHostsUnknownHostKey(t *testing.T) {
	h := newBuildHost(t, "buildA", "FAKE_PNR_SECONDS=0.2")
	h.host.Dial.KnownHostsFiles = []string{h.srv.KnownHostsFileWith(t)} // no key of the host
	store := &record.Store{Dir: t.TempDir()}
	hosts := newSSHHosts(t, h)
	b, err := sshBuild(t.Context(), t, store, hosts, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := sshSeed(t, b, 1)
	t.Log(r.Error)
	if r.Status != record.SeedError || b.Status != record.StatusFailed {
		t.Errorf("seed %s, build %s; want a seed error and a failed build", r.Status, b.Status)
	}
	var fingerprints []string
	for _, k := range h.srv.HostKeys {
		if strings.Contains(r.Error, ssh.FingerprintSHA256(k)) {
			fingerprints = append(fingerprints, ssh.FingerprintSHA256(k))
		}
	}
	if len(fingerprints) != 1 || !strings.Contains(r.Error, "[127.0.0.1]:"+strconv.Itoa(h.srv.Port)) {
		t.Errorf("the seed's error does not name the host and its key's fingerprint: %s", r.Error)
	}

	// The backend returns the sshx error itself.
	netlist := filepath.Join(t.TempDir(), "netlist.json")
	if err := os.WriteFile(netlist, []byte(`{"modules":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = hosts.PlaceAndRoute(t.Context(), run.SeedJob{
		BuildID: "direct", Target: "ecp5", Seed: 2, Netlist: netlist, Device: flow.ECP5Device{}, ClockMHz: 100,
		Dir: t.TempDir(), Log: io.Discard, Instance: func(string) {},
	})
	var uh *sshx.UnknownHostError
	if !errors.As(err, &uh) || !slices.Contains(fingerprints, ssh.FingerprintSHA256(uh.Key)) {
		t.Errorf("PlaceAndRoute = %v, want *sshx.UnknownHostError with the host's key", err)
	}

	// Nothing ran: no work directory, no nextpnr, no process.
	if _, err := os.Stat(h.host.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the host's work directory exists (%v): something ran on an unverified host", err)
	}
	if runs := h.pnrRuns(t); len(runs) != 0 {
		t.Errorf("nextpnr ran on an unverified host: %v", runs)
	}
	if strings.Contains(h.srv.Log(), "Accepted publickey") {
		t.Errorf("the client logged in to a host it could not verify:\n%s", h.srv.Log())
	}
	h.srv.WaitNoRemoteProcesses(t, time.Second)
}

// A connection killed while the job runs (as a network failure would): the
// runner reconnects, follows the job on from where it was, and the seed
// finishes with its result.
func TestSSHHostsReconnect(t *testing.T) {
	h := newBuildHost(t, "buildA", "FAKE_PNR_SECONDS=3")
	store := &record.Store{Dir: t.TempDir()}
	killed := make(chan []int, 1)
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for len(sshdtest.ProcessesWith(h.nextpnr)) == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // the follower runs and has output
		pids := h.srv.ConnectionProcesses()
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
		killed <- pids
	}()
	start := time.Now()
	b, err := sshBuild(t.Context(), t, store, newSSHHosts(t, h), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the seed took %v", time.Since(start).Round(time.Millisecond))
	if pids := <-killed; len(pids) == 0 {
		t.Fatal("no sshd connection process to kill while the job ran")
	}
	r := sshSeed(t, b, 1)
	if r.Status != record.SeedMet || r.FmaxMHz == nil || r.WNSns == nil {
		t.Fatalf("seed: %s fmax %v (%s), want met with figures", r.Status, r.FmaxMHz, r.Error)
	}
	if !bytes.HasPrefix(readFile(t, r.Bitstream), []byte("FAKEBIT")) {
		t.Errorf("bitstream not fetched")
	}
	log := string(readFile(t, r.Log))
	if !strings.Contains(log, "reconnecting") {
		t.Errorf("the flow log does not say it reconnected:\n%s", log)
	}
	// Followed on from the byte it had reached: each line once.
	for _, line := range []string{"Info: fake nextpnr, seed 1", "Info: Routing globals...", "Info: Max frequency for clock"} {
		if n := strings.Count(log, line); n != 1 {
			t.Errorf("%q is %d times in the flow log, want once:\n%s", line, n, log)
		}
	}
	// The follower of the killed connection ended with the job.
	h.srv.WaitNoRemoteProcesses(t, 3*time.Second)
}
