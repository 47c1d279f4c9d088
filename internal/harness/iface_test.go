package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/netns"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/tests/harness/compare"
	"github.com/fpgactl/fpgactl/tests/harness/replay"
	"github.com/fpgactl/fpgactl/tests/harness/scenario"
)

func repoEnv(t *testing.T) *Env {
	t.Helper()
	s, err := project.Load("../../fpgactl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Settings: s}
}

// The iface target for real: a namespace with two veth pairs and the
// simulated board bridged between them (what a lab host with a board looks
// like), configured over its control socket, replaying scenarios of the
// suite and compared with the golden model.
func TestIfaceThroughAttachedSimulatedBoard(t *testing.T) {
	if err := netns.Available(); err != nil {
		if errors.Is(err, netns.ErrNotRoot) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	env := repoEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns, err := netns.Create(ctx, netns.UniqueName("fpgactl-t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	for _, pair := range [][2]string{{"h0", "b0"}, {"b1", "h1"}} {
		if err := ns.AddVethPair(ctx, pair[0], pair[1], 9600); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "board.sock")
	ready := make(chan struct{})
	attachCtx, stopBoard := context.WithCancel(ctx)
	attached := make(chan error, 1)
	go func() {
		attached <- env.AttachBoard(attachCtx, AttachOptions{Width: 64, In: "b0", Out: "b1", Netns: ns, Control: sock, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-attached:
		t.Fatalf("board did not attach: %v", err)
	}
	defer func() {
		stopBoard()
		if err := <-attached; err != nil {
			t.Errorf("attached board: %v", err)
		}
		if _, err := os.Stat(sock); err == nil {
			t.Errorf("control socket %s left behind", sock)
		}
	}()

	tgt, err := env.OpenTarget(ctx, TargetOptions{Spec: "iface:h0,h1", Netns: ns.Name(), Control: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	for _, name := range []string{"udp-reflection", "vlan-and-qinq", "table-swap", "syn-flood"} {
		sc, err := scenario.Load(filepath.Join("../../tests/scenarios", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var phases []replay.Phase
		for _, p := range sc.Phases() {
			table, err := p.Table(64)
			if err != nil {
				t.Fatal(err)
			}
			frames, err := p.Frames()
			if err != nil {
				t.Fatal(err)
			}
			phases = append(phases, replay.Phase{Table: table, Frames: frames})
		}
		res, err := replay.Run(ctx, replay.Options{Target: tgt, Phases: phases})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rep := res.Report
		if !rep.Passed() || !rep.CountersChecked {
			var b strings.Builder
			compare.WriteSummary(&b, rep, 20)
			t.Errorf("%s over veth: counters checked %v\n%s", name, rep.CountersChecked, b.String())
		}
		if rep.Received == 0 || rep.Latency.Samples == 0 {
			t.Errorf("%s: %d frames received, %d latency samples", name, rep.Received, rep.Latency.Samples)
		}
		t.Logf("%s: %d sent, %d received, latency avg %.0f µs, %.0f frames/s at the receiver", name, rep.Sent, rep.Received, rep.Latency.AvgNS/1e3, rep.Rates.FramesPerSec)
	}
}
