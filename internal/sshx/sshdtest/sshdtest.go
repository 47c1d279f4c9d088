// Package sshdtest starts real OpenSSH servers for tests: one sshd per call
// of Start, listening on 127.0.0.1 with its own config, host keys and
// authorized_keys, that lets a generated client key log in as root. The
// tests of internal/sshx and of the SSH build runner use it.
//
// The tests must run as root (as `make test` does) on a machine with
// /usr/sbin/sshd (scripts/install-deps.sh installs it): the remote commands
// run on this machine as root, so a test can check remote files and
// processes directly.
//
// Start fails the test rather than skipping it when sshd is missing.
package sshdtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/syncbuf"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHDPath is the OpenSSH server the tests start.
const SSHDPath = "/usr/sbin/sshd"

// HostKeyTypes are the types of a server's host keys, as ssh-keygen names
// them: the keys of Server.HostKeys.
var HostKeyTypes = []string{"ed25519", "ecdsa", "rsa"}

// Options of a test server.
type Options struct {
	// ExtraAuthorized are more keys that may log in, besides the server's
	// ClientKey.
	ExtraAuthorized []ssh.PublicKey
	// Config holds more sshd_config lines. They come before the defaults,
	// so they take precedence (sshd keeps the first value of a keyword);
	// no Match blocks.
	Config string
}

// Server is a running sshd. Its fields are for reading only.
type Server struct {
	Addr string // 127.0.0.1:port
	Port int
	User string // who logs in: "root"
	// HostKeys are the server's host keys by type (HostKeyTypes). The
	// ed25519 and ECDSA keys are the server's own; the RSA key (slow to
	// generate) is shared by every server of the test binary.
	HostKeys map[string]ssh.PublicKey
	// ClientKey may log in; its private key is in ClientKeyFile (OpenSSH
	// format, unencrypted), its public key in ClientKeyFile.pub.
	ClientKey     ssh.Signer
	ClientKeyFile string
	// AuthorizedKeys is the server's authorized_keys file; sshd reads it at
	// each login, so a test may append keys to it.
	AuthorizedKeys string
	// Dir holds the server's config and keys.
	Dir string
	// PID is the listening sshd's process ID.
	PID int

	log *syncbuf.Buffer
}

// Start starts sshd for one test; the test's cleanup kills it with every
// process it started, also those its clients left running detached. Start
// also points HOME at an empty directory and unsets SSH_AUTH_SOCK for the
// rest of the test, so that the user's own SSH config, keys and agent play
// no part on the client side (so the test must not be parallel).
//
// It fails the test when sshd is missing, saying to run
// scripts/install-deps.sh, or when the test does not run as root.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if _, err := os.Stat(SSHDPath); err != nil {
		t.Fatalf("OpenSSH server not found (%v): run scripts/install-deps.sh (as root) to install openssh-server", err)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("these tests start sshd and log in as root: run them as root, as `make test` does")
	}
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("creating /run/sshd, which sshd needs: %v", err)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", "")

	s := &Server{User: "root", Dir: t.TempDir(), HostKeys: map[string]ssh.PublicKey{}, log: &syncbuf.Buffer{}}
	var hostKeyFiles []string
	for _, typ := range HostKeyTypes {
		file := filepath.Join(s.Dir, "ssh_host_"+typ+"_key")
		pub, err := WriteHostKey(typ, file)
		if err != nil {
			t.Fatalf("host key: %v", err)
		}
		s.HostKeys[typ] = pub
		hostKeyFiles = append(hostKeyFiles, file)
	}
	s.ClientKey, s.ClientKeyFile = NewKeyFile(t, s.Dir, "id_client")
	var auth bytes.Buffer
	for _, k := range append([]ssh.PublicKey{s.ClientKey.PublicKey()}, o.ExtraAuthorized...) {
		auth.Write(ssh.MarshalAuthorizedKey(k))
	}
	s.AuthorizedKeys = filepath.Join(s.Dir, "authorized_keys")
	writeFile(t, s.AuthorizedKeys, auth.Bytes(), 0o600)

	for attempt := 1; ; attempt++ {
		s.Port = freePort(t)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
		cfg := filepath.Join(s.Dir, "sshd_config")
		writeFile(t, cfg, []byte(o.Config+"\n"+Config(s.Addr, hostKeyFiles, s.AuthorizedKeys)), 0o600)

		cmd := exec.Command(SSHDPath, "-D", "-e", "-f", cfg)
		cmd.Stdout, cmd.Stderr = s.log, s.log
		// The connection processes share the log pipe; a stopped one must
		// not hold up Wait.
		cmd.WaitDelay = 2 * time.Second
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", SSHDPath, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if waitListening(s.Addr, exited, 10*time.Second) {
			s.PID = cmd.Process.Pid
			t.Cleanup(func() {
				s.stop(cmd, exited)
				if t.Failed() {
					t.Logf("sshd log (%s):\n%s", s.Addr, s.log.String())
				}
			})
			return s
		}
		cmd.Process.Kill()
		<-exited
		if attempt == 3 {
			t.Fatalf("sshd did not start listening on %s:\n%s", s.Addr, s.log.String())
		}
	}
}

