package iface

import (
	"context"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/tests/harness/pcapio"
)

func TestBenchSend(t *testing.T) {
	needNetns(t)
	if _, err := exec.LookPath("tcpreplay"); err != nil {
		t.Skip("tcpreplay not installed (apt-get install tcpreplay); scripts/install-deps.sh installs it")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	const n = 20000
	frames := make([]pcapio.Frame, n)
	ts := uint64(1_700_000_000_000_000_000)
	for i := range frames {
		size := 60 + rng.IntN(1514-60+1)
		if i%3 == 0 {
			size = 60
		}
		frames[i] = pcapio.Frame{Data: testFrame(rng, uint32(i), size, 0x45), TimeNS: ts}
		ts += 1000
	}
	path := filepath.Join(t.TempDir(), "bench.pcap")
	if err := pcapio.WriteFile(path, frames); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := BenchSend(ctx, BenchOptions{Pcap: path, Frames: 15000, Repeat: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + res.String())
	if res.Frames != 15000 || res.Bytes <= 0 {
		t.Errorf("Frames = %d, Bytes = %d; want 15000 frames", res.Frames, res.Bytes)
	}
	for name, s := range map[string]BenchSeries{"ours": res.Ours, "tcpreplay": res.Tcpreplay} {
		if len(s.Runs) != 2 || s.BestPPS <= 0 || s.MedianPPS <= 0 || s.BestPPS < s.MedianPPS {
			t.Errorf("%s: %+v, want 2 runs with best >= median > 0", name, s)
		}
		for i, r := range s.Runs {
			if r.Sent != 15000 || r.Received <= 0 || r.Received > r.Sent || r.Elapsed <= 0 || r.WallPPS <= 0 {
				t.Errorf("%s run %d: %+v, want 15000 sent and some received", name, i, r)
			}
		}
	}
	if res.Ratio <= 0 {
		t.Errorf("Ratio = %v", res.Ratio)
	}
}

func TestBenchSendErrors(t *testing.T) {
	needNetns(t)
	if _, err := exec.LookPath("tcpreplay"); err != nil {
		t.Skip("tcpreplay not installed")
	}
	_, err := BenchSend(context.Background(), BenchOptions{Pcap: filepath.Join(t.TempDir(), "missing.pcap")})
	if err == nil {
		t.Error("BenchSend of a missing file succeeded")
	}
}
