package boardtest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/cli/root"
	"github.com/fpgactl/fpgactl/internal/junit"
	"github.com/fpgactl/fpgactl/internal/tools"
	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/boardtest"
	"github.com/fpgactl/fpgactl/labctl/client"
	"github.com/fpgactl/fpgactl/labctl/server"
	"github.com/fpgactl/fpgactl/labctl/store"
	"github.com/fpgactl/fpgactl/tests/lab"
)

func TestMain(m *testing.M) { lab.Main(m) }

// The traffic of the end-to-end tests: the udp-reflection scenario's
// rules and profile (tests/scenarios/udp-reflection.yaml), 3000 frames.
const (
	rulesFile = "tests/rules/udp-reflection.yaml"
	profile   = "imix,rate=10g,frames=3000,mix=legit:1+udp-reflection:5,seed=120"
)

// world is an emulated lab with the real lab service in front of it.
type world struct {
	lab   *lab.Lab
	st    *store.Store
	url   string
	token string
	lab1  *client.Client // the test's user, "ana"
	root  string         // the module root
}

// start brings up two lab hosts (one board each; b10g-2 faulty) and the
// lab service (labctl/server on a SQLite store, over HTTP) with user ana.
func start(t *testing.T) *world {
	t.Helper()
	l := lab.Start(t, lab.Options{Hosts: 2, BoardsPerHost: 1, Width: 64, Faults: map[string]lab.Fault{"b10g-2": lab.FlipFirstRule}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "lab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := server.New(ctx, st, l.Inventory, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Run(ctx) }()
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.StartShutdown(); ts.Close(); cancel(); <-done })
	token, err := st.AddUser(ctx, "ana", false)
	if err != nil {
		t.Fatal(err)
	}
	rootDir, err := lab.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The user's own SSH set-up and agent play no part.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", "")
	return &world{lab: l, st: st, url: ts.URL, token: token, lab1: client.New(ts.URL, token), root: rootDir}
}

// cli runs `fpgactl args...` in-process, as main does, and returns its exit
// status, stdout and stderr.
func (w *world) cli(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		OutputFormat: "text", Tools: &tools.Finder{}, NumCPU: func() int { return 2 }}
	t.Setenv("FPGACTL_LAB_TOKEN", w.token)
	base := []string{"--project", filepath.Join(w.root, "fpgactl.yaml"), "board", "test", "--url", w.url,
		"--bitstream", w.lab.Bitstream, "--known-hosts", w.lab.KnownHosts, "--identity", w.lab.ClientKey,
		"--remote-dir", w.lab.RemoteDir, "--harness", w.lab.Fpgactl}
	code := root.Execute(ctx, f, append(base, args...))
	return code, out.String(), errOut.String()
}

func (w *world) options(board, outDir string) boardtest.Options {
	return boardtest.Options{
		Lab: client.New(w.url, w.token), Board: board, Bitstream: w.lab.Bitstream, Harness: w.lab.Fpgactl,
		Rules: filepath.Join(w.root, rulesFile), Profile: profile, OutDir: outDir, RemoteDir: w.lab.RemoteDir,
		SSH: boardtest.SSHOptions{KnownHostsFiles: []string{w.lab.KnownHosts}, IdentityFiles: []string{w.lab.ClientKey}},
	}
}

// released checks that the reservation ended as released and the board is free.
func (w *world) released(t *testing.T, id int64, board string) {
	t.Helper()
	ctx := context.Background()
	r, err := w.lab1.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != api.StatusReleased {
		t.Errorf("reservation %d is %s, want released", id, r.Status)
	}
	b, err := w.lab1.Board(ctx, board)
	if err != nil {
		t.Fatal(err)
	}
	if b.Holder != nil {
		t.Errorf("%s still held: %+v", board, b.Holder)
	}
}

