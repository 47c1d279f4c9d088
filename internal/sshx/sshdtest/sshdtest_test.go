package sshdtest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/sshx"
	"github.com/fpgactl/fpgactl/internal/sshx/sshdtest"
	"golang.org/x/crypto/ssh"
)

func dial(t *testing.T, s *sshdtest.Server, known string) (*sshx.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := sshx.Dial(ctx, sshx.Options{
		Address: s.Addr, User: s.User, IdentityFiles: []string{s.ClientKeyFile},
		KnownHostsFiles: []string{known}, ConnectTimeout: 10 * time.Second,
	})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func output(t *testing.T, c *sshx.Client, cmd string) string {
	t.Helper()
	var out bytes.Buffer
	if err := c.Run(context.Background(), cmd, nil, &out, nil); err != nil {
		t.Fatalf("Run(%q): %v", cmd, err)
	}
	return out.String()
}

// The server lets the client key in as root, with the config's extra
// lines, and its known_hosts files say what they should.
func TestStart(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{Config: "SetEnv SSHDTEST_EXTRA=yes"})
	if s.Addr != fmt.Sprintf("127.0.0.1:%d", s.Port) || s.User != "root" || len(s.HostKeys) != len(sshdtest.HostKeyTypes) {
		t.Errorf("server %+v", s)
	}
	if home := os.Getenv("HOME"); !strings.HasPrefix(home, os.TempDir()) || os.Getenv("SSH_AUTH_SOCK") != "" {
		t.Errorf("HOME %q SSH_AUTH_SOCK %q: the client side is not isolated", home, os.Getenv("SSH_AUTH_SOCK"))
	}
	c, err := dial(t, s, s.KnownHostsFile(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := output(t, c, "id -un; echo $SSHDTEST_EXTRA"); got != "root\nyes\n" {
		t.Errorf("remote user and extra config: %q", got)
	}
	// Each host key can be known alone.
	for _, typ := range sshdtest.HostKeyTypes {
		if _, err := dial(t, s, s.KnownHostsFileWith(t, s.HostKeys[typ])); err != nil {
			t.Errorf("known_hosts with the %s key only: %v", typ, err)
		}
	}
	_, err = dial(t, s, s.KnownHostsFileWith(t))
	var uh *sshx.UnknownHostError
	if !errors.As(err, &uh) {
		t.Errorf("Dial with no known key = %v, want *sshx.UnknownHostError", err)
	}
	// Another server has host keys of its own (but the shared RSA one).
	s2 := sshdtest.Start(t, sshdtest.Options{})
	if bytes.Equal(s2.HostKeys["ed25519"].Marshal(), s.HostKeys["ed25519"].Marshal()) {
		t.Error("two servers have the same ed25519 host key")
	}
	if _, err := dial(t, s2, s.KnownHostsFile(t)); err == nil {
		t.Error("a server's known_hosts lets the client into another one")
	}
	if s.ClientKeyFile == s2.ClientKeyFile {
		t.Error("two servers share a client key file")
	}
	if _, err := dial(t, s2, s2.KnownHostsFile(t)); err != nil {
		t.Error(err)
	}
}

func TestExtraAuthorized(t *testing.T) {
	key, keyFile := sshdtest.NewKeyFile(t, t.TempDir(), "id_extra")
	s := sshdtest.Start(t, sshdtest.Options{ExtraAuthorized: []ssh.PublicKey{key.PublicKey()}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := sshx.Dial(ctx, sshx.Options{Address: s.Addr, User: s.User, IdentityFiles: []string{keyFile}, KnownHostsFiles: []string{s.KnownHostsFile(t)}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !strings.Contains(s.Log(), "Accepted publickey for root") {
		t.Errorf("the log does not show the login:\n%s", s.Log())
	}
}

// RemoteProcesses finds what the clients left running, also detached and
// orphaned, and the test's cleanup kills it.
func TestRemoteProcessesAndCleanup(t *testing.T) {
	b := make([]byte, 4)
	rand.Read(b)
	marker := fmt.Sprintf("sleep 40.%d", uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]))
	t.Run("server", func(t *testing.T) {
		s := sshdtest.Start(t, sshdtest.Options{})
		c, err := dial(t, s, s.KnownHostsFile(t))
		if err != nil {
			t.Fatal(err)
		}
		if pids := s.RemoteProcesses(); len(pids) != 0 {
			t.Errorf("remote processes before any command: %v", pids)
		}
		output(t, c, "( setsid "+marker+" > /dev/null 2>&1 < /dev/null & )")
		sshdtest.WaitRunning(t, marker, 5*time.Second)
		pids := sshdtest.ProcessesWith(marker)
		if len(pids) != 1 || !slices.Contains(s.RemoteProcesses(), pids[0]) {
			t.Errorf("the detached command %v is not among the remote processes %v", pids, s.RemoteProcesses())
		}
		if len(s.ConnectionProcesses()) == 0 {
			t.Fatal("no connection process")
		}
		s.SignalConnections(t, syscall.SIGKILL)
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("the client did not notice the killed connection")
		}
		if len(sshdtest.ProcessesWith(marker)) == 0 {
			t.Fatal("the detached command died with the connection; this test needs it alive")
		}
	})
	sshdtest.WaitGone(t, marker, 2*time.Second)
}

func TestMain(m *testing.M) { sshdtest.Main(m) }
