package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/sshx"
	"github.com/fpgactl/fpgactl/labctl/inventory"
)

func TestMain(m *testing.M) { Main(m) }

func dial(t *testing.T, l *Lab, h *Host) *sshx.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := sshx.Dial(ctx, sshx.Options{Address: h.SSHAddress, User: "root", IdentityFiles: []string{l.ClientKey},
		KnownHostsFiles: []string{l.KnownHosts}, ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("ssh to %s: %v", h.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func run(t *testing.T, c *sshx.Client, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	if err := c.Run(ctx, cmd, nil, &out, &errOut); err != nil {
		t.Fatalf("%s on %s: %v\nstdout: %s\nstderr: %s", cmd, c, err, out.String(), errOut.String())
	}
	return out.String()
}

// program runs the board's inventory program command on its lab host and
// returns what it printed as JSON.
func program(t *testing.T, c *sshx.Client, b *Board, bitstream string) map[string]any {
	t.Helper()
	cmd := strings.ReplaceAll(b.Program, inventory.BitstreamPlaceholder, sshx.Quote(bitstream)) + " --output json"
	var st map[string]any
	if err := json.Unmarshal([]byte(run(t, c, cmd)), &st); err != nil {
		t.Fatalf("program --output json: %v", err)
	}
	return st
}

// Two lab hosts with two boards each: every host is reached over SSH with
// its key checked, sees its own interfaces only, programs its boards with
// the inventory's command, and the harness on the host replays through a
// board and agrees with the model. Re-programming replaces the board. When
// the test ends, nothing of the lab is left.
func TestLabHostsProgramAndReplay(t *testing.T) {
	var l *Lab
	var nsNames, rootIfaces []string
	t.Run("lab", func(t *testing.T) {
		l = Start(t, Options{Hosts: 2, BoardsPerHost: 2, Width: 64})
		if len(l.Hosts) != 2 || len(l.Boards) != 4 {
			t.Fatalf("%d hosts, %d boards", len(l.Hosts), len(l.Boards))
		}
		inv, err := inventory.Load(l.Inventory)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(inv.Names(), ","); got != "b10g-1,b10g-2,b10g-3,b10g-4" {
			t.Errorf("inventory boards %s", got)
		}
		root, err := ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		rulesFile := filepath.Join(root, "tests/rules/udp-reflection.yaml")
		for _, h := range l.Hosts {
			nsNames = append(nsNames, h.Netns.Name())
			rootIfaces = append(rootIfaces, h.RootIface)
			c := dial(t, l, h)
			links := run(t, c, "ip -o link show; ip -4 -o addr show dev eth0")
			for _, want := range []string{"h0@b0", "b0@h0", "b1@h1", "h1@b1", "h2@b2", "b3@h3", "eth0@", h.Addr + "/24"} {
				if !strings.Contains(links, want) {
					t.Errorf("%s: %q not in\n%s", h.Name, want, links)
				}
			}
			if strings.Contains(links, "fpgalab") {
				t.Errorf("%s sees this machine's interfaces:\n%s", h.Name, links)
			}
		}

		// Program the first board of each host, replay through it on the host.
		for _, b := range []*Board{l.Boards[0], l.Boards[2]} {
			c := dial(t, l, b.Host)
			st := program(t, c, b, l.Bitstream)
			dev, _ := st["device"].(map[string]any)
			if dev["data_width"] != float64(64) || st["control"] != b.Socket {
				t.Errorf("%s programmed: %v", b.Name, st)
			}
			out := run(t, c, fmt.Sprintf("cd %s && %s --project %s --output json replay --target iface:%s,%s --control %s --rules %s --profile %s --out %s",
				sshx.Quote(l.RemoteDir), l.Fpgactl, filepath.Join(root, "fpgactl.yaml"), b.IfaceIn, b.IfaceOut, b.Control,
				rulesFile, sshx.Quote("imix,frames=800,mix=legit:6+udp-reflection:4,seed=3"), filepath.Join(l.RemoteDir, "out-"+b.Name)))
			var rep struct {
				Report struct {
					Passed bool `json:"passed"`
					Frames struct{ Sent, Received int }
				} `json:"report"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Report.Passed || rep.Report.Frames.Sent != 800 {
				t.Errorf("%s replay: %v\n%s", b.Name, err, out)
			}
			pid := int(st["pid"].(float64))
			// Re-programming replaces the running board.
			st2 := program(t, c, b, l.Bitstream)
			if pid2 := int(st2["pid"].(float64)); pid2 == pid || alive(pid) {
				t.Errorf("re-programming %s: old pid %d (alive %v), new %d", b.Name, pid, alive(pid), pid2)
			}
			var boards int
			for _, p := range b.Host.Processes() {
				if strings.Contains(p.Cmdline, " board sim ") {
					boards++
				}
			}
			if boards != 1 {
				t.Errorf("%s: %d board processes after re-programming: %v", b.Host.Name, boards, b.Host.Processes())
			}
		}
		// A bitstream that is not a board fails with the board's log.
		c := dial(t, l, l.Boards[1].Host)
		bad := filepath.Join(l.Dir, "not-a-board.bin")
		os.WriteFile(bad, []byte("#!/bin/sh\necho I am not a board >&2\nexit 3\n"), 0o755)
		var out, errOut bytes.Buffer
		cmd := strings.ReplaceAll(l.Boards[1].Program, inventory.BitstreamPlaceholder, bad)
		err = c.Run(context.Background(), cmd, nil, &out, &errOut)
		if err == nil || !strings.Contains(errOut.String(), "did not come up") || !strings.Contains(errOut.String(), "not a simulated board") {
			t.Errorf("programming a non-board: err %v\n%s", err, errOut.String())
		}
	})
	if l == nil {
		return
	}
	// Everything is gone: namespaces, links, processes, files.
	out, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	links, _ := exec.Command("ip", "-o", "link", "show").CombinedOutput()
	for _, n := range nsNames {
		if strings.Contains(string(out), n) {
			t.Errorf("namespace %s left", n)
		}
	}
	for _, i := range rootIfaces {
		if strings.Contains(string(links), i+":") || strings.Contains(string(links), i+"@") {
			t.Errorf("interface %s left", i)
		}
	}
	if _, err := os.Stat(l.Dir); !os.IsNotExist(err) {
		t.Errorf("%s left: %v", l.Dir, err)
	}
	ps, _ := exec.Command("ps", "-eo", "pid,args").CombinedOutput()
	if strings.Contains(string(ps), l.Dir) {
		t.Errorf("processes of the lab left:\n%s", ps)
	}
}

func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
