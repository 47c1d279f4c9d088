package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Job is remote work that must stay stoppable: a place-and-route run, a
// board test. RunJob runs it as the leader of a new session and process
// group (setsid), with the group's ID in PIDFile, so that KillJob can signal
// everything it started from another session — also after the connection
// that started it was lost, since sshd does not kill the commands of a
// session without a terminal when its connection drops.
type Job struct {
	Command string // shell command line, run with sh -c
	Dir     string // working directory, created if missing; "" for the login directory
	PIDFile string // where the process group ID is written, relative to Dir; required
}

// jobWrapper runs as "sh -c jobWrapper fpgactl-job PIDFILE COMMAND" in the
// new session. It stays the group leader while the command runs, and removes
// the PID file when it ends or is terminated, so that a stale file never
// names a process group the job no longer owns.
const jobWrapper = `echo $$ > "$1" || exit
trap 'rm -f -- "$1"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
sh -c "$2"`

// Script returns the command line RunJob runs, for callers that run it some
// other way (or log it).
//
// setsid needs -w (util-linux): a shell started by sshd already leads its
// process group, so setsid forks, and without -w it would return at once
// while the job runs on unwatched.
func (j Job) Script() (string, error) {
	if j.PIDFile == "" {
		return "", errors.New("ssh: a Job needs a PIDFile")
	}
	var b strings.Builder
	if j.Dir != "" {
		fmt.Fprintf(&b, "mkdir -p -- %s && cd -- %s && ", remoteWord(j.Dir), remoteWord(j.Dir))
	}
	fmt.Fprintf(&b, "exec setsid -w sh -c %s fpgactl-job %s %s", Quote(jobWrapper), remoteWord(j.PIDFile), Quote(j.Command))
	return b.String(), nil
}

// killScript signals the group named in the PID file; nothing to do (exit 0)
// when the file is gone, that is when the job has ended.
func (j Job) killScript(sig ssh.Signal) (string, error) {
	if j.PIDFile == "" {
		return "", errors.New("ssh: a Job needs a PIDFile")
	}
	for _, r := range string(sig) {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "", fmt.Errorf("ssh: %q is not a signal name such as TERM or KILL", sig)
		}
	}
	var b strings.Builder
	if j.Dir != "" {
		fmt.Fprintf(&b, "cd -- %s 2>/dev/null || exit 0\n", remoteWord(j.Dir))
	}
	pid := remoteWord(j.PIDFile)
	fmt.Fprintf(&b, "[ -f %s ] || exit 0\n", pid)
	fmt.Fprintf(&b, "pg=$(cat -- %s) || exit 1\n", pid)
	// A corrupt file must never turn into kill -1 (every process).
	b.WriteString("case $pg in ''|*[!0-9]*) echo \"the PID file holds '$pg', not a process group ID\" >&2; exit 1;; esac\n")
	b.WriteString("[ \"$pg\" -gt 1 ] || { echo \"the PID file holds $pg, not a process group ID\" >&2; exit 1; }\n")
	fmt.Fprintf(&b, "kill -0 -\"$pg\" 2>/dev/null || exit 0\n")
	fmt.Fprintf(&b, "kill -%s -\"$pg\"", sig)
	if sig == ssh.SIGKILL {
		// The wrapper cannot clean up after KILL.
		fmt.Fprintf(&b, " && rm -f -- %s", pid)
	}
	return b.String(), nil
}

// RunJob runs j like Run runs a command. When ctx is done it signals the
// job's whole process group with SIGTERM through a second session, then
// SIGKILL if it has not ended after a grace period, and returns an error
// wrapping ctx.Err(). If the connection was lost (ErrConnectionLost), the job
// may still run: Dial again and call KillJob.
//
// Between the start and the moment the job writes its PID file (a few
// milliseconds), a cancellation can only reach it through the session.
func (c *Client) RunJob(ctx context.Context, j Job, stdin io.Reader, stdout, stderr io.Writer) error {
	script, err := j.Script()
	if err != nil {
		return err
	}
	kill := func(sig ssh.Signal) {
		// The caller's ctx is done: give the kill its own time.
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
		defer cancel()
		_ = c.KillJob(kctx, j, sig)
	}
	return c.run(ctx, script, stdin, stdout, stderr, kill)
}

// KillJob sends sig ("TERM", "KILL"...) to the process group of j, as
// recorded in its PID file. It returns nil when the job has already ended.
func (c *Client) KillJob(ctx context.Context, j Job, sig ssh.Signal) error {
	script, err := j.killScript(sig)
	if err != nil {
		return err
	}
	if err := c.Run(ctx, script, nil, nil, nil); err != nil {
		return fmt.Errorf("killing job %s (PID file %s) on %s: %w", firstWord(j.Command), j.PIDFile, c.name, err)
	}
	return nil
}

// firstWord names a command in messages without its arguments, which may
// hold secrets.
func firstWord(cmd string) string {
	if f := strings.Fields(cmd); len(f) > 0 {
		return f[0]
	}
	return "(empty)"
}
