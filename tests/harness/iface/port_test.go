package iface

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestOpenMissingInterface(t *testing.T) {
	ns := newNS(t)
	_, err := Open("nope0", PortOptions{Netns: ns})
	if err == nil || !strings.Contains(err.Error(), "nope0") || !strings.Contains(err.Error(), ns.Name()) {
		t.Fatalf("err = %v, want one naming the interface and namespace", err)
	}
}

func TestPortSendRecv(t *testing.T) {
	ns := newNS(t, [2]string{"pa", "pb"})
	for _, bypass := range []bool{false, true} {
		a := openPort(t, ns, "pa", PortOptions{QdiscBypass: bypass})
		b := openPort(t, ns, "pb", PortOptions{})
		rng := rand.New(rand.NewPCG(1, 2))
		var frames [][]byte
		for i := range 1000 {
			frames = append(frames, testFrame(rng, uint32(i), mixedSize(rng), 0x45))
		}
		before := uint64(time.Now().UnixNano())
		n, err := a.SendBatch(context.Background(), frames)
		if err != nil || n != len(frames) {
			t.Fatalf("bypass=%v: SendBatch = %d, %v; want %d", bypass, n, err, len(frames))
		}

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		bufs, lens, stamps := make([][]byte, 100), make([]int, 100), make([]uint64, 100)
		for i := range bufs {
			bufs[i] = make([]byte, 9700)
		}
		got := 0
		var last uint64
		for got < len(frames) {
			k, err := b.RecvBatch(ctx, bufs, lens, stamps)
			if err != nil {
				t.Fatalf("bypass=%v: after %d frames: %v", bypass, got, err)
			}
			for i := range k {
				if !bytes.Equal(bufs[i][:lens[i]], frames[got]) {
					t.Fatalf("bypass=%v: frame %d differs (len %d, want %d)", bypass, got, lens[i], len(frames[got]))
				}
				if stamps[i] < before || stamps[i] < last {
					t.Fatalf("bypass=%v: frame %d stamp %d before send (%d) or previous frame (%d)", bypass, got, stamps[i], before, last)
				}
				last = stamps[i]
				got++
			}
		}
		cancel()
		// The sender never captures its own frames.
		if extra := recvN(t, a, 1, 100*time.Millisecond); len(extra) != 0 {
			t.Errorf("bypass=%v: sending port received %d frames", bypass, len(extra))
		}
		if d, err := b.Drops(); err != nil || d != 0 {
			t.Errorf("bypass=%v: Drops = %d, %v", bypass, d, err)
		}
		a.Close()
		b.Close()
	}
}

func TestPortReceivesOtherDirection(t *testing.T) {
	// A port ignores its own sends but not frames arriving on its interface.
	ns := newNS(t, [2]string{"pa", "pb"})
	a := openPort(t, ns, "pa", PortOptions{})
	b := openPort(t, ns, "pb", PortOptions{})
	rng := rand.New(rand.NewPCG(3, 4))
	f := testFrame(rng, 7, 100, 0x45)
	if _, err := a.SendBatch(context.Background(), [][]byte{f}); err != nil {
		t.Fatal(err)
	}
	g := testFrame(rng, 8, 200, 0x45)
	if _, err := b.SendBatch(context.Background(), [][]byte{g}); err != nil {
		t.Fatal(err)
	}
	if got := recvN(t, a, 1, 2*time.Second); len(got) != 1 || !bytes.Equal(got[0], g) {
		t.Errorf("a received %d frames, want b's one", len(got))
	}
	if got := recvN(t, b, 1, 2*time.Second); len(got) != 1 || !bytes.Equal(got[0], f) {
		t.Errorf("b received %d frames, want a's one", len(got))
	}
}

func TestPortSendOnlyQueuesNothing(t *testing.T) {
	ns := newNS(t, [2]string{"pa", "pb"})
	a := openPort(t, ns, "pa", PortOptions{SendOnly: true})
	b := openPort(t, ns, "pb", PortOptions{})
	rng := rand.New(rand.NewPCG(5, 6))
	if _, err := b.SendBatch(context.Background(), [][]byte{testFrame(rng, 1, 60, 0x45)}); err != nil {
		t.Fatal(err)
	}
	if got := recvN(t, a, 1, 100*time.Millisecond); len(got) != 0 {
		t.Errorf("send-only port received %d frames", len(got))
	}
}

