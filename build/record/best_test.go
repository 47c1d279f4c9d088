package record

import (
	"math"
	"testing"
)

func f(v float64) *float64 { return &v }

func TestBest(t *testing.T) {
	met := func(seed int, wns, tns float64) SeedResult {
		return SeedResult{Target: "t", Seed: seed, Status: SeedMet, Met: true, WNSns: f(wns), TNSns: f(tns)}
	}
	failed := func(seed int, wns float64, tns *float64) SeedResult {
		return SeedResult{Target: "t", Seed: seed, Status: SeedFailedTiming, WNSns: f(wns), TNSns: tns}
	}
	tests := []struct {
		name     string
		results  []SeedResult
		wantSeed int
		wantOK   bool
	}{
		{"none", nil, 0, false},
		{"only unfinished or unusable seeds", []SeedResult{
			{Seed: 1, Status: SeedQueued},
			{Seed: 2, Status: SeedRunning, WNSns: f(1)},
			{Seed: 3, Status: SeedError, WNSns: f(2)},
			{Seed: 4, Status: SeedLost},
			{Seed: 5, Status: SeedCancelled, WNSns: f(3)},
		}, 0, false},
		{"met beats a higher WNS that failed", []SeedResult{
			failed(1, 0.9, f(0)), // inconsistent numbers, but the verdict counts
			met(2, 0.1, 0),
		}, 2, true},
		{"higher WNS wins among met", []SeedResult{met(1, 0.10, 0), met(2, 0.35, 0), met(3, 0.20, 0)}, 2, true},
		{"least negative WNS wins among failed", []SeedResult{
			failed(1, -0.50, f(-10)), failed(2, -0.05, f(-30)), failed(3, -0.20, f(-1)),
		}, 2, true},
		{"equal WNS: higher TNS wins", []SeedResult{
			failed(4, -0.10, f(-8.5)), failed(5, -0.10, f(-2.25)), failed(6, -0.10, f(-4)),
		}, 5, true},
		{"equal WNS: known TNS beats unknown", []SeedResult{
			failed(1, -0.10, nil), failed(2, -0.10, f(-100)),
		}, 2, true},
		{"full tie: lowest seed", []SeedResult{met(9, 0.2, 0), met(3, 0.2, 0), met(7, 0.2, 0)}, 3, true},
		{"status met alone counts as met", []SeedResult{
			failed(1, 0.5, f(0)),
			{Seed: 2, Status: SeedMet, WNSns: f(0.01), TNSns: f(0)},
		}, 2, true},
		{"missing WNS ranks last", []SeedResult{
			{Seed: 1, Status: SeedFailedTiming},
			failed(2, -3, f(-300)),
		}, 2, true},
		{"NaN WNS ranks last and does not break the order", []SeedResult{
			failed(1, math.NaN(), nil), failed(2, -1, f(-1)), failed(3, math.NaN(), nil),
		}, 2, true},
		{"unfinished seeds are skipped even when better", []SeedResult{
			{Seed: 1, Status: SeedRunning, Met: true, WNSns: f(5)},
			failed(2, -0.3, f(-1)),
		}, 2, true},
	}
	for _, tt := range tests {
		got, ok := Best(tt.results)
		if ok != tt.wantOK || (ok && got.Seed != tt.wantSeed) {
			t.Errorf("%s: Best = seed %d ok %v, want seed %d ok %v", tt.name, got.Seed, ok, tt.wantSeed, tt.wantOK)
		}
	}
}

func TestBestDoesNotDependOnOrder(t *testing.T) {
	rs := []SeedResult{
		{Seed: 4, Status: SeedFailedTiming, WNSns: f(-0.1), TNSns: f(-1)},
		{Seed: 2, Status: SeedMet, Met: true, WNSns: f(0.05), TNSns: f(0)},
		{Seed: 8, Status: SeedMet, Met: true, WNSns: f(0.05), TNSns: f(0)},
		{Seed: 6, Status: SeedMet, Met: true, WNSns: f(0.04), TNSns: f(0)},
	}
	// Every rotation of the input must pick seed 2 (met, WNS 0.05, lowest seed).
	for i := range rs {
		rot := append(append([]SeedResult{}, rs[i:]...), rs[:i]...)
		if got, _ := Best(rot); got.Seed != 2 {
			t.Errorf("rotation %d: Best picked seed %d, want 2", i, got.Seed)
		}
	}
}

func TestBuildBestIsPerTarget(t *testing.T) {
	b := &Build{Results: []SeedResult{
		{Target: "ecp5", Seed: 1, Status: SeedFailedTiming, WNSns: f(-1)},
		{Target: "ice40", Seed: 2, Status: SeedMet, Met: true, WNSns: f(2)},
		{Target: "ecp5", Seed: 3, Status: SeedFailedTiming, WNSns: f(-0.5)},
	}}
	if got, ok := b.Best("ecp5"); !ok || got.Seed != 3 {
		t.Fatalf("Best(ecp5) = seed %d ok %v, want seed 3", got.Seed, ok)
	}
	if _, ok := b.Best("ultrascale"); ok {
		t.Fatal("a target with no results has no best seed")
	}
}
