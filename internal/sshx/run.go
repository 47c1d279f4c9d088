package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// ErrConnectionLost matches (with errors.Is) the errors of commands whose
// connection dropped, or whose session ended without an exit status. The
// remote command may still be running: see Job for work that must be
// stoppable afterwards.
var ErrConnectionLost = errors.New("ssh connection lost")

// cancelGrace is how long a cancelled command has to exit after SIGTERM
// before its session is closed.
const cancelGrace = 2 * time.Second

// killTimeout bounds the extra session that kills a cancelled Job, since the
// caller's context is already done by then.
const killTimeout = 10 * time.Second

type lostError struct {
	host, doing, reason string
	cause               error
}

func (e *lostError) Error() string {
	msg := "ssh: connection to " + e.host + " lost"
	if e.doing != "" {
		msg += " while " + e.doing
	}
	if e.reason != "" {
		msg += ": " + e.reason
	}
	if e.doing != "" {
		msg += "; the remote command may still be running"
	}
	return msg
}

func (e *lostError) Is(target error) bool { return target == ErrConnectionLost }
func (e *lostError) Unwrap() error        { return e.cause }

// lostError describes the loss of the connection; when the connection is
// still up (a session ended without exit status), cause says what happened.
func (c *Client) lostError(doing string, cause error) error {
	// The session may notice before watch does; give it a moment to say why.
	select {
	case <-c.done:
	case <-time.After(200 * time.Millisecond):
	}
	c.mu.Lock()
	reason := c.reason
	c.mu.Unlock()
	if reason == "" && cause != nil {
		reason = cause.Error()
		var missing *ssh.ExitMissingError
		if errors.As(cause, &missing) {
			reason = "the session ended without an exit status"
		}
	}
	return &lostError{host: c.name, doing: doing, reason: reason, cause: cause}
}

// ExitError is returned by Run when the remote command failed.
type ExitError struct {
	Host   string // user@host:port
	Code   int    // exit status; 128+n when killed by signal n, as shells report it
	Signal string // the signal that killed the command ("TERM", "KILL"...), or ""
	Stderr string // the end of the command's standard error, for the message
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("remote command on %s exited with status %d", e.Host, e.Code)
	if e.Signal != "" {
		msg = fmt.Sprintf("remote command on %s was killed by signal %s", e.Host, e.Signal)
	}
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// Run runs cmd (a command line for the remote user's shell, which must be a
// POSIX shell) in a new session, with stdin as its standard input (nil:
// empty) and its output copied to stdout and stderr (nil: discarded). It
// returns nil when the command exits with status 0, an *ExitError when it
// fails, and an error matching ErrConnectionLost when the connection drops.
//
// When ctx is done, Run sends SIGTERM to the command's process group, waits
// a moment for it to exit, then sends SIGKILL, closes the session and
// returns an error wrapping ctx.Err(). Processes the command moved to other
// process groups (setsid, a shell with job control) are out of reach, and
// with a dropped connection nothing can be sent at all: use RunJob for work
// that must be stoppable then.
func (c *Client) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	return c.run(ctx, cmd, stdin, stdout, stderr, nil)
}

// pgidMarker starts the line the command's shell writes first on its
// standard error, with its process ID, which Run removes from the output.
// sshd makes that shell the leader of a new process group, so that ID names
// the group. The "signal" request alone is not enough to cancel: OpenSSH
// refuses it for root logins ("session signalling requires privilege
// separation"), and other servers ignore it.
const pgidMarker = "fpgactl-sshx-pgid "

