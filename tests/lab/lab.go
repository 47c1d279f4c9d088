// Package lab is the emulated lab for Go tests: lab hosts that are network
// namespaces reached over SSH, each running a real OpenSSH sshd inside, with
// boards that are simulated boards bridged between veth pairs.
//
// Per lab host n, Start creates
//
//   - a network namespace (internal/netns) and a veth link to this one:
//     10.77.X.1/24 on this side (interface fpgalabX), 10.77.X.2 inside (eth0),
//     X chosen free on this machine under a lock, so parallel test processes
//     do not clash;
//   - /usr/sbin/sshd -D -e running inside the namespace on 10.77.X.2:22, with
//     its own ed25519 host key and an authorized_keys file holding the lab's
//     client key (root login with keys only, StrictModes no, UsePAM no);
//     commands run through it see the namespace's network, as a lab host's
//     commands see its NICs;
//   - per board, two veth pairs inside: h0-b0 and b1-h1 (the second board
//     h2-b2, b3-h3): the harness sends on h0 and captures on h1, the board
//     bridges b0 to b1.
//
// It writes a known_hosts file with every host's key, and an inventory file
// (docs/lab-api.md) whose program command of each board is
//
//	<fpgactl> board program --board NAME --bitstream {bitstream} --control SOCKET --in b0 --out b1 --state-dir DIR
//
// where <fpgactl> is this module's fpgactl, built once per test binary. The
// lab's "bitstream" (Lab.Bitstream) is the simulated board's executable
// written by `fpgactl board build` for Options.Width.
//
// Everything is removed when the test ends: every process inside the
// namespaces (sshd, its sessions, boards programmed through it), the
// namespaces and veth links, the files. Traffic stays inside the namespaces.
// The tests must run as root; Start skips the test when not root (and fails
// it when root but sshd or ip is missing).
package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/syncbuf"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"

	"github.com/fpgactl/fpgactl/internal/netns"
	"github.com/fpgactl/fpgactl/internal/sshx/sshdtest"
	"github.com/fpgactl/fpgactl/labctl/inventory"
)

// SSHDPath is the OpenSSH server every lab host runs.
const SSHDPath = sshdtest.SSHDPath

// Options of Start.
type Options struct {
	// Hosts is the number of lab hosts (default 1).
	Hosts int
	// BoardsPerHost is 1 (default) or 2.
	BoardsPerHost int
	// Width of the lab's bitstream: 64 (default, 10G boards) or 512 (100G).
	Width int
	// Faults makes the named boards misbehave (see Fault).
	Faults map[string]Fault
}

// Fault is a way an emulated board disagrees with the golden model.
type Fault int

const (
	// NoFault is a board that works.
	NoFault Fault = iota
	// FlipFirstRule swaps pass and drop of rule 0 as the board's rule table
	// is loaded, as a bitstream with a broken rule decoder would: the
	// inventory's control socket of the board is then a proxy (served by the
	// test process) in front of the board's own.
	FlipFirstRule
)

// Lab is a running emulated lab. Its fields are for reading.
type Lab struct {
	// Dir holds keys, configs, sockets and the boards' state (short, so
	// Unix socket paths fit).
	Dir string
	// Fpgactl is this module's fpgactl, built for the tests.
	Fpgactl string
	// Bitstream is the simulated board executable of Width: what the lab's
	// boards are programmed with.
	Bitstream string
	Width     int
	// ClientKey logs in as root on every lab host (ClientKey+".pub" is its
	// public key); KnownHosts has every host's key; Inventory is the board
	// inventory file.
	ClientKey  string
	KnownHosts string
	Inventory  string
	// RemoteDir is a directory for on-board test runs on every lab host
	// (they share this machine's files): give it as the remote directory,
	// so that nothing lands in root's home.
	RemoteDir string
	Hosts     []*Host
	Boards    []*Board
}

