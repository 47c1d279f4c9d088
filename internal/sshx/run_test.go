package sshx

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/sshx/sshdtest"
	"golang.org/x/crypto/ssh"
)

func TestRunExitStatusStdinStderr(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	c := dial(t, options(t, s))
	ctx := context.Background()

	if err := c.Run(ctx, "true", nil, nil, nil); err != nil {
		t.Errorf("true: %v", err)
	}

	var stderr bytes.Buffer
	err := c.Run(ctx, "echo first >&2; echo 'no such board' >&2; exit 3", nil, nil, &stderr)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || ee.Signal != "" {
		t.Fatalf("exit 3: %v, want *ExitError with Code 3", err)
	}
	if ee.Stderr != "first | no such board" || !strings.Contains(err.Error(), "exited with status 3: first | no such board") {
		t.Errorf("ExitError = %q (Stderr %q)", err, ee.Stderr)
	}
	if stderr.String() != "first\nno such board\n" {
		t.Errorf("stderr = %q", stderr.String())
	}

	err = c.Run(ctx, "kill -KILL $$", nil, nil, nil)
	if !errors.As(err, &ee) || ee.Signal != "KILL" || ee.Code != 128+9 {
		t.Errorf("kill -KILL $$: %v, want *ExitError with Signal KILL and Code 137", err)
	}

	var stdout bytes.Buffer
	in := strings.Repeat("line of input\n", 10000)
	if err := c.Run(ctx, "wc -l; tr a-z A-Z | tail -n 1", strings.NewReader(in), &stdout, nil); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); got != "10000\n" {
		// wc reads all input; tr gets none.
		t.Errorf("stdout = %q", got)
	}
	stdout.Reset()
	if err := c.Run(ctx, "tr a-z A-Z", strings.NewReader("board 7\n"), &stdout, nil); err != nil || stdout.String() != "BOARD 7\n" {
		t.Errorf("tr: %q, %v", stdout.String(), err)
	}
}

func TestRunLocalWriterFails(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	c := dial(t, options(t, s))
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background(), "yes", nil, failingWriter{}, nil) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("Run with a failing writer = %v, want its error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop when its output writer failed")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// Cancelling Run stops the remote command: sshd delivers the signal to the
// command's process group.
func TestRunCancelStopsRemoteCommand(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	c := dial(t, options(t, s))
	cmd, marker := uniqueSleep()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Run(ctx, cmd+" & "+cmd+"; wait", nil, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Run returned %v after a 500ms deadline", d)
	}
	sshdtest.WaitGone(t, marker, 3*time.Second)
	if err := c.Run(context.Background(), "true", nil, nil, nil); err != nil {
		t.Errorf("the client is unusable after a cancelled command: %v", err)
	}
}

func TestRunJob(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	c := dial(t, options(t, s))
	dir := filepath.Join(t.TempDir(), "run 1") // a space, to test quoting

	var out bytes.Buffer
	job := Job{Command: "pwd; cat; exit 7", Dir: dir, PIDFile: "job.pid"}
	err := c.RunJob(context.Background(), job, strings.NewReader("from stdin\n"), &out, nil)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 7 {
		t.Fatalf("RunJob = %v, want exit status 7", err)
	}
	if out.String() != dir+"\nfrom stdin\n" {
		t.Errorf("output %q", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "job.pid")); !os.IsNotExist(err) {
		t.Errorf("the PID file is left after the job ended: %v", err)
	}
	if err := c.KillJob(context.Background(), job, ssh.SIGTERM); err != nil {
		t.Errorf("KillJob of an ended job: %v", err)
	}

	// Cancelling kills the whole group, including what a shell put in the
	// background, which the session signal alone would miss after setsid.
	cmd1, marker1 := uniqueSleep()
	cmd2, marker2 := uniqueSleep()
	job = Job{Command: "sh -c '" + cmd1 + " & " + cmd2 + "; wait'", Dir: dir, PIDFile: "job.pid"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.RunJob(ctx, job, nil, nil, nil) }()
	sshdtest.WaitRunning(t, marker1, 5*time.Second)
	sshdtest.WaitRunning(t, marker2, 5*time.Second)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("RunJob = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunJob did not return after cancel")
	}
	sshdtest.WaitGone(t, marker1, 3*time.Second)
	sshdtest.WaitGone(t, marker2, 3*time.Second)
}

// After the connection that started a Job is lost, the job runs on, and a
// new connection can kill it through its PID file.
func TestKillJobAfterConnectionLost(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	c := dial(t, options(t, s))
	cmd, marker := uniqueSleep()
	job := Job{Command: cmd, Dir: t.TempDir(), PIDFile: "pid"}
	done := make(chan error, 1)
	go func() { done <- c.RunJob(context.Background(), job, nil, nil, nil) }()
	sshdtest.WaitRunning(t, marker, 5*time.Second)

	s.SignalConnections(t, syscall.SIGKILL)
	select {
	case err := <-done:
		if !errors.Is(err, ErrConnectionLost) {
			t.Fatalf("RunJob = %v, want ErrConnectionLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunJob did not notice that the connection was killed")
	}
	if len(sshdtest.ProcessesWith(marker)) == 0 {
		t.Fatal("the job died with the connection; this test needs it alive")
	}

	c2 := dial(t, options(t, s))
	if err := c2.KillJob(context.Background(), job, ssh.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sshdtest.WaitGone(t, marker, 3*time.Second)
}

func TestRunConnectionKilled(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	c := dial(t, options(t, s))
	cmd, marker := uniqueSleep()
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background(), cmd, nil, nil, nil) }()
	sshdtest.WaitRunning(t, marker, 5*time.Second)
	s.SignalConnections(t, syscall.SIGKILL)
	select {
	case err := <-done:
		if !errors.Is(err, ErrConnectionLost) {
			t.Fatalf("Run = %v, want ErrConnectionLost", err)
		}
		if !strings.Contains(err.Error(), "may still be running") {
			t.Errorf("error %q does not warn that the command may still run", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not notice that the connection was killed")
	}
	if err := c.Run(context.Background(), "true", nil, nil, nil); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("Run on a lost connection = %v, want ErrConnectionLost", err)
	}
}

// A connection that goes silent (host frozen, network black hole) is given
// up by the keepalives, not after TCP's minutes.
func TestRunConnectionSilentKeepAlive(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	o := options(t, s)
	o.KeepAlive = 200 * time.Millisecond
	o.KeepAliveMax = 3
	c := dial(t, o)
	cmd, marker := uniqueSleep()
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background(), cmd, nil, nil, nil) }()
	sshdtest.WaitRunning(t, marker, 5*time.Second)

	s.SignalConnections(t, syscall.SIGSTOP) // the test's cleanup SIGKILLs them
	start := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "keepalive") {
			t.Fatalf("Run = %v, want ErrConnectionLost from the keepalives", err)
		}
		t.Logf("noticed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not notice that the server went silent")
	}
	select {
	case <-c.Done():
	case <-time.After(time.Second):
		t.Error("Done not closed after the keepalives gave up")
	}
}

func TestQuote(t *testing.T) {
	cases := []string{"", "plain", "two words", "it's", `"double"`, "$HOME", "`id`", "a\nb", "*", "-n", "back\\slash", "'", "''", "ünï"}
	for _, s := range cases {
		out, err := exec.Command("sh", "-c", "printf %s "+Quote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh printf %%s %s = %q, %v; want %q", Quote(s), out, err, s)
		}
	}
	if Quote("build/run_1.log") != "build/run_1.log" {
		t.Errorf("safe words should stay unquoted: %s", Quote("build/run_1.log"))
	}
}
