package iface

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/netns"
)

// needNetns skips the test when not root and fails it when namespaces
// are unavailable for another reason (CI runs as root, so they run there).
func needNetns(t testing.TB) {
	t.Helper()
	if err := netns.Available(); err != nil {
		if errors.Is(err, netns.ErrNotRoot) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
}

// newNS creates a namespace with the given veth pairs (MTU 9600) and
// deletes it when the test ends.
func newNS(t testing.TB, pairs ...[2]string) *netns.Namespace {
	t.Helper()
	needNetns(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := netns.Create(ctx, netns.UniqueName("fpgactl-t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Errorf("deleting namespace: %v", err)
		}
	})
	for _, p := range pairs {
		if err := ns.AddVethPair(ctx, p[0], p[1], 9600); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

func openPort(t testing.TB, ns *netns.Namespace, name string, opts PortOptions) *Port {
	t.Helper()
	opts.Netns = ns
	p, err := Open(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// testFrame is an IPv4-typed frame to a locally administered unicast MAC,
// so the namespace's IP stack ignores it, carrying seq at bytes 15..18 and
// first as its byte 14.
func testFrame(rng *rand.Rand, seq uint32, size int, first byte) []byte {
	f := make([]byte, size)
	copy(f, []byte{0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00, first})
	binary.BigEndian.PutUint32(f[15:], seq)
	for i := 19; i < size; i++ {
		f[i] = byte(rng.Uint32())
	}
	return f
}

// mixedSize returns sizes from 60 to 9000 bytes, weighted to the small
// and the common ones.
func mixedSize(rng *rand.Rand) int {
	switch rng.IntN(6) {
	case 0:
		return 60
	case 1:
		return 1514
	case 2:
		return 9000
	default:
		return 60 + rng.IntN(9000-60+1)
	}
}

// recvN receives until n frames arrived or the deadline; it returns copies.
func recvN(t testing.TB, p *Port, n int, timeout time.Duration) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	bufs := make([][]byte, 64)
	for i := range bufs {
		bufs[i] = make([]byte, 9700)
	}
	lens := make([]int, 64)
	var got [][]byte
	for len(got) < n {
		k, err := p.RecvBatch(ctx, bufs, lens, nil)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			t.Fatal(err)
		}
		for i := range k {
			got = append(got, append([]byte(nil), bufs[i][:lens[i]]...))
		}
	}
	return got
}
