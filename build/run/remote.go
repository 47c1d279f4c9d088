package run

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/build/flow"
	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/internal/sshx"
	"golang.org/x/crypto/ssh"
)

// Remote place and route: the seed's commands run on a host reached over
// SSH, detached from the SSH session (setsid, output to a file), so that a
// dropped connection does not kill hours of routing. The session follows the
// output with tail; after a drop fpgactl reconnects and resumes at the byte
// it had reached. The job's process group is in DIR/pid, its exit status in
// DIR/status once it has ended.

// Remote job files, in the seed's remote directory.
const (
	remoteScript = "run.sh"
	remotePID    = "pid"
	remoteStatus = "status"
	remoteOutput = "out.log"
)

// Connector opens an SSH connection to the host a remote seed runs on; it is
// called again after a connection is lost.
type Connector func(ctx context.Context) (*sshx.Client, error)

// RemoteSeed is one seed run on a remote host.
type RemoteSeed struct {
	Connect Connector
	// Dir is the seed's directory on the host (created).
	Dir string
	// Netlist is the netlist's path on the host; it is uploaded there from
	// job.Netlist unless UploadNetlist is false (already there).
	Netlist       string
	UploadNetlist bool
	Tools         flow.Tools // the host's tool names
	Job           SeedJob
	// Reconnect bounds how long a lost connection is retried before the
	// seed fails. Default 2 minutes.
	Reconnect time.Duration
}

// killGrace is how long a cancelled remote job has between SIGTERM and
// SIGKILL; cleanup bounds the whole cleanup after a cancel.
const (
	killGrace = 2 * time.Second
	cleanup   = 30 * time.Second
)

// Run places and routes the seed on the host and fetches the report, log
// and bitstream into Job.Dir. On cancellation it kills the remote job.
func (rs RemoteSeed) Run(ctx context.Context) (flow.PnRResult, error) {
	j := rs.Job
	res := flow.ResultIn(j.Dir)
	if rs.Reconnect <= 0 {
		rs.Reconnect = 2 * time.Minute
	}
	if err := os.MkdirAll(j.Dir, 0o755); err != nil {
		return res, err
	}
	c, err := rs.Connect(ctx)
	if err != nil {
		return res, err
	}
	defer func() { c.Close() }()
	if err := c.Run(ctx, "mkdir -p "+sshx.Quote(rs.Dir), nil, nil, nil); err != nil {
		return res, fmt.Errorf("creating %s on %s: %w", rs.Dir, c.RemoteAddr(), err)
	}
	if rs.UploadNetlist {
		if err := uploadGzip(ctx, c, j.Netlist, rs.Netlist, false); err != nil {
			return res, err
		}
	}
	steps := flow.PnRSteps(rs.Tools, j.Device, j.ClockMHz, j.Seed, fromDir(rs.Dir, rs.Netlist))
	script := jobScript(j, steps)
	phase := func(p record.Phase) {
		if j.Phase != nil {
			j.Phase(p)
		}
	}
	// The script prints a marker before each step so that phases after the
	// first tool's own are seen in the output too.
	out := &markerWriter{next: flow.NewPhaseWatcher(j.Log, steps[0].Phase, phase), steps: steps, phase: phase}
	var status int
	c, status, err = detachedJob{Connect: rs.Connect, Dir: rs.Dir, Script: script, Reconnect: rs.Reconnect, Log: j.Log,
		BeforeStart: func() { phase(steps[0].Phase) }}.run(ctx, c, out)
	if err != nil {
		return res, err
	}
	// The report and log also explain a failed run; the bitstream exists
	// only after a successful one.
	fetch := []string{flow.ReportFile, flow.LogFile}
	if status == 0 {
		fetch = append(fetch, flow.BitstreamFile)
	}
	var fetchErr error
	for _, name := range fetch {
		if err := c.Download(ctx, path.Join(rs.Dir, name), path.Join(j.Dir, name)); err != nil && status == 0 {
			fetchErr = errors.Join(fetchErr, err)
		}
	}
	if status != 0 {
		return res, fmt.Errorf("seed %d on %s: the flow exited with status %d (log: %s)", j.Seed, c.RemoteAddr(), status, res.Log)
	}
	return res, fetchErr
}

