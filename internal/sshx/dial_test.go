package sshx

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/sshx/sshdtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func dial(t *testing.T, o Options) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := Dial(ctx, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func runOutput(t *testing.T, c *Client, cmd string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := c.Run(context.Background(), cmd, nil, &out, &errOut); err != nil {
		t.Fatalf("Run(%q): %v (stderr: %s)", cmd, err, errOut.String())
	}
	return out.String()
}

func TestDialKeyFileAndKnownHosts(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	c := dial(t, options(t, s))
	if got := runOutput(t, c, "id -un; echo $SSH_CONNECTION"); !strings.HasPrefix(got, "root\n127.0.0.1 ") {
		t.Errorf("remote id and SSH_CONNECTION = %q", got)
	}
	if got, want := c.String(), "root@"+s.Addr; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if c.RemoteAddr().String() != s.Addr {
		t.Errorf("RemoteAddr() = %v, want %s", c.RemoteAddr(), s.Addr)
	}
	if !strings.HasPrefix(c.HostKeyFingerprint(), "SHA256:") {
		t.Errorf("HostKeyFingerprint() = %q", c.HostKeyFingerprint())
	}
	if err := c.Err(); err != nil {
		t.Errorf("Err() while connected = %v", err)
	}
	c.Close()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after Close")
	}
	if err := c.Err(); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("Err() after Close = %v, want ErrConnectionLost", err)
	}
}

// A host with several host keys must negotiate the type known_hosts has,
// whichever it is; x/crypto would otherwise pick its own preference and the
// check would fail.
func TestDialNegotiatesTheKnownHostKeyType(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	for _, typ := range sshdtest.HostKeyTypes {
		t.Run(typ, func(t *testing.T) {
			o := options(t, s)
			o.KnownHostsFiles = []string{s.KnownHostsFileWith(t, s.HostKeys[typ])}
			c := dial(t, o)
			if got, want := c.HostKey().Type(), s.HostKeys[typ].Type(); got != want {
				t.Errorf("negotiated host key %s, want %s", got, want)
			}
		})
	}
}

func TestDialUnknownHost(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	o := options(t, s)
	known := filepath.Join(t.TempDir(), "empty_known_hosts")
	writeFile(t, known, "# nothing yet\n", 0o600)
	missing := filepath.Join(t.TempDir(), "missing_known_hosts")
	o.KnownHostsFiles = []string{known, missing}
	_, err := Dial(context.Background(), o)
	var uh *UnknownHostError
	if !errors.As(err, &uh) {
		t.Fatalf("Dial = %v, want *UnknownHostError", err)
	}
	t.Log(err)
	msg := err.Error()
	for _, want := range []string{
		"[127.0.0.1]:" + strconv.Itoa(s.Port),
		ssh.FingerprintSHA256(uh.Key),
		"ssh-keyscan -p " + strconv.Itoa(s.Port) + " 127.0.0.1 >> " + known,
		known,
		missing + " (missing)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	if !isServerKey(s, uh.Key) {
		t.Errorf("UnknownHostError.Key %s is not one of the server's keys", ssh.FingerprintSHA256(uh.Key))
	}
}

func TestDialChangedHostKey(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	o := options(t, s)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewPublicKey(pub)
	known := s.KnownHostsFileWith(t, other) // line 1 is a comment, so the key is on line 2
	o.KnownHostsFiles = []string{known}
	_, err := Dial(context.Background(), o)
	var ch *HostKeyChangedError
	if !errors.As(err, &ch) {
		t.Fatalf("Dial = %v, want *HostKeyChangedError", err)
	}
	t.Log(err)
	msg := err.Error()
	for _, want := range []string{
		"CHANGED",
		known + ":2",
		ssh.FingerprintSHA256(other),
		ssh.FingerprintSHA256(s.HostKeys["ed25519"]),
		"ssh-keygen -f " + known + " -R '[127.0.0.1]:" + strconv.Itoa(s.Port) + "'",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	var uh *UnknownHostError
	if errors.As(err, &uh) {
		t.Error("a changed key must not read as an unknown host")
	}
}

func TestDialPinnedHostKey(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	o := options(t, s)
	o.KnownHostsFiles = []string{filepath.Join(t.TempDir(), "none")}
	o.HostKey = s.HostKeys["rsa"]
	c := dial(t, o)
	if c.HostKey().Type() != ssh.KeyAlgoRSA {
		t.Errorf("pinned RSA key, negotiated %s", c.HostKey().Type())
	}

	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	o.HostKey, _ = ssh.NewPublicKey(pub)
	_, err := Dial(context.Background(), o)
	var ch *HostKeyChangedError
	if !errors.As(err, &ch) || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("Dial with a wrong pinned key = %v, want *HostKeyChangedError naming the pinned key", err)
	}
}

func TestDialWithAgent(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	keyring := agent.NewKeyring()
	priv := loadPrivateKey(t, s.ClientKeyFile)
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	serveAgent(t, keyring)

	o := options(t, s)
	o.IdentityFiles = nil // HOME is empty: no default keys either
	o.UseAgent = true
	c := dial(t, o)
	if got := runOutput(t, c, "echo agent"); got != "agent\n" {
		t.Errorf("output %q", got)
	}

	o.UseAgent = false
	_, err := Dial(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "no key to log in with") {
		t.Fatalf("Dial without agent and keys = %v, want a no-key error", err)
	}
}

