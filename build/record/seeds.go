package record

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

const (
	// MaxSeed is the largest seed: nextpnr, Vivado and Quartus all take a
	// signed 32-bit seed.
	MaxSeed = math.MaxInt32
	// MaxSeeds bounds one --seeds list; more is almost certainly a typo
	// (1-10000 for 1-100) that would start thousands of runs.
	MaxSeeds = 1024
)

const seedsHelp = `write seeds like "1-8", "1,5,9" or "1-4,10"`

// ParseSeeds parses a --seeds value: comma-separated seeds and inclusive
// ranges, e.g. "1-8", "1,5,9", "3", "1-4,10". The result is sorted and has no
// duplicates. Errors name the item that is wrong.
func ParseSeeds(spec string) ([]int, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("no seeds given: " + seedsHelp)
	}
	set := make(map[int]struct{})
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("seeds %q: empty item between commas; %s", spec, seedsHelp)
		}
		lo, hi, err := parseSeedItem(item)
		if err != nil {
			return nil, fmt.Errorf("seeds %q: %w", spec, err)
		}
		// Check the size before expanding: "0-2147483647" must not allocate.
		if hi-lo+1 > MaxSeeds {
			return nil, fmt.Errorf("seeds %q: range %q has %d seeds, more than the %d allowed in one build", spec, item, hi-lo+1, MaxSeeds)
		}
		for s := lo; s <= hi; s++ {
			set[s] = struct{}{}
		}
		if len(set) > MaxSeeds {
			return nil, fmt.Errorf("seeds %q: more than the %d seeds allowed in one build", spec, MaxSeeds)
		}
	}
	seeds := make([]int, 0, len(set))
	for s := range set {
		seeds = append(seeds, s)
	}
	slices.Sort(seeds)
	return seeds, nil
}

func parseSeedItem(item string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(item, "-")
	if !isRange {
		s, err := parseSeed(item)
		return s, s, err
	}
	if strings.TrimSpace(a) == "" {
		return 0, 0, fmt.Errorf("%q: seeds are 0..%d, not negative; %s", item, MaxSeed, seedsHelp)
	}
	if lo, err = parseSeed(a); err != nil {
		return 0, 0, err
	}
	if hi, err = parseSeed(b); err != nil {
		return 0, 0, err
	}
	if lo > hi {
		return 0, 0, fmt.Errorf("range %q goes backwards; write %d-%d", item, hi, lo)
	}
	return lo, hi, nil
}

func parseSeed(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("range with a missing end; %s", seedsHelp)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a seed number; %s", s, seedsHelp)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > MaxSeed {
		return 0, fmt.Errorf("%q is above the largest seed %d", s, MaxSeed)
	}
	return int(n), nil
}

// StopRule is --stop-when: when a target's remaining seeds are no longer
// needed. It applies per target, which is what users mean by "first-met":
// once one seed of a target meets timing, that target's other seeds are
// cancelled, while other targets keep running until they meet it too.
//
// The zero value is "all": every seed runs to the end.
type StopRule struct {
	met int // seeds that must meet timing; 0 means run every seed
}

var (
	StopAll      = StopRule{}
	StopFirstMet = StopRule{met: 1}
)

// StopAfterMet stops a target once n of its seeds met timing (n >= 1).
func StopAfterMet(n int) (StopRule, error) {
	if n < 1 {
		return StopRule{}, fmt.Errorf("stop after %d met seeds: the count must be at least 1", n)
	}
	return StopRule{met: n}, nil
}

// ParseStopWhen parses a --stop-when value: "all", "first-met" or "N-met"
// with N >= 1 ("1-met" is "first-met").
func ParseStopWhen(s string) (StopRule, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch v {
	case "all", "":
		return StopAll, nil
	case "first-met":
		return StopFirstMet, nil
	}
	if n, ok := strings.CutSuffix(v, "-met"); ok {
		if k, err := strconv.Atoi(n); err == nil && k >= 1 {
			return StopRule{met: k}, nil
		}
	}
	return StopRule{}, fmt.Errorf("--stop-when %q: use all, first-met, or N-met with N at least 1 (e.g. 2-met)", s)
}

// MetNeeded is how many met seeds stop a target; 0 for "all".
func (r StopRule) MetNeeded() int { return r.met }

func (r StopRule) String() string {
	switch r.met {
	case 0:
		return "all"
	case 1:
		return "first-met"
	}
	return strconv.Itoa(r.met) + "-met"
}

// Done reports whether a target needs no more seeds: every seed is
// finished, or enough of them met timing. Pass the results of ONE target
// (Build.TargetResults); passing several targets' results would let one
// target's met seeds stop another. Done of no results is true.
func (r StopRule) Done(results []SeedResult) bool {
	met, finished := 0, 0
	for _, res := range results {
		if res.Status == SeedMet {
			met++
		}
		if res.Status.Finished() {
			finished++
		}
	}
	if r.met > 0 && met >= r.met {
		return true
	}
	return finished == len(results)
}

// MarshalText stores the rule as its --stop-when spelling.
func (r StopRule) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads the --stop-when spelling.
func (r *StopRule) UnmarshalText(b []byte) error {
	v, err := ParseStopWhen(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}
