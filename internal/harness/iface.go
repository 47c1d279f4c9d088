package harness

import (
	"context"
	"errors"

	"github.com/fpgactl/fpgactl/tests/harness/target"
)

func openIface(ctx context.Context, in, out string, opts TargetOptions) (target.Target, error) {
	return nil, errors.New("iface target: not wired yet")
}

// IfaceBenchOptions configure BenchIface.
type IfaceBenchOptions struct {
	Frames int
	Repeat int
}

// IfaceBenchResult compares the iface target with tcpreplay.
type IfaceBenchResult struct {
	Traffic   string  `json:"traffic"`
	Frames    int     `json:"frames"`
	Harness   float64 `json:"harness_frames_per_s"`
	Tcpreplay float64 `json:"tcpreplay_frames_per_s"`
	Ratio     float64 `json:"ratio"`
}

// BenchIface measures the iface target against tcpreplay.
func (e *Env) BenchIface(ctx context.Context, opts IfaceBenchOptions, progress func(string)) (*IfaceBenchResult, error) {
	return nil, errors.New("not wired yet")
}
