package openstack_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/build/openstack"
	"github.com/fpgactl/fpgactl/build/openstack/osdouble"
	"github.com/fpgactl/fpgactl/build/run"
	"github.com/fpgactl/fpgactl/internal/syncbuf"
)

// Command jobs (run.CommandRunner) through the API double and the real
// gophercloud client: one server per job, named, tagged and with metadata
// for its build and job, deleted on every exit path.

const ciBuild = "ci-20260102-0a1b"

// jobFiles is a shard's archive and a stand-in fpgactl.
func jobFiles(t *testing.T) (archive, exe string) {
	t.Helper()
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "tests"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "tests", "names.txt"), []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	archive = filepath.Join(t.TempDir(), "shard.tar.gz")
	if out, err := exec.Command("tar", "-czf", archive, "-C", src, "tests").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	exe = filepath.Join(t.TempDir(), "fpgactl")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\necho \"stub fpgactl $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return archive, exe
}

func commandJob(t *testing.T, name, command string, log *syncbuf.Buffer) run.CommandJob {
	archive, exe := jobFiles(t)
	return run.CommandJob{
		BuildID: ciBuild, Name: name, Owner: "tester", Commit: "0123456789abcdef",
		Archive: archive, Executable: exe, Command: command,
		Fetch: []string{"unit.json", "reports", "missing.json"}, LocalDir: t.TempDir(), Log: log,
	}
}

// shardCommand reads the archive, runs $FPGACTL, leaves a file and a
// directory to fetch, and exits with the given status.
func shardCommand(exit int) string {
	return fmt.Sprintf(`while read n; do echo "test $n"; done < tests/names.txt
"$FPGACTL" test unit --output json > unit.json
mkdir -p reports && echo report > reports/r.txt
exit %d`, exit)
}

func (e *env) serverNamed(t *testing.T, name string) osdouble.Server {
	t.Helper()
	for _, s := range e.cloud.Servers() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no server %s", name)
	return osdouble.Server{}
}

