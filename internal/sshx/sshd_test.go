package sshx

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/sshx/sshdtest"
)

// The tests log in to a real OpenSSH sshd, started per test on 127.0.0.1 by
// sshdtest.Start, as root (the tests run as root, as `make test` does).

func TestMain(m *testing.M) { sshdtest.Main(m) }

// options returns Options that log in to s with its client key file and
// trust every host key of the server.
func options(t *testing.T, s *sshdtest.Server) Options {
	t.Helper()
	return Options{
		Address:         s.Addr,
		User:            s.User,
		IdentityFiles:   []string{s.ClientKeyFile},
		KnownHostsFiles: []string{s.KnownHostsFile(t)},
		ConnectTimeout:  10 * time.Second,
	}
}

// uniqueSleep returns a sleep command line whose argument is unique to this
// call, so that its process can be found by its command line.
func uniqueSleep() (cmd, marker string) {
	b := make([]byte, 4)
	rand.Read(b)
	marker = fmt.Sprintf("30.%d", uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]))
	return "sleep " + marker, "sleep " + marker
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
