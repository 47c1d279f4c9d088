// Package netns creates network namespaces for tests, benchmarks and the
// emulated lab, so that traffic the harness sends stays on veth pairs inside
// a namespace the caller owns and can delete with everything in it.
//
// Namespaces are made with iproute2 (`ip netns add`), so they are visible
// to `ip netns list` and can be entered by other processes (`ip netns exec`,
// an sshd started in one, a simulated board attached to its interfaces).
// IPv6 is disabled inside each namespace so the kernel sends no router
// solicitations, MLD reports or DAD probes of its own: a test that counts
// frames sees only the frames it sent.
package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotRoot is wrapped by Available when the process is not root. Tests
// skip on it and fail on any other error, so that a CI machine that is root
// but broken does not silently skip.
var ErrNotRoot = errors.New("network namespaces need root")

// runDir is where `ip netns add` bind-mounts namespaces.
const runDir = "/var/run/netns"

// closeTimeout bounds `ip netns del` in Close, which has no context.
const closeTimeout = 10 * time.Second

// Available reports whether this process can create namespaces: it must be
// root and find ip (iproute2) in PATH. The error says what is missing.
func Available() error {
	if uid := os.Geteuid(); uid != 0 {
		return fmt.Errorf("%w (running as uid %d); run as root (sudo) to use veth pairs in a namespace", ErrNotRoot, uid)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("ip (iproute2) not found in PATH; install it (apt-get install iproute2): %w", err)
	}
	return nil
}

var seq atomic.Uint64

// UniqueName returns prefix-PID-N, a name no other call in this process and
// no other process running at the same time returns, so parallel test runs
// never share a namespace.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1))
}

// Namespace is a named network namespace: created by Create (Close deletes
// it) or an existing one found by Open (Close leaves it).
type Namespace struct {
	name      string
	borrowed  bool
	closeOnce sync.Once
	closeErr  error
}

// Open returns the existing namespace name (as made by `ip netns add`).
func Open(name string) (*Namespace, error) {
	if !validName(name) {
		return nil, fmt.Errorf("invalid namespace name %q", name)
	}
	ns := &Namespace{name: name, borrowed: true}
	if _, err := os.Stat(ns.Path()); err != nil {
		return nil, fmt.Errorf("network namespace %s not found (%v); list them with `ip netns list`", name, err)
	}
	return ns, nil
}

// validName reports whether name can name a file in runDir.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// Create makes the namespace name, disables IPv6 in it and brings its
// loopback up. On error nothing is left behind.
func Create(ctx context.Context, name string) (*Namespace, error) {
	if !validName(name) {
		return nil, fmt.Errorf("invalid namespace name %q: use letters, digits and dashes", name)
	}
	if err := runIP(ctx, "netns", "add", name); err != nil {
		return nil, err
	}
	ns := &Namespace{name: name}
	if err := ns.setup(ctx); err != nil {
		_ = ns.Close()
		return nil, err
	}
	return ns, nil
}

func (ns *Namespace) setup(ctx context.Context) error {
	// default.* applies to interfaces created later (our veths); all.* to
	// those that exist now (lo).
	if err := ns.disableIPv6(ctx, "all", "default"); err != nil {
		return err
	}
	return runIP(ctx, "-n", ns.name, "link", "set", "lo", "up")
}

// disableIPv6 sets net.ipv6.conf.<dev>.disable_ipv6=1 for each dev inside
// the namespace. Kernels without IPv6 have no such keys and send no IPv6
// frames either, so there is nothing to do on them.
func (ns *Namespace) disableIPv6(ctx context.Context, devs ...string) error {
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		return nil
	}
	args := []string{"netns", "exec", ns.name, "sysctl", "-qw"}
	for _, d := range devs {
		// sysctl reads dots as separators; a slash keeps one in a device name.
		args = append(args, "net.ipv6.conf."+strings.ReplaceAll(d, ".", "/")+".disable_ipv6=1")
	}
	return runIP(ctx, args...)
}

// Name is the namespace's name, as `ip netns list` shows it.
func (ns *Namespace) Name() string { return ns.name }

// Path is the namespace's bind mount, for setns(2) or nsenter --net=.
func (ns *Namespace) Path() string { return filepath.Join(runDir, ns.name) }

