package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/fpgactl/fpgactl/internal/netns"
	"github.com/fpgactl/fpgactl/sim/board"
	"github.com/fpgactl/fpgactl/tests/harness/iface"
	"github.com/fpgactl/fpgactl/tests/harness/pcapio"
	"github.com/fpgactl/fpgactl/tests/harness/profile"
	"github.com/fpgactl/fpgactl/tests/harness/regsrv"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

// ifaceTarget closes the register client with the target.
type ifaceTarget struct {
	*iface.Target
	regs *regsrv.Client
}

func (t *ifaceTarget) Close() error {
	err := t.Target.Close()
	if t.regs != nil {
		t.regs.Close()
	}
	return err
}

func openIface(ctx context.Context, in, out string, opts TargetOptions) (target.Target, error) {
	var ns *netns.Namespace
	if opts.Netns != "" {
		var err error
		if ns, err = netns.Open(opts.Netns); err != nil {
			return nil, err
		}
	}
	t := &ifaceTarget{}
	io := iface.Options{In: in, Out: out, Netns: ns}
	if opts.Control != "" {
		c, err := regsrv.Dial(ctx, opts.Control)
		if err != nil {
			return nil, fmt.Errorf("register access %s: %w", opts.Control, err)
		}
		t.regs, io.Regs = c, c
	}
	it, err := iface.New(io)
	if err != nil {
		if t.regs != nil {
			t.regs.Close()
		}
		return nil, err
	}
	t.Target = it
	return t, nil
}

// AttachOptions bridge a simulated board to two interfaces.
type AttachOptions struct {
	Width int
	// In is where the board takes frames, Out where it sends what passes.
	In, Out string
	Netns   *netns.Namespace
	// Control is the Unix socket path serving register access ("" = none).
	Control string
	// Ready is called once the board is up and the socket listens.
	Ready func()
	// Binary is a prebuilt board executable (`fpgactl board build`) to run
	// instead of the design's build; Width must then be its data width.
	// An Env without a project can attach one.
	Binary string
}

// AttachBoard runs a simulated board on two interfaces until ctx ends
// (`fpgactl board sim`): the stand-in for a real board on a lab host.
func (e *Env) AttachBoard(ctx context.Context, opts AttachOptions) error {
	in, err := iface.Open(opts.In, iface.PortOptions{Netns: opts.Netns})
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := iface.Open(opts.Out, iface.PortOptions{Netns: opts.Netns, SendOnly: true})
	if err != nil {
		return err
	}
	defer out.Close()
	var b *board.Board
	if opts.Binary != "" {
		b, err = board.Start(ctx, opts.Binary, board.StartOptions{Width: opts.Width})
	} else {
		b, err = e.StartBoard(ctx, opts.Width)
	}
	if err != nil {
		return err
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	live, err := b.GoLive(ctx, in, out)
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	if opts.Control != "" {
		os.Remove(opts.Control)
		if err := os.MkdirAll(filepath.Dir(opts.Control), 0o755); err != nil {
			return err
		}
		l, err := net.Listen("unix", opts.Control)
		if err != nil {
			return fmt.Errorf("control socket: %w", err)
		}
		defer os.Remove(opts.Control)
		go func() { serveErr <- regsrv.Serve(ctx, l, live) }()
	}
	if opts.Ready != nil {
		opts.Ready()
	}
	select {
	case err = <-serveErr:
		cancel()
		live.Wait()
	case <-ctx.Done():
		err = live.Wait()
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// IfaceBenchOptions configure BenchIface.
type IfaceBenchOptions struct {
	Frames int
	Repeat int
}

// IfaceBenchResult compares the iface target's sending with tcpreplay.
type IfaceBenchResult struct {
	Traffic          string  `json:"traffic"`
	Frames           int     `json:"frames"`
	Harness          float64 `json:"harness_frames_per_s"`   // median
	Tcpreplay        float64 `json:"tcpreplay_frames_per_s"` // median, tcpreplay's own "Rated" figure
	Ratio            float64 `json:"ratio"`
	TcpreplayVersion string  `json:"tcpreplay_version"`
}

// BenchIface writes an IMIX capture and measures the iface target's sender
// against tcpreplay --topspeed on a veth pair in a namespace of its own.
func (e *Env) BenchIface(ctx context.Context, opts IfaceBenchOptions, progress func(string)) (*IfaceBenchResult, error) {
	if err := netns.Available(); err != nil {
		return nil, err
	}
	if opts.Frames <= 0 {
		opts.Frames = 200000
	}
	pf, err := profile.Generate(profile.Options{Seed: 1, Frames: opts.Frames, RateGbps: 10, Sizes: profile.SizeSpec{IMIX: true}})
	if err != nil {
		return nil, err
	}
	frames := make([]pcapio.Frame, len(pf))
	for i, f := range pf {
		frames[i] = pcapio.Frame{Data: f.Data, TimeNS: f.TimeNS, OrigLen: len(f.Data)}
	}
	dir, err := os.MkdirTemp(e.Settings.WorkPath(), "bench-iface-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "imix.pcap")
	if err := pcapio.WriteFile(path, frames); err != nil {
		return nil, err
	}
	if progress != nil {
		progress(fmt.Sprintf("iface: %d IMIX frames, fpgactl and tcpreplay alternating, %d runs each", opts.Frames, max(opts.Repeat, 1)))
	}
	r, err := iface.BenchSend(ctx, iface.BenchOptions{Pcap: path, Repeat: opts.Repeat})
	if err != nil {
		return nil, err
	}
	return &IfaceBenchResult{Traffic: "IMIX", Frames: r.Frames, Harness: r.Ours.MedianPPS, Tcpreplay: r.Tcpreplay.MedianPPS,
		Ratio: r.Ratio, TcpreplayVersion: r.TcpreplayVersion}, nil
}
