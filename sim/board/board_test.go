package board_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/chisel"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/sim/board"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/sim/vectors"
	"github.com/fpgactl/fpgactl/tests/harness/compare"
	"github.com/fpgactl/fpgactl/tests/harness/profile"
	"github.com/fpgactl/fpgactl/tests/harness/replay"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

var (
	root, _  = filepath.Abs("../..")
	buildMu  sync.Mutex
	binaries = map[int]string{}
)

// boardBinary builds the board with the repository's RTL into the
// repository's work directory, so the CLI and CI reuse the build.
func boardBinary(t *testing.T, width int) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := binaries[width]; ok {
		return bin
	}
	rtl := repoRTL(t)
	var log strings.Builder
	bin, _, err := board.Build(context.Background(), board.BuildOptions{
		RTL: rtl, Include: []string{filepath.Join(root, "hdl/rtl")},
		Parameters: map[string]int{"NUM_RULES": 64, "MAX_FRAME_BYTES": 9216},
		Width:      width, WorkDir: filepath.Join(root, ".fpgactl"), Log: &log,
	})
	if err != nil {
		t.Fatalf("building the board: %v\n%s", err, log.String())
	}
	binaries[width] = bin
	return bin
}

// repoRTL is the filter's RTL as fpgactl.yaml lists it, the generated
// Verilog of its Chisel blocks included (elaborated once, cached by hash).
func repoRTL(t *testing.T) []string {
	t.Helper()
	s, err := project.Load(filepath.Join(root, "fpgactl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := s.Design("pf_filter")
	if !ok {
		t.Fatal("fpgactl.yaml has no design pf_filter")
	}
	if _, err := chisel.Prepare(context.Background(), s, d, chisel.Options{}); err != nil {
		t.Fatalf("elaborating the Chisel blocks: %v", err)
	}
	rtl, err := s.RTLFiles(d)
	if err != nil || len(rtl) == 0 {
		t.Fatalf("no RTL found for pf_filter: %v", err)
	}
	return rtl
}

func startBoard(t *testing.T, width int) *board.Board {
	t.Helper()
	b, err := board.Start(context.Background(), boardBinary(t, width), board.StartOptions{Width: width})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func framesOf(in []vectors.Input) []target.Frame {
	out := make([]target.Frame, len(in))
	for i, f := range in {
		out[i] = target.Frame{Data: f.Data, TimeNS: f.TimeNS, MACError: f.MACError}
	}
	return out
}

func profileFrames(t *testing.T, spec string) []target.Frame {
	t.Helper()
	po, err := profile.ParseProfile(spec)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := profile.Generate(po)
	if err != nil {
		t.Fatal(err)
	}
	return target.FromProfile(pf)
}

func TestBuildIsCachedByContent(t *testing.T) {
	bin := boardBinary(t, 64)
	rtl := repoRTL(t)
	opts := board.BuildOptions{
		RTL: rtl, Include: []string{filepath.Join(root, "hdl/rtl")},
		Parameters: map[string]int{"NUM_RULES": 64, "MAX_FRAME_BYTES": 9216},
		Width:      64, WorkDir: filepath.Join(root, ".fpgactl"),
	}
	again, cached, err := board.Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !cached || again != bin {
		t.Errorf("second build: cached=%v path %s, want cached build %s", cached, again, bin)
	}
}

func TestHelloDescribesTheBuild(t *testing.T) {
	for _, w := range []int{64, 512} {
		b := startBoard(t, w)
		h := b.Hello()
		if h.DataWidth != w || h.ClockHz != board.ClockHz(w) {
			t.Errorf("w%d: hello %+v", w, h)
		}
		geo, err := b.ReadReg(context.Background(), 0x0C)
		if err != nil {
			t.Fatal(err)
		}
		if int(geo>>16) != h.Latency || geo&0xFFFF != 9216 {
			t.Errorf("w%d: GEOMETRY 0x%08x, hello latency %d", w, geo, h.Latency)
		}
	}
}

// The board and the model agree on random rules and random traffic, with
// MAC errors and downstream back-pressure, at both widths; and a model
// given other rules disagrees (the comparison can fail).
func TestReplayMatchesModel(t *testing.T) {
	for _, w := range []int{64, 512} {
		for _, bp := range []float64{0, 0.4} {
			b := startBoard(t, w)
			if err := b.SetBackpressure(bp, 7); err != nil {
				t.Fatal(err)
			}
			table := vectors.RandomTable(11, 40)
			frames := framesOf(vectors.RandomTraffic(12, 1500))
			frames = append(frames, profileFrames(t, "imix,rate=100g,frames=1500,mix=legit:4+syn-flood:2+udp-reflection:2+fragment:1+vlan:1+qinq:1+ipv6:2+malformed:1,seed=5,start=1000000000000")...)
			res, err := replay.Run(context.Background(), replay.Options{Target: b, Phases: []replay.Phase{{Table: table, Frames: frames}}})
			if err != nil {
				t.Fatal(err)
			}
			rep := res.Report
			if !rep.Passed() {
				var s strings.Builder
				compare.WriteSummary(&s, rep, 20)
				t.Fatalf("w%d bp %.1f: board and model disagree:\n%s", w, bp, s.String())
			}
			if rep.Received == 0 || rep.Received == rep.Sent {
				t.Errorf("w%d: %d of %d frames passed; the random table should pass some and drop some", w, rep.Received, rep.Sent)
			}
			// Without back-pressure every frame takes exactly LATENCY cycles
			// (times are whole nanoseconds, so ±1 ns).
			if want := float64(b.Hello().Latency) * 1e9 / float64(board.ClockHz(w)); bp == 0 &&
				(rep.Latency.Samples == 0 || float64(rep.Latency.MinNS) < want-1 || float64(rep.Latency.MaxNS) > want+1) {
				t.Errorf("w%d: latency %+v, want %.1f ns for every frame", w, rep.Latency, want)
			}
			other, err := compare.Compare(compare.Input{Sent: res.Sent, Received: res.Received, Table: vectors.RandomTable(99, 40), Counters: nil})
			if err != nil {
				t.Fatal(err)
			}
			if other.Passed() {
				t.Errorf("w%d: a model with other rules agrees with the board too; the comparison cannot fail", w)
			}
		}
	}
}

// Policing depends on time: at 100G line rate a 1 kpps policer passes its
// burst and then drops; the board's reported times make the model exact.
func TestPolicerTimingIsExact(t *testing.T) {
	rs, err := rules.Parse("police.yaml", []byte("default: pass\nrules:\n  - name: p\n    action: police\n    proto: tcp\n    rate: 200kpps\n    burst: 20\n"))
	if err != nil {
		t.Fatal(err)
	}
	table, err := rs.Compile(64)
	if err != nil {
		t.Fatal(err)
	}
	b := startBoard(t, 64)
	frames := profileFrames(t, "size=60,rate=10g,frames=3000,mix=legit-tcp,seed=3")
	res, err := replay.Run(context.Background(), replay.Options{Target: b, Phases: []replay.Phase{{Table: table, Frames: frames}}})
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if !rep.Passed() {
		var s strings.Builder
		compare.WriteSummary(&s, rep, 20)
		t.Fatalf("board and model disagree:\n%s", s.String())
	}
	policed := rep.ExpectedCounters.Totals[rules.TotalPoliced].Packets
	if policed == 0 || policed == uint64(len(frames)) {
		t.Errorf("%d of %d frames policed; want some passed and some policed", policed, len(frames))
	}
}

func TestRegisterErrorsAreReported(t *testing.T) {
	b := startBoard(t, 64)
	err := b.WriteReg(context.Background(), 0x30000, 1)
	if err == nil || !strings.Contains(err.Error(), "DECERR") || !strings.Contains(err.Error(), "0x30000") {
		t.Errorf("write to an unmapped address: %v, want DECERR naming 0x30000", err)
	}
	if _, err := b.ReadReg(context.Background(), 0x30000); err == nil || !strings.Contains(err.Error(), "DECERR") {
		t.Errorf("read of an unmapped address: %v, want DECERR", err)
	}
	// The board stays usable after an error answer.
	if v, err := b.ReadReg(context.Background(), 0); err != nil || v != 0x50464C54 {
		t.Errorf("ID after errors: 0x%08x, %v", v, err)
	}
}

func TestBadFramesAreRefusedBeforeSending(t *testing.T) {
	b := startBoard(t, 64)
	for _, fr := range [][]target.Frame{
		{{Data: nil}},
		{{Data: make([]byte, board.MaxFrameBytes+1)}},
		{{Data: make([]byte, 60), TimeNS: 10}, {Data: make([]byte, 60), TimeNS: 5}},
	} {
		if _, err := b.Replay(context.Background(), fr, target.ReplayOptions{}); err == nil {
			t.Errorf("replay of %d bad frames succeeded", len(fr))
		}
	}
	if _, err := b.ReadReg(context.Background(), 0); err != nil {
		t.Errorf("board unusable after refused frames: %v", err)
	}
}

func TestCancelStopsTheBoard(t *testing.T) {
	b := startBoard(t, 64)
	frames := profileFrames(t, "imix,rate=10g,frames=200000,seed=1")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.Replay(ctx, frames, target.ReplayOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("replay error %v, want the context's", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("cancelled replay returned after %v", el)
	}
	if _, err := b.ReadReg(context.Background(), 0); err == nil || !strings.Contains(err.Error(), "unusable") {
		t.Errorf("board after cancel: %v, want an unusable-board error", err)
	}
}

func TestCrashIsExplained(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "Vpf_filter")
	os.WriteFile(fake, []byte("#!/bin/sh\necho 'board: model exploded' >&2\nexit 3\n"), 0o755)
	_, err := board.Start(context.Background(), fake, board.StartOptions{Width: 64})
	if err == nil || !strings.Contains(err.Error(), "model exploded") {
		t.Errorf("start of a crashing board: %v, want its stderr in the error", err)
	}
}
