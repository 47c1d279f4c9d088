package openstack_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/build/record"
)

// BenchmarkFanOut measures, through the API double with servers running a
// fixed short job (the stand-in nextpnr, FAKE_PNR_SECONDS), side by side in
// one run:
//
//   - wall-ratio: 8 seeds with 8 jobs against 1 seed (target <= 1.15 plus
//     boot time: the fan-out adds almost nothing to one seed's wall time);
//   - cpu-saved: the seed-seconds --stop-when first-met saves against
//     --stop-when all when seed 2 of 8 meets timing first and the others
//     would run 3x as long.
//
// Run: go test -run '^$' -bench FanOut -benchtime 1x ./build/openstack/
func BenchmarkFanOut(b *testing.B) {
	const job = "4"
	wall := func(seeds []int, stop record.StopRule, extra ...string) (time.Duration, float64) {
		e := newEnv(b, append([]string{"FAKE_PNR_SECONDS=" + job}, extra...)...)
		design := fakeDesign(b)
		start := time.Now()
		bld, err := e.build(b.Context(), b, e.runner(b), seeds, len(seeds), stop, e.tools, design)
		if err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		var seedSeconds float64
		for _, s := range bld.Results {
			if !s.StartedAt.IsZero() && !s.FinishedAt.IsZero() {
				seedSeconds += s.FinishedAt.Sub(s.StartedAt).Seconds()
			}
		}
		e.noServersLeft(b)
		return elapsed, seedSeconds
	}
	eight := []int{1, 2, 3, 4, 5, 6, 7, 8}
	for range b.N {
		one, _ := wall([]int{1}, record.StopRule{})
		many, _ := wall(eight, record.StopRule{})
		slow := []string{"FAKE_PNR_MET_SEEDS=2", "FAKE_PNR_SLOW_SEEDS=1 3 4 5 6 7 8"}
		_, all := wall(eight, record.StopRule{}, slow...)
		_, first := wall(eight, mustStop(b, 1), slow...)
		ratio := many.Seconds() / one.Seconds()
		saved := 1 - first/all
		b.ReportMetric(ratio, "wall-ratio-8v1")
		b.ReportMetric(saved*100, "%cpu-saved-first-met")
		fmt.Printf("fan-out (job %ss, boot 0.1s): 1 seed %.2fs, 8 seeds x 8 jobs %.2fs, ratio %.2f\n", job, one.Seconds(), many.Seconds(), ratio)
		fmt.Printf("stop rule, seed 2 of 8 meets first: all %.1f seed-s, first-met %.1f seed-s, saved %.0f%%\n", all, first, saved*100)
	}
}
