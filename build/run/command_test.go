package run_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/build/run"
	"github.com/fpgactl/fpgactl/internal/sshx/sshdtest"
	"github.com/fpgactl/fpgactl/internal/syncbuf"
)

// Command jobs (run.CommandRunner) on this machine and on real sshd build
// hosts: the archive unpacked, $FPGACTL runnable, exit status as a result,
// Fetch entries copied back, hostile archives refused, cancel.

// tarEntry is one entry of a test archive; Link makes it a symbolic link,
// a Name ending in / a directory.
type tarEntry struct {
	Name, Body, Link string
	Mode             int64
}

// writeArchive writes a .tar.gz of entries, hostile ones included.
func writeArchive(t *testing.T, entries ...tarEntry) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "job.tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: e.Mode, Typeflag: tar.TypeReg, Size: int64(len(e.Body)), ModTime: time.Now()}
		switch {
		case e.Link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.Link, 0
		case strings.HasSuffix(e.Name, "/"):
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.Body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// stubFPGACTL is the job's executable: a script that says how it was run
// and which file it is (its inode, to tell uploads apart).
func stubFPGACTL(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fpgactl")
	script := "#!/bin/sh\necho \"stub fpgactl $*\"\necho \"stub inode $(stat -c %i \"$0\")\"\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// shardArchive is a project a test shard runs on.
func shardArchive(t *testing.T) string {
	return writeArchive(t,
		tarEntry{Name: "src/"},
		tarEntry{Name: "src/a.txt", Body: "alpha\n"},
		tarEntry{Name: "tools/check.sh", Body: "#!/bin/sh\necho checked \"$1\"\n", Mode: 0o755},
		tarEntry{Name: "src/link.txt", Link: "a.txt"},
	)
}

// shardCommand uses the archive and $FPGACTL, writes a result file and a
// reports directory, and exits 3 (tests failed).
const shardCommand = `set -e
cat src/link.txt
./tools/check.sh shard
case "$FPGACTL" in /*) ;; *) echo "FPGACTL $FPGACTL is not absolute"; exit 9;; esac
"$FPGACTL" test unit --output json > unit.json
mkdir -p reports/sub
echo report > reports/sub/r.txt
echo top > reports/top.txt
exit 3`

func shardJob(t *testing.T, name string, log *syncbuf.Buffer) run.CommandJob {
	return run.CommandJob{
		BuildID: "ci-test", Name: name, Owner: "tester", Commit: "0123456789abcdef",
		Archive: shardArchive(t), Executable: stubFPGACTL(t), Command: shardCommand,
		Fetch:    []string{"unit.json", "reports", "missing.json"},
		LocalDir: t.TempDir(), Log: log,
	}
}

// checkShard checks what shardCommand leaves: exit status 3 as a result,
// the output in the log, the file and the directory fetched, the missing
// entry left out.
func checkShard(t *testing.T, j run.CommandJob, res run.CommandResult, err error, log string) {
	t.Helper()
	if err != nil {
		t.Fatalf("RunCommand: %v\n%s", err, log)
	}
	if res.ExitCode != 3 {
		t.Errorf("exit code %d, want 3 (a result, not an error)\n%s", res.ExitCode, log)
	}
	for _, want := range []string{"alpha", "checked shard"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not have %q: the archive was not unpacked\n%s", want, log)
		}
	}
	if !slices.Equal(res.Fetched, []string{"unit.json", "reports"}) {
		t.Errorf("fetched %q, want [unit.json reports]", res.Fetched)
	}
	if got := string(readFile(t, filepath.Join(j.LocalDir, "unit.json"))); !strings.HasPrefix(got, "stub fpgactl test unit --output json\n") {
		t.Errorf("unit.json = %q: $FPGACTL did not run the executable", got)
	}
	if got := string(readFile(t, filepath.Join(j.LocalDir, "reports", "sub", "r.txt"))); got != "report\n" {
		t.Errorf("reports/sub/r.txt = %q", got)
	}
	if got := string(readFile(t, filepath.Join(j.LocalDir, "reports", "top.txt"))); got != "top\n" {
		t.Errorf("reports/top.txt = %q", got)
	}
	if _, err := os.Lstat(filepath.Join(j.LocalDir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing.json: %v, want it left out", err)
	}
}

func TestLocalCommandJob(t *testing.T) {
	var log syncbuf.Buffer
	base := t.TempDir()
	j := shardJob(t, "unit-1", &log)
	var instance string
	j.Instance = func(s string) { instance = s }
	res, err := run.Local{JobDir: base}.RunCommand(t.Context(), j)
	checkShard(t, j, res, err, log.String())
	if res.Where != "local" || instance != "local" {
		t.Errorf("where %q, instance %q; want local", res.Where, instance)
	}
	if left, _ := os.ReadDir(base); len(left) != 0 {
		t.Errorf("the job's directory was left in %s: %v", base, left)
	}
}

// hostileArchives each break one rule; none may unpack or run anything.
func hostileArchives(t *testing.T, outside string) map[string]string {
	return map[string]string{
		"dotdot":             writeArchive(t, tarEntry{Name: "ok.txt", Body: "x"}, tarEntry{Name: "../evil", Body: "x"}),
		"dotdot inside":      writeArchive(t, tarEntry{Name: "a/../../evil", Body: "x"}),
		"absolute":           writeArchive(t, tarEntry{Name: filepath.Join(outside, "evil"), Body: "x"}),
		"link out":           writeArchive(t, tarEntry{Name: "l", Link: "../../.."}),
		"absolute link":      writeArchive(t, tarEntry{Name: "l", Link: outside}),
		"write through link": writeArchive(t, tarEntry{Name: "l", Link: "."}, tarEntry{Name: "l/evil", Body: "x"}),
		"link chain out":     writeArchive(t, tarEntry{Name: "m", Link: "l/.."}, tarEntry{Name: "l", Link: "."}),
	}
}

// The rules refuse every hostile archive before the command runs, and
// nothing lands outside the job's directory.
func TestLocalCommandJobRefusesHostileArchives(t *testing.T) {
	outside := t.TempDir()
	marker := filepath.Join(outside, "ran")
	for name, archive := range hostileArchives(t, outside) {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			j := run.CommandJob{BuildID: "ci-test", Name: "hostile", Archive: archive, Executable: stubFPGACTL(t),
				Command: "touch " + marker}
			if err := j.Check(); err == nil || !strings.Contains(err.Error(), "archive entry") {
				t.Errorf("Check = %v, want the entry refused", err)
			}
			_, err := run.Local{JobDir: base}.RunCommand(t.Context(), j)
			if err == nil || !strings.Contains(err.Error(), "archive entry") {
				t.Errorf("RunCommand = %v, want the entry refused", err)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("the command ran")
			}
			for _, dir := range []string{outside, base, filepath.Dir(base)} {
				if _, err := os.Lstat(filepath.Join(dir, "evil")); err == nil {
					t.Errorf("%s/evil was written", dir)
				}
			}
			if left, _ := os.ReadDir(base); len(left) != 0 {
				t.Errorf("the job's directory was left: %v", left)
			}
		})
	}
}

