package osdouble

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// outputGrace is how long a finished command's output may still drain from
// processes it left in the background before the session reports its exit.
const outputGrace = time.Second

// instanceEnv marks every process an instance starts, so deleting the
// instance also finds those that left its process groups.
const instanceEnv = "OSDOUBLE_INSTANCE_ID"

type sshServerOptions struct {
	instanceID string
	dir        string
	authorized ssh.PublicKey // nil: no key logs in, as with a server created without key_name
	dropAfter  time.Duration
	hostKey    ssh.Signer // nil: a new key, as a VM's first boot generates
	shell      string
	env        []string
	logf       func(format string, args ...any)
}

// sshServer is one instance's sshd. It listens from creation on so the port
// is known, but closes connections until the instance is ACTIVE, as a
// booting VM does.
type sshServer struct {
	opts    sshServerOptions
	ln      net.Listener
	hostKey ssh.Signer
	config  *ssh.ServerConfig

	mu     sync.Mutex
	active bool
	closed bool
	conns  map[net.Conn]struct{}
	groups map[int]bool // process group → its shell still runs
	wg     sync.WaitGroup
}

func newSSHServer(o sshServerOptions) (*sshServer, error) {
	signer := o.hostKey
	if signer == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating a host key: %w", err)
		}
		if signer, err = ssh.NewSignerFromKey(priv); err != nil {
			return nil, fmt.Errorf("generating a host key: %w", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on 127.0.0.1: %w", err)
	}
	s := &sshServer{
		opts:    o,
		ln:      ln,
		hostKey: signer,
		conns:   map[net.Conn]struct{}{},
		groups:  map[int]bool{},
	}
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: s.checkKey,
		ServerVersion:     "SSH-2.0-osdouble",
	}
	s.config.AddHostKey(signer)
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

func (s *sshServer) addr() string { return s.ln.Addr().String() }

func (s *sshServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *sshServer) activate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.active = true
	}
}

// close stops the instance: no more connections, every command and
// everything it started killed.
func (s *sshServer) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed, s.active = true, false
	var conns []net.Conn
	for nc := range s.conns {
		conns = append(conns, nc)
	}
	var groups []int
	for g := range s.groups {
		groups = append(groups, g)
	}
	s.mu.Unlock()

	_ = s.ln.Close()
	for _, g := range groups {
		// ESRCH when the group is already gone; nothing to do then.
		_ = syscall.Kill(-g, syscall.SIGKILL)
	}
	killMarked(instanceEnv + "=" + s.opts.instanceID)
	for _, nc := range conns {
		_ = nc.Close()
	}
}

// wait returns once every goroutine of the server has ended; call close first.
func (s *sshServer) wait() { s.wg.Wait() }

func (s *sshServer) checkKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if s.opts.authorized == nil {
		return nil, fmt.Errorf("server %s was created without key_name, so no key can log in", s.opts.instanceID)
	}
	if !bytes.Equal(key.Marshal(), s.opts.authorized.Marshal()) {
		s.opts.logf("osdouble: ssh %s: refused key %s for %q: not the key pair's key", s.addr(), ssh.FingerprintSHA256(key), meta.User())
		return nil, errors.New("not the key pair's key")
	}
	return &ssh.Permissions{}, nil
}

func (s *sshServer) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or similar: back off like net/http.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if !s.active {
			s.mu.Unlock()
			_ = nc.Close()
			continue
		}
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(nc)
	}
}

func (s *sshServer) serveConn(nc net.Conn) {
	defer s.wg.Done()
	defer func() {
		_ = nc.Close()
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
	}()
	if d := s.opts.dropAfter; d > 0 {
		t := time.AfterFunc(d, func() {
			s.opts.logf("osdouble: ssh %s: dropping connection from %s after %v (injected)", s.addr(), nc.RemoteAddr(), d)
			_ = nc.Close()
		})
		defer t.Stop()
	}
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.config)
	if err != nil {
		s.opts.logf("osdouble: ssh %s: handshake with %s failed: %v", s.addr(), nc.RemoteAddr(), err)
		return
	}
	_ = nc.SetDeadline(time.Time{})
	defer sc.Close()
	go ssh.DiscardRequests(reqs)

	var sessions sync.WaitGroup
	for nch := range chans {
		if nch.ChannelType() != "session" {
			_ = nch.Reject(ssh.UnknownChannelType, "this instance serves session channels only; no forwarding")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		sessions.Add(1)
		go func() {
			defer sessions.Done()
			s.serveSession(ch, creqs, sc.User())
		}()
	}
	sessions.Wait()
}

// running is a command started by a session.
type running struct {
	pgid int
	done chan exitResult
}

type exitResult struct {
	code   int
	signal string // SSH signal name when killed by a signal
}