// run is Run with kill, which also signals the command ("TERM", then
// "KILL" after the grace) when ctx is done; RunJob's kills its job.
func (c *Client) run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer, kill func(sig ssh.Signal)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remote command on %s not started: %w", c.name, err)
	}
	sess, err := c.ssh.NewSession()
	if err != nil {
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) {
			return fmt.Errorf("ssh: %s refused a new session (%v); OpenSSH allows MaxSessions (default 10) at a time on one connection", c.name, oce)
		}
		return c.lostError("starting a command", err)
	}
	defer sess.Close()

	out := &outputWriter{w: stdout, onError: func() { sess.Close() }}
	errOut := &outputWriter{w: stderr, onError: func() { sess.Close() }, keepTail: true}
	pgid := &pgidFilter{w: errOut, looking: true}
	sess.Stdin, sess.Stdout, sess.Stderr = stdin, out, pgid
	if err := sess.Start("printf '" + pgidMarker + "%s\\n' \"$$\" >&2\n" + cmd); err != nil {
		select {
		case <-c.done:
			return c.lostError("starting a command", err)
		default:
			return fmt.Errorf("ssh: %s refused to run the command: %w", c.name, err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()

	select {
	case err := <-done:
		pgid.flush()
		return c.exitError(err, out, errOut)
	case <-ctx.Done():
	}
	// Cancelled: ask nicely, then take the session away.
	signal := func(sig ssh.Signal) {
		_ = sess.Signal(sig) // where the server supports it
		if id := pgid.id(); id > 1 {
			kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
			defer cancel()
			script := fmt.Sprintf("kill -%s -%d 2>/dev/null || kill -%s %d 2>/dev/null; true", sig, id, sig, id)
			_ = c.Run(kctx, script, nil, nil, nil)
		}
		if kill != nil {
			kill(sig)
		}
	}
	signal(ssh.SIGTERM)
	select {
	case <-done:
	case <-time.After(cancelGrace):
		signal(ssh.SIGKILL)
		sess.Close()
		select {
		case <-done:
		case <-time.After(time.Second): // a stuck local writer; let it go
		}
	}
	return fmt.Errorf("remote command on %s cancelled: %w", c.name, ctx.Err())
}

// pgidFilter takes the pgidMarker line out of the standard error it passes
// on. It looks only at the first lines: what the shell may print before it
// (startup warnings) passes through.
type pgidFilter struct {
	w io.Writer

	mu      sync.Mutex
	pending []byte // incomplete line while still looking
	pgid    int
	looking bool
}

// pgidSearchLimit bounds the output searched for the marker.
const pgidSearchLimit = 4096

func (f *pgidFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.looking {
		return f.w.Write(p)
	}
	f.pending = append(f.pending, p...)
	for f.looking {
		i := bytes.IndexByte(f.pending, '\n')
		if i < 0 {
			if len(f.pending) > pgidSearchLimit {
				f.looking = false
			}
			break
		}
		line := f.pending[:i+1]
		if rest, ok := bytes.CutPrefix(line, []byte(pgidMarker)); ok {
			if n, err := strconv.Atoi(string(bytes.TrimSpace(rest))); err == nil {
				f.pgid = n
			}
			f.looking = false
			f.pending = f.pending[i+1:]
			break
		}
		if _, err := f.w.Write(line); err != nil {
			return 0, err
		}
		f.pending = f.pending[i+1:]
	}
	if !f.looking && len(f.pending) > 0 {
		rest := f.pending
		f.pending = nil
		if _, err := f.w.Write(rest); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush passes on an incomplete last line held while looking.
func (f *pgidFilter) flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.looking = false
	if len(f.pending) > 0 {
		f.w.Write(f.pending)
		f.pending = nil
	}
}

func (f *pgidFilter) id() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pgid
}

func (c *Client) exitError(err error, out, errOut *outputWriter) error {
	if werr := errors.Join(out.err(), errOut.err()); werr != nil {
		return fmt.Errorf("copying the output of the remote command on %s: %w", c.name, werr)
	}
	if err == nil {
		return nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Host: c.name, Code: ee.ExitStatus(), Signal: ee.Signal(), Stderr: errOut.tailString()}
	}
	return c.lostError("running a command", err)
}

// outputWriter passes output on, remembers a write error (and then closes the
// session: otherwise the remote command would block once the window fills),
// and keeps the end of what it saw for error messages.
type outputWriter struct {
	w        io.Writer
	onError  func()
	keepTail bool

	mu     sync.Mutex
	werr   error
	tail   []byte
	closed bool
}

const tailSize = 512

func (o *outputWriter) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keepTail {
		o.tail = append(o.tail, p...)
		if len(o.tail) > 2*tailSize {
			o.tail = append(o.tail[:0], o.tail[len(o.tail)-tailSize:]...)
		}
	}
	if o.w == nil || o.werr != nil {
		return len(p), nil
	}
	if _, err := o.w.Write(p); err != nil {
		o.werr = err
		o.onError()
	}
	return len(p), nil
}

func (o *outputWriter) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.werr
}

// tailString returns the last lines of the output, made fit for one line of
// an error message.
func (o *outputWriter) tailString() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.tail
	if len(t) > tailSize {
		t = t[len(t)-tailSize:]
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(t), "?"))
	if len(o.tail) > tailSize {
		s = "..." + s
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}

// Quote quotes s for a POSIX shell: words of safe characters are left as
// they are, anything else is put in single quotes.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// remoteWord quotes a remote path for the shell, keeping a leading ~/ (the
// remote user's home) working.
func remoteWord(p string) string {
	switch {
	case p == "~":
		return `"$HOME"`
	case strings.HasPrefix(p, "~/"):
		return `"$HOME"/` + Quote(p[2:])
	}
	return Quote(p)
}
