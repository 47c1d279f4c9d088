package harness

import (
	"context"
	"fmt"
	"strings"

	"github.com/fpgactl/fpgactl/tests/harness/target"
)

// TargetOptions choose and configure a replay target.
type TargetOptions struct {
	// Spec is "sim" or "iface:IN,OUT".
	Spec string
	// Width of the simulated board (0: the design's first width).
	Width int
	// Backpressure on the simulated board (fraction of cycles).
	Backpressure float64
	// Netns holds the iface interfaces ("" = this namespace); Control is the
	// Unix socket of the device's register access (optional).
	Netns   string
	Control string
}

// ParseTargetSpec splits "sim" or "iface:IN,OUT".
func ParseTargetSpec(spec string) (kind, in, out string, err error) {
	switch {
	case spec == "sim":
		return "sim", "", "", nil
	case strings.HasPrefix(spec, "iface:"):
		in, out, ok := strings.Cut(strings.TrimPrefix(spec, "iface:"), ",")
		if !ok || in == "" || out == "" || strings.Contains(out, ",") {
			return "", "", "", fmt.Errorf("target %q: give two interfaces, iface:IN,OUT (frames are sent on IN and captured on OUT)", spec)
		}
		return "iface", in, out, nil
	}
	return "", "", "", fmt.Errorf("target %q: use sim (the simulated board) or iface:IN,OUT", spec)
}

// OpenTarget starts or opens the target named by opts.Spec.
func (e *Env) OpenTarget(ctx context.Context, opts TargetOptions) (target.Target, error) {
	kind, in, out, err := ParseTargetSpec(opts.Spec)
	if err != nil {
		return nil, err
	}
	if kind == "iface" {
		return openIface(ctx, in, out, opts)
	}
	width, err := e.Width(opts.Width)
	if err != nil {
		return nil, err
	}
	b, err := e.StartBoard(ctx, width)
	if err != nil {
		return nil, err
	}
	if opts.Backpressure != 0 {
		if err := b.SetBackpressure(opts.Backpressure, 1); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}
