package record

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestParseSeeds(t *testing.T) {
	tests := []struct {
		spec string
		want []int
	}{
		{"1-8", []int{1, 2, 3, 4, 5, 6, 7, 8}},
		{"1,5,9", []int{1, 5, 9}},
		{"3", []int{3}},
		{"1-4,10", []int{1, 2, 3, 4, 10}},
		{"10,1-4", []int{1, 2, 3, 4, 10}},
		{"5,3,5,4-6", []int{3, 4, 5, 6}},
		{" 2 , 7 - 8 ", []int{2, 7, 8}},
		{"0", []int{0}},
		{"2147483647", []int{2147483647}},
		{"2147483640-2147483647", []int{2147483640, 2147483641, 2147483642, 2147483643, 2147483644, 2147483645, 2147483646, 2147483647}},
		{"6-6", []int{6}},
	}
	for _, tt := range tests {
		got, err := ParseSeeds(tt.spec)
		if err != nil {
			t.Errorf("ParseSeeds(%q): %v", tt.spec, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ParseSeeds(%q) = %v, want %v", tt.spec, got, tt.want)
		}
	}
}

func TestParseSeedsLimits(t *testing.T) {
	got, err := ParseSeeds("1-1024")
	if err != nil {
		t.Fatalf("1024 seeds must be allowed: %v", err)
	}
	if len(got) != 1024 || got[0] != 1 || got[1023] != 1024 {
		t.Fatalf("1-1024: got %d seeds from %d to %d", len(got), got[0], got[len(got)-1])
	}
	// Overlapping ranges count once.
	if _, err := ParseSeeds("1-1000,500-1024"); err != nil {
		t.Fatalf("1-1000,500-1024 is 1024 distinct seeds: %v", err)
	}
}

func TestParseSeedsErrorsNameTheBadPart(t *testing.T) {
	tests := []struct {
		spec string
		want string // a fragment the error must contain
	}{
		{"", "no seeds"},
		{"   ", "no seeds"},
		{"1,,3", "empty item"},
		{"1,x", `"x" is not a seed number`},
		{"1-x", `"x" is not a seed number`},
		{"8-1", `"8-1" goes backwards; write 1-8`},
		{"-3", `"-3"`},
		{"1-", "missing end"},
		{"1-2-3", `"2-3" is not a seed number`},
		{"+5", `"+5" is not a seed number`},
		{"1.5", `"1.5" is not a seed number`},
		{"2147483648", `"2147483648" is above the largest seed 2147483647`},
		{"99999999999999999999999", "above the largest seed"},
		{"1-1025", `"1-1025" has 1025 seeds`},
		{"0-2147483647", "more than the 1024"},
		{"1-1000,2000-2100", "more than the 1024"},
	}
	for _, tt := range tests {
		got, err := ParseSeeds(tt.spec)
		if err == nil {
			t.Errorf("ParseSeeds(%q) = %v, want an error", tt.spec, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSeeds(%q) error %q does not say %q", tt.spec, err, tt.want)
		}
	}
}

func TestParseStopWhen(t *testing.T) {
	tests := []struct {
		in       string
		wantN    int
		wantText string
	}{
		{"all", 0, "all"},
		{"first-met", 1, "first-met"},
		{"First-Met", 1, "first-met"},
		{"1-met", 1, "first-met"},
		{"3-met", 3, "3-met"},
		{" 12-met ", 12, "12-met"},
	}
	for _, tt := range tests {
		r, err := ParseStopWhen(tt.in)
		if err != nil {
			t.Errorf("ParseStopWhen(%q): %v", tt.in, err)
			continue
		}
		if r.MetNeeded() != tt.wantN || r.String() != tt.wantText {
			t.Errorf("ParseStopWhen(%q) = %d %q, want %d %q", tt.in, r.MetNeeded(), r.String(), tt.wantN, tt.wantText)
		}
	}
	for _, bad := range []string{"0-met", "-1-met", "x-met", "met", "first", "some", "2met", "1.5-met"} {
		if r, err := ParseStopWhen(bad); err == nil {
			t.Errorf("ParseStopWhen(%q) = %v, want an error", bad, r)
		} else if !strings.Contains(err.Error(), "N-met") {
			t.Errorf("ParseStopWhen(%q) error %q does not list the valid forms", bad, err)
		}
	}
	if _, err := StopAfterMet(0); err == nil {
		t.Error("StopAfterMet(0) must fail")
	}
}

func TestStopRuleJSON(t *testing.T) {
	var v struct {
		S StopRule `json:"stop_when"`
	}
	if err := json.Unmarshal([]byte(`{"stop_when":"2-met"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.S.MetNeeded() != 2 {
		t.Fatalf("decoded %v, want 2-met", v.S)
	}
	out, err := json.Marshal(struct {
		S StopRule `json:"stop_when"`
	}{StopFirstMet})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"stop_when":"first-met"}` {
		t.Fatalf("encoded %s", out)
	}
	if err := json.Unmarshal([]byte(`{"stop_when":"sometimes"}`), &v); err == nil {
		t.Fatal("a bad stop_when in a record must not decode")
	}
}

func TestStopRuleDone(t *testing.T) {
	seeds := func(statuses ...SeedStatus) []SeedResult {
		var rs []SeedResult
		for i, s := range statuses {
			rs = append(rs, SeedResult{Target: "t", Seed: i + 1, Status: s})
		}
		return rs
	}
	twoMet, _ := StopAfterMet(2)
	tests := []struct {
		name    string
		rule    StopRule
		results []SeedResult
		want    bool
	}{
		{"all: still running", StopAll, seeds(SeedMet, SeedRunning, SeedQueued), false},
		{"all: every seed finished", StopAll, seeds(SeedMet, SeedFailedTiming, SeedError, SeedLost), true},
		{"all: cancelled counts as finished", StopAll, seeds(SeedCancelled, SeedMet), true},
		{"first-met: one met, others running", StopFirstMet, seeds(SeedRunning, SeedMet, SeedQueued), true},
		{"first-met: none met yet", StopFirstMet, seeds(SeedFailedTiming, SeedRunning, SeedQueued), false},
		{"first-met: all finished, none met", StopFirstMet, seeds(SeedFailedTiming, SeedError), true},
		{"2-met: one met", twoMet, seeds(SeedMet, SeedRunning, SeedRunning), false},
		{"2-met: two met", twoMet, seeds(SeedMet, SeedRunning, SeedMet), true},
		{"2-met: fewer seeds than N, all finished", twoMet, seeds(SeedMet), true},
		{"first-met: running seed with Met set is not met", StopFirstMet, []SeedResult{{Seed: 1, Status: SeedRunning, Met: true}}, false},
		{"no seeds", StopFirstMet, nil, true},
	}
	for _, tt := range tests {
		if got := tt.rule.Done(tt.results); got != tt.want {
			t.Errorf("%s: Done = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBuildTargetDoneIsPerTarget(t *testing.T) {
	b := &Build{
		StopWhen: StopFirstMet,
		Results: []SeedResult{
			{Target: "ecp5", Seed: 1, Status: SeedMet, Met: true},
			{Target: "ecp5", Seed: 2, Status: SeedRunning},
			{Target: "ice40", Seed: 1, Status: SeedFailedTiming},
			{Target: "ice40", Seed: 2, Status: SeedRunning},
		},
	}
	if !b.TargetDone("ecp5") {
		t.Error("ecp5 has a met seed: first-met must stop it")
	}
	if b.TargetDone("ice40") {
		t.Error("ice40 has no met seed: ecp5's met seed must not stop it")
	}
}
