package sshdtest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Main runs the tests of a package that starts servers; call it from
// TestMain. It makes the test process a child subreaper, so that the
// commands of a killed sshd connection process are adopted by it (rather
// than by init) and reaped by each test's cleanup, and when the tests are
// done it kills and reaps whatever they left running. Packages that do not
// call Main still get each server's processes killed by its cleanup.
//
// Adopted orphans that end stay zombies until a cleanup reaps them, and a
// zombie still counts as alive for kill -0 and tail --pid: code under test
// that waits on a detached remote process's PID (as build/run's SSH runner
// does) would wait until the test's end. Such packages do without Main.
func Main(m *testing.M) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "sshdtest: prctl(PR_SET_CHILD_SUBREAPER):", err)
		os.Exit(1)
	}
	code := m.Run()
	killLeftovers()
	os.Exit(code)
}

// ConnectionProcesses returns the sshd processes serving the server's
// connections (not the listener, not the commands they run).
func (s *Server) ConnectionProcesses() []int {
	var pids []int
	for _, p := range descendants(s.PID) {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p))
		// OpenSSH 9.8 and later serve connections with sshd-session.
		if c := strings.TrimSpace(string(comm)); c == "sshd" || c == "sshd-session" {
			pids = append(pids, p)
		}
	}
	return pids
}

// SignalConnections sends sig to every connection process of the server:
// SIGKILL drops the connections as a network failure would (the commands
// they run are orphaned but live on), SIGSTOP makes them go silent. It
// fails the test when the server has no connection.
func (s *Server) SignalConnections(t testing.TB, sig syscall.Signal) {
	t.Helper()
	pids := s.ConnectionProcesses()
	if len(pids) == 0 {
		t.Fatalf("no sshd connection process found for %s", s.Addr)
	}
	for _, p := range pids {
		if err := syscall.Kill(p, sig); err != nil {
			t.Fatalf("kill -%d %d: %v", sig, p, err)
		}
	}
}

// RemoteProcesses returns the live processes started for the server's
// clients: every process whose environment has the SSH_CONNECTION that sshd
// gives the commands of a session on this server, including those that
// detached (setsid) or were orphaned by a dropped connection.
func (s *Server) RemoteProcesses() []int {
	suffix := " 127.0.0.1 " + strconv.Itoa(s.Port)
	var pids []int
	forEachProcess(func(pid int, name string) {
		env, err := os.ReadFile("/proc/" + name + "/environ")
		if err != nil {
			return
		}
		for v := range bytes.SplitSeq(env, []byte{0}) {
			if conn, ok := bytes.CutPrefix(v, []byte("SSH_CONNECTION=")); ok {
				if bytes.HasSuffix(conn, []byte(suffix)) && len(bytes.Fields(conn)) == 4 {
					pids = append(pids, pid)
				}
				return
			}
		}
	})
	return pids
}

// WaitNoRemoteProcesses waits until no process runs for the server's
// clients (RemoteProcesses), and fails the test, listing them, if some
// still run after limit.
func (s *Server) WaitNoRemoteProcesses(t testing.TB, limit time.Duration) {
	t.Helper()
	waitNone(t, s.RemoteProcesses, limit, "processes started over SSH on "+s.Addr)
}

// ProcessesWith returns the PIDs of the processes whose command line (its
// arguments joined with spaces) contains marker, as pgrep -f does; the
// test process itself is left out.
func ProcessesWith(marker string) []int {
	var pids []int
	forEachProcess(func(pid int, name string) {
		if bytes.Contains(cmdline(pid), []byte(marker)) {
			pids = append(pids, pid)
		}
	})
	return pids
}

// WaitRunning waits until a process has marker in its command line, and
// fails the test if none has after limit.
func WaitRunning(t testing.TB, marker string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for len(ProcessesWith(marker)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no process with %q started within %v", marker, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitGone waits until no process has marker in its command line, and
// fails the test, listing them, if some still run after limit.
func WaitGone(t testing.TB, marker string, limit time.Duration) {
	t.Helper()
	waitNone(t, func() []int { return ProcessesWith(marker) }, limit, fmt.Sprintf("processes with %q", marker))
}

func waitNone(t testing.TB, find func() []int, limit time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		pids := find()
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var lines []string
			for _, p := range pids {
				lines = append(lines, fmt.Sprintf("%d: %s", p, cmdline(p)))
			}
			t.Fatalf("%s still run after %v:\n%s", what, limit, strings.Join(lines, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cmdline is the process's arguments joined with spaces; empty for a
// zombie or a process that is gone.
func cmdline(pid int) []byte {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return bytes.TrimRight(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), " ")
}

// forEachProcess calls fn for every process but the test process itself.
func forEachProcess(fn func(pid int, name string)) {
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == self {
			continue
		}
		fn(p, e.Name())
	}
}

// stat returns a process's state letter and parent; ok is false once the
// process is gone.
func stat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	rest := string(b)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0][0], ppid, true
}

// processTree maps each process to its children, from /proc.
func processTree() map[int][]int {
	children := map[int][]int{}
	forEachProcess(func(pid int, _ string) {
		if _, ppid, ok := stat(pid); ok {
			children[ppid] = append(children[ppid], pid)
		}
	})
	return children
}

// descendants returns the processes below pid.
func descendants(pid int) []int {
	children := processTree()
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// reap waits (up to a few seconds) until the killed processes are gone,
// and reaps those this process adopted as subreaper. It never waits for
// other children, which may belong to an exec.Cmd.
func reap(killed []int) {
	self := os.Getpid()
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range killed {
		for time.Now().Before(deadline) {
			state, ppid, ok := stat(p)
			if !ok || state == 'Z' && ppid != self {
				break
			}
			if ppid == self {
				var ws syscall.WaitStatus
				if got, err := syscall.Wait4(p, &ws, syscall.WNOHANG, nil); got == p || err != nil {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// killLeftovers SIGKILLs every process the test binary started that still
// runs — as subreaper it also adopted the orphans of killed sshd processes
// — and reaps its children. Main calls it once the tests are done.
func killLeftovers() {
	self := os.Getpid()
	for _, p := range descendants(self) {
		syscall.Kill(p, syscall.SIGKILL)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range processTree()[self] {
		for time.Now().Before(deadline) {
			var ws syscall.WaitStatus
			if got, err := syscall.Wait4(p, &ws, syscall.WNOHANG, nil); got != 0 || err != nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