// Two jobs in parallel, each on a server of its own: both run and fetch,
// the servers are named, tagged and described for the build and job, and
// every server and the key pair are gone afterwards.
func TestCommandJobsThroughTheAPIDouble(t *testing.T) {
	e := newEnv(t)
	r := e.runner(t)
	type outcome struct {
		j        run.CommandJob
		res      run.CommandResult
		err      error
		log      syncbuf.Buffer
		instance string
	}
	var outcomes []*outcome
	var wg sync.WaitGroup
	for i, exit := range []int{0, 3} {
		o := &outcome{}
		o.j = commandJob(t, fmt.Sprintf("unit-%d", i+1), shardCommand(exit), &o.log)
		o.j.Instance = func(s string) { o.instance = s }
		outcomes = append(outcomes, o)
		wg.Go(func() { o.res, o.err = r.RunCommand(t.Context(), o.j) })
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n := len(e.cloud.Servers()); n != 2 {
		t.Errorf("%d servers were created, want one per job (2)", n)
	}
	for i, o := range outcomes {
		log := o.log.String()
		if o.err != nil {
			t.Errorf("%s: %v\n%s", o.j.Name, o.err, log)
			continue
		}
		if want := []int{0, 3}[i]; o.res.ExitCode != want {
			t.Errorf("%s: exit code %d, want %d", o.j.Name, o.res.ExitCode, want)
		}
		if !strings.Contains(log, "test a\ntest b\n") {
			t.Errorf("%s: the output is not in the log:\n%s", o.j.Name, log)
		}
		if !slices.Equal(o.res.Fetched, []string{"unit.json", "reports"}) {
			t.Errorf("%s: fetched %q", o.j.Name, o.res.Fetched)
		}
		if got, _ := os.ReadFile(filepath.Join(o.j.LocalDir, "unit.json")); string(got) != "stub fpgactl test unit --output json\n" {
			t.Errorf("%s: unit.json = %q", o.j.Name, got)
		}
		if got, _ := os.ReadFile(filepath.Join(o.j.LocalDir, "reports", "r.txt")); string(got) != "report\n" {
			t.Errorf("%s: reports/r.txt = %q", o.j.Name, got)
		}
		if _, err := os.Lstat(filepath.Join(o.j.LocalDir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: missing.json: %v", o.j.Name, err)
		}
		srv := e.serverNamed(t, "fpgactl-"+ciBuild+"-"+o.j.Name)
		if o.res.Where != srv.ID || o.instance != srv.ID {
			t.Errorf("%s: where %q, instance %q; want the server %s", o.j.Name, o.res.Where, o.instance, srv.ID)
		}
		wantMeta := map[string]string{openstack.MetaBuild: ciBuild, openstack.MetaJob: o.j.Name,
			openstack.MetaOwner: "tester", openstack.MetaCommit: "0123456789abcdef"}
		for k, v := range wantMeta {
			if srv.Metadata[k] != v {
				t.Errorf("%s: metadata %s = %q, want %q (all: %v)", o.j.Name, k, srv.Metadata[k], v, srv.Metadata)
			}
		}
		if !slices.Contains(srv.Tags, "fpgactl") || !slices.Contains(srv.Tags, "fpgactl-build-"+ciBuild) {
			t.Errorf("%s: tags %v", o.j.Name, srv.Tags)
		}
		if !strings.Contains(string(srv.UserData), "ed25519_private") {
			t.Errorf("%s: user-data does not carry the host key", o.j.Name)
		}
	}
	e.noServersLeft(t)
}

// A job refused before a server is booted (a broken archive), a command
// that fails (a result, not an error) and a job cancelled mid-run: every
// server is deleted all the same.
func TestCommandJobFailureAndCancelDeleteServers(t *testing.T) {
	e := newEnv(t)
	r := e.runner(t)

	// A broken archive: no server is booted for it.
	var log syncbuf.Buffer
	bad := commandJob(t, "bad", "true", &log)
	if err := os.WriteFile(bad.Archive, []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunCommand(t.Context(), bad); err == nil {
		t.Error("a job with a broken archive ran")
	}
	if n := len(e.cloud.Servers()); n != 0 {
		t.Errorf("%d servers booted for a job with a broken archive", n)
	}

	// A command that fails: its status is a result.
	failing := commandJob(t, "failing", "echo no such test >&2; exit 1", &log)
	res, err := r.RunCommand(t.Context(), failing)
	if err != nil || res.ExitCode != 1 || len(res.Fetched) != 0 {
		t.Errorf("failing job: %+v, %v; want exit code 1, nothing fetched", res, err)
	}

	// Cancelled while it runs.
	var clog syncbuf.Buffer
	long := commandJob(t, "long", "echo started; sleep 300", &clog)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type result struct {
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		_, err := r.RunCommand(ctx, long)
		done <- result{err, time.Now()}
	}()
	for end := time.Now().Add(20 * time.Second); !strings.Contains(clog.String(), "started\n"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the job did not start:\n%s", clog.String())
		}
	}
	cancelled := time.Now()
	cancel()
	c := <-done
	if !errors.Is(c.err, context.Canceled) {
		t.Errorf("cancelled job: %v, want context.Canceled", c.err)
	}
	if took := c.at.Sub(cancelled); took > 10*time.Second {
		t.Errorf("RunCommand returned %v after the cancel", took)
	}
	srv := e.serverNamed(t, "fpgactl-"+ciBuild+"-long")
	if srv.Deleted.IsZero() {
		t.Errorf("the cancelled job's server is %s, not deleted", srv.Status)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	e.noServersLeft(t)
}

// SSH connections to the job's server are cut every 700 ms: the runner
// reconnects, follows the output from where it was (each line once) and
// fetches the results.
func TestCommandJobSSHDrop(t *testing.T) {
	e := newEnv(t)
	e.cloud.NextServer(osdouble.Behavior{NameContains: "-flaky", SSHDropAfter: 700 * time.Millisecond})
	r := e.runner(t)
	var log syncbuf.Buffer
	j := commandJob(t, "flaky", `for i in $(seq 1 25); do echo "line $i"; sleep 0.1; done
"$FPGACTL" test unit --output json > unit.json`, &log)
	res, err := r.RunCommand(t.Context(), j)
	if cerr := r.Close(); cerr != nil {
		t.Errorf("Close: %v", cerr)
	}
	out := log.String()
	if err != nil {
		t.Fatalf("RunCommand: %v\n%s", err, out)
	}
	if res.ExitCode != 0 || !slices.Equal(res.Fetched, []string{"unit.json"}) {
		t.Errorf("result %+v, want exit code 0 and unit.json fetched", res)
	}
	if !strings.Contains(out, "reconnecting") {
		t.Errorf("the log does not show a reconnect:\n%s", out)
	}
	for i := 1; i <= 25; i++ {
		if n := strings.Count(out, fmt.Sprintf("line %d\n", i)); n != 1 {
			t.Errorf("line %d is %d times in the log, want once", i, n)
		}
	}
	e.noServersLeft(t)
}