// sleepPIDs are the process IDs the job printed ("sleep pid N").
var sleepPID = regexp.MustCompile(`sleep pid (\d+)`)

// gone says whether a process has ended (a zombie counts: it is dead, its
// parent is just late reaping it).
func gone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(data), ") ")
	return strings.HasPrefix(rest, "Z")
}

// waitFor polls cond for up to limit.
func waitFor(limit time.Duration, cond func() bool) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func TestLocalCommandJobCancel(t *testing.T) {
	var log syncbuf.Buffer
	base := t.TempDir()
	j := shardJob(t, "long", &log)
	j.Command = "sleep 300 & echo \"sleep pid $!\"; wait"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type result struct {
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		_, err := run.Local{JobDir: base}.RunCommand(ctx, j)
		done <- result{err, time.Now()}
	}()
	if !waitFor(10*time.Second, func() bool { return sleepPID.MatchString(log.String()) }) {
		t.Fatalf("the job did not start: %q", log.String())
	}
	pid, _ := strconv.Atoi(sleepPID.FindStringSubmatch(log.String())[1])
	cancelled := time.Now()
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunCommand did not return within 10s of the cancel")
	}
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("RunCommand = %v, want context.Canceled", r.err)
	}
	if took := r.at.Sub(cancelled); took > 2*time.Second {
		t.Errorf("RunCommand returned %v after the cancel", took)
	}
	if !gone(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the job's sleep (pid %d) survived the cancel", pid)
	}
	if left, _ := os.ReadDir(base); len(left) != 0 {
		t.Errorf("the job's directory was left: %v", left)
	}
}

// sshJobDir is where a command job runs on a build host.
func sshJobDir(h *buildHost, j run.CommandJob) string {
	return filepath.Join(h.host.Dir, "jobs", j.BuildID, j.Name)
}

// stubInode is the inode the stub printed: the file $FPGACTL named.
var stubInode = regexp.MustCompile(`stub inode (\d+)`)

// hostExecutables are the executables uploaded to the host and their inodes.
func hostExecutables(t *testing.T, h *buildHost) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(h.host.Dir, "bin", "*", "fpgactl"))
	out := map[string]string{}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = strconv.FormatUint(st.Sys().(*syscall.Stat_t).Ino, 10)
	}
	return out
}

