package harness

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/sim/board"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/fuzz"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

// projectEnv is the repository's own project with the installed Verilator.
// Boards are built into the repository's work directory (.fpgactl/board),
// so only the first run builds.
func projectEnv(t *testing.T) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("simulated boards: not in -short")
	}
	v, err := exec.LookPath("verilator")
	if err != nil {
		t.Skip("verilator is not installed")
	}
	s, err := project.Load("../../fpgactl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Settings: s, Verilator: v}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestFuzzCaseSeeds(t *testing.T) {
	seen := map[uint64]bool{}
	for _, seed := range []uint64{0, 1, 7, 1 << 63, ^uint64(0)} {
		if FuzzCaseSeed(seed, 0) != seed {
			t.Errorf("case 0 of seed %d has seed %d; want the run's seed", seed, FuzzCaseSeed(seed, 0))
		}
		for i := 1; i < 50; i++ {
			s := FuzzCaseSeed(seed, i)
			if s != FuzzCaseSeed(seed, i) {
				t.Fatal("FuzzCaseSeed is not deterministic")
			}
			if s >= 1<<53 {
				t.Errorf("FuzzCaseSeed(%d, %d) = %d does not fit 53 bits", seed, i, s)
			}
			if (s^FuzzCaseSeed(seed, i-1))&1 != 1 {
				t.Errorf("seeds of cases %d and %d of seed %d do not alternate odd and even", i-1, i, seed)
			}
			if seen[s] {
				t.Errorf("FuzzCaseSeed(%d, %d) = %d repeats", seed, i, s)
			}
			seen[s] = true
		}
	}
	for s := uint64(0); s < 200; s++ {
		bp := FuzzBackpressure(s)
		if s%2 == 0 && bp != 0 || bp < 0 || bp >= MaxFuzzBackpressure {
			t.Errorf("FuzzBackpressure(%d) = %g", s, bp)
		}
	}
}

func TestFuzzHints(t *testing.T) {
	c := fuzz.Case{Seed: 5, Table: &rules.Table{}, Frames: []target.Frame{{Data: make([]byte, 60)}, {Data: make([]byte, 60), MACError: true}}}
	rp, rerun := fuzzHints("/tmp/out dir/min", c, 64, 0)
	if !strings.HasPrefix(rp, "fpgactl replay --rules '/tmp/out dir/min/rules.yaml' --pcap '/tmp/out dir/min/frames.pcap' --width 64  # frame 1 ") ||
		!strings.Contains(rp, "MAC error") || !strings.HasSuffix(rp, "exact: "+rerun) {
		t.Errorf("replay hint: %s", rp)
	}
	if rerun != "fpgactl test fuzz --case '/tmp/out dir/min' --width 64" {
		t.Errorf("rerun hint: %s", rerun)
	}
	c.Frames[1].MACError = false
	if rp, _ := fuzzHints("/d", c, 512, 0.25); rp != "fpgactl replay --rules /d/rules.yaml --pcap /d/frames.pcap --width 512 --backpressure 0.25  # its back-pressure stalls differ from the fuzz run's; exact: fpgactl test fuzz --case /d --width 512" {
		t.Errorf("replay hint: %s", rp)
	}
	if rp, _ := fuzzHints("/d", c, 64, 0); strings.Contains(rp, "#") {
		t.Errorf("replay hint of a case without MAC errors: %s", rp)
	}
}

