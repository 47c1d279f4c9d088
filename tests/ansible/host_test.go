package ansible

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fpgactl/fpgactl/internal/flock"
	"github.com/fpgactl/fpgactl/internal/netns"
	"github.com/fpgactl/fpgactl/internal/sshx/sshdtest"
)

// The throwaway host's root file system is a Debian 12 chroot made with debootstrap once per
// machine and kept as a tarball; every run unpacks a fresh copy.
const (
	cacheDir = "/var/cache/fpgactl"
	// chrootVersion names the tarball: bump it when debootstrapChroot changes what goes in.
	chrootVersion = "debian12-ansible-target-v1"
	suite         = "bookworm"
	// chrootPackages are what an Ansible target needs before any role runs: Python (with
	// python3-apt for the apt module) and the SSH server ansible-playbook logs in to.
	chrootPackages = "python3,python3-apt,openssh-server,ca-certificates,init-system-helpers"
)

// Shared download caches, bind-mounted into every run's chroot so that reruns download
// nothing: apt's .deb archive, pip's wheel cache and YoWASP's compiled WebAssembly.
var sharedCaches = []struct{ host, inChroot string }{
	{cacheDir + "/ansible-test/apt-archives", "/var/cache/apt/archives"},
	{cacheDir + "/ansible-test/pip", "/root/.cache/pip"},
	{cacheDir + "/ansible-test/yowasp", "/root/.cache/YoWASP"},
}

// runLock lets one ansible test run at a time on this machine: the runs share apt's archive
// directory (and its lock), and two of them would halve each other's two cores anyway.
const runLock = cacheDir + "/ansible-test.lock"

// host is the throwaway target: a chroot whose own sshd runs in a network namespace, listening
// on that namespace's loopback. Everything the test sends to it stays inside the namespace.
type host struct {
	dir      string // the chroot
	ns       *netns.Namespace
	addr     string // 127.0.0.1 inside ns
	port     int
	key      string // client key file (root and fpgalab)
	known    string // known_hosts with the host's key
	mounts   []string
	sshd     *exec.Cmd
	sshdDone chan struct{}
	sshdLog  bytes.Buffer
}

// requireTool returns the path of a tool; a missing one fails the test in CI (CI=true) and
// skips it elsewhere, saying what to install.
func requireTool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	missing(t, fmt.Sprintf("%s not found in PATH: %s", name, install))
	return ""
}

func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: this test must not be skipped)", msg)
	}
	t.Skip(msg)
}