// Two jobs with the same executable on one host with one slot (they run
// one after the other): both run and fetch, the executable is uploaded
// once (one file, one inode, which both ran; a second upload would replace
// it with a new inode), and again not by the next fpgactl process; the
// jobs' directories are removed.
func TestSSHHostsCommandJobs(t *testing.T) {
	h := newBuildHost(t, "buildA")
	hosts := newSSHHosts(t, h)
	exe := stubFPGACTL(t)
	var wg sync.WaitGroup
	type outcome struct {
		j        run.CommandJob
		res      run.CommandResult
		err      error
		log      *syncbuf.Buffer
		instance string
	}
	outcomes := make([]*outcome, 2)
	for i := range outcomes {
		o := &outcome{log: &syncbuf.Buffer{}}
		o.j = shardJob(t, fmt.Sprintf("unit-%d", i+1), o.log)
		o.j.Executable = exe
		o.j.Instance = func(s string) { o.instance = s }
		outcomes[i] = o
		wg.Go(func() { o.res, o.err = hosts.RunCommand(t.Context(), o.j) })
	}
	wg.Wait()
	uploaded := hostExecutables(t, h)
	if len(uploaded) != 1 {
		t.Fatalf("executables on the host: %v, want one", uploaded)
	}
	var inode string
	for _, in := range uploaded {
		inode = in
	}
	for _, o := range outcomes {
		log := o.log.String()
		checkShard(t, o.j, o.res, o.err, log)
		if o.res.Where != "buildA" || o.instance != "buildA" {
			t.Errorf("%s: where %q, instance %q; want buildA", o.j.Name, o.res.Where, o.instance)
		}
		if m := stubInode.FindStringSubmatch(string(readFile(t, filepath.Join(o.j.LocalDir, "unit.json")))); m == nil || m[1] != inode {
			t.Errorf("%s ran executable inode %q, the host has %s: uploaded more than once", o.j.Name, m, inode)
		}
		if _, err := os.Stat(sshJobDir(h, o.j)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: the job's directory is left on the host (%v)", o.j.Name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(h.host.Dir, "jobs", "ci-test")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the build's jobs directory is left on the host (%v)", err)
	}
	h.srv.WaitNoRemoteProcesses(t, 3*time.Second)

	// A new runner (the next fpgactl process) finds the executable there.
	var log syncbuf.Buffer
	j := shardJob(t, "unit-3", &log)
	j.Executable = exe
	res, err := newSSHHosts(t, h).RunCommand(t.Context(), j)
	checkShard(t, j, res, err, log.String())
	if got := hostExecutables(t, h); len(got) != 1 || !slices.Contains(mapValues(got), inode) {
		t.Errorf("after a second runner: executables %v, want the one with inode %s", got, inode)
	}
	h.srv.WaitNoRemoteProcesses(t, 3*time.Second)
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// Hostile archives are refused before anything reaches the host.
func TestSSHHostsCommandJobRefusesHostileArchives(t *testing.T) {
	h := newBuildHost(t, "buildA")
	hosts := newSSHHosts(t, h)
	outside := t.TempDir()
	for name, archive := range hostileArchives(t, outside) {
		j := run.CommandJob{BuildID: "ci-test", Name: "hostile", Archive: archive, Executable: stubFPGACTL(t),
			Command: "touch " + filepath.Join(outside, "ran")}
		if _, err := hosts.RunCommand(t.Context(), j); err == nil || !strings.Contains(err.Error(), "archive entry") {
			t.Errorf("%s: RunCommand = %v, want the entry refused", name, err)
		}
	}
	if _, err := os.Stat(h.host.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the host's work directory exists (%v): a hostile archive got there", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "ran")); err == nil {
		t.Errorf("a command ran")
	}
}

// Cancelling a running job kills its process group on the host at once
// and removes its directory.
func TestSSHHostsCommandJobCancel(t *testing.T) {
	h := newBuildHost(t, "buildA")
	hosts := newSSHHosts(t, h)
	var log syncbuf.Buffer
	j := shardJob(t, "long", &log)
	marker := "cancel-marker-" + strconv.Itoa(os.Getpid())
	j.Command = "sleep 300 & echo \"sleep pid $!\"; wait; : " + marker
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type result struct {
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		_, err := hosts.RunCommand(ctx, j)
		done <- result{err, time.Now()}
	}()
	if !waitFor(20*time.Second, func() bool { return sleepPID.MatchString(log.String()) }) {
		t.Fatalf("the job did not start: %q", log.String())
	}
	pid, _ := strconv.Atoi(sleepPID.FindStringSubmatch(log.String())[1])
	if len(sshdtest.ProcessesWith(marker)) == 0 {
		t.Fatalf("no process of the job has %s", marker)
	}
	cancelled := time.Now()
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("RunCommand did not return within 20s of the cancel")
	}
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("RunCommand = %v, want context.Canceled", r.err)
	}
	took := r.at.Sub(cancelled)
	t.Logf("RunCommand returned %v after the cancel", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("RunCommand returned %v after the cancel; the job sleeps 300s, the kill should take seconds", took)
	}
	if !gone(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the job's sleep (pid %d) survived the cancel", pid)
	}
	sshdtest.WaitGone(t, marker, 2*time.Second)
	h.srv.WaitNoRemoteProcesses(t, 2*time.Second)
	if _, err := os.Stat(sshJobDir(h, j)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the job's directory is left on the host (%v)", err)
	}
	if strings.Contains(log.String(), "could not") {
		t.Errorf("%s", log.String())
	}
}
