package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fpgactl/fpgactl/sim/board"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/profile"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

// SimBenchOptions configure BenchSim.
type SimBenchOptions struct {
	Widths []int
	// Frames per run (default 20000); Repeat runs of each kind (default 3).
	Frames int
	Repeat int
}

// SimBenchRow is one width × traffic measurement.
type SimBenchRow struct {
	Width   int     `json:"width"`
	Traffic string  `json:"traffic"`
	Frames  int     `json:"frames"`
	Harness float64 `json:"harness_frames_per_s"` // median over Repeat runs
	Raw     float64 `json:"raw_frames_per_s"`     // median over Repeat runs
	Ratio   float64 `json:"ratio"`                // Harness / Raw
	// CyclesPerSecond of the raw runs: how fast Verilator evaluates the design.
	RawCyclesPerSecond float64 `json:"raw_cycles_per_s"`
}

// BenchSim measures simulated frames/s through the harness (Go → pipe →
// board → pipe → Go) next to the same request stream played by the board
// from memory with its replies discarded (no harness at all), for 64-byte
// frames and IMIX at line rate (10G at 64 bits, 100G wider) with a table
// that passes everything, so every frame also comes back: the harness's
// worst case. Runs alternate so both see the same machine load.
func (e *Env) BenchSim(ctx context.Context, opts SimBenchOptions, progress func(string)) ([]SimBenchRow, error) {
	if opts.Frames <= 0 {
		opts.Frames = 20000
	}
	if opts.Repeat <= 0 {
		opts.Repeat = 3
	}
	dir, err := os.MkdirTemp(e.Settings.WorkPath(), "bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	passAll := &rules.Table{}
	numRules, err := e.NumRules()
	if err != nil {
		return nil, err
	}
	var rows []SimBenchRow
	for _, w := range opts.Widths {
		bin, err := e.BoardBinary(ctx, w)
		if err != nil {
			return nil, err
		}
		rate := 10.0
		if w > 64 {
			rate = 100
		}
		for _, traffic := range []string{"64B", "IMIX"} {
			po := profile.Options{Seed: 1, Frames: opts.Frames, RateGbps: rate, Sizes: profile.SizeSpec{Fixed: 60}}
			if traffic == "IMIX" {
				po.Sizes = profile.SizeSpec{IMIX: true}
			}
			pf, err := profile.Generate(po)
			if err != nil {
				return nil, err
			}
			frames := target.FromProfile(pf)
			b, err := board.Start(ctx, bin, board.StartOptions{Width: w})
			if err != nil {
				return nil, err
			}
			writes := passAll.RegisterWrites(numRules)
			if err := b.WriteRegs(ctx, writes); err != nil {
				b.Close()
				return nil, err
			}
			reqs := filepath.Join(dir, fmt.Sprintf("w%d-%s.req", w, traffic))
			if err := board.WriteRequests(reqs, writes, frames); err != nil {
				b.Close()
				return nil, err
			}
			var harness, raw, cps []float64
			for r := 0; r < opts.Repeat; r++ {
				start := time.Now()
				capt, err := b.Replay(ctx, frames, target.ReplayOptions{})
				if err != nil {
					b.Close()
					return nil, err
				}
				el := time.Since(start)
				if len(capt.Received) != len(frames) {
					b.Close()
					return nil, fmt.Errorf("bench w%d %s: %d of %d frames came back through a pass-all table", w, traffic, len(capt.Received), len(frames))
				}
				harness = append(harness, float64(len(frames))/el.Seconds())
				rr, err := board.RunRaw(ctx, bin, board.ClockHz(w), reqs)
				if err != nil {
					b.Close()
					return nil, err
				}
				raw = append(raw, rr.FramesPerSecond())
				cps = append(cps, float64(rr.EvaluatedCycles)/rr.Seconds)
				if progress != nil {
					progress(fmt.Sprintf("w%d %-4s run %d/%d: harness %.0f frames/s, raw %.0f frames/s", w, traffic, r+1, opts.Repeat, harness[r], raw[r]))
				}
			}
			b.Close()
			row := SimBenchRow{Width: w, Traffic: traffic, Frames: len(frames), Harness: median(harness), Raw: median(raw), RawCyclesPerSecond: median(cps)}
			row.Ratio = row.Harness / row.Raw
			rows = append(rows, row)
		}
	}
	return rows, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
