package iface

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fpgactl/fpgactl/internal/netns"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

const (
	defaultSettle = 200 * time.Millisecond
	// paceSlack: frames due within this of now go in the current batch;
	// a longer gap is slept (or spun) through.
	paceSlack = 50 * time.Microsecond
	// spinBelow: waits shorter than this are spun, because a timer on an
	// idle Go runtime can overshoot by up to a millisecond.
	spinBelow = 2 * time.Millisecond
	// progressEvery limits Progress calls to about ten a second.
	progressEvery = 100 * time.Millisecond
	arenaChunk    = 1 << 20
)

// Options configure New.
type Options struct {
	// In is the interface frames are sent on, Out the one they are
	// captured on (the device's input and output ports).
	In, Out string
	// Netns is the namespace both interfaces are in; nil = this process's.
	Netns *netns.Namespace
	// Regs is the device's register access, returned by Regs; may be nil.
	Regs target.Regs
	// Settle is how long to keep capturing after the last frame was sent
	// while nothing new arrives; 0 = 200 ms. ReplayOptions.Settle overrides it.
	Settle time.Duration
	// Name is shown in reports; "" = "iface:IN,OUT".
	Name string
}

// Target replays frames on one interface and captures on another. It
// cannot send a frame with a bad FCS (veth has none; a NIC computes it) and
// its times are the host's, not the device's.
type Target struct {
	opts    Options
	name    string
	in, out *Port
	mu      sync.Mutex // one Replay at a time
}

var _ target.Target = (*Target)(nil)

// New opens the ports on opts.In and opts.Out.
func New(opts Options) (*Target, error) {
	if opts.In == "" || opts.Out == "" {
		return nil, errors.New("iface target: both In and Out interfaces are needed")
	}
	if opts.Settle <= 0 {
		opts.Settle = defaultSettle
	}
	name := opts.Name
	if name == "" {
		name = "iface:" + opts.In + "," + opts.Out
	}
	in, err := Open(opts.In, PortOptions{Netns: opts.Netns, SendOnly: true})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out, err := Open(opts.Out, PortOptions{Netns: opts.Netns})
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Target{opts: opts, name: name, in: in, out: out}, nil
}

// Name is "iface:IN,OUT" unless Options.Name says otherwise.
func (t *Target) Name() string { return t.name }

// Caps: host times, no MAC errors.
func (t *Target) Caps() target.Caps { return target.Caps{ExactTime: false, MACError: false} }

// Regs returns Options.Regs.
func (t *Target) Regs() target.Regs { return t.opts.Regs }

// Close closes both ports.
func (t *Target) Close() error {
	return errors.Join(t.in.Close(), t.out.Close())
}

// Replay sends frames on In, as fast as the interface takes them or, with
// opts.Pace, keeping the gaps between their TimeNS; meanwhile it captures on
// Out. It returns once nothing has arrived for the settle time after the
// last frame was sent. Frames with MACError, runts shorter than an Ethernet
// header and frames with a cut VLAN tag cannot pass through Linux
// interfaces: they are not sent (Skipped).
func (t *Target) Replay(ctx context.Context, frames []target.Frame, opts target.ReplayOptions) (*target.Capture, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	settle := opts.Settle
	if settle <= 0 {
		settle = t.opts.Settle
	}
	capt := &target.Capture{SentTimeNS: make([]uint64, len(frames))}
	for i, f := range frames {
		if unsendable(f) {
			if capt.Skipped == nil {
				capt.Skipped = make([]bool, len(frames))
			}
			capt.Skipped[i] = true
		}
	}

	start := time.Now()
	// Whatever arrived before this replay is not its output.
	if _, err := t.out.Drain(); err != nil {
		return nil, fmt.Errorf("%s: %w", t.name, err)
	}
	capCtx, stopCapture := context.WithCancel(ctx)
	// A failed capture stops the sending too: its result is lost anyway.
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	c := newCapturer(t.out, len(frames), start, stopSending)
	go c.run(capCtx)

	pr := &progress{fn: opts.Progress, total: len(frames), received: &c.count}
	s := sender{port: t.in, frames: frames, capt: capt, pr: pr}
	var err error
	if opts.Pace {
		err = s.paced(sendCtx)
	} else {
		err = s.fast(sendCtx)
	}
	if err == nil {
		err = c.settle(ctx, settle, time.Since(start), pr, s.sent)
	}
	stopCapture()
	<-c.done
	switch {
	case c.err != nil:
		return nil, fmt.Errorf("%s: capturing on %s: %w", t.name, t.opts.Out, c.err)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s: replay stopped after %d of %d frames: %w", t.name, s.sent, len(frames), ctx.Err())
	case err != nil:
		return nil, fmt.Errorf("%s: %w", t.name, err)
	}
	drops, err := t.out.Drops()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.name, err)
	}
	if drops > 0 {
		return nil, fmt.Errorf("%s: the capture on %s lost %d frames because its receive buffer was full; the host could not keep up, replay with pacing or fewer frames", t.name, t.opts.Out, drops)
	}
	capt.Received = c.received
	capt.Elapsed = time.Since(start)
	pr.report(s.sent, true)
	return capt, nil
}

