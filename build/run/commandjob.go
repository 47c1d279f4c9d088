package run

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/fpgactl/fpgactl/internal/proc"
	"github.com/fpgactl/fpgactl/internal/sshx"
)

// Command jobs (CommandRunner) on this machine, on SSH build hosts, and, through
// RemoteCommand, on any host a Connector reaches (the OpenStack runner's
// servers). Where a job runs:
//
//	local:  <JobDir>/fpgactl-<build>-<name>-*/work (the command's directory)
//	        <JobDir>/fpgactl-<build>-<name>-*/bin/fpgactl ($FPGACTL)
//	remote: <dir>/jobs/<build>/<name> (the command's directory; run.sh, pid,
//	        status and out.log of the detached job are there too)
//	        <dir>/bin/<content hash>/fpgactl ($FPGACTL, kept for the next job)
//
// The job's directory is removed after the job, whatever its end.

// normalize checks a job and fills in its optional fields.
func (j *CommandJob) normalize() error {
	for what, v := range map[string]string{"build ID": j.BuildID, "name": j.Name} {
		if v == "" || v == "." || v == ".." || strings.ContainsAny(v, `/\`) {
			return fmt.Errorf("command job: %s %q cannot name a directory", what, v)
		}
	}
	if j.Command == "" || j.Archive == "" || j.Executable == "" {
		return fmt.Errorf("command job %s: needs a command, an archive and an executable", j.Name)
	}
	for _, f := range j.Fetch {
		if n, err := localName(f); err != nil || n == "" {
			return fmt.Errorf("command job %s: fetch entry %q is not a path inside the job's directory", j.Name, f)
		}
	}
	if len(j.Fetch) > 0 && j.LocalDir == "" {
		return fmt.Errorf("command job %s: fetch entries need a LocalDir", j.Name)
	}
	if j.Log == nil {
		j.Log = io.Discard
	}
	if j.Instance == nil {
		j.Instance = func(string) {}
	}
	return nil
}

// Check says whether a job can run: its names, fields and fetch entries,
// and its archive's entries (see archive.go). Runners check before they
// take a host or boot a server.
func (j CommandJob) Check() error {
	if err := j.normalize(); err != nil {
		return err
	}
	return checkArchive(j.Archive)
}

// RunCommand runs the job on this machine in a fresh directory under
// l.JobDir (default os.TempDir()), in a process group of its own that a
// cancelled ctx kills, and removes the directory afterwards.
func (l Local) RunCommand(ctx context.Context, j CommandJob) (CommandResult, error) {
	res := CommandResult{Where: "local"}
	if err := j.normalize(); err != nil {
		return res, err
	}
	base := l.JobDir
	if base == "" {
		base = os.TempDir()
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return res, err
	}
	top, err := os.MkdirTemp(base, "fpgactl-"+j.BuildID+"-"+j.Name+"-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(top)
	j.Instance(res.Where)
	work, exe := filepath.Join(top, "work"), filepath.Join(top, "bin", "fpgactl")
	if err := placeExecutable(j.Executable, exe); err != nil {
		return res, err
	}
	if err := extractArchive(j.Archive, work); err != nil {
		return res, err
	}
	env := append(os.Environ(), "FPGACTL="+exe)
	code, _, err := proc.Run(ctx, "/bin/sh", []string{"-c", j.Command}, work, env, j.Log, 0)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if err != nil {
		return res, fmt.Errorf("command job %s: %w", j.Name, err)
	}
	res.ExitCode = code
	res.Fetched, err = fetchLocal(work, j.Fetch, j.LocalDir)
	return res, err
}

// placeExecutable puts a copy of the executable (a hard link where it can)
// at dst, executable.
func placeExecutable(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("executable %s is not a regular file", src)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if st.Mode().Perm()&0o111 == 0o111 && os.Link(src, dst) == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// fetchLocal copies the fetch entries of dir that exist into localDir,
// through the same tar rules as a remote fetch.
func fetchLocal(dir string, entries []string, localDir string) ([]string, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := writeTar(pw, dir, entries)
		pw.CloseWithError(err)
		done <- err
	}()
	names, err := extractTar(pr, localDir)
	pr.CloseWithError(errors.New("fetch ended"))
	if werr := <-done; werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fetchedEntries(entries, names), fmt.Errorf("fetching into %s: %w", localDir, err)
	}
	return fetchedEntries(entries, names), nil
}

// RemoteCommand is one command job run on a remote host: the archive
// unpacked by the host's tar in Dir (made fresh, removed afterwards), the
// command run there detached as seeds are (detachedJob), the Fetch entries
// that exist packed by the host's tar and unpacked into LocalDir.
type RemoteCommand struct {
	Connect Connector
	// Dir is the job's directory on the host.
	Dir string
	// Executable is the executable's path on the host; it is uploaded there
	// from Job.Executable unless UploadExecutable is false (already there).
	Executable       string
	UploadExecutable bool
	Job              CommandJob
	// Reconnect bounds how long a lost connection is retried before the
	// job fails. Default 2 minutes.
	Reconnect time.Duration
}

// Run runs the job. A non-zero exit status is a result; on cancellation it
// kills the remote job, removes its directory and returns ctx.Err().
func (rc RemoteCommand) Run(ctx context.Context) (res CommandResult, err error) {
	j := rc.Job
	if err := j.normalize(); err != nil {
		return res, err
	}
	if err := checkArchive(j.Archive); err != nil {
		return res, err
	}
	if rc.Reconnect <= 0 {
		rc.Reconnect = 2 * time.Minute
	}
	c, err := rc.Connect(ctx)
	if err != nil {
		return res, err
	}
	defer func() { c.Close() }()
	defer func() { c = rc.removeDir(ctx, c) }()
	// Setting up is idempotent: after a lost connection it is done again.
	c, err = retryLost(ctx, c, rc.Connect, rc.Reconnect, j.Log, "", func(c *sshx.Client) error {
		if err := c.Run(ctx, "rm -rf "+sshx.Quote(rc.Dir)+" && mkdir -p "+sshx.Quote(rc.Dir), nil, nil, nil); err != nil {
			return fmt.Errorf("creating %s on %s: %w", rc.Dir, c.RemoteAddr(), err)
		}
		if rc.UploadExecutable {
			if err := uploadGzip(ctx, c, j.Executable, rc.Executable, true); err != nil {
				return err
			}
		}
		f, err := os.Open(j.Archive)
		if err != nil {
			return err
		}
		defer f.Close()
		// -o: the files belong to the login, not to the archive's owners.
		if err := c.Run(ctx, "cd "+sshx.Quote(rc.Dir)+" && tar -x -o -z -f -", f, nil, nil); err != nil {
			return fmt.Errorf("unpacking %s in %s on %s: %w", j.Archive, rc.Dir, c.RemoteAddr(), err)
		}
		return nil
	})
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if err != nil {
		return res, err
	}
	c, res.ExitCode, err = detachedJob{Connect: rc.Connect, Dir: rc.Dir, Script: commandScript(j, fromDir(rc.Dir, rc.Executable)),
		Reconnect: rc.Reconnect, Log: j.Log}.run(ctx, c, j.Log)
	if err != nil {
		return res, err
	}
	c, err = retryLost(ctx, c, rc.Connect, rc.Reconnect, j.Log, "", func(c *sshx.Client) error {
		var err error
		res.Fetched, err = fetchRemote(ctx, c, rc.Dir, j.Fetch, j.LocalDir)
		return err
	})
	return res, err
}

// commandScript runs the job's command with $FPGACTL, an absolute path, set
// to the executable (exe is relative to the job's directory or absolute).
func commandScript(j CommandJob, exe string) string {
	body := fmt.Sprintf("FPGACTL=$(cd %s && pwd)/%s && export FPGACTL && /bin/sh -c %s || status=$?\n",
		sshx.Quote(path.Dir(exe)), sshx.Quote(path.Base(exe)), sshx.Quote(j.Command))
	return detachedScript(fmt.Sprintf("fpgactl command job %s of %s", j.Name, j.BuildID), body)
}

// removeDir removes the job's directory (and its parent if that is left
// empty) on every exit path, over a new connection if c is gone.
func (rc RemoteCommand) removeDir(ctx context.Context, c *sshx.Client) *sshx.Client {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanup)
	defer cancel()
	cmd := "rm -rf " + sshx.Quote(rc.Dir) + "; rmdir " + sshx.Quote(path.Dir(rc.Dir)) + " 2>/dev/null; true"
	err := c.Run(ctx, cmd, nil, nil, nil)
	if err != nil {
		var c2 *sshx.Client
		if c2, err = rc.Connect(ctx); err == nil {
			c.Close()
			c = c2
			err = c.Run(ctx, cmd, nil, nil, nil)
		}
	}
	if err != nil {
		fmt.Fprintf(rc.Job.Log, "\nfpgactl: could not remove the job's directory %s: %v\n", rc.Dir, err)
	}
	return c
}

// fetchRemote has the host's tar pack the fetch entries of dir that exist
// and unpacks them into localDir.
func fetchRemote(ctx context.Context, c *sshx.Client, dir string, entries []string, localDir string) ([]string, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	words := make([]string, len(entries))
	for i, e := range entries {
		words[i] = sshx.Quote(path.Clean(e))
	}
	cmd := "cd " + sshx.Quote(dir) + " && set -- && for f in " + strings.Join(words, " ") + "; do " +
		"if [ -e \"$f\" ] || [ -L \"$f\" ]; then set -- \"$@\" \"$f\"; fi; done && " +
		"if [ $# -gt 0 ]; then tar -c -z -f - -- \"$@\"; fi"
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := c.Run(ctx, cmd, nil, pw, nil)
		pw.CloseWithError(err) // nil: EOF
		done <- err
	}()
	names, err := extractTarGz(bufio.NewReader(pr), localDir)
	if err == nil {
		_, err = io.Copy(io.Discard, pr) // tar's end-of-archive padding
	}
	pr.CloseWithError(errors.New("fetch ended"))
	// A lost connection is worth a retry; otherwise what unpacking refused
	// says more than the broken pipe the remote tar saw.
	if rerr := <-done; rerr != nil && (err == nil || errors.Is(rerr, sshx.ErrConnectionLost)) {
		err = rerr
	}
	if err != nil {
		return fetchedEntries(entries, names), fmt.Errorf("fetching %s from %s into %s: %w", strings.Join(entries, ", "), dir, localDir, err)
	}
	return fetchedEntries(entries, names), nil
}

// RunCommand runs the job on the first host with a free slot. The
// executable goes to the host once per content hash (ensureExecutable, as
// netlists do).
func (s *SSHHosts) RunCommand(ctx context.Context, j CommandJob) (CommandResult, error) {
	if err := j.Check(); err != nil {
		return CommandResult{}, err
	}
	_ = j.normalize() // checked above: fills in Log and Instance
	var h *sshHost
	select {
	case h = <-s.slots:
	case <-ctx.Done():
		return CommandResult{}, ctx.Err()
	}
	defer func() { s.slots <- h }()
	j.Instance(h.Name)
	fmt.Fprintf(j.Log, "fpgactl: job %s runs on %s\n", j.Name, h.Name)
	connect := func(ctx context.Context) (*sshx.Client, error) { return sshx.Dial(ctx, h.Dial) }
	exe, err := h.ensureExecutable(ctx, connect, j.Executable)
	if err != nil {
		return CommandResult{Where: h.Name}, err
	}
	res, err := RemoteCommand{Connect: connect, Dir: path.Join(h.Dir, "jobs", j.BuildID, j.Name), Executable: exe, Job: j}.Run(ctx)
	res.Where = h.Name
	return res, err
}

var (
	_ CommandRunner = Local{}
	_ CommandRunner = (*SSHHosts)(nil)
)