// stop kills the server, its connection processes and the commands its
// clients started, including detached and orphaned ones.
func (s *Server) stop(cmd *exec.Cmd, exited <-chan struct{}) {
	var killed []int
	for range 3 {
		pids := append(descendants(s.PID), s.RemoteProcesses()...)
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
		killed = append(killed, pids...)
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	reap(killed)
}

// Log returns what sshd logged so far. The cleanup of a failed test logs
// it too.
func (s *Server) Log() string { return s.log.String() }

// KnownHostsFile writes a known_hosts file with every host key of the
// server and returns its path.
func (s *Server) KnownHostsFile(t testing.TB) string {
	t.Helper()
	keys := make([]ssh.PublicKey, 0, len(HostKeyTypes))
	for _, typ := range HostKeyTypes {
		keys = append(keys, s.HostKeys[typ])
	}
	return s.KnownHostsFileWith(t, keys...)
}

// KnownHostsFileWith writes a known_hosts file that gives the server's
// address ([127.0.0.1]:port) exactly the keys given, after a comment line
// (so the first key is on line 2), and returns its path.
func (s *Server) KnownHostsFileWith(t testing.TB, keys ...ssh.PublicKey) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# written by sshdtest\n")
	for _, k := range keys {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, k) + "\n")
	}
	f := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, f, []byte(b.String()), 0o600)
	return f
}

// waitListening waits until addr accepts a connection; false if the server
// exited first (another process took the port) or the time ran out.
func waitListening(addr string, exited <-chan struct{}, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// sharedRSAKey is generated once per test binary: 2048-bit RSA takes a
// moment.
var sharedRSAKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

// Config is the sshd_config of a test server: listening on listen, with
// these host keys and authorized keys, key logins only, root allowed.
// SHLVL=1 keeps root's bash from sourcing ~/.bashrc for every command, as
// Debian's bash does when run by sshd: the machine's dotfiles (pyenv init,
// say) would otherwise add their startup time to every remote command, and
// their output to some.
func Config(listen string, hostKeyFiles []string, authorizedKeys string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ListenAddress %s\n", listen)
	for _, f := range hostKeyFiles {
		fmt.Fprintf(&b, "HostKey %s\n", f)
	}
	fmt.Fprintf(&b, `AuthorizedKeysFile %s
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PidFile none
MaxSessions 20
MaxStartups 50
LogLevel VERBOSE
SetEnv SHLVL=1
`, authorizedKeys)
	return b.String()
}

// WriteHostKey writes a new host key of type typ (ed25519, ecdsa, rsa) in
// OpenSSH format to file, its public key to file.pub, and returns it.
func WriteHostKey(typ, file string) (ssh.PublicKey, error) {
	var priv any
	var err error
	switch typ {
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "ecdsa":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		priv, err = sharedRSAKey()
	default:
		return nil, fmt.Errorf("unknown host key type %q", typ)
	}
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "sshdtest-"+typ)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(file+".pub", ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		return nil, err
	}
	return signer.PublicKey(), nil
}

// NewKeyFile writes a new unencrypted ed25519 key in OpenSSH format to
// dir/name, and its public key to dir/name.pub.
func NewKeyFile(t testing.TB, dir, name string) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "sshdtest")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	writeFile(t, path, pem.EncodeToMemory(block), 0o600)
	writeFile(t, path+".pub", ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644)
	return signer, path
}

func writeFile(t testing.TB, path string, content []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, content, mode); err != nil {
		t.Fatal(err)
	}
}