// sender sends one replay's frames and records when each batch went out.
type sender struct {
	port   *Port
	frames []target.Frame
	capt   *target.Capture
	pr     *progress
	sent   int

	batch [][]byte
	idx   []int
}

// send sends the frames whose indexes are in s.idx, stamped with at.
func (s *sender) send(ctx context.Context, at time.Time) error {
	now := uint64(at.UnixNano())
	for _, i := range s.idx {
		s.capt.SentTimeNS[i] = now
	}
	n, err := s.port.SendBatch(ctx, s.batch)
	s.sent += n
	if err != nil {
		for _, i := range s.idx[n:] {
			s.capt.SentTimeNS[i] = 0
		}
		return err
	}
	s.pr.report(s.sent, false)
	return nil
}

func (s *sender) reset() {
	if s.batch == nil {
		s.batch = make([][]byte, 0, MaxBatch)
		s.idx = make([]int, 0, MaxBatch)
	}
	s.batch, s.idx = s.batch[:0], s.idx[:0]
}

// fast sends everything back to back, MaxBatch frames per call.
func (s *sender) fast(ctx context.Context) error {
	for i := 0; i < len(s.frames); {
		s.reset()
		for ; i < len(s.frames) && len(s.batch) < MaxBatch; i++ {
			if !unsendable(s.frames[i]) {
				s.batch = append(s.batch, s.frames[i].Data)
				s.idx = append(s.idx, i)
			}
		}
		if len(s.batch) > 0 {
			if err := s.send(ctx, time.Now()); err != nil {
				return err
			}
		}
	}
	return nil
}

// paced sends each frame at its TimeNS offset from the first frame sent:
// frames due within paceSlack go together in one batch, longer gaps are
// waited out. No frame goes more than paceSlack early, and a batch that
// went late does not delay the rest: they keep their own schedule.
func (s *sender) paced(ctx context.Context) error {
	first := -1
	for i, f := range s.frames {
		if !unsendable(f) {
			first = i
			break
		}
	}
	if first < 0 {
		return nil
	}
	base := s.frames[first].TimeNS
	offset := func(i int) time.Duration {
		if ts := s.frames[i].TimeNS; ts > base {
			return time.Duration(ts - base)
		}
		return 0
	}
	// The schedule starts when the first frame is stamped, so the gaps
	// between sent times are never shorter than asked (less the slack).
	var start time.Time
	for i := first; i < len(s.frames); {
		if unsendable(s.frames[i]) {
			i++
			continue
		}
		if !start.IsZero() {
			if err := waitUntil(ctx, start.Add(offset(i)-paceSlack)); err != nil {
				return err
			}
		}
		s.reset()
		now := time.Now()
		if start.IsZero() {
			start = now
		}
		horizon := now.Sub(start) + paceSlack
		for ; i < len(s.frames) && len(s.batch) < MaxBatch; i++ {
			if unsendable(s.frames[i]) {
				continue
			}
			if offset(i) > horizon {
				break
			}
			s.batch = append(s.batch, s.frames[i].Data)
			s.idx = append(s.idx, i)
		}
		if err := s.send(ctx, now); err != nil {
			return err
		}
	}
	return nil
}

