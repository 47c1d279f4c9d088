package iface

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/netns"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

// dropMark in byte 14 (the first IP byte) makes the test forwarder drop a
// frame, so a replay has something to not deliver.
const dropMark = 0x46

// newForwardingLab builds h0<->b0 and b1<->h1 in a fresh namespace and
// copies every frame arriving on b0 to b1 except those with dropMark: a
// stand-in for a filter between the target's In (h0) and Out (h1).
func newForwardingLab(t *testing.T) *netns.Namespace {
	t.Helper()
	ns := newNS(t, [2]string{"h0", "b0"}, [2]string{"b1", "h1"})
	in := openPort(t, ns, "b0", PortOptions{})
	out := openPort(t, ns, "b1", PortOptions{SendOnly: true})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		bufs, lens := make([][]byte, 64), make([]int, 64)
		for i := range bufs {
			bufs[i] = make([]byte, 9700)
		}
		fwd := make([][]byte, 0, 64)
		for {
			n, err := in.RecvBatch(ctx, bufs, lens, nil)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("forwarder: %v", err)
				}
				return
			}
			fwd = fwd[:0]
			for i := range n {
				if f := bufs[i][:lens[i]]; len(f) < 15 || f[14] != dropMark {
					fwd = append(fwd, f)
				}
			}
			if _, err := out.SendBatch(ctx, fwd); err != nil {
				if ctx.Err() == nil {
					t.Errorf("forwarder: %v", err)
				}
				return
			}
		}
	}()
	// Before the namespace goes: cleanups run last-in first-out.
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return ns
}