// fromDir is target as seen from dir on the host. Relative paths are kept
// relative (through ..): the YoWASP tools' sandbox sees those everywhere.
func fromDir(dir, target string) string {
	if path.IsAbs(dir) != path.IsAbs(target) {
		return target
	}
	if rel, err := filepath.Rel(dir, target); err == nil {
		return filepath.ToSlash(rel)
	}
	return target
}

// detachedJob is the one implementation of a remote job that outlives its
// SSH connection, for seeds (RemoteSeed) and command jobs (RemoteCommand):
// Script is uploaded to Dir/run.sh and started detached (setsid, output to
// out.log); its output is followed, across reconnects, from the byte
// reached; its exit status is read from the status file; a cancelled ctx
// kills its process group. Script must write its process group to pid
// first and its exit status to status last: detachedScript writes both
// around a body.
type detachedJob struct {
	Connect Connector
	// Dir is the job's directory on the host; it exists.
	Dir    string
	Script string
	// Reconnect bounds how long a lost connection is retried.
	Reconnect time.Duration
	// Log receives fpgactl's notes (reconnects, a job it could not stop).
	Log io.Writer
	// BeforeStart, when set, is called once the script is uploaded, just
	// before the job starts.
	BeforeStart func()
}

// run runs the job over c and returns the client in use at the end (a new
// one after a reconnect, or c closed: the caller closes it either way),
// and the job's exit status. On cancellation it kills the job and returns
// ctx.Err().
func (d detachedJob) run(ctx context.Context, c *sshx.Client, out io.Writer) (*sshx.Client, int, error) {
	if err := c.Upload(ctx, strings.NewReader(d.Script), int64(len(d.Script)), path.Join(d.Dir, remoteScript), 0o755); err != nil {
		return c, 0, err
	}
	if d.BeforeStart != nil {
		d.BeforeStart()
	}
	cw := &countingWriter{next: out}
	// out.log exists before the job is launched: the follower takes a
	// missing one for a job that never started.
	start := "cd " + sshx.Quote(d.Dir) + " && rm -f " + remotePID + " " + remoteStatus + " && : > " + remoteOutput + " && " +
		"( setsid sh " + remoteScript + " >> " + remoteOutput + " 2>&1 < /dev/null & ) && " + followCmd(1)
	started := false
	c, err := retryLost(ctx, c, d.Connect, d.Reconnect, d.Log, " to follow the job", func(c *sshx.Client) error {
		cmd := start
		if started { // resume at the byte reached
			cmd = "cd " + sshx.Quote(d.Dir) + " && " + followCmd(cw.count()+1)
		}
		started = true
		return follow(ctx, c, cmd, cw)
	})
	if ctx.Err() != nil {
		killRemote(c, d.Connect, d.Dir, d.Log)
		return c, 0, ctx.Err()
	}
	if err != nil {
		return c, 0, fmt.Errorf("following the job on the build host: %w", err)
	}
	var status int
	c, err = retryLost(ctx, c, d.Connect, d.Reconnect, d.Log, "", func(c *sshx.Client) (err error) {
		status, err = readStatus(ctx, c, d.Dir)
		return err
	})
	return c, status, err
}

// detachedScript is a job script: its process group written to pid first,
// body (which sets $status) in between, the exit status written last.
func detachedScript(comment, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# %s\n", comment)
	fmt.Fprintf(&b, "echo $$ > %s.tmp && mv %s.tmp %s\nstatus=0\n", remotePID, remotePID, remotePID)
	b.WriteString(body)
	fmt.Fprintf(&b, "echo $status > %s.tmp && mv %s.tmp %s\nexit $status\n", remoteStatus, remoteStatus, remoteStatus)
	return b.String()
}

