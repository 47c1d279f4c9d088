package run

import (
	"context"
	"fmt"
	"io"

	"github.com/fpgactl/fpgactl/build/flow"
	"github.com/fpgactl/fpgactl/build/record"
)

// Backend places and routes seeds somewhere: local processes, SSH build
// hosts or OpenStack instances. The runner synthesizes each target here and
// hands every seed of it to the backend.
type Backend interface {
	// Kind names the runner in build records: local, ssh or openstack.
	Kind() string
	// PlaceAndRoute runs one seed and leaves its files in j.Dir. Timing that
	// fails is a result, not an error. It returns promptly once ctx is
	// cancelled, having stopped (and, for cloud backends, deleted) what it
	// started.
	PlaceAndRoute(ctx context.Context, j SeedJob) (flow.PnRResult, error)
}

// SeedJob is one seed of one target.
type SeedJob struct {
	BuildID string
	Target  string
	Seed    int
	Owner   string
	Commit  string

	Netlist  string // the target's synthesized netlist (a local path)
	Device   flow.ECP5Device
	ClockMHz float64

	// Dir is the seed's local directory: its report, log and bitstream end
	// up there (flow.ResultIn(Dir)), wherever they were made.
	Dir string
	// Log receives the tools' output.
	Log io.Writer
	// Phase is called as the seed enters each phase, in order, never
	// concurrently.
	Phase func(record.Phase)
	// Instance records where the seed runs (a build host, a server ID) as
	// soon as it is known, so that a reaper can find what a dead build left.
	Instance func(string)
}

// Name is how logs and cloud resources name the job.
func (j SeedJob) Name() string {
	return fmt.Sprintf("fpgactl-%s-%s-s%d", j.BuildID, j.Target, j.Seed)
}

// Local runs seeds and command jobs as processes on this machine.
type Local struct {
	Tools flow.Tools
	// JobDir is where command jobs get their directories; default
	// os.TempDir().
	JobDir string
}

func (Local) Kind() string { return "local" }

func (l Local) PlaceAndRoute(ctx context.Context, j SeedJob) (flow.PnRResult, error) {
	return flow.PlaceAndRoute(ctx, flow.PnROptions{
		Netlist: j.Netlist, Device: j.Device, ClockMHz: j.ClockMHz, Seed: j.Seed,
		Dir: j.Dir, Tools: l.Tools, Phase: j.Phase, Log: j.Log,
	})
}
