package record

import "math"

// Best picks the seed to keep among results (normally one target's):
// a seed that met timing beats one that did not; then the higher WNS wins;
// then the higher (less negative) TNS, a known TNS beating an unknown one;
// then the lower seed number, so that the choice is stable. Only finished
// seeds with a timing result (status met or failed-timing) count; ok is
// false when there is none.
func Best(results []SeedResult) (best SeedResult, ok bool) {
	for _, r := range results {
		if r.Status != SeedMet && r.Status != SeedFailedTiming {
			continue
		}
		if !ok || better(r, best) {
			best, ok = r, true
		}
	}
	return best, ok
}

func better(a, b SeedResult) bool {
	am, bm := a.Met || a.Status == SeedMet, b.Met || b.Status == SeedMet
	if am != bm {
		return am
	}
	// A missing or NaN WNS ranks below every real one rather than breaking
	// the ordering (NaN compares false both ways).
	aw, bw := orMinusInf(a.WNSns), orMinusInf(b.WNSns)
	if aw != bw {
		return aw > bw
	}
	at, bt := orMinusInf(a.TNSns), orMinusInf(b.TNSns)
	if at != bt {
		return at > bt
	}
	return a.Seed < b.Seed
}

func orMinusInf(v *float64) float64 {
	if v == nil || math.IsNaN(*v) {
		return math.Inf(-1)
	}
	return *v
}