// AddVethPair creates the veth pair a<->b with both ends inside the
// namespace, sets both to mtu (9600 lets 9216-byte frames through), disables
// IPv6 on them and brings them up.
func (ns *Namespace) AddVethPair(ctx context.Context, a, b string, mtu int) error {
	if mtu < 68 {
		return fmt.Errorf("veth pair %s/%s: MTU %d is below the minimum of 68", a, b, mtu)
	}
	m := fmt.Sprint(mtu)
	// "name" and "dev" everywhere: ip would read a bare "a" as "address".
	if err := runIP(ctx, "-n", ns.name, "link", "add", "name", a, "mtu", m, "type", "veth", "peer", "name", b, "mtu", m); err != nil {
		return err
	}
	// Deleting one end deletes the pair, so a failure below leaves nothing.
	cleanup := func(err error) error {
		dctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		_ = runIP(dctx, "-n", ns.name, "link", "del", "dev", a)
		return err
	}
	// Before "up": an interface with IPv6 enabled sends DAD and router
	// solicitations as soon as it has carrier.
	if err := ns.disableIPv6(ctx, a, b); err != nil {
		return cleanup(err)
	}
	for _, dev := range []string{a, b} {
		if err := runIP(ctx, "-n", ns.name, "link", "set", "dev", dev, "up"); err != nil {
			return cleanup(err)
		}
	}
	for _, dev := range []string{a, b} {
		if err := ns.waitUp(ctx, dev); err != nil {
			return cleanup(err)
		}
	}
	return nil
}

// upTimeout bounds the wait for a new link to become usable.
const upTimeout = 5 * time.Second

// waitUp waits until dev is operationally up. "ip link set up" returns
// before that: the kernel's link watcher, running asynchronously, sets the
// operational state and then attaches the device's transmit queues; until
// it has, frames sent go to the noop qdisc, which drops them yet reports
// success.
func (ns *Namespace) waitUp(ctx context.Context, dev string) error {
	ctx, cancel := context.WithTimeout(ctx, upTimeout)
	defer cancel()
	for {
		out, err := outputIP(ctx, "-n", ns.name, "-o", "link", "show", "dev", dev)
		if err != nil {
			return err
		}
		if strings.Contains(out, "state UP ") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s in namespace %s to come up: %w; ip -o link shows: %s", dev, ns.name, ctx.Err(), strings.TrimSpace(out))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Command returns `ip netns exec NAME name args...`, a command that runs
// inside the namespace.
func (ns *Namespace) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.name, name}, args...)...)
}

// Do runs f on an OS thread switched into the namespace and waits for it.
// Sockets f creates belong to the namespace for their whole life, wherever
// they are used afterwards. Goroutines f starts do not run in the namespace.
// A panic in f is re-raised in the caller.
func (ns *Namespace) Do(f func() error) error {
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		// A fresh goroutine, so the caller's own thread is never switched.
		runtime.LockOSThread()
		var res result
		defer func() { done <- res }()
		back, err := ns.enter()
		if err != nil {
			runtime.UnlockOSThread()
			res.err = err
			return
		}
		func() {
			defer func() { res.panic = recover() }()
			res.err = f()
		}()
		if err := unix.Setns(back, unix.CLONE_NEWNET); err != nil {
			// The thread stays locked: the goroutine ends with it still
			// locked, so the runtime kills the thread instead of handing a
			// thread in the wrong namespace to other goroutines.
			unix.Close(back)
			if res.err == nil {
				res.err = fmt.Errorf("returning from network namespace %s: setns: %w", ns.name, err)
			}
			return
		}
		unix.Close(back)
		runtime.UnlockOSThread()
	}()
	res := <-done
	if res.panic != nil {
		panic(res.panic)
	}
	return res.err
}

// enter switches the calling (locked) thread into the namespace and returns
// an fd of the namespace it was in.
func (ns *Namespace) enter() (back int, err error) {
	back, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening this thread's network namespace: %w", err)
	}
	target, err := unix.Open(ns.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(back)
		return -1, fmt.Errorf("opening network namespace %s: %w; was it deleted (ip netns list)?", ns.name, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		unix.Close(back)
		return -1, fmt.Errorf("entering network namespace %s: setns: %w; run as root or give the binary CAP_SYS_ADMIN", ns.name, err)
	}
	return back, nil
}

// Close deletes the namespace; its interfaces go with it (a veth pair with
// one end outside loses that end too). Calling Close again returns the first
// result.
func (ns *Namespace) Close() error {
	ns.closeOnce.Do(func() {
		if ns.borrowed {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		ns.closeErr = runIP(ctx, "netns", "del", ns.name)
	})
	return ns.closeErr
}

// runIP runs ip with args; the error names the command line and carries
// ip's stderr, which is where iproute2 says what went wrong.
func runIP(ctx context.Context, args ...string) error {
	_, err := outputIP(ctx, args...)
	return err
}

// outputIP is runIP returning ip's standard output.
func outputIP(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		line := "ip " + strings.Join(args, " ")
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("%s: %s (%w)", line, msg, err)
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s: %w", line, ctx.Err())
		}
		return "", fmt.Errorf("%s: %w", line, err)
	}
	return stdout.String(), nil
}