func TestPortTruncDrainAndErrors(t *testing.T) {
	ns := newNS(t, [2]string{"pa", "pb"})
	a := openPort(t, ns, "pa", PortOptions{})
	b := openPort(t, ns, "pb", PortOptions{})
	rng := rand.New(rand.NewPCG(7, 8))
	ctx := context.Background()

	// A frame longer than its buffer is cut, and lens says so.
	if _, err := a.SendBatch(ctx, [][]byte{testFrame(rng, 1, 500, 0x45)}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	lens := make([]int, 1)
	if n, err := b.RecvBatch(rctx, [][]byte{make([]byte, 100)}, lens, nil); err != nil || n != 1 || lens[0] != 500 {
		t.Fatalf("RecvBatch into a short buffer = %d, %v, len %d; want 1 frame of 500", n, err, lens[0])
	}

	// Drain discards what is queued.
	frames := [][]byte{testFrame(rng, 2, 60, 0x45), testFrame(rng, 3, 60, 0x45), testFrame(rng, 4, 60, 0x45)}
	if _, err := a.SendBatch(ctx, frames); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Drain(); err != nil || n != 3 {
		t.Errorf("Drain = %d, %v; want 3", n, err)
	}
	if got := recvN(t, b, 1, 100*time.Millisecond); len(got) != 0 {
		t.Errorf("received %d frames after Drain", len(got))
	}

	// Too big for the MTU: the error says what the limit is and which frame.
	big := testFrame(rng, 5, 9700, 0x45)
	n, err := a.SendBatch(ctx, [][]byte{frames[0], big})
	if n != 1 || err == nil || !strings.Contains(err.Error(), "frame 1 (9700 bytes)") || !strings.Contains(err.Error(), "MTU 9600") {
		t.Errorf("oversized frame: SendBatch = %d, %v", n, err)
	}
	if n, err := a.SendBatch(ctx, [][]byte{{}}); n != 0 || err == nil {
		t.Errorf("empty frame: SendBatch = %d, %v", n, err)
	}
}

func TestPortRecvCancelAndClose(t *testing.T) {
	ns := newNS(t, [2]string{"pa", "pb"})
	b := openPort(t, ns, "pb", PortOptions{})
	bufs, lens := [][]byte{make([]byte, 1600)}, make([]int, 1)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := b.RecvBatch(ctx, bufs, lens, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RecvBatch after cancel = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("RecvBatch took %v to notice the cancel", d)
	}

	done := make(chan error, 1)
	go func() {
		_, err := b.RecvBatch(context.Background(), bufs, lens, nil)
		done <- err
	}()
	time.Sleep(30 * time.Millisecond)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("RecvBatch after Close = %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("RecvBatch did not return after Close")
	}
	if _, err := b.SendBatch(context.Background(), [][]byte{make([]byte, 60)}); !errors.Is(err, ErrClosed) {
		t.Errorf("SendBatch after Close = %v, want ErrClosed", err)
	}
}

func TestPortFiltersOutgoingWithoutIgnoreOption(t *testing.T) {
	// Kernels before 4.20 lack PACKET_IGNORE_OUTGOING; RecvBatch then drops
	// the port's own sends itself, keeping frames that arrive around them.
	ns := newNS(t, [2]string{"pa", "pb"})
	a := openPort(t, ns, "pa", PortOptions{})
	b := openPort(t, ns, "pb", PortOptions{})
	if err := unix.SetsockoptInt(a.fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 0); err != nil {
		t.Fatal(err)
	}
	a.filterOutgoing = true
	rng := rand.New(rand.NewPCG(9, 10))
	ctx := context.Background()
	var want [][]byte
	for i := range 5 {
		if _, err := a.SendBatch(ctx, [][]byte{testFrame(rng, uint32(i), 80, 0x45)}); err != nil {
			t.Fatal(err)
		}
		g := testFrame(rng, uint32(100+i), 90, 0x45)
		if _, err := b.SendBatch(ctx, [][]byte{g}); err != nil {
			t.Fatal(err)
		}
		want = append(want, g)
	}
	got := recvN(t, a, len(want)+1, 300*time.Millisecond)
	if len(got) != len(want) {
		t.Fatalf("received %d frames, want the %d from b", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("frame %d is not b's", i)
		}
	}
}