// retryLost runs fn, and runs it again over a new connection each time the
// connection is lost, reconnecting for up to within each time; fn must be
// able to start over (or, like the follower, resume). It returns the client
// in use: a new one after a reconnect, or c closed when reconnecting
// failed (the caller's Close and killRemote need one). why ends the note
// written to log on each reconnect.
func retryLost(ctx context.Context, c *sshx.Client, connect Connector, within time.Duration, log io.Writer, why string, fn func(*sshx.Client) error) (*sshx.Client, error) {
	err := fn(c)
	for errors.Is(err, sshx.ErrConnectionLost) && ctx.Err() == nil {
		fmt.Fprintf(log, "\nfpgactl: SSH connection to %s lost (%v); reconnecting%s\n", c.RemoteAddr(), err, why)
		c.Close()
		c2, rerr := reconnect(ctx, connect, within)
		if rerr != nil {
			return c, rerr
		}
		c = c2
		err = fn(c)
	}
	return c, err
}

// countingWriter counts the bytes the follower received, to resume after a
// reconnect.
type countingWriter struct {
	mu   sync.Mutex // the session copies stdout and stderr concurrently
	next io.Writer
	n    int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n += int64(len(p))
	w.next.Write(p)
	return len(p), nil
}

func (w *countingWriter) count() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// follow runs the follower until the job ends. Cancelling ctx closes the
// connection at once (killRemote stops the job over a new one) rather than
// waiting out the grace a cancelled command gets: a stop rule should free
// servers without delay.
func follow(ctx context.Context, c *sshx.Client, cmd string, out io.Writer) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	return c.Run(context.WithoutCancel(ctx), cmd, nil, out, out)
}

// followCmd streams the job's output from byte from (1-based) until the job
// has ended: until its status file exists (the job writes it after all its
// output), or, for a job killed before it could, until its process group is
// gone. It polls the file rather than run tail --pid: the job is an orphan,
// and tail would wait until init reaps it, which some containers' PID 1
// does late or never.
func followCmd(from int64) string {
	return "n=" + strconv.FormatInt(from, 10) + "; while :; do " +
		"end=; if [ -e " + remoteStatus + " ]; then end=1; " +
		"elif [ -s " + remotePID + " ] && ! kill -0 -\"$(cat " + remotePID + ")\" 2>/dev/null; then end=1; fi; " +
		"size=$(($(wc -c < " + remoteOutput + "))) || exit; " +
		"if [ \"$size\" -ge \"$n\" ]; then tail -c +\"$n\" " + remoteOutput + " | head -c $((size - n + 1)); n=$((size + 1)); fi; " +
		"if [ -n \"$end\" ]; then exit 0; fi; sleep 0.2; done"
}

// jobScript is the remote job: each step in order, a marker line before
// each so the follower can tell phases, the exit status written last.
func jobScript(j SeedJob, steps []flow.Step) string {
	var b strings.Builder
	for i, st := range steps {
		words := []string{sshx.Quote(st.Name)}
		for _, a := range st.Args {
			words = append(words, sshx.Quote(a))
		}
		cmd := strings.Join(words, " ")
		if i > 0 {
			fmt.Fprintf(&b, "[ $status -eq 0 ] && ")
		}
		fmt.Fprintf(&b, "{ echo %s; %s || status=$?; }\n", sshx.Quote(stepMarker+string(st.Phase)), cmd)
	}
	return detachedScript(fmt.Sprintf("fpgactl build %s, target %s, seed %d", j.BuildID, j.Target, j.Seed), b.String())
}

const stepMarker = "fpgactl-step: "

// markerWriter turns step markers into phases and passes the rest on.
type markerWriter struct {
	mu      sync.Mutex // the session copies stdout and stderr concurrently
	next    io.Writer
	steps   []flow.Step
	phase   func(record.Phase)
	partial []byte
	seen    int
}

func (w *markerWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := w.partial[:i+1]
		w.partial = w.partial[i+1:]
		if ph, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte(stepMarker)); ok {
			w.seen++
			if w.seen > 1 { // the first step's phase was announced at start
				w.phase(record.Phase(ph))
			}
			continue
		}
		w.next.Write(line)
	}
}