func junitCounts(t *testing.T, path string) junit.Suites {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s junit.Suites
	if err := xml.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// The whole on-board test through the CLI code path, on a board of the
// second lab host: PASSED, counters checked and equal, the result recorded
// in the service with the bitstream's hash, the reservation released. Then
// again with a reservation the user already holds: reused and kept, and
// the harness already on the lab host.
func TestBoardTestPassesOnEmulatedLab(t *testing.T) {
	w := start(t)
	board := w.lab.Boards[0] // b10g-1 on lab1
	out := filepath.Join(t.TempDir(), "run1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	began := time.Now()
	code, stdout, stderr := w.cli(t, ctx, "--board", board.Name, "--rules", filepath.Join(w.root, rulesFile),
		"--profile", profile, "--comment", "e2e", "--out", out, "--output", "json")
	elapsed := time.Since(began)
	t.Logf("fpgactl board test: %.2fs wall\n%s", elapsed.Seconds(), stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	var rep boardtest.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--output json: %v\n%s", err, stdout)
	}
	if !rep.Passed || !rep.Tested || rep.Frames != 3000 || rep.Mismatches != 0 || rep.CounterDiffs != 0 || rep.Received == 0 ||
		rep.Board != board.Name || rep.LabHost != "lab1" || !rep.Released || rep.ReusedReservation || rep.ResultID == 0 {
		t.Errorf("report %+v", rep)
	}
	if rep.Device == nil || rep.Device.DataWidth != 64 || rep.Device.NumRules != 64 {
		t.Errorf("device %+v", rep.Device)
	}
	var steps []string
	for _, s := range rep.Steps {
		steps = append(steps, s.Name)
		t.Logf("  %-8s %6.2fs  %s", s.Name, s.Seconds, s.Detail)
	}
	if got := strings.Join(steps, ","); got != "reserve,board,connect,upload,program,replay,download,compare,record,release" {
		t.Errorf("steps %s", got)
	}
	for _, want := range []string{"reserve", "program", "replay", "release", "harness fpgactl-"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q", want)
		}
	}
	// The counters were read back and compared: the replay's report has
	// no counter check failed and the JUnit says so.
	ju := junitCounts(t, filepath.Join(out, "junit.xml"))
	if ju.Failures != 0 || ju.Errors != 0 || len(ju.Suites) != 2 || ju.Tests < 15 {
		t.Errorf("junit: %d tests, %d failures, %d errors, %d suites", ju.Tests, ju.Failures, ju.Errors, len(ju.Suites))
	}
	var counters bool
	for _, c := range ju.Suites[len(ju.Suites)-1].Cases {
		counters = counters || strings.Contains(c.Name, "counter")
	}
	if !counters {
		t.Errorf("the replay's JUnit has no counter check: %+v", ju.Suites)
	}
	for _, f := range []string{"board-test.json", "lab/report.json", "lab/diff.txt", "lab/junit.xml", "program.log"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	// Recorded in the service, with the bitstream's hash.
	results, err := w.lab1.Results(ctx, board.Name, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || !results[0].Passed || results[0].Frames != 3000 || results[0].Mismatches != 0 ||
		results[0].BitstreamSHA256 != rep.BitstreamSHA256 || len(rep.BitstreamSHA256) != 64 || results[0].ID != rep.ResultID ||
		results[0].User != "ana" || results[0].Reservation != rep.Reservation {
		t.Errorf("results %+v (report %+v)", results, rep)
	}
	w.released(t, rep.Reservation, board.Name)
	// The run directory on the lab host is gone; the harness stays.
	runs, _ := filepath.Glob(filepath.Join(w.lab.RemoteDir, "runs", "*"))
	harnesses, _ := filepath.Glob(filepath.Join(w.lab.RemoteDir, "bin", "fpgactl-*"))
	if len(runs) != 0 || len(harnesses) != 1 {
		t.Errorf("on the lab host: runs %v, harnesses %v", runs, harnesses)
	}

	// A reservation the user already holds is used and kept.
	held, err := w.lab1.Reserve(ctx, api.ReserveRequest{Board: board.Name, Comment: "mine"})
	if err != nil || held.Status != api.StatusGranted {
		t.Fatalf("reserve: %v %+v", err, held)
	}
	began = time.Now()
	code, stdout, stderr = w.cli(t, ctx, "--board", board.Name, "--rules", filepath.Join(w.root, rulesFile),
		"--profile", profile, "--out", filepath.Join(t.TempDir(), "run2"))
	t.Logf("again, reservation held, harness cached: %.2fs wall\n%s", time.Since(began).Seconds(), stderr)
	if code != 0 || !strings.Contains(stdout, "PASSED on "+board.Name) || !strings.Contains(stderr, "reusing your reservation") ||
		!strings.Contains(stderr, "(cached)") {
		t.Errorf("second run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if r, err := w.lab1.Get(ctx, held.ID); err != nil || r.Status != api.StatusGranted {
		t.Errorf("the held reservation after the test: %v %+v", err, r)
	}
	if results, _ := w.lab1.Results(ctx, board.Name, 0); len(results) != 2 || results[0].Reservation != held.ID {
		t.Errorf("second result not recorded under reservation %d: %+v", held.ID, results)
	}
	if _, err := w.lab1.Release(ctx, held.ID); err != nil {
		t.Error(err)
	}
}

// A board that disagrees with the model (its rule 0 drops what the rules
// say to pass and the other way round): FAILED with mismatches, exit
// status 1, the failure recorded, the reservation still released.
func TestBoardTestFailsOnFaultyBoard(t *testing.T) {
	w := start(t)
	board := w.lab.Board("b10g-2") // on lab2, FlipFirstRule
	out := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code, stdout, stderr := w.cli(t, ctx, "--board", board.Name, "--rules", filepath.Join(w.root, rulesFile),
		"--profile", profile, "--out", out)
	t.Logf("stdout: %s\nstderr: %s", stdout, stderr)
	if code != 1 || !strings.Contains(stdout, "FAILED on b10g-2 (lab2)") || !strings.Contains(stdout, "failed checks:") {
		t.Fatalf("exit %d, want 1 and FAILED", code)
	}
	var rep boardtest.Report
	data, err := os.ReadFile(filepath.Join(out, "board-test.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Passed || !rep.Tested || rep.Mismatches == 0 || rep.CounterDiffs == 0 || !rep.Released || rep.Error != "" {
		t.Errorf("report %+v", rep)
	}
	diff, _ := os.ReadFile(filepath.Join(out, "lab", "diff.txt"))
	if !strings.Contains(string(diff), "unexpected") || !strings.Contains(string(diff), "dns-amplified") {
		t.Errorf("diff.txt does not show passed dns-amplified frames:\n%.2000s", diff)
	}
	if _, err := os.Stat(filepath.Join(out, "lab", "mismatches.pcap")); err != nil {
		t.Error(err)
	}
	ju := junitCounts(t, filepath.Join(out, "junit.xml"))
	if ju.Failures == 0 || ju.Errors != 0 {
		t.Errorf("junit: %d failures, %d errors", ju.Failures, ju.Errors)
	}
	results, err := w.lab1.Results(ctx, board.Name, 0)
	if err != nil || len(results) != 1 || results[0].Passed || results[0].Mismatches != int64(rep.Mismatches) {
		t.Errorf("results %v %+v", err, results)
	}
	w.released(t, rep.Reservation, board.Name)

	// A board that works takes the same bitstream and traffic fine: the
	// failure was the board's.
	rep2, err := boardtest.Run(ctx, w.options("b10g-1", filepath.Join(t.TempDir(), "good")))
	if err != nil || !rep2.Passed {
		t.Errorf("good board: %v %+v", err, rep2)
	}
}

// Cancelling in the middle of the replay (Ctrl-C) stops the harness on the
// lab host, removes the run directory and still releases the board.
func TestBoardTestCancelledMidReplayReleases(t *testing.T) {
	w := start(t)
	board := w.lab.Boards[0]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := w.options(board.Name, filepath.Join(t.TempDir(), "run"))
	// Enough traffic that the replay is still running when it is cancelled.
	o.Profile = "imix,rate=10g,frames=150000,mix=legit:1+udp-reflection:5,seed=7"
	var progress bytes.Buffer
	o.Progress = &progress
	replaying := make(chan struct{})
	o.OnStep = func(step string) {
		if step == "replay" {
			close(replaying)
		}
	}
	cancelled := make(chan time.Time, 1)
	go func() {
		<-replaying
		time.Sleep(1500 * time.Millisecond)
		cancelled <- time.Now()
		cancel()
	}()
	rep, err := boardtest.Run(ctx, o)
	t.Logf("progress:\n%s", progress.String())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want cancelled", err)
	}
	select {
	case at := <-cancelled:
		t.Logf("returned %.2fs after the cancel", time.Since(at).Seconds())
	default:
		t.Fatal("the replay step never started")
	}
	if rep.Tested || !rep.Released || rep.ResultID != 0 {
		t.Errorf("report %+v", rep)
	}
	last := rep.Steps[len(rep.Steps)-2]
	if last.Name != "replay" || last.Error == "" || rep.Steps[len(rep.Steps)-1].Name != "release" {
		t.Errorf("steps %+v", rep.Steps)
	}
	w.released(t, rep.Reservation, board.Name)
	if results, _ := w.lab1.Results(context.Background(), board.Name, 0); len(results) != 0 {
		t.Errorf("a cancelled test recorded results: %+v", results)
	}
	for _, p := range board.Host.Processes() {
		if strings.Contains(p.Cmdline, " replay ") {
			t.Errorf("the harness still runs on %s: %d %s", board.Host.Name, p.PID, p.Cmdline)
		}
	}
	if runs, _ := filepath.Glob(filepath.Join(w.lab.RemoteDir, "runs", "*")); len(runs) != 0 {
		t.Errorf("run directories left on the lab host: %v", runs)
	}
	if _, err := os.Stat(filepath.Join(o.OutDir, "junit.xml")); err != nil {
		t.Errorf("no JUnit for the cancelled run: %v", err)
	}
}

// SIGTERM to a running `fpgactl board test` (the real executable) in the
// middle of the replay: exit status 130, the board released, the harness on
// the lab host stopped.
func TestBoardTestSIGTERMReleases(t *testing.T) {
	w := start(t)
	board := w.lab.Boards[1]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.lab.Fpgactl, "--project", filepath.Join(w.root, "fpgactl.yaml"), "board", "test",
		"--url", w.url, "--board", board.Name, "--bitstream", w.lab.Bitstream, "--known-hosts", w.lab.KnownHosts,
		"--identity", w.lab.ClientKey, "--remote-dir", w.lab.RemoteDir, "--rules", filepath.Join(w.root, rulesFile),
		"--profile", "imix,rate=10g,frames=150000,mix=legit:1+udp-reflection:5,seed=8", "--out", filepath.Join(t.TempDir(), "run"))
	cmd.Env = append(os.Environ(), "FPGACTL_LAB_TOKEN="+w.token)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		log.WriteString(line + "\n")
		if !signalled && strings.Contains(line, "] replay ") && strings.Contains(line, " through ") {
			time.Sleep(time.Second)
			cmd.Process.Signal(syscall.SIGTERM)
			signalled = true
		}
	}
	err = cmd.Wait()
	t.Logf("stderr:\n%s", log.String())
	var ee *exec.ExitError
	if !signalled || !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("signalled %v, exit %v; want 130", signalled, err)
	}
	if !strings.Contains(log.String(), "released") || !strings.Contains(log.String(), "interrupted") {
		t.Errorf("no release or no 'interrupted' in the output")
	}
	rs, err := w.lab1.Mine(context.Background(), true)
	if err != nil || len(rs) != 1 {
		t.Fatalf("reservations %v %+v", err, rs)
	}
	w.released(t, rs[0].ID, board.Name)
	for _, p := range board.Host.Processes() {
		if strings.Contains(p.Cmdline, " replay ") {
			t.Errorf("the harness still runs on %s: %d %s", board.Host.Name, p.PID, p.Cmdline)
		}
	}
}

// A busy board: with NoWait the test fails at once and leaves nothing
// behind; otherwise it waits in the queue and runs once the holder
// releases. A lab host whose key is not in known_hosts stops the test at
// connect, and the reservation is still released.
func TestBoardTestQueueNoWaitAndUnknownHost(t *testing.T) {
	w := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	board := w.lab.Boards[0]
	bobToken, err := w.st.AddUser(ctx, "bob", false)
	if err != nil {
		t.Fatal(err)
	}
	bob := client.New(w.url, bobToken)
	held, err := bob.Reserve(ctx, api.ReserveRequest{Board: board.Name, Comment: "bob's"})
	if err != nil || held.Status != api.StatusGranted {
		t.Fatalf("bob: %v %+v", err, held)
	}

	o := w.options(board.Name, filepath.Join(t.TempDir(), "nowait"))
	o.NoWait = true
	rep, err := boardtest.Run(ctx, o)
	if err == nil || !strings.Contains(err.Error(), "busy") || rep.Reservation != 0 || len(rep.Steps) != 1 {
		t.Errorf("--no-wait on a busy board: %v %+v", err, rep)
	}

	o = w.options(board.Name, filepath.Join(t.TempDir(), "queued"))
	var progress bytes.Buffer
	o.Progress = &progress
	go func() {
		time.Sleep(time.Second)
		bob.Release(context.Background(), held.ID)
	}()
	rep, err = boardtest.Run(ctx, o)
	t.Logf("queued:\n%s", progress.String())
	if err != nil || !rep.Passed || !rep.Released || !strings.Contains(progress.String(), "queued at position 1") {
		t.Errorf("queued run: %v %+v", err, rep)
	}

	o = w.options(w.lab.Boards[1].Name, filepath.Join(t.TempDir(), "unknown-host"))
	empty := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(empty, nil, 0o600)
	o.SSH.KnownHostsFiles = []string{empty}
	rep, err = boardtest.Run(ctx, o)
	if err == nil || !strings.Contains(err.Error(), "known_hosts") || !rep.Released || rep.Tested {
		t.Errorf("unknown host key: %v %+v", err, rep)
	}
	ju := junitCounts(t, filepath.Join(o.OutDir, "junit.xml"))
	if ju.Errors != 1 {
		t.Errorf("junit of the failed connect: %d errors", ju.Errors)
	}
	w.released(t, rep.Reservation, w.lab.Boards[1].Name)
}