func (s *sshServer) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request, user string) {
	defer ch.Close()
	var (
		env []string
		run *running
	)
	for {
		var done <-chan exitResult
		if run != nil {
			done = run.done
		}
		select {
		case req, ok := <-reqs:
			if !ok {
				// The client closed the session or the connection dropped:
				// like sshd, take the command down with it.
				if run != nil {
					s.killIfRunning(run.pgid)
				}
				return
			}
			switch req.Type {
			case "env":
				var kv struct{ Name, Value string }
				if err := ssh.Unmarshal(req.Payload, &kv); err != nil {
					_ = req.Reply(false, nil)
					continue
				}
				env = append(env, kv.Name+"="+kv.Value)
				_ = req.Reply(true, nil)
			case "exec", "shell":
				if run != nil {
					_ = req.Reply(false, nil)
					continue
				}
				var p struct{ Command string }
				if req.Type == "exec" {
					if err := ssh.Unmarshal(req.Payload, &p); err != nil {
						_ = req.Reply(false, nil)
						continue
					}
				}
				r, err := s.start(ch, p.Command, req.Type == "shell", env, user)
				if err != nil {
					s.opts.logf("osdouble: ssh %s: cannot run %q: %v", s.addr(), p.Command, err)
					_ = req.Reply(false, nil)
					continue
				}
				run = r
				_ = req.Reply(true, nil)
			case "signal":
				var p struct{ Signal string }
				if run != nil && ssh.Unmarshal(req.Payload, &p) == nil {
					if sig, ok := signalByName[p.Signal]; ok {
						_ = syscall.Kill(-run.pgid, sig)
					}
				}
				_ = req.Reply(false, nil)
			default:
				// pty-req, subsystem (sftp), x11-req, agent forwarding: exec is
				// what build runners need, so say no plainly.
				_ = req.Reply(false, nil)
			}
		case res := <-done:
			_ = ch.CloseWrite()
			if res.signal != "" {
				_, _ = ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
					Signal     string
					CoreDumped bool
					Error      string
					Lang       string
				}{res.signal, false, "", ""}))
			} else {
				_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(res.code)}))
			}
			// Nothing more to do for this session, but its requests must be
			// read until it closes.
			go ssh.DiscardRequests(reqs)
			return
		}
	}
}

func (s *sshServer) start(ch ssh.Channel, command string, shell bool, env []string, user string) (*running, error) {
	args := []string{"-c", command}
	if shell {
		args = nil
	}
	cmd := exec.Command(s.opts.shell, args...)
	cmd.Dir = s.opts.dir
	cmd.Env = s.environ(user, env)
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	// Its own process group, so closing the session kills all it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = outputGrace
	// Our own stdin copy: exec's would make Wait wait for the client's EOF.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = stdin.Close()
		return nil, errors.New("the instance is being deleted")
	}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	r := &running{pgid: cmd.Process.Pid, done: make(chan exitResult, 1)}
	s.groups[r.pgid] = true
	s.wg.Add(2)
	s.mu.Unlock()

	go func() {
		defer s.wg.Done()
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close()
	}()
	go func() {
		defer s.wg.Done()
		_ = cmd.Wait() // the exit status is in ProcessState; I/O errors after exit do not matter
		s.mu.Lock()
		// Keep the group while something in it still runs, so that deleting
		// the instance kills what the command left in the background.
		if syscall.Kill(-r.pgid, 0) != nil {
			delete(s.groups, r.pgid)
		} else {
			s.groups[r.pgid] = false
		}
		s.mu.Unlock()
		r.done <- exitOf(cmd.ProcessState)
	}()
	return r, nil
}

func (s *sshServer) killIfRunning(pgid int) {
	s.mu.Lock()
	runs := s.groups[pgid]
	s.mu.Unlock()
	if runs {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

func (s *sshServer) environ(user string, session []string) []string {
	env := append(os.Environ(),
		"HOME="+s.opts.dir,
		"PWD="+s.opts.dir,
		"USER="+user,
		"LOGNAME="+user,
		"SHELL="+s.opts.shell,
	)
	env = append(env, s.opts.env...)
	env = append(env, session...)
	// Last, so that no session can unset it; exec keeps the last of duplicates.
	return append(env, instanceEnv+"="+s.opts.instanceID)
}

func exitOf(ps *os.ProcessState) exitResult {
	if ps == nil {
		return exitResult{code: 255}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		for name, sig := range signalByName {
			if sig == ws.Signal() {
				return exitResult{signal: name}
			}
		}
		return exitResult{code: 128 + int(ws.Signal())}
	}
	return exitResult{code: ps.ExitCode()}
}

// signalByName maps the signal names of RFC 4254 to signals.
var signalByName = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT,
	"ALRM": syscall.SIGALRM,
	"FPE":  syscall.SIGFPE,
	"HUP":  syscall.SIGHUP,
	"ILL":  syscall.SIGILL,
	"INT":  syscall.SIGINT,
	"KILL": syscall.SIGKILL,
	"PIPE": syscall.SIGPIPE,
	"QUIT": syscall.SIGQUIT,
	"SEGV": syscall.SIGSEGV,
	"TERM": syscall.SIGTERM,
	"USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

// killMarked kills every process of this user whose environment holds marker:
// what an instance's commands started and moved out of their process group
// (setsid, daemons). A VM's deletion ends those too.
func killMarked(marker string) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return // not Linux: process groups are all we have
	}
	self := os.Getpid()
	want := []byte(marker)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue // gone, or not ours
		}
		for _, kv := range bytes.Split(data, []byte{0}) {
			if bytes.Equal(kv, want) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
	}
}
