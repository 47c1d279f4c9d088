package board

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Port is a network port the live board reads frames from or writes frames
// to (tests/harness/iface.Port).
type Port interface {
	RecvBatch(ctx context.Context, bufs [][]byte, lens []int, stamps []uint64) (int, error)
	SendBatch(ctx context.Context, frames [][]byte) (int, error)
}

// Live is a board bridged to network ports: every frame arriving on the
// input port goes on the bus at once, every frame leaving the filter is sent
// on the output port, and the board keeps its clock running while frames are
// in flight. Register access (WriteReg, ReadReg) is safe from any goroutine
// while it runs, for a control socket (tests/harness/regsrv).
type Live struct {
	b *Board

	wmu     sync.Mutex // the request stream
	pending []chan reply
	pmu     sync.Mutex
	tag     uint64

	done chan struct{}
	err  error
}

// GoLive switches the board to live mode and bridges it to in and out until
// ctx ends or something fails; Wait returns why. The Board must not be used
// directly afterwards.
func (b *Board) GoLive(ctx context.Context, in, out Port) (*Live, error) {
	if b.broken != nil {
		return nil, b.broken
	}
	l := &Live{b: b, done: make(chan struct{})}
	if err := b.enc.config(0, 1, true); err != nil {
		return nil, err
	}
	if err := b.enc.w.Flush(); err != nil {
		return nil, b.fail(ctx, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var once sync.Once
	stop := func(err error) {
		once.Do(func() {
			l.err = err
			cancel()
			b.cmd.Process.Kill()
			l.pmu.Lock()
			for _, w := range l.pending {
				close(w)
			}
			l.pending = nil
			l.pmu.Unlock()
			close(l.done)
		})
	}
	go func() {
		<-ctx.Done()
		stop(ctx.Err())
	}()
	go func() { stop(l.readReplies(ctx, out)) }()
	go func() { stop(l.forward(ctx, in)) }()
	return l, nil
}

// Wait blocks until the live board stops and returns why.
func (l *Live) Wait() error {
	<-l.done
	return l.err
}

// forward puts every frame from in on the bus.
func (l *Live) forward(ctx context.Context, in Port) error {
	const batch = 64
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, MaxFrameBytes)
	}
	lens := make([]int, batch)
	stamps := make([]uint64, batch)
	for {
		n, err := in.RecvBatch(ctx, bufs, lens, stamps)
		if err != nil {
			return fmt.Errorf("receiving from the input port: %w", err)
		}
		l.wmu.Lock()
		for i := 0; i < n; i++ {
			size := min(lens[i], len(bufs[i]))
			if size == 0 {
				continue
			}
			l.tag++
			l.b.enc.frame(l.tag, AtOnce, bufs[i][:size], false)
		}
		err = l.b.enc.w.Flush()
		l.wmu.Unlock()
		if err != nil {
			return fmt.Errorf("simulated board stopped taking frames: %w", err)
		}
	}
}

// readReplies sends leaving frames on out and answers register requests.
func (l *Live) readReplies(ctx context.Context, out Port) error {
	for {
		rp, err := l.b.next()
		if err != nil {
			return l.b.explain(fmt.Errorf("simulated board: %w", err))
		}
		switch rp.kind {
		case repSent:
		case repOut:
			if _, err := out.SendBatch(ctx, [][]byte{rp.frame}); err != nil {
				return fmt.Errorf("sending on the output port: %w", err)
			}
		case repWrite, repRead:
			l.pmu.Lock()
			if len(l.pending) == 0 {
				l.pmu.Unlock()
				return fmt.Errorf("simulated board answered a register request nobody made (0x%02x)", rp.kind)
			}
			w := l.pending[0]
			l.pending = l.pending[1:]
			l.pmu.Unlock()
			w <- rp
		default:
			return fmt.Errorf("simulated board sent reply 0x%02x in live mode", rp.kind)
		}
	}
}

func (l *Live) request(ctx context.Context, send func() error) (reply, error) {
	w := make(chan reply, 1)
	l.wmu.Lock()
	select {
	case <-l.done:
		l.wmu.Unlock()
		return reply{}, fmt.Errorf("live board stopped: %w", l.err)
	default:
	}
	l.pmu.Lock()
	l.pending = append(l.pending, w)
	l.pmu.Unlock()
	err := send()
	if err == nil {
		err = l.b.enc.w.Flush()
	}
	l.wmu.Unlock()
	if err != nil {
		return reply{}, err
	}
	select {
	case rp, ok := <-w:
		if !ok {
			return reply{}, fmt.Errorf("live board stopped: %w", l.err)
		}
		return rp, nil
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
}

// WriteReg does one AXI4-Lite write on the live board.
func (l *Live) WriteReg(ctx context.Context, addr, data uint32) error {
	rp, err := l.request(ctx, func() error { return l.b.enc.write(addr, data) })
	if err != nil {
		return err
	}
	if rp.kind != repWrite || rp.addr != addr {
		return errors.New("simulated board answered a write out of order")
	}
	if rp.resp != 0 {
		return fmt.Errorf("register write 0x%05x = 0x%08x answered %s (hdl/SPEC.md §6)", addr, data, respName(rp.resp))
	}
	return nil
}

// ReadReg does one AXI4-Lite read on the live board.
func (l *Live) ReadReg(ctx context.Context, addr uint32) (uint32, error) {
	rp, err := l.request(ctx, func() error { return l.b.enc.read(addr) })
	if err != nil {
		return 0, err
	}
	if rp.kind != repRead || rp.addr != addr {
		return 0, errors.New("simulated board answered a read out of order")
	}
	if rp.resp != 0 {
		return 0, fmt.Errorf("register read 0x%05x answered %s (hdl/SPEC.md §6)", addr, respName(rp.resp))
	}
	return rp.data, nil
}
