package osdouble_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/build/openstack/osdouble"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// netID is the one network of every test cloud, fixed so that creates can
// name it the way a runner's settings would.
const netID = "4d6c2b2e-7c1a-4c44-9a0b-0d2f3c8e5a11"

func newCloud(t *testing.T, opts osdouble.Options) *osdouble.Cloud {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.BootDelay == 0 {
		opts.BootDelay = 50 * time.Millisecond
	}
	if opts.Networks == nil {
		opts.Networks = []osdouble.Network{{ID: netID, Name: "private"}}
	}
	opts.Logf = t.Logf
	c, err := osdouble.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// testEnv is what most tests start from: a cloud, a provider authenticated
// against it, a compute client at microversion 2.52 and the id of image
// debian-12.
type testEnv struct {
	c      *osdouble.Cloud
	p      *gophercloud.ProviderClient
	client *gophercloud.ServiceClient
	image  string
}

func newEnv(t *testing.T, opts osdouble.Options) testEnv {
	t.Helper()
	c := newCloud(t, opts)
	p := provider(t, c)
	return testEnv{c: c, p: p, client: compute(t, p, c.Region(), "2.52"), image: imageID(t, p, c.Region(), "debian-12")}
}

// sshServer is an ACTIVE server with an SSH connection to it.
type sshServer struct {
	srv  *servers.Server
	dir  string // where its commands run
	conn *ssh.Client
}

// bootSSH creates server name with a key pair "k" that Nova generates, waits
// until it is ACTIVE and connects to it. The connection closes with the test.
func (e testEnv) bootSSH(t *testing.T, name string) sshServer {
	t.Helper()
	key := generatedKey(t, e.client, "k")
	srv := mustActive(t, e.client, mustCreate(t, e.client, e.image, serverSpec{name: name, keyName: "k"}).ID)
	rep, _ := e.c.Server(srv.ID)
	conn, err := dial(t, e.c, sshAddr(t, srv), key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return sshServer{srv: srv, dir: rep.Dir, conn: conn}
}

// pid is the pid a command wrote to file name in the server's directory.
func (s sshServer) pid(t *testing.T, name string) int {
	t.Helper()
	return pidFile(t, filepath.Join(s.dir, name))
}

// startSleep starts, in a new session, a command that runs sleep in the
// background, writes its pid to file pidName and waits for it. It returns the
// session and the sleep's pid.
func (s sshServer) startSleep(t *testing.T, pidName string) (*ssh.Session, int) {
	t.Helper()
	sess, err := s.conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("sleep 60 & echo $! > " + pidName + "; wait"); err != nil {
		t.Fatal(err)
	}
	return sess, s.pid(t, pidName)
}

func provider(t *testing.T, c *osdouble.Cloud) *gophercloud.ProviderClient {
	t.Helper()
	p, err := openstack.AuthenticatedClient(t.Context(), c.AuthOptions())
	if err != nil {
		t.Fatalf("AuthenticatedClient: %v", err)
	}
	return p
}

// compute returns a compute client at microversion mv ("" for none).
func compute(t *testing.T, p *gophercloud.ProviderClient, region, mv string) *gophercloud.ServiceClient {
	t.Helper()
	client, err := openstack.NewComputeV2(p, gophercloud.EndpointOpts{Region: region})
	if err != nil {
		t.Fatalf("NewComputeV2: %v", err)
	}
	client.Microversion = mv
	return client
}

// imageID looks an image up by name the way gophercloud users do: Glance v2.
func imageID(t *testing.T, p *gophercloud.ProviderClient, region, name string) string {
	t.Helper()
	client, err := openstack.NewImageV2(p, gophercloud.EndpointOpts{Region: region})
	if err != nil {
		t.Fatalf("NewImageV2: %v", err)
	}
	pages, err := images.List(client, images.ListOpts{Name: name}).AllPages(t.Context())
	if err != nil {
		t.Fatalf("listing images: %v", err)
	}
	all, err := images.ExtractImages(pages)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Fatalf("images named %q: got %d, want 1", name, len(all))
	}
	return all[0].ID
}

type serverSpec struct {
	name     string
	keyName  string
	metadata map[string]string
	tags     []string
	userData []byte
	flavor   string
}

func createServer(t *testing.T, client *gophercloud.ServiceClient, image string, s serverSpec) (*servers.Server, error) {
	t.Helper()
	if s.flavor == "" {
		s.flavor = "2"
	}
	opts := servers.CreateOpts{
		Name:           s.name,
		ImageRef:       image,
		FlavorRef:      s.flavor,
		Metadata:       s.metadata,
		Tags:           s.tags,
		UserData:       s.userData,
		SecurityGroups: []string{"default"},
		Networks:       []servers.Network{{UUID: netID}},
	}
	return servers.Create(t.Context(), client, keypairs.CreateOptsExt{CreateOptsBuilder: opts, KeyName: s.keyName}, nil).Extract()
}

func mustCreate(t *testing.T, client *gophercloud.ServiceClient, image string, s serverSpec) *servers.Server {
	t.Helper()
	srv, err := createServer(t, client, image, s)
	if err != nil {
		t.Fatalf("creating server %q: %v", s.name, err)
	}
	return srv
}

// waitStatus polls a server until it has status want, the way a runner's own
// waiter does: ERROR ends the wait unless it is what the caller waits for.
func waitStatus(ctx context.Context, client *gophercloud.ServiceClient, id, want string) (*servers.Server, error) {
	var last *servers.Server
	for {
		srv, err := servers.Get(ctx, client, id).Extract()
		if err != nil {
			if ctx.Err() != nil && last != nil {
				// The deadline struck mid-request: report what was seen last.
				return last, fmt.Errorf("server %s still %s: %w", id, last.Status, ctx.Err())
			}
			return last, err
		}
		last = srv
		if srv.Status == want {
			return srv, nil
		}
		if srv.Status == "ERROR" {
			return srv, fmt.Errorf("server %s went to ERROR: %s", id, srv.Fault.Message)
		}
		select {
		case <-ctx.Done():
			return srv, fmt.Errorf("server %s still %s: %w", id, srv.Status, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func mustActive(t *testing.T, client *gophercloud.ServiceClient, id string) *servers.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	srv, err := waitStatus(ctx, client, id, "ACTIVE")
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// sshAddr finds where to SSH from what the API says: the fixed address and
// the ssh_port metadata.
func sshAddr(t *testing.T, srv *servers.Server) string {
	t.Helper()
	nets, ok := srv.Addresses["private"].([]any)
	if !ok || len(nets) == 0 {
		t.Fatalf("server %s has no address on network private: %v", srv.ID, srv.Addresses)
	}
	addr, _ := nets[0].(map[string]any)["addr"].(string)
	port := srv.Metadata["ssh_port"]
	if addr == "" || port == "" {
		t.Fatalf("server %s: no address (%q) or ssh_port (%q)", srv.ID, addr, port)
	}
	return addr + ":" + port
}

// dial connects with knownhosts verification against a file the cloud wrote.
func dial(t *testing.T, c *osdouble.Cloud, addr string, key ssh.Signer) (*ssh.Client, error) {
	t.Helper()
	khPath := filepath.Join(t.TempDir(), "known_hosts")
	if err := c.WriteKnownHosts(khPath); err != nil {
		t.Fatal(err)
	}
	hostKeys, err := knownhosts.New(khPath)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            "debian",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: hostKeys,
		Timeout:         5 * time.Second,
	})
}

// run runs cmd in a new session and returns its stdout and stderr.
func run(client *ssh.Client, cmd string) (string, string, error) {
	sess, err := client.NewSession()
	if err != nil {
		return "", "", err
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	err = sess.Run(cmd)
	return stdout.String(), stderr.String(), err
}

// randomKey is a key no key pair holds.
func randomKey(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// generatedKey creates a key pair in Nova without a public key, so Nova
// generates it and returns the private key, and parses that key.
func generatedKey(t *testing.T, client *gophercloud.ServiceClient, name string) ssh.Signer {
	t.Helper()
	kp, err := keypairs.Create(t.Context(), client, keypairs.CreateOpts{Name: name}).Extract()
	if err != nil {
		t.Fatalf("creating key pair: %v", err)
	}
	signer, err := ssh.ParsePrivateKey([]byte(kp.PrivateKey))
	if err != nil {
		t.Fatalf("parsing the generated private key: %v", err)
	}
	return signer
}

func serverNames(t *testing.T, client *gophercloud.ServiceClient, opts servers.ListOpts) []string {
	t.Helper()
	var names []string
	err := servers.List(client, opts).EachPage(t.Context(), func(_ context.Context, page pagination.Page) (bool, error) {
		list, err := servers.ExtractServers(page)
		for _, s := range list {
			names = append(names, s.Name)
		}
		return true, err
	})
	if err != nil {
		t.Fatalf("listing servers: %v", err)
	}
	return names
}

// waitFile waits for a file a remote command writes and returns its content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(data), "\n") {
			return strings.TrimSpace(string(data))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not written: %v", path, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func pidFile(t *testing.T, path string) int {
	t.Helper()
	pid, err := strconv.Atoi(waitFile(t, path))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}

// processGone is true once pid has exited (a zombie waiting for its parent
// counts as exited).
func processGone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(data, ')')
	return i < 0 || i+2 >= len(data) || data[i+2] == 'Z' || data[i+2] == 'X'
}

func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// codeOf is the HTTP status of a gophercloud error, or 0.
func codeOf(err error) int {
	var e gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &e) {
		return e.Actual
	}
	return 0
}
