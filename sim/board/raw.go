package board

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

// WriteRequests records, in path, the request stream a replay sends: the
// register writes, then the frames timed from the first, then SYNC and QUIT.
// RunRaw plays it back inside the board with no harness attached.
func WriteRequests(path string, writes []rules.RegWrite, frames []target.Frame) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	e := encoder{w: bufio.NewWriterSize(f, 1<<20)}
	for _, w := range writes {
		e.write(w.Addr, w.Data)
	}
	e.simple(reqBase)
	var base uint64
	if len(frames) > 0 {
		base = frames[0].TimeNS
	}
	for i, fr := range frames {
		if err := e.frame(uint64(i), fr.TimeNS-base, fr.Data, fr.MACError); err != nil {
			return err
		}
	}
	e.sync(1)
	e.simple(reqQuit)
	if err := e.w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// RawResult is what the board measured running a recorded stream.
type RawResult struct {
	FramesIn        uint64  `json:"frames_in"`
	FramesOut       uint64  `json:"frames_out"`
	Cycles          uint64  `json:"cycles"`
	EvaluatedCycles uint64  `json:"evaluated_cycles"`
	Seconds         float64 `json:"seconds"` // from the first frame to the end, rule loading excluded
	ReplyBytes      uint64  `json:"reply_bytes"`
}

// FramesPerSecond is the input frame rate of the run.
func (r RawResult) FramesPerSecond() float64 { return float64(r.FramesIn) / r.Seconds }

// RunRaw runs the board executable on a stream recorded by WriteRequests,
// from memory, discarding replies: the speed of the model alone.
func RunRaw(ctx context.Context, bin string, clockHz uint64, requests string) (RawResult, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--clock-hz", fmt.Sprint(clockHz), "--raw", requests)
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		return RawResult{}, fmt.Errorf("raw board run: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var r RawResult
	if err := json.Unmarshal(bytes.TrimSpace(stderr.Bytes()), &r); err != nil {
		return RawResult{}, fmt.Errorf("raw board run printed %q: %w", stderr.String(), err)
	}
	return r, nil
}