// A small run passes, and the same seed gives the same cases.
func TestFuzzSmallRun(t *testing.T) {
	env := projectEnv(t)
	ctx := testCtx(t)
	run := func() *FuzzResult {
		var out bytes.Buffer
		res, err := env.Fuzz(ctx, FuzzOptions{Seed: 7, Frames: 600, CaseFrames: 300, Widths: []int{64},
			Backpressure: true, Minimize: true, OutDir: t.TempDir(), Progress: &out})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("progress:\n%s", out.String())
		if !res.OK() || res.Cases != 2 || res.Passed != 2 || res.Frames != 600 || len(res.Failures) != 0 {
			t.Fatalf("result: %+v", res)
		}
		if n := strings.Count(out.String(), "pass  seed-"); n != 2 {
			t.Errorf("want a progress line per case, got %d:\n%s", n, out.String())
		}
		return res
	}
	a, b := run(), run()
	for i := range a.Results {
		ra, rb := a.Results[i], b.Results[i]
		if ra.Seed != FuzzCaseSeed(7, i) || ra.Frames != 300 || ra.Width != 64 {
			t.Errorf("case %d: %+v", i, ra)
		}
		if ra.Seed != rb.Seed || ra.Frames != rb.Frames || ra.Rules != rb.Rules || ra.Backpressure != rb.Backpressure {
			t.Errorf("case %d differs between runs with the same seed:\n%+v\n%+v", i, ra, rb)
		}
	}
	// Seed 7 is odd: case 0 is back-pressured, case 1 is not.
	if a.Results[0].Backpressure != FuzzBackpressure(7) || a.Results[1].Backpressure != 0 {
		t.Errorf("back-pressure: %g, %g", a.Results[0].Backpressure, a.Results[1].Backpressure)
	}
	if len(a.Rates) != 1 || a.Rates[0].Frames != 600 || a.Rates[0].FramesPerSec <= 0 {
		t.Errorf("rates: %+v", a.Rates)
	}
	t.Logf("w64: %.0f frames/s", a.Rates[0].FramesPerSec)
	var x bytes.Buffer
	if err := a.JUnit().Encode(&x); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(x.String(), `name="seed-7/w64"`) || strings.Count(x.String(), "<testcase") != 2 {
		t.Errorf("junit:\n%s", x.String())
	}
}

// corruptBoard is a board whose register access gives rule 0 another
// action than the table says: the device then disagrees with the model on
// frames that rule 0 decides, as an RTL bug in the action would.
type corruptBoard struct{ *board.Board }

func (c corruptBoard) Regs() target.Regs { return corruptRegs{c.Board} }

type corruptRegs struct{ b *board.Board }

func corrupt(w rules.RegWrite) rules.RegWrite {
	if w.Addr == rules.RuleWordAddr(0, 0) && w.Data&1 != 0 {
		act := rules.ActionPass
		if rules.Action(w.Data>>1&3) == rules.ActionPass {
			act = rules.ActionDrop
		}
		w.Data = w.Data&^(3<<1) | uint32(act)<<1
	}
	return w
}

func (r corruptRegs) WriteReg(ctx context.Context, addr, data uint32) error {
	w := corrupt(rules.RegWrite{Addr: addr, Data: data})
	return r.b.WriteReg(ctx, w.Addr, w.Data)
}

func (r corruptRegs) WriteRegs(ctx context.Context, ws []rules.RegWrite) error {
	out := make([]rules.RegWrite, len(ws))
	for i, w := range ws {
		out[i] = corrupt(w)
	}
	return r.b.WriteRegs(ctx, out)
}

func (r corruptRegs) ReadReg(ctx context.Context, addr uint32) (uint32, error) {
	return r.b.ReadReg(ctx, addr)
}

func (r corruptRegs) ReadRegs(ctx context.Context, addrs []uint32) ([]uint32, error) {
	return r.b.ReadRegs(ctx, addrs)
}

