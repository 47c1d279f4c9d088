package record

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests re-execute the test binary as helper processes: one that owns a
// build and is then killed, and writers for the two-process update test.
const helperEnv = "FPGACTL_RECORD_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "own":
		helperOwn()
	case "update":
		helperUpdate()
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// helperOwn creates a build as its own, starts seed 1, prints the ID and
// waits to be killed.
func helperOwn() {
	s := &Store{Dir: os.Getenv("STORE_DIR")}
	id, err := s.Create(&Build{Targets: []string{"ecp5-85k"}, Seeds: []int{1, 2}, Runner: "local"})
	if err == nil {
		err = s.UpdateSeed(context.Background(), id, "ecp5-85k", 1, func(r *SeedResult) {
			r.Status, r.Phase, r.StartedAt = SeedRunning, PhaseRoute, time.Now()
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(id)
	time.Sleep(2 * time.Minute) // bounded, in case the test never kills us
	os.Exit(0)
}

func helperCmd(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode}, env...)...)
	cmd.Stderr = os.Stderr
	// If the test binary dies, its helpers die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

func TestMarkInterruptedAfterSIGKILL(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	cmd := helperCmd(t, "own", "STORE_DIR="+s.Dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	var id string
	select {
	case id = <-line:
	case <-time.After(30 * time.Second):
		t.Fatal("helper did not report its build ID")
	}
	if !ValidID(id) {
		t.Fatalf("helper printed %q, not a build ID", id)
	}

	ctx := context.Background()
	b, err := s.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if b.Process.PID != cmd.Process.Pid {
		t.Fatalf("record names pid %d, the helper is %d", b.Process.PID, cmd.Process.Pid)
	}
	_, marked, err := s.MarkInterrupted(ctx)
	if err != nil || len(marked) != 0 {
		t.Fatalf("while the owner runs: marked %v, err %v", marked, err)
	}
	if b, _ := s.Get(id); b.Status != StatusRunning {
		t.Fatalf("status %q while the owner runs", b.Status)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Not yet reaped, the helper is a zombie: that already counts as dead.
	deadline := time.Now().Add(10 * time.Second)
	for Alive(b.Process) {
		if time.Now().After(deadline) {
			t.Fatal("a SIGKILLed (zombie) owner still counts as alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Wait()

	_, marked, err = s.MarkInterrupted(ctx)
	if err != nil || !slices.Equal(marked, []string{id}) {
		t.Fatalf("after SIGKILL: marked %v, err %v; want [%s]", marked, err, id)
	}
	b, err = s.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != StatusInterrupted || b.FinishedAt.IsZero() || !strings.Contains(b.Error, "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("build after marking: status %q finished %v error %q", b.Status, b.FinishedAt, b.Error)
	}
	r1, r2 := b.Seed("ecp5-85k", 1), b.Seed("ecp5-85k", 2)
	if r1.Status != SeedLost || !strings.Contains(r1.Error, "route") {
		t.Errorf("running seed became %q (%q), want lost, naming its last phase", r1.Status, r1.Error)
	}
	if r2.Status != SeedCancelled || r2.Error == "" {
		t.Errorf("queued seed became %q (%q), want cancelled with a reason", r2.Status, r2.Error)
	}
	// Marking is done once.
	if _, again, err := s.MarkInterrupted(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second pass marked %v, err %v", again, err)
	}
}

func TestMarkInterruptedLeavesFinishedAndLiveBuilds(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	ctx := context.Background()
	dead := deadProcess(t)

	live, _ := s.Create(newBuild()) // owned by this test process
	finished := newBuild()
	finished.Process = dead
	finished.Status = StatusDone
	doneID, _ := s.Create(finished)
	orphan := newBuild()
	orphan.Process = dead
	orphanID, _ := s.Create(orphan)

	_, marked, err := s.MarkInterrupted(ctx)
	if err != nil || !slices.Equal(marked, []string{orphanID}) {
		t.Fatalf("marked %v (err %v), want only %s", marked, err, orphanID)
	}
	for id, want := range map[string]Status{live: StatusRunning, doneID: StatusDone, orphanID: StatusInterrupted} {
		if b, _ := s.Get(id); b.Status != want {
			t.Errorf("build %s: %q, want %q", id, b.Status, want)
		}
	}
}

// deadProcess describes a process that has exited and been reaped.
func deadProcess(t *testing.T) Process {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	p := CurrentProcess()
	p.PID = cmd.Process.Pid
	p.StartTicks = 1 // whatever runs at that pid now did not start at tick 1
	return p
}

func TestAlive(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc: liveness cannot be checked here")
	}
	self := CurrentProcess()
	if self.StartTicks == 0 || self.BootID == "" {
		t.Fatalf("CurrentProcess did not read /proc: %+v", self)
	}
	if !Alive(self) {
		t.Fatal("this process is not alive?")
	}
	reused := self
	reused.StartTicks++
	if Alive(reused) {
		t.Error("same pid, other start time (pid reused) must count as dead")
	}
	rebooted := self
	rebooted.BootID = "00000000-0000-0000-0000-000000000000"
	if Alive(rebooted) {
		t.Error("another boot ID (rebooted since) must count as dead")
	}
	dead := deadProcess(t)
	dead.StartTicks = 0
	if Alive(dead) {
		t.Error("an exited, reaped process must count as dead")
	}
	elsewhere := dead
	elsewhere.Host = "some-other-build-host"
	if !Alive(elsewhere) {
		t.Error("a process on another host cannot be checked and must count as alive")
	}
	if !Alive(Process{}) {
		t.Error("a record without a pid cannot be checked and must count as alive")
	}
}

func TestParseStatCommWithParens(t *testing.T) {
	// Field 2 of /proc/<pid>/stat is the command name in parentheses and may
	// itself contain ") ". Fixture per proc(5): pid (comm) state ..., with
	// starttime as field 22.
	fields := []string{"S"}
	for i := 4; i <= 21; i++ {
		fields = append(fields, strconv.Itoa(i))
	}
	fields = append(fields, "987654", "23", "24")
	st, err := parseStat([]byte("4242 (a) b (c) "+strings.Join(fields, " ")+"\n"), 4242)
	if err != nil {
		t.Fatal(err)
	}
	if st.state != 'S' || st.startTicks != 987654 {
		t.Fatalf("parsed state %q start %d, want S 987654", st.state, st.startTicks)
	}
	for _, bad := range []string{"", "4242 no parens", "4242 (x) S 1 2", "4242 (x) S " + strings.Repeat("1 ", 18) + "notanumber"} {
		if _, err := parseStat([]byte(bad), 4242); err == nil {
			t.Errorf("parseStat(%q) accepted a malformed line", bad)
		}
	}
}