func TestDialEncryptedKeyNeedsAgent(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	priv := loadPrivateKey(t, s.ClientKeyFile)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "encrypted", []byte("secret passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	encrypted := filepath.Join(t.TempDir(), "id_encrypted")
	writeFile(t, encrypted, string(pem.EncodeToMemory(block)), 0o600)

	o := options(t, s)
	o.IdentityFiles = []string{encrypted}
	_, err = Dial(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "ssh-add "+encrypted) || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("Dial with an encrypted key and no agent = %v, want an error saying to ssh-add it", err)
	}
	t.Log(err)
	if strings.Contains(err.Error(), "secret passphrase") {
		t.Fatal("the error shows the passphrase")
	}

	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	serveAgent(t, keyring)
	o.UseAgent = true
	dial(t, o)
}

func TestDialRefusedKey(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	_, stranger := sshdtest.NewKeyFile(t, t.TempDir(), "id_stranger")
	o := options(t, s)
	o.IdentityFiles = []string{stranger}
	_, err := Dial(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "refused every key") || !strings.Contains(err.Error(), stranger) {
		t.Fatalf("Dial with an unauthorized key = %v, want a refusal naming the key file", err)
	}
	t.Log(err)
}

// An alias from ~/.ssh/config, end to end: host name, port, user, key and
// known_hosts all come from the config.
func TestDialConfigAlias(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	home := t.TempDir()
	t.Setenv("HOME", home)
	writeFile(t, filepath.Join(home, ".ssh", "id_lab"), string(mustRead(t, s.ClientKeyFile)), 0o600)
	known := s.KnownHostsFileWith(t, s.HostKeys["ecdsa"])
	writeFile(t, filepath.Join(home, ".ssh", "lab_known_hosts"), string(mustRead(t, known)), 0o600)
	writeFile(t, filepath.Join(home, ".ssh", "config"), fmt.Sprintf(`# lab hosts
Host lab? !lab9
    HostName 127.0.0.1
    Port %d
    User root
    IdentityFile ~/.ssh/id_%%n
    UserKnownHostsFile %%d/.ssh/lab_known_hosts
Host lab1
    Port 1
    IdentityFile ~/.ssh/id_lab
Host *
    User nobody
    ConnectTimeout 5
`, s.Port), 0o600)

	cfg, err := LoadUserConfig()
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.Resolve("lab1")
	if h.HostName != "127.0.0.1" || h.Port != s.Port || h.User != "root" || h.ConnectTimeout != 5*time.Second {
		t.Errorf("Resolve(lab1) = %+v", h)
	}
	if want := []string{filepath.Join(home, ".ssh/id_lab1"), filepath.Join(home, ".ssh/id_lab")}; !equalStrings(h.IdentityFiles, want) {
		t.Errorf("IdentityFiles = %q, want %q", h.IdentityFiles, want)
	}
	c := dial(t, Options{Address: "lab1", Config: cfg})
	if got, want := c.String(), "root@"+s.Addr; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if c.HostKey().Type() != s.HostKeys["ecdsa"].Type() {
		t.Errorf("host key %s, want the one in lab_known_hosts", c.HostKey().Type())
	}
	if h := cfg.Resolve("lab9"); h.HostName != "lab9" || h.User != "nobody" {
		t.Errorf("lab9 is excluded by !lab9, but Resolve(lab9) = %+v", h)
	}
}

func TestDialRefusesProxyJump(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader("Host bastioned\n  ProxyJump jump.example.com\n"), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Dial(context.Background(), Options{Address: "bastioned", Config: cfg, Signers: []ssh.Signer{newSigner(t)}})
	if err == nil || !strings.Contains(err.Error(), "ProxyJump jump.example.com (cfg:2)") {
		t.Fatalf("Dial = %v, want a refusal naming ProxyJump and its line", err)
	}
}

// Dial gives up when the context ends, even if the server accepted the TCP
// connection and then says nothing.
func TestDialRespectsContext(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent until the test ends
		}
	}()
	o := Options{Address: ln.Addr().String(), Signers: []ssh.Signer{newSigner(t)}}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, o)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Dial took %v after a 300ms deadline", d)
	}

	o.ConnectTimeout = 300 * time.Millisecond
	_, err = Dial(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "did not finish in 300ms") {
		t.Errorf("Dial with ConnectTimeout = %v, want a handshake timeout", err)
	}
}

func TestSplitAddress(t *testing.T) {
	for _, tc := range []struct {
		in, host, user string
		port           int
		bad            bool
	}{
		{in: "build1", host: "build1"},
		{in: "build1:2222", host: "build1", port: 2222},
		{in: "ci@build1:22", host: "build1", user: "ci", port: 22},
		{in: "[::1]:2200", host: "::1", port: 2200},
		{in: "::1", host: "::1"},
		{in: "[fe80::1]", host: "fe80::1"},
		{in: "a@b@host", host: "host", user: "a@b"},
		{in: "", bad: true},
		{in: "host:0", bad: true},
		{in: "host:http", bad: true},
		{in: "user@", bad: true},
	} {
		host, user, port, err := splitAddress(tc.in)
		if (err != nil) != tc.bad || host != tc.host || user != tc.user || port != tc.port {
			t.Errorf("splitAddress(%q) = %q, %q, %d, %v", tc.in, host, user, port, err)
		}
	}
}

func isServerKey(s *sshdtest.Server, k ssh.PublicKey) bool {
	for _, hk := range s.HostKeys {
		if bytes.Equal(hk.Marshal(), k.Marshal()) {
			return true
		}
	}
	return false
}

func loadPrivateKey(t *testing.T, path string) any {
	t.Helper()
	k, err := ssh.ParseRawPrivateKey(mustRead(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// serveAgent serves keyring on a unix socket named by SSH_AUTH_SOCK for the
// rest of the test.
func serveAgent(t *testing.T, keyring agent.Agent) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				agent.ServeAgent(keyring, c)
			}()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
}

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}