// The failure path end to end: a disagreeing board fails a case, the case is
// saved, minimized to a few frames and rules that still fail, saved again,
// and reads back; the minimized case passes on a correct board, also
// through Env.Fuzz's --case path.
func TestFuzzMinimizesFailure(t *testing.T) {
	env := projectEnv(t)
	ctx := testCtx(t)
	b, err := env.StartBoard(ctx, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bad := corruptBoard{b}

	// Find a case in which rule 0 decides a frame.
	var c fuzz.Case
	for seed := uint64(1); ; seed++ {
		if seed > 20 {
			t.Fatal("no case of seeds 1..20 fails on the corrupted board")
		}
		if c, err = fuzz.Generate(fuzz.GenerateOptions{Seed: seed, Frames: 300, NumRules: 64}); err != nil {
			t.Fatal(err)
		}
		r, err := FuzzCase(ctx, bad, c, FuzzCaseOptions{Width: 64})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == StatusFail {
			break
		}
		if r.Status != StatusPass {
			t.Fatalf("seed %d: %+v", seed, r)
		}
	}

	dir := filepath.Join(t.TempDir(), "seed-w64")
	var out bytes.Buffer
	start := time.Now()
	r, err := FuzzCase(ctx, bad, c, FuzzCaseOptions{Width: 64, Backpressure: 0.2, Minimize: true, MaxRuns: 400, Dir: dir, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("minimization took %s:\n%s", time.Since(start).Round(time.Millisecond), out.String())
	f := r.Failure
	if r.Status != StatusFail || f == nil || f.Error != "" {
		t.Fatalf("result: %+v failure %+v", r, f)
	}
	if f.Dir != filepath.Join(dir, "full") || f.MinDir != filepath.Join(dir, "min") || f.MinRuns == 0 {
		t.Errorf("failure: %+v", f)
	}
	if f.MinFrames > 3 || f.MinRules > 2 || f.MinFrames >= len(c.Frames)/10 {
		t.Errorf("minimized to %d frames and %d rules, from %d and %d", f.MinFrames, f.MinRules, len(c.Frames), len(c.Table.Entries))
	}
	for _, name := range []string{"full/rules.yaml", "full/frames.pcap", "full/case.json", "full/fuzz.json", "full/diff.txt",
		"min/rules.yaml", "min/frames.pcap", "min/case.json", "min/fuzz.json", "min/diff.txt", "min/junit.xml"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if !strings.HasPrefix(f.Replay, "fpgactl replay --rules "+filepath.Join(f.MinDir, "rules.yaml")) || !strings.Contains(f.Replay, "--backpressure 0.2") ||
		f.Rerun != "fpgactl test fuzz --case "+f.MinDir+" --width 64" {
		t.Errorf("hints:\n%s\n%s", f.Replay, f.Rerun)
	}

	full, err := fuzz.ReadCase(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if full.Seed != c.Seed || len(full.Frames) != len(c.Frames) || len(full.Table.Entries) != len(c.Table.Entries) {
		t.Errorf("full case read back: seed %d, %d frames, %d rules", full.Seed, len(full.Frames), len(full.Table.Entries))
	}
	m, err := fuzz.ReadCase(f.MinDir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Seed != c.Seed || len(m.Frames) != f.MinFrames || len(m.Table.Entries) != f.MinRules {
		t.Errorf("minimized case read back: seed %d, %d frames, %d rules; want %d frames, %d rules", m.Seed, len(m.Frames), len(m.Table.Entries), f.MinFrames, f.MinRules)
	}
	// The saved minimized case still fails on the bad board, passes on a good one.
	if r, err := FuzzCase(ctx, bad, m, FuzzCaseOptions{Width: 64, Backpressure: 0.2}); err != nil || r.Status != StatusFail {
		t.Errorf("minimized case on the corrupted board: %+v, %v", r, err)
	}
	if r, err := FuzzCase(ctx, b, m, FuzzCaseOptions{Width: 64, Backpressure: 0.2}); err != nil || r.Status != StatusPass {
		t.Errorf("minimized case on a correct board: %+v, %v", r, err)
	}

	// --case: the saved cases rerun on a correct board, at the width and
	// back-pressure fuzz.json records.
	for _, d := range []string{f.MinDir, f.Dir} {
		res, err := env.Fuzz(ctx, FuzzOptions{Case: d, Minimize: true, OutDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() || res.Cases != 1 || res.Seed != c.Seed || len(res.Widths) != 1 || res.Widths[0] != 64 ||
			res.Results[0].Backpressure != 0.2 || res.Results[0].Frames != len(mustRead(t, d).Frames) {
			t.Errorf("--case %s: %+v %+v", d, res, res.Results)
		}
	}
}

func mustRead(t *testing.T, dir string) fuzz.Case {
	c, err := fuzz.ReadCase(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A case saved by hand (no fuzz.json) reruns at the asked width.
func TestFuzzRerunSavedCase(t *testing.T) {
	env := projectEnv(t)
	ctx := testCtx(t)
	c, err := fuzz.Generate(fuzz.GenerateOptions{Seed: 99, Frames: 200, NumRules: 64})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := fuzz.WriteCase(dir, c); err != nil {
		t.Fatal(err)
	}
	res, err := env.Fuzz(ctx, FuzzOptions{Case: dir, Widths: []int{64}, Seed: 12345, Frames: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.Cases != 1 || res.Seed != 99 || res.Frames != 200 || res.Results[0].Backpressure != 0 {
		t.Errorf("result: %+v", res)
	}
	if _, err := env.Fuzz(ctx, FuzzOptions{Case: filepath.Join(dir, "nope")}); err == nil {
		t.Error("a missing case directory must be an error")
	}
}
