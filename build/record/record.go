// Package record keeps fpgactl build records on disk.
//
// Each build has a directory <Store.Dir>/<ID> holding build.json (the
// record), build.lock (the lock file) and whatever artifacts the build keeps
// (bitstreams, reports, logs). A record is replaced atomically — temp file,
// fsync, rename — under an exclusive flock, so that `fpgactl build` and
// `fpgactl build cancel` never lose each other's writes and a kill -9 at any
// moment leaves the last complete record readable. The record names the
// process that owns it (pid, boot ID, start time), so that a later
// `fpgactl build list` can tell a build still running from one whose
// process died (MarkInterrupted).
package record

import (
	"fmt"
	"math"
	"time"
)

// Status is the state of a whole build.
type Status string

const (
	StatusRunning     Status = "running"
	StatusDone        Status = "done"
	StatusFailed      Status = "failed"
	StatusCancelled   Status = "cancelled"
	StatusInterrupted Status = "interrupted" // its fpgactl process died; see MarkInterrupted
)

// SeedStatus is the state of one seed of one target.
type SeedStatus string

const (
	SeedQueued       SeedStatus = "queued"
	SeedRunning      SeedStatus = "running"
	SeedMet          SeedStatus = "met"           // finished, timing met
	SeedFailedTiming SeedStatus = "failed-timing" // finished, timing not met
	SeedError        SeedStatus = "error"         // the flow failed before a timing result
	SeedCancelled    SeedStatus = "cancelled"     // stopped by the user or the stop rule, or never started
	SeedLost         SeedStatus = "lost"          // was running when fpgactl died; outcome unknown
)

// Finished reports whether s is final: nothing more will happen to the seed.
func (s SeedStatus) Finished() bool {
	switch s {
	case SeedMet, SeedFailedTiming, SeedError, SeedCancelled, SeedLost:
		return true
	}
	return false
}

// Phase is the flow step a seed is in, shown as live progress.
type Phase string

const (
	PhaseSynth     Phase = "synth"
	PhasePlace     Phase = "place"
	PhaseRoute     Phase = "route"
	PhaseTiming    Phase = "timing"
	PhaseBitstream Phase = "bitstream"
)

// Process identifies the fpgactl process that owns a running build. A pid
// alone is not enough: after a reboot or a long time pids are reused, so the
// boot ID and the process start time (clock ticks since boot, field 22 of
// /proc/<pid>/stat) are kept with it.
type Process struct {
	PID        int    `json:"pid"`
	Host       string `json:"host,omitempty"`
	BootID     string `json:"boot_id,omitempty"`
	StartTicks uint64 `json:"start_ticks,omitempty"`
}

// SeedResult is what is known about one seed of one target.
//
// WNSns, TNSns and FmaxMHz are nil until the seed has a timing result, and
// TNSns stays nil when the flow cannot tell it (nextpnr reports no TNS when
// timing fails), so that JSON shows null rather than a made-up 0. WNS and TNS
// are slack in ns: positive means margin, negative means a violation.
type SeedResult struct {
	Target     string     `json:"target"`
	Seed       int        `json:"seed"`
	Status     SeedStatus `json:"status"`
	Phase      Phase      `json:"phase,omitempty"`
	StartedAt  time.Time  `json:"started_at,omitzero"`
	FinishedAt time.Time  `json:"finished_at,omitzero"`
	WNSns      *float64   `json:"wns_ns"`
	TNSns      *float64   `json:"tns_ns"`
	FmaxMHz    *float64   `json:"fmax_mhz"`
	TargetMHz  float64    `json:"target_mhz,omitempty"`
	Met        bool       `json:"met"`
	Bitstream  string     `json:"bitstream,omitempty"`
	Log        string     `json:"log,omitempty"`
	Reports    []string   `json:"reports,omitempty"`
	// Instance is the runner resource the seed ran on (an OpenStack server
	// ID, an SSH host), so that a reaper can find what a dead build left.
	Instance string `json:"instance,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Build is one `fpgactl build` invocation: targets × seeds.
type Build struct {
	// Version is the record format; a record from a newer fpgactl is refused
	// rather than misread.
	Version int    `json:"version"`
	ID      string `json:"id"`
	Commit  string `json:"commit,omitempty"`
	// Dirty says the work tree had changes not in Commit.
	Dirty     bool      `json:"dirty,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Owner is the user who started the build (also put in instance
	// metadata by cloud runners).
	Owner    string   `json:"owner,omitempty"`
	Process  Process  `json:"process"`
	Targets  []string `json:"targets"`
	Seeds    []int    `json:"seeds"`
	Runner   string   `json:"runner,omitempty"`
	StopWhen StopRule `json:"stop_when"`
	Status   Status   `json:"status"`
	// Error says why a build failed or was interrupted.
	Error      string       `json:"error,omitempty"`
	FinishedAt time.Time    `json:"finished_at,omitzero"`
	Results    []SeedResult `json:"results"`
	// Inputs says what each target was built from (by target name).
	Inputs map[string]TargetInput `json:"inputs,omitempty"`
}

// TargetInput is what one target of a build was made from.
type TargetInput struct {
	Design string `json:"design"`
	// RTLHash is the content hash of the design's RTL
	// (internal/results.RTLHash): test results on the same hash tested
	// these sources.
	RTLHash    string         `json:"rtl_hash"`
	Device     string         `json:"device,omitempty"`
	Flow       string         `json:"flow,omitempty"`
	Width      int            `json:"width,omitempty"` // data width in bits
	ClockMHz   float64        `json:"clock_mhz,omitempty"`
	Parameters map[string]int `json:"parameters,omitempty"`
}

// recordVersion is the Version this package writes and the highest it reads.
const recordVersion = 1

// Seed returns the result of seed for target, for changing in place, or nil.
func (b *Build) Seed(target string, seed int) *SeedResult {
	for i := range b.Results {
		if b.Results[i].Target == target && b.Results[i].Seed == seed {
			return &b.Results[i]
		}
	}
	return nil
}

// TargetResults returns a copy of target's results in seed order as recorded.
func (b *Build) TargetResults(target string) []SeedResult {
	var out []SeedResult
	for _, r := range b.Results {
		if r.Target == target {
			out = append(out, r)
		}
	}
	return out
}

// Best is the best finished seed of target (see the package function Best).
func (b *Build) Best(target string) (SeedResult, bool) {
	return Best(b.TargetResults(target))
}

// TargetDone reports whether target needs no more seeds under b.StopWhen.
func (b *Build) TargetDone(target string) bool {
	return b.StopWhen.Done(b.TargetResults(target))
}

// validate refuses a record that could not be written as JSON or read back
// as the same build, naming what is wrong.
func (b *Build) validate() error {
	for _, r := range b.Results {
		for _, f := range []struct {
			name string
			v    *float64
		}{{"wns_ns", r.WNSns}, {"tns_ns", r.TNSns}, {"fmax_mhz", r.FmaxMHz}} {
			if f.v != nil && (math.IsNaN(*f.v) || math.IsInf(*f.v, 0)) {
				return fmt.Errorf("target %s seed %d: %s is %v; record nil (null) for an unknown value", r.Target, r.Seed, f.name, *f.v)
			}
		}
		if math.IsNaN(r.TargetMHz) || math.IsInf(r.TargetMHz, 0) {
			return fmt.Errorf("target %s seed %d: target_mhz is %v", r.Target, r.Seed, r.TargetMHz)
		}
	}
	return nil
}