// Host is one lab host.
type Host struct {
	Name  string // lab1, lab2, ...
	Netns *netns.Namespace
	// RootIface has RootAddr on this machine's side of the link; Addr is
	// the lab host's address, SSHAddress its sshd.
	RootIface  string
	RootAddr   string
	Addr       string
	SSHAddress string
	HostKey    ssh.PublicKey
	// Dir holds the host's sshd config, keys and log.
	Dir string

	sshd   *exec.Cmd
	exited chan struct{}
	log    *syncbuf.Buffer
}

// Board is one emulated board: its inventory entry and what is behind it.
type Board struct {
	inventory.Board
	Host *Host
	// BoardIn and BoardOut are the interfaces the simulated board bridges
	// (the peers of IfaceIn and IfaceOut).
	BoardIn, BoardOut string
	// Socket is the board's own register socket; Control (the
	// inventory's) differs from it on a faulty board.
	Socket   string
	StateDir string
	Fault    Fault

	stopFault func()
}

// Start builds what is needed and starts the lab; the test's cleanup stops
// everything.
func Start(t testing.TB, o Options) *Lab {
	t.Helper()
	if err := netns.Available(); err != nil {
		if errors.Is(err, netns.ErrNotRoot) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	if _, err := os.Stat(SSHDPath); err != nil {
		t.Fatalf("OpenSSH server not found (%v): run scripts/install-deps.sh (as root) to install openssh-server", err)
	}
	if o.Hosts <= 0 {
		o.Hosts = 1
	}
	if o.BoardsPerHost <= 0 {
		o.BoardsPerHost = 1
	}
	if o.BoardsPerHost > 2 {
		t.Fatalf("lab: BoardsPerHost is 1 or 2, not %d", o.BoardsPerHost)
	}
	if o.Width == 0 {
		o.Width = 64
	}
	if o.Width != 64 && o.Width != 512 {
		t.Fatalf("lab: Width is 64 or 512, not %d", o.Width)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	fpgactl, err := Fpgactl()
	if err != nil {
		t.Fatal(err)
	}
	bitstream, err := Bitstream(ctx, o.Width)
	if err != nil {
		t.Fatal(err)
	}
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("creating /run/sshd, which sshd needs: %v", err)
	}
	dir, err := os.MkdirTemp("", "fpgalab")
	if err != nil {
		t.Fatal(err)
	}
	l := &Lab{Dir: dir, Fpgactl: fpgactl, Bitstream: bitstream, Width: o.Width, RemoteDir: filepath.Join(dir, "remote")}
	t.Cleanup(func() { l.stop(t) })
	if err := os.MkdirAll(l.RemoteDir, 0o755); err != nil {
		t.Fatal(err)
	}

	l.ClientKey = filepath.Join(dir, "id_lab")
	if _, err = sshdtest.WriteHostKey("ed25519", l.ClientKey); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(l.ClientKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		t.Fatal(err)
	}

	subnets, release, err := allocSubnets(ctx, o.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	speed := map[int]string{64: "10G", 512: "100G"}[o.Width]
	for n := 1; n <= o.Hosts; n++ {
		h, err := l.startHost(ctx, n, subnets[n-1], authorized)
		if err != nil {
			t.Fatalf("lab host %d: %v", n, err)
		}
		for j := 0; j < o.BoardsPerHost; j++ {
			b, err := l.addBoard(ctx, h, j, speed, o.Faults)
			if err != nil {
				t.Fatalf("lab host %s, board %d: %v", h.Name, j+1, err)
			}
			if b.Fault != NoFault {
				if err := l.startFault(b); err != nil {
					t.Fatalf("board %s: %v", b.Name, err)
				}
			}
		}
	}
	for name := range o.Faults {
		if l.Board(name) == nil {
			t.Fatalf("lab: Faults names board %q, which the lab does not have (it has %s)", name, strings.Join(l.boardNames(), ", "))
		}
	}
	if err := l.writeFiles(); err != nil {
		t.Fatal(err)
	}
	return l
}

// Board returns the board of that name, or nil.
func (l *Lab) Board(name string) *Board {
	for _, b := range l.Boards {
		if b.Name == name {
			return b
		}
	}
	return nil
}

func (l *Lab) boardNames() []string {
	var out []string
	for _, b := range l.Boards {
		out = append(out, b.Name)
	}
	return out
}

func (l *Lab) startHost(ctx context.Context, n, subnet int, authorized string) (*Host, error) {
	h := &Host{
		Name:      "lab" + strconv.Itoa(n),
		RootIface: fmt.Sprintf("fpgalab%d", subnet),
		RootAddr:  fmt.Sprintf("10.77.%d.1", subnet),
		Addr:      fmt.Sprintf("10.77.%d.2", subnet),
		Dir:       filepath.Join(l.Dir, "lab"+strconv.Itoa(n)),
		log:       &syncbuf.Buffer{},
	}
	h.SSHAddress = net.JoinHostPort(h.Addr, "22")
	l.Hosts = append(l.Hosts, h)
	ns, err := netns.Create(ctx, netns.UniqueName("fpgalab"))
	if err != nil {
		return nil, err
	}
	h.Netns = ns
	// The link to this namespace: created with its far end inside.
	if err := ip(ctx, "link", "add", "name", h.RootIface, "type", "veth", "peer", "name", "eth0", "netns", ns.Name()); err != nil {
		return nil, err
	}
	if _, err := os.Stat("/proc/sys/net/ipv6/conf/" + h.RootIface); err == nil {
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+h.RootIface+"/disable_ipv6", []byte("1"), 0o644)
	}
	for _, args := range [][]string{
		{"addr", "add", h.RootAddr + "/24", "dev", h.RootIface},
		{"link", "set", "dev", h.RootIface, "up"},
		{"-n", ns.Name(), "addr", "add", h.Addr + "/24", "dev", "eth0"},
		{"-n", ns.Name(), "link", "set", "dev", "eth0", "up"},
	} {
		if err := ip(ctx, args...); err != nil {
			return nil, err
		}
	}

	if err := os.MkdirAll(h.Dir, 0o755); err != nil {
		return nil, err
	}
	hostKey := filepath.Join(h.Dir, "ssh_host_ed25519_key")
	if h.HostKey, err = sshdtest.WriteHostKey("ed25519", hostKey); err != nil {
		return nil, err
	}
	cfg := filepath.Join(h.Dir, "sshd_config")
	config := sshdtest.Config(h.SSHAddress, []string{hostKey}, authorized)
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command("ip", "netns", "exec", ns.Name(), SSHDPath, "-D", "-e", "-f", cfg)
	cmd.Stdout, cmd.Stderr = h.log, h.log
	// Sessions share the log pipe; a stopped one must not hold up Wait.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting sshd: %w", err)
	}
	h.sshd, h.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(h.exited) }()
	// Reached from this namespace through the link, as a client will.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", h.SSHAddress, time.Second)
		if err == nil {
			c.Close()
			return h, nil
		}
		select {
		case <-h.exited:
			return nil, fmt.Errorf("sshd exited: %s", h.log.String())
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("sshd does not answer on %s: %v; log: %s", h.SSHAddress, err, h.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *Lab) addBoard(ctx context.Context, h *Host, j int, speed string, faults map[string]Fault) (*Board, error) {
	name := fmt.Sprintf("b%s-%d", strings.ToLower(speed), len(l.Boards)+1)
	hIn, bIn := fmt.Sprintf("h%d", 2*j), fmt.Sprintf("b%d", 2*j)
	bOut, hOut := fmt.Sprintf("b%d", 2*j+1), fmt.Sprintf("h%d", 2*j+1)
	for _, pair := range [][2]string{{hIn, bIn}, {bOut, hOut}} {
		if err := h.Netns.AddVethPair(ctx, pair[0], pair[1], 9600); err != nil {
			return nil, err
		}
	}
	state := filepath.Join(h.Dir, "boards")
	b := &Board{
		Host: h, BoardIn: bIn, BoardOut: bOut, StateDir: state, Fault: faults[name],
		Socket: filepath.Join(state, name+".sock"),
	}
	b.Board = inventory.Board{
		Name: name, Part: fmt.Sprintf("simulated pf_filter w%d", l.Width), Speed: speed, LabHost: h.Name,
		SSHAddress: h.SSHAddress, SSHUser: "root", IfaceIn: hIn, IfaceOut: hOut, Control: b.Socket,
		Program: strings.Join([]string{l.Fpgactl, "board", "program", "--board", name, "--bitstream", inventory.BitstreamPlaceholder,
			"--control", b.Socket, "--in", bIn, "--out", bOut, "--state-dir", state}, " "),
		Tags: []string{speed, "emulated", h.Name},
	}
	if b.Fault != NoFault {
		b.Control = filepath.Join(h.Dir, name+"-faulty.sock")
	}
	l.Boards = append(l.Boards, b)
	return b, nil
}

// writeFiles writes known_hosts and the inventory.
func (l *Lab) writeFiles() error {
	var kh strings.Builder
	for _, h := range l.Hosts {
		kh.WriteString(knownhosts.Line([]string{knownhosts.Normalize(h.SSHAddress)}, h.HostKey) + "\n")
	}
	l.KnownHosts = filepath.Join(l.Dir, "known_hosts")
	if err := os.WriteFile(l.KnownHosts, []byte(kh.String()), 0o600); err != nil {
		return err
	}
	inv := struct {
		Boards []inventory.Board `yaml:"boards"`
	}{}
	for _, b := range l.Boards {
		inv.Boards = append(inv.Boards, b.Board)
	}
	data, err := yaml.Marshal(inv)
	if err != nil {
		return err
	}
	l.Inventory = filepath.Join(l.Dir, "inventory.yaml")
	if err := os.WriteFile(l.Inventory, append([]byte("# emulated lab (tests/lab)\n"), data...), 0o644); err != nil {
		return err
	}
	_, err = inventory.Load(l.Inventory) // what the service will read
	return err
}

// Command returns a command that runs inside the host's namespace.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return h.Netns.Command(ctx, name, args...)
}