// waitUntil sleeps until t, spinning through the last couple of
// milliseconds for precision.
func waitUntil(ctx context.Context, t time.Time) error {
	if d := time.Until(t); d > spinBelow {
		timer := time.NewTimer(d - spinBelow/2)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
	for time.Now().Before(t) {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// progress rate-limits ReplayOptions.Progress.
type progress struct {
	fn       target.Progress
	total    int
	received *atomic.Int64
	last     time.Time
}

func (p *progress) report(sent int, force bool) {
	if p.fn == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	p.fn(sent, int(p.received.Load()), p.total)
}

// capturer receives on the Out port until its context ends.
type capturer struct {
	port     *Port
	start    time.Time
	received []target.Received
	err      error
	done     chan struct{}
	// count and lastNS (since start, monotonic) are read while it runs.
	count  atomic.Int64
	lastNS atomic.Int64
	arena  []byte
	// onError is called once c.err is set.
	onError func()
}

func newCapturer(p *Port, expect int, start time.Time, onError func()) *capturer {
	return &capturer{port: p, start: start, onError: onError,
		received: make([]target.Received, 0, expect), done: make(chan struct{})}
}

func (c *capturer) run(ctx context.Context) {
	defer func() {
		if c.err != nil {
			c.onError()
		}
		close(c.done)
	}()
	// A veth drops frames longer than MTU + header + VLAN tag; the slack
	// covers that, so a cut frame means GRO/LRO merged frames on a NIC.
	size := c.port.MTU() + 64
	n := min(max((4<<20)/size, 16), MaxBatch)
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	lens := make([]int, n)
	stamps := make([]uint64, n)
	for ctx.Err() == nil {
		got, err := c.port.RecvBatch(ctx, bufs, lens, stamps)
		if err != nil {
			if ctx.Err() == nil {
				c.err = err
			}
			return
		}
		for i := range got {
			if lens[i] > size {
				c.err = fmt.Errorf("a %d-byte frame arrived on %s, larger than its MTU allows; turn off GRO/LRO on it (ethtool -K %s gro off lro off)",
					lens[i], c.port.Name(), c.port.Name())
				return
			}
			c.received = append(c.received, target.Received{Data: c.keep(bufs[i][:lens[i]]), TimeNS: stamps[i]})
		}
		c.count.Add(int64(got))
		c.lastNS.Store(int64(time.Since(c.start)))
	}
}

// keep copies b into the arena, so a capture costs one allocation per
// megabyte rather than one per frame.
func (c *capturer) keep(b []byte) []byte {
	if len(b) > arenaChunk/4 {
		return append([]byte(nil), b...)
	}
	if len(c.arena) < len(b) {
		c.arena = make([]byte, arenaChunk)
	}
	out := c.arena[:len(b):len(b)]
	copy(out, b)
	c.arena = c.arena[len(b):]
	return out
}

// settle waits until nothing has arrived for d, counting from sentAt (time
// since start when the last frame was sent) or the last arrival, whichever
// is later. It returns early when the capture fails.
func (c *capturer) settle(ctx context.Context, d, sentAt time.Duration, pr *progress, sent int) error {
	for {
		quietSince := max(sentAt, time.Duration(c.lastNS.Load()))
		wait := quietSince + d - time.Since(c.start)
		if wait <= 0 {
			return nil
		}
		timer := time.NewTimer(min(wait, progressEvery))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-c.done:
			timer.Stop()
			return nil
		case <-timer.C:
		}
		pr.report(sent, false)
	}
}

// unsendable frames cannot go through a Linux host's interfaces: a bad FCS
// is the NIC's to compute, a frame needs its 14-byte header, and a receiving
// Linux host drops a frame whose outer VLAN tag is cut short before any
// packet socket sees it (the kernel untags every received frame first).
func unsendable(f target.Frame) bool {
	if f.MACError || len(f.Data) < 14 {
		return true
	}
	tpid := uint16(f.Data[12])<<8 | uint16(f.Data[13])
	// The untagging needs the 4-byte tag and the next EtherType after the header.
	return (tpid == 0x8100 || tpid == 0x88A8) && len(f.Data) < 14+4+2
}