// newHost makes the throwaway host; the test's cleanup removes it on every exit path.
func newHost(t *testing.T, ctx context.Context) *host {
	t.Helper()
	if err := netns.Available(); err != nil {
		missing(t, err.Error())
	}
	for _, tool := range []string{"debootstrap", "tar", "mount", "umount", "chroot"} {
		requireTool(t, tool, "run scripts/install-deps.sh (as root)")
	}
	if err := os.MkdirAll(filepath.Join(cacheDir, "ansible-test"), 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, err := flock.Lock(ctx, runLock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)

	tarball, err := chrootTarball(ctx, t)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("/var/tmp", "fpgactl-ansible-target-")
	if err != nil {
		t.Fatal(err)
	}
	h := &host{dir: dir, addr: "127.0.0.1", port: 22}
	t.Cleanup(func() { h.teardown(t) })
	start := time.Now()
	if out, err := exec.CommandContext(ctx, "tar", "-C", dir, "--numeric-owner", "-xpf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v\n%s", tarball, err, out)
	}
	t.Logf("chroot %s unpacked from %s in %v", dir, tarball, time.Since(start).Round(time.Millisecond))
	// The chroot's / as a system's (tar gave it the 0700 of a temporary directory, which would
	// lock every user but root out of the whole file system).
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	// What a running system has: /proc, a private devpts, and the shared caches.
	if err := h.mount("proc", "proc", "/proc", ""); err != nil {
		t.Fatal(err)
	}
	if err := h.mount("devpts", "devpts", "/dev/pts", "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		t.Fatal(err)
	}
	for _, c := range sharedCaches {
		if err := os.MkdirAll(c.host, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := h.bind(c.host, c.inChroot); err != nil {
			t.Fatal(err)
		}
	}
	// Trust what this machine trusts besides Debian's CAs (a TLS-inspecting egress proxy's CA,
	// say): pip in the host then reaches PyPI through it as this machine's pip does.
	if cas, _ := filepath.Glob("/usr/local/share/ca-certificates/*.crt"); len(cas) > 0 {
		for _, ca := range cas {
			data, err := os.ReadFile(ca)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "usr/local/share/ca-certificates", filepath.Base(ca)), data, 0o644)
		}
		if out, err := h.chroot(ctx, "update-ca-certificates"); err != nil {
			t.Fatalf("update-ca-certificates in the chroot: %v\n%s", err, out)
		}
	}
	for _, d := range []string{"run/sshd", "root/.ssh"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// Keys: the host's own ed25519 key (fresh each run) and a client key for root.
	keys := t.TempDir()
	_, hostKey := sshdtest.NewKeyFile(t, keys, "ssh_host_ed25519_key")
	for _, suffix := range []string{"", ".pub"} {
		data, err := os.ReadFile(hostKey + suffix)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "etc/ssh/ssh_host_ed25519_key"+suffix), data, 0o600)
	}
	_, h.key = sshdtest.NewKeyFile(t, keys, "id_ansible")
	pub, err := os.ReadFile(h.key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "root/.ssh/authorized_keys"), pub, 0o600)
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	h.known = filepath.Join(keys, "known_hosts")
	writeFile(t, h.known, []byte(h.addr+" "+string(hostPub)), 0o600)
	// The test's own sshd settings, read before everything else (sshd keeps the first value of
	// a keyword); the lab_host role's hardening comes after them and Debian's defaults last.
	writeFile(t, filepath.Join(dir, "etc/ssh/sshd_config.d/00-test.conf"), []byte(fmt.Sprintf(`# the ansible test's throwaway host
ListenAddress %s:%d
HostKey /etc/ssh/ssh_host_ed25519_key
UsePAM no
UseDNS no
LogLevel VERBOSE
`, h.addr, h.port)), 0o644)

	h.ns, err = netns.Create(ctx, netns.UniqueName("fpgaans"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.startSSHD(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

// chrootTarball returns the cached Debian 12 chroot tarball, making it first if missing.
// A lock file guards the cache, so parallel runs neither build it twice nor read a half
// written one (it is written under another name and renamed).
func chrootTarball(ctx context.Context, t *testing.T) (string, error) {
	tarball := filepath.Join(cacheDir, chrootVersion+".tar")
	unlock, err := flock.Lock(ctx, tarball+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(tarball); err == nil {
		return tarball, nil
	}
	start := time.Now()
	mirror, security := debianMirrors()
	t.Logf("building %s with debootstrap from %s (once per machine)", tarball, mirror)
	dir, err := os.MkdirTemp("/var/tmp", "fpgactl-debootstrap-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "--include="+chrootPackages, suite, dir, mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("debootstrap %s %s: %v\n%s", suite, mirror, err, tail(out, 4000))
	}
	sources := fmt.Sprintf("deb %s %s main\ndeb %s %s-updates main\n", mirror, suite, mirror, suite)
	if security != "" {
		sources += fmt.Sprintf("deb %s %s-security main\n", security, suite)
	}
	files := map[string]string{
		"etc/apt/sources.list": sources,
		// No daemon starts from a package's postinst inside the chroot.
		"usr/sbin/policy-rc.d": "#!/bin/sh\nexit 101\n",
		// A throwaway host: dpkg need not fsync every file.
		"etc/dpkg/dpkg.cfg.d/fpgactl-test": "force-unsafe-io\n",
		"etc/hostname":                     "fpgactl-target\n",
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "usr/sbin/") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			return "", err
		}
	}
	// Host keys are made per run; apt's downloads live in the shared cache instead.
	keys, _ := filepath.Glob(filepath.Join(dir, "etc/ssh/ssh_host_*"))
	for _, k := range keys {
		os.Remove(k)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "var/cache/apt/archives/*.deb"))
	for _, d := range debs {
		os.Remove(d)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	tmp := tarball + ".tmp"
	if out, err := exec.CommandContext(ctx, "tar", "-C", dir, "--numeric-owner", "-cpf", tmp, ".").CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("tar of the chroot: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, tarball); err != nil {
		return "", err
	}
	t.Logf("built %s in %v", tarball, time.Since(start).Round(time.Second))
	return tarball, nil
}

// debianMirrors returns the Debian mirror and security mirror this machine's apt uses
// (/etc/apt/sources.list and sources.list.d, one-line and deb822 formats).
func debianMirrors() (mirror, security string) {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var uris, suites []string
		flush := func() {
			for _, u := range uris {
				for _, s := range suites {
					switch {
					case s == suite && mirror == "":
						mirror = u
					case s == suite+"-security" && security == "":
						security = u
					}
				}
			}
			uris, suites = nil, nil
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			f := strings.Fields(line)
			switch {
			case line == "":
				flush()
			case len(f) >= 3 && f[0] == "deb":
				// deb [options] URI suite components...
				i := 1
				if strings.HasPrefix(f[1], "[") {
					for i < len(f) && !strings.HasSuffix(f[i], "]") {
						i++
					}
					i++
				}
				if i+1 < len(f) {
					uris, suites = []string{f[i]}, []string{f[i+1]}
					flush()
				}
			case strings.HasPrefix(line, "URIs:"):
				uris = strings.Fields(strings.TrimPrefix(line, "URIs:"))
			case strings.HasPrefix(line, "Suites:"):
				suites = strings.Fields(strings.TrimPrefix(line, "Suites:"))
			}
		}
		flush()
	}
	if mirror == "" {
		mirror = "http://deb.debian.org/debian"
	}
	return mirror, security
}

func (h *host) mount(source, fstype, target, data string) error {
	dst := filepath.Join(h.dir, target)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(source, dst, fstype, 0, data); err != nil {
		return fmt.Errorf("mount -t %s %s %s: %w", fstype, source, dst, err)
	}
	h.mounts = append(h.mounts, dst)
	return nil
}

func (h *host) bind(src, target string) error {
	dst := filepath.Join(h.dir, target)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount --bind %s %s: %w", src, dst, err)
	}
	h.mounts = append(h.mounts, dst)
	return nil
}