// SSHDLog is what the host's sshd logged so far.
func (h *Host) SSHDLog() string { return h.log.String() }

// Process is a process running inside a lab host's namespace.
type Process struct {
	PID     int
	Cmdline string // arguments joined with spaces
}

// Processes lists the processes inside the host's namespace.
func (h *Host) Processes() []Process {
	var out []Process
	for _, pid := range nsPIDs(h.Netns) {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, Process{PID: pid, Cmdline: strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))})
	}
	return out
}

// nsPIDs lists the processes whose network namespace is ns.
func nsPIDs(ns *netns.Namespace) []int {
	var want unix.Stat_t
	if err := unix.Stat(ns.Path(), &want); err != nil {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) != nil {
			continue
		}
		if st.Ino == want.Ino && st.Dev == want.Dev {
			out = append(out, pid)
		}
	}
	return out
}

// stop kills everything inside the namespaces and removes the lab.
func (l *Lab) stop(t testing.TB) {
	for _, b := range l.Boards {
		if b.stopFault != nil {
			b.stopFault()
		}
	}
	for _, h := range l.Hosts {
		if h.Netns == nil {
			continue
		}
		for range 5 {
			pids := nsPIDs(h.Netns)
			if len(pids) == 0 {
				break
			}
			for _, p := range pids {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if h.sshd != nil {
			h.sshd.Process.Kill()
			<-h.exited
			if t.Failed() {
				t.Logf("sshd log of %s (%s):\n%s", h.Name, h.SSHAddress, h.log.String())
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = ip(ctx, "link", "del", "dev", h.RootIface)
		cancel()
		if err := h.Netns.Close(); err != nil {
			t.Errorf("deleting lab host %s: %v", h.Name, err)
		}
	}
	if t.Failed() {
		for _, b := range l.Boards {
			if data, err := os.ReadFile(filepath.Join(b.StateDir, b.Name+".log")); err == nil {
				t.Logf("board %s log:\n%s", b.Name, data)
			}
		}
	}
	os.RemoveAll(l.Dir)
}

// ip runs iproute2's ip; the error carries its stderr.
func ip(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "ip", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %s (%w)", strings.Join(args, " "), strings.TrimSpace(stderr.String()), err)
	}
	return nil
}
