// Package target is the interface the traffic harness replays through: the
// simulated board (sim) and a pair of network interfaces (iface) today, a
// lab board's interfaces later. A target carries frames; register access
// (rule loading, counters) is a separate, optional Regs, because a real board
// is configured over a different path than its traffic ports.
package target

import (
	"context"
	"time"
)

// Frame is one frame to replay.
type Frame struct {
	Data []byte // Ethernet frame without FCS
	// TimeNS is the frame's scheduled start (profile or capture time). Only
	// its differences matter: targets that pace keep the gaps.
	TimeNS uint64
	// MACError asks for a frame with a bad FCS / MAC error (tuser on the
	// last beat). Targets without Caps.MACError cannot send one.
	MACError bool
}

// Received is one frame the target emitted.
type Received struct {
	Data     []byte
	TimeNS   uint64 // arrival time on the target's clock (Caps.ExactTime) or the host's
	MACError bool
}

// Capture is the outcome of one Replay.
type Capture struct {
	// SentTimeNS[i] is when frames[i] actually started, on the same clock as
	// Received.TimeNS; 0 when the frame was not sent (see Skipped).
	SentTimeNS []uint64
	// Skipped[i] is true for frames the target could not send (e.g. a MAC
	// error on an interface that has no FCS to spoil). Nil when none.
	Skipped  []bool
	Received []Received
	// Elapsed is the wall-clock time the replay took.
	Elapsed time.Duration
}

// Progress is called from time to time during a replay; it must be cheap.
type Progress func(sent, received, total int)

// ReplayOptions tune one Replay.
type ReplayOptions struct {
	// Pace keeps the gaps between Frame.TimeNS on targets that can only
	// approximate them (iface); the simulated board always honours them.
	Pace     bool
	Progress Progress
	// Settle is how long to keep capturing after the last frame was sent on
	// targets that cannot know when the device is empty (iface). 0 = target default.
	Settle time.Duration
}

// Caps says what a target can do.
type Caps struct {
	// ExactTime: SentTimeNS are the times the device itself used (the
	// policer's time), so policing is predicted exactly.
	ExactTime bool
	// MACError: frames can be sent with a bad FCS.
	MACError bool
}

// Target replays frames and captures what comes out.
type Target interface {
	// Name is shown in reports, e.g. "sim/w64" or "iface:veth0,veth1".
	Name() string
	Caps() Caps
	// Regs is the target's register access, or nil when it has none.
	Regs() Regs
	// Replay sends frames in order and returns when every frame that will
	// come out has come out (or ctx ends).
	Replay(ctx context.Context, frames []Frame, opts ReplayOptions) (*Capture, error)
	Close() error
}

// Regs is AXI4-Lite access to the filter's registers (hdl/SPEC.md §6).
type Regs interface {
	WriteReg(ctx context.Context, addr, data uint32) error
	ReadReg(ctx context.Context, addr uint32) (uint32, error)
}