func newTarget(t *testing.T, ns *netns.Namespace, opts Options) *Target {
	t.Helper()
	opts.In, opts.Out, opts.Netns = "h0", "h1", ns
	tg, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func TestReplayThroughForwarder(t *testing.T) {
	ns := newForwardingLab(t)
	tg := newTarget(t, ns, Options{Settle: 100 * time.Millisecond})

	rng := rand.New(rand.NewPCG(42, 1))
	const total = 2000
	frames := make([]target.Frame, total)
	var want [][]byte
	for i := range frames {
		first := byte(0x45)
		if rng.IntN(7) == 0 {
			first = dropMark
		}
		frames[i].Data = testFrame(rng, uint32(i), mixedSize(rng), first)
		if first != dropMark {
			want = append(want, frames[i].Data)
		}
	}
	var calls atomic.Int32
	var lastSent, lastTotal atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := uint64(time.Now().UnixNano())
	capt, err := tg.Replay(ctx, frames, target.ReplayOptions{Progress: func(sent, received, total int) {
		calls.Add(1)
		lastSent.Store(int64(sent))
		lastTotal.Store(int64(total))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(capt.Received) != len(want) {
		t.Errorf("received %d frames, want %d", len(capt.Received), len(want))
	}
	for i := range min(len(capt.Received), len(want)) {
		if got := capt.Received[i].Data; !bytes.Equal(got, want[i]) {
			t.Fatalf("received frame %d: %d bytes, seq %d; want %d bytes, seq %d",
				i, len(got), binary.BigEndian.Uint32(got[15:]), len(want[i]), binary.BigEndian.Uint32(want[i][15:]))
		}
	}
	if capt.Skipped != nil {
		t.Errorf("Skipped = %v, want nil", capt.Skipped)
	}
	for i, ts := range capt.SentTimeNS {
		if ts < before {
			t.Fatalf("SentTimeNS[%d] = %d, before the replay started (%d)", i, ts, before)
		}
	}
	// A frame arrives after the batch it was in started.
	sentBySeq := capt.SentTimeNS
	for i, r := range capt.Received {
		seq := binary.BigEndian.Uint32(r.Data[15:])
		if r.TimeNS < sentBySeq[seq] {
			t.Fatalf("received frame %d (seq %d) at %d, before it was sent at %d", i, seq, r.TimeNS, sentBySeq[seq])
		}
	}
	if capt.Elapsed < 100*time.Millisecond {
		t.Errorf("Elapsed = %v, shorter than the settle time", capt.Elapsed)
	}
	if calls.Load() == 0 || lastSent.Load() != total || lastTotal.Load() != total {
		t.Errorf("progress: %d calls, last sent %d of %d; want the last to report %d of %d",
			calls.Load(), lastSent.Load(), lastTotal.Load(), total, total)
	}

	// A second replay starts clean and gets the same result.
	capt2, err := tg.Replay(ctx, frames[:50], target.ReplayOptions{Settle: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range frames[:50] {
		if f.Data[14] != dropMark {
			n++
		}
	}
	if len(capt2.Received) != n {
		t.Errorf("second replay received %d frames, want %d", len(capt2.Received), n)
	}
}

func TestReplayPaced(t *testing.T) {
	ns := newForwardingLab(t)
	tg := newTarget(t, ns, Options{Settle: 50 * time.Millisecond})
	rng := rand.New(rand.NewPCG(7, 7))
	// Gaps: none, 10 µs (same batch), 1 ms (spun), 20 ms (slept).
	gaps := []time.Duration{0, 0, 10 * time.Microsecond, time.Millisecond, 20 * time.Millisecond, 0}
	frames := make([]target.Frame, len(gaps))
	ts := uint64(1_700_000_000_000_000_000)
	for i, g := range gaps {
		ts += uint64(g)
		frames[i] = target.Frame{Data: testFrame(rng, uint32(i), 200, 0x45), TimeNS: ts}
	}
	capt, err := tg.Replay(context.Background(), frames, target.ReplayOptions{Pace: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(capt.Received) != len(frames) {
		t.Fatalf("received %d frames, want %d", len(capt.Received), len(frames))
	}
	// Never early by more than the batching slack (plus clock noise).
	for i := 1; i < len(frames); i++ {
		want := time.Duration(frames[i].TimeNS - frames[0].TimeNS)
		got := time.Duration(capt.SentTimeNS[i] - capt.SentTimeNS[0])
		if got < want-paceSlack-50*time.Microsecond {
			t.Errorf("frame %d sent %v after frame 0, scheduled %v after", i, got, want)
		}
	}
}

func TestReplaySkipsMACErrors(t *testing.T) {
	ns := newForwardingLab(t)
	tg := newTarget(t, ns, Options{Settle: 50 * time.Millisecond})
	if c := tg.Caps(); c.MACError || c.ExactTime {
		t.Errorf("Caps = %+v, want neither", c)
	}
	if tg.Name() != "iface:h0,h1" {
		t.Errorf("Name = %q", tg.Name())
	}
	if tg.Regs() != nil {
		t.Error("Regs is not nil without Options.Regs")
	}
	rng := rand.New(rand.NewPCG(8, 8))
	frames := []target.Frame{
		{Data: testFrame(rng, 0, 60, 0x45)},
		{Data: testFrame(rng, 1, 60, 0x45), MACError: true},
		{Data: testFrame(rng, 2, 60, 0x45)},
	}
	capt, err := tg.Replay(context.Background(), frames, target.ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(capt.Skipped) != 3 || capt.Skipped[0] || !capt.Skipped[1] || capt.Skipped[2] {
		t.Errorf("Skipped = %v, want [false true false]", capt.Skipped)
	}
	if capt.SentTimeNS[1] != 0 || capt.SentTimeNS[0] == 0 || capt.SentTimeNS[2] == 0 {
		t.Errorf("SentTimeNS = %v, want 0 only for the skipped frame", capt.SentTimeNS)
	}
	if len(capt.Received) != 2 || !bytes.Equal(capt.Received[0].Data, frames[0].Data) || !bytes.Equal(capt.Received[1].Data, frames[2].Data) {
		t.Errorf("received %d frames, want frames 0 and 2", len(capt.Received))
	}
}

func TestReplayCancel(t *testing.T) {
	ns := newForwardingLab(t)
	tg := newTarget(t, ns, Options{Settle: time.Hour})
	rng := rand.New(rand.NewPCG(9, 9))
	frames := []target.Frame{
		{Data: testFrame(rng, 0, 60, 0x45), TimeNS: 0},
		{Data: testFrame(rng, 1, 60, 0x45), TimeNS: uint64(time.Hour)},
	}
	for _, pace := range []bool{true, false} {
		// Paced, the wait for the second frame is cut short; unpaced, the
		// hour-long settle is.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		_, err := tg.Replay(ctx, frames, target.ReplayOptions{Pace: pace})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("pace=%v: Replay = %v, want context.DeadlineExceeded", pace, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("pace=%v: Replay took %v to return after its context ended", pace, d)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Options{In: "x"}); err == nil {
		t.Error("New without Out succeeded")
	}
	ns := newNS(t, [2]string{"h0", "b0"})
	_, err := New(Options{In: "h0", Out: "missing0", Netns: ns})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("missing0")) {
		t.Errorf("New with a missing Out: %v", err)
	}
}