// startSSHD starts the chroot's own sshd inside the namespace, in the foreground with its own
// configuration (Debian's sshd_config and its drop-ins), and waits until it answers.
func (h *host) startSSHD(ctx context.Context) error {
	cmd := exec.Command("ip", "netns", "exec", h.ns.Name(), "chroot", h.dir, "/usr/sbin/sshd", "-D", "-e")
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: &h.sshdLog}, &lockedWriter{w: &h.sshdLog}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting sshd: %w", err)
	}
	h.sshd, h.sshdDone = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(h.sshdDone) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		// A TCP connection made inside the namespace, as ansible-playbook will.
		err := h.ns.Do(func() error {
			c, err := (&netDialer).DialContext(ctx, "tcp", fmt.Sprintf("%s:%d", h.addr, h.port))
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			return nil
		}
		select {
		case <-h.sshdDone:
			return fmt.Errorf("sshd exited: %s", h.log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshd does not answer on %s:%d in %s: %v; log: %s", h.addr, h.port, h.ns.Name(), err, h.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *host) log() string {
	logMu.Lock()
	defer logMu.Unlock()
	return h.sshdLog.String()
}

// chroot runs a command inside the chroot from this side (not over SSH, not in the namespace).
func (h *host) chroot(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "chroot", append([]string{h.dir, name}, args...)...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// teardown kills every process of the host (inside its namespace or its root directory),
// unmounts, deletes the namespace and removes the chroot, whatever state the test left.
func (h *host) teardown(t *testing.T) {
	for range 10 {
		pids := h.processes()
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h.sshd != nil {
		h.sshd.Process.Kill()
		<-h.sshdDone
		if t.Failed() {
			t.Logf("sshd log:\n%s", h.log())
		}
	}
	if h.ns != nil {
		if err := h.ns.Close(); err != nil {
			t.Errorf("deleting namespace %s: %v", h.ns.Name(), err)
		}
	}
	for _, m := range slices.Backward(h.mounts) {
		if err := unix.Unmount(m, 0); err != nil {
			// Busy: detach it now, the kernel finishes when the last user goes.
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
				t.Errorf("umount %s: %v", m, err)
			}
		}
	}
	// Never remove files through a mount that is still there: it could be a shared cache.
	if left := mountsUnder(h.dir); len(left) > 0 {
		t.Errorf("not removing %s: still mounted: %s", h.dir, strings.Join(left, ", "))
		return
	}
	if err := os.RemoveAll(h.dir); err != nil {
		t.Errorf("removing the chroot: %v", err)
	}
}

// processes lists the processes in the host's namespace or chroot.
func (h *host) processes() []int {
	var want unix.Stat_t
	haveNS := h.ns != nil && unix.Stat(h.ns.Path(), &want) == nil
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err == nil && (root == h.dir || strings.HasPrefix(root, h.dir+"/")) {
			out = append(out, pid)
			continue
		}
		var st unix.Stat_t
		if haveNS && unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
			out = append(out, pid)
		}
	}
	return out
}

// mountsUnder lists the mount points at or below dir.
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return []string{"(cannot read /proc/self/mountinfo: " + err.Error() + ")"}
	}
	var out []string
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