func reconnect(ctx context.Context, connect Connector, within time.Duration) (*sshx.Client, error) {
	deadline := time.Now().Add(within)
	wait := 500 * time.Millisecond
	for {
		c, err := connect(ctx)
		if err == nil {
			return c, nil
		}
		if time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("reconnecting for %v: %w", within, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
}

// killRemote stops a cancelled job's process group: SIGTERM, then SIGKILL.
// It runs after ctx is done, so it has its own deadline, and dials again if
// the connection is gone.
func killRemote(c *sshx.Client, connect Connector, dir string, log io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanup)
	defer cancel()
	job := sshx.Job{Command: remoteScript, Dir: dir, PIDFile: remotePID}
	// A job cancelled right after its start may not have written its PID
	// file yet: wait for it (out.log is there from the start on).
	started := "cd " + sshx.Quote(dir) + " 2>/dev/null || exit 0; i=0; " +
		"while [ -e " + remoteOutput + " ] && [ ! -s " + remotePID + " ] && [ ! -e " + remoteStatus + " ] && [ $i -lt 40 ]; do sleep 0.05; i=$((i+1)); done"
	// Zombies do not count: the job's leader is an orphan that init may
	// reap late.
	alive := "pg=$(cat " + sshx.Quote(path.Join(dir, remotePID)) + " 2>/dev/null) && ps -o stat= -s \"$pg\" | grep -qv '^Z'"
	kill := func(c *sshx.Client) error {
		if err := c.Run(ctx, started, nil, nil, nil); err != nil {
			return err
		}
		if err := c.KillJob(ctx, job, ssh.SIGTERM); err != nil {
			return err
		}
		// Most tools exit on SIGTERM at once; KILL what is left after the grace.
		for end := time.Now().Add(killGrace); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if err := c.Run(ctx, alive, nil, nil, nil); err != nil {
				var exit *sshx.ExitError
				if errors.As(err, &exit) {
					return nil // gone
				}
				return err
			}
		}
		return c.KillJob(ctx, job, ssh.SIGKILL)
	}
	err := kill(c)
	if err != nil { // most likely the connection is gone: try a new one
		var c2 *sshx.Client
		if c2, err = connect(ctx); err == nil {
			defer c2.Close()
			err = kill(c2)
		}
	}
	if err != nil {
		fmt.Fprintf(log, "\nfpgactl: could not stop the remote job in %s: %v\n", dir, err)
	}
}

func readStatus(ctx context.Context, c *sshx.Client, dir string) (int, error) {
	var out bytes.Buffer
	if err := c.Run(ctx, "cat "+sshx.Quote(path.Join(dir, remoteStatus)), nil, &out, nil); err != nil {
		return 0, fmt.Errorf("the job in %s on %s ended without an exit status (killed?): %w", dir, c.RemoteAddr(), err)
	}
	status, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		return 0, fmt.Errorf("%s on %s: exit status %q is not a number", path.Join(dir, remoteStatus), c.RemoteAddr(), out.String())
	}
	return status, nil
}

// uploadGzip sends a local file compressed (netlists are tens of MB of
// JSON that gzip shrinks tenfold, executables halve) and unpacks it on the
// host atomically, made executable when executable is set.
func uploadGzip(ctx context.Context, c *sshx.Client, local, remote string, executable bool) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestSpeed)
		_, err := io.Copy(zw, f)
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
	}()
	// $$ keeps two fpgactl processes uploading the same file apart.
	tmp := sshx.Quote(remote+".tmp") + ".$$"
	chmod := ""
	if executable {
		chmod = "chmod 755 " + tmp + " && "
	}
	cmd := fmt.Sprintf("mkdir -p %s && gzip -dc > %s && %smv %s %s", sshx.Quote(path.Dir(remote)), tmp, chmod, tmp, sshx.Quote(remote))
	err = c.Run(ctx, cmd, pr, nil, nil)
	pr.CloseWithError(errors.New("upload ended"))
	wg.Wait()
	if err != nil {
		return fmt.Errorf("uploading %s to %s on %s: %w", local, remote, c.RemoteAddr(), err)
	}
	return nil
}
