// Package iface replays traffic through a pair of network interfaces: frames
// go out on one (In) and whatever the device between them forwards is
// captured on the other (Out). It stands in for the device's traffic ports
// on veth pairs (a simulated board bridged to them, or a forwarder in tests)
// and on a lab host's real interfaces.
//
// Frames are sent and received with AF_PACKET sockets and
// sendmmsg/recvmmsg, up to 256 frames per system call, so the harness is not
// what limits the rate. Times are host CLOCK_REALTIME nanoseconds: the
// kernel's receive timestamp for received frames, the time just before each
// send call for sent ones.
package iface

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fpgactl/fpgactl/internal/netns"
)

// MaxBatch is the most frames one sendmmsg or recvmmsg call handles.
const MaxBatch = 256

const (
	defaultRecvBuf = 64 << 20
	defaultSendBuf = 16 << 20
	// pollInterval bounds how long RecvBatch waits before it looks at ctx again.
	pollInterval = 20 * time.Millisecond
	minBackoff   = 20 * time.Microsecond
	maxBackoff   = time.Millisecond
)

// ErrClosed is returned by Port methods after Close.
var ErrClosed = errors.New("port closed")

// PortOptions tune Open.
type PortOptions struct {
	// Netns is the namespace the interface is in; nil = this process's.
	Netns *netns.Namespace
	// SendBuf and RecvBuf are the socket buffer sizes in bytes; 0 = 16 MiB
	// and 64 MiB. A large receive buffer lets a capture absorb a burst of
	// line-rate traffic while the harness is busy.
	SendBuf, RecvBuf int
	// SendOnly attaches a filter that drops every arriving frame before it
	// is queued, for a port that only sends: frames coming back on its
	// interface then cost nothing and never fill its buffer.
	SendOnly bool
	// QdiscBypass sends straight to the driver (PACKET_QDISC_BYPASS),
	// skipping the interface's queueing discipline and packet taps: faster,
	// but tcpdump on the interface no longer sees what the port sends.
	QdiscBypass bool
}

// mmsghdr is struct mmsghdr: x/sys/unix has the msghdr but not the wrapper.
type mmsghdr struct {
	Hdr unix.Msghdr
	Len uint32
	_   [4]byte
}

const sizeofTimespec = int(unsafe.Sizeof(unix.Timespec{}))

const sizeofAuxdata = int(unsafe.Sizeof(unix.TpacketAuxdata{}))

// ctrlSize holds one SCM_TIMESTAMPNS and one PACKET_AUXDATA message, with
// room to spare.
var ctrlSize = 2 * (unix.CmsgSpace(sizeofTimespec) + unix.CmsgSpace(sizeofAuxdata))

// Port is an AF_PACKET socket bound to one interface. It receives every
// frame arriving on the interface (never the frames sent from it) and sends
// frames as given. One goroutine may send while another receives.
type Port struct {
	name    string
	nsName  string
	ifindex int
	mtu     int
	fd      int

	// filterOutgoing is set on kernels without PACKET_IGNORE_OUTGOING
	// (before 4.20): RecvBatch then drops outgoing frames itself.
	filterOutgoing bool
	closed         atomic.Bool
	closeOnce      sync.Once
	closeErr       error

	sendMu   sync.Mutex
	sendHdrs []mmsghdr
	sendIovs []unix.Iovec

	recvMu    sync.Mutex
	recvHdrs  []mmsghdr
	recvIovs  []unix.Iovec
	recvCtrl  []byte
	recvNames []unix.RawSockaddrLinklayer
	drainBuf  []byte
}

// Open binds a port to the interface ifname, inside opts.Netns when set.
func Open(ifname string, opts PortOptions) (*Port, error) {
	p := &Port{name: ifname, fd: -1}
	var err error
	if opts.Netns != nil {
		p.nsName = opts.Netns.Name()
		err = opts.Netns.Do(func() error { return p.open(opts) })
	} else {
		err = p.open(opts)
	}
	if err != nil {
		if p.fd >= 0 {
			unix.Close(p.fd)
		}
		return nil, err
	}
	p.sendHdrs = make([]mmsghdr, MaxBatch)
	p.sendIovs = make([]unix.Iovec, MaxBatch)
	p.recvHdrs = make([]mmsghdr, MaxBatch)
	p.recvIovs = make([]unix.Iovec, MaxBatch)
	p.recvCtrl = make([]byte, MaxBatch*ctrlSize)
	p.recvNames = make([]unix.RawSockaddrLinklayer, MaxBatch)
	p.drainBuf = make([]byte, 1)
	for i := range MaxBatch {
		// Each header points at its own iovec for good; calls only change
		// what the iovecs point at.
		p.sendHdrs[i].Hdr.Iov = &p.sendIovs[i]
		p.sendHdrs[i].Hdr.SetIovlen(1)
		p.recvHdrs[i].Hdr.Iov = &p.recvIovs[i]
		p.recvHdrs[i].Hdr.SetIovlen(1)
	}
	return p, nil
}

func (p *Port) where() string {
	if p.nsName != "" {
		return fmt.Sprintf("%s (namespace %s)", p.name, p.nsName)
	}
	return p.name
}

func (p *Port) open(opts PortOptions) error {
	ifc, err := net.InterfaceByName(p.name)
	if err != nil {
		return fmt.Errorf("opening port on %s: %w; check the name with ip link", p.where(), err)
	}
	p.ifindex, p.mtu = ifc.Index, ifc.MTU
	// Protocol 0 receives nothing until bind names the interface, so no
	// frame from another interface slips in between.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return fmt.Errorf("opening AF_PACKET socket on %s: %w; run as root or give the binary CAP_NET_RAW", p.where(), err)
		}
		return fmt.Errorf("opening AF_PACKET socket on %s: %w", p.where(), err)
	}
	p.fd = fd
	recvBuf, sendBuf := opts.RecvBuf, opts.SendBuf
	if recvBuf <= 0 {
		recvBuf = defaultRecvBuf
	}
	if sendBuf <= 0 {
		sendBuf = defaultSendBuf
	}
	// The FORCE options ignore net.core.[rw]mem_max but need CAP_NET_ADMIN;
	// without it the kernel caps the plain option at the sysctl maximum.
	if err := setBuf(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, recvBuf); err != nil {
		return fmt.Errorf("setting receive buffer of %s to %d bytes: %w", p.where(), recvBuf, err)
	}
	if err := setBuf(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, sendBuf); err != nil {
		return fmt.Errorf("setting send buffer of %s to %d bytes: %w", p.where(), sendBuf, err)
	}
	if unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1) != nil {
		p.filterOutgoing = true
	}
	// Without kernel timestamps RecvBatch stamps frames when it returns.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	// With VLAN receive offload the kernel takes the outer tag off the frame
	// and hands it over as auxiliary data; RecvBatch puts it back, so the
	// frame is seen as it was on the wire.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return fmt.Errorf("enabling PACKET_AUXDATA on %s (needed to see VLAN tags): %w", p.where(), err)
	}
	if opts.QdiscBypass {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
			return fmt.Errorf("setting PACKET_QDISC_BYPASS on %s: %w; open the port without QdiscBypass", p.where(), err)
		}
	}
	if opts.SendOnly {
		// A one-instruction classic BPF program: return 0 (keep no bytes).
		drop := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
		prog := &unix.SockFprog{Len: 1, Filter: &drop[0]}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, prog); err != nil {
			return fmt.Errorf("attaching the drop-all filter to %s: %w", p.where(), err)
		}
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: p.ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("binding AF_PACKET socket to %s: %w", p.where(), err)
	}
	return nil
}

func setBuf(fd, force, plain, size int) error {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, size) == nil {
		return nil
	}
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, size)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Name is the interface the port is bound to.
func (p *Port) Name() string { return p.name }

// MTU is the interface's MTU when the port was opened. The largest frame
// it carries is MTU + 14 bytes (+4 with a VLAN tag).
func (p *Port) MTU() int { return p.mtu }

// SendBatch sends frames in order, MaxBatch per system call, and returns
// how many were sent. When the interface pushes back (EAGAIN, ENOBUFS) it
// retries with a short backoff until ctx ends, so no frame is lost to a
// full queue. On error the count says which frames went out.
func (p *Port) SendBatch(ctx context.Context, frames [][]byte) (int, error) {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	if p.closed.Load() {
		return 0, ErrClosed
	}
	sent := 0
	backoff := minBackoff
	for sent < len(frames) {
		if p.closed.Load() {
			p.clearSendIovs()
			return sent, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			p.clearSendIovs()
			return sent, fmt.Errorf("sending on %s: %d of %d frames sent: %w", p.where(), sent, len(frames), err)
		}
		k := min(len(frames)-sent, MaxBatch)
		for j, f := range frames[sent : sent+k] {
			if len(f) == 0 {
				if j == 0 {
					return sent, fmt.Errorf("sending on %s: frame %d is empty", p.where(), sent)
				}
				k = j // send the frames before it; the next round reports it
				break
			}
			p.sendIovs[j].Base = &f[0]
			p.sendIovs[j].SetLen(len(f))
		}
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(p.fd),
			uintptr(unsafe.Pointer(&p.sendHdrs[0])), uintptr(k), 0, 0, 0)
		runtime.KeepAlive(frames)
		switch errno {
		case 0:
			sent += int(r)
			backoff = minBackoff
		case unix.EINTR:
		case unix.EAGAIN, unix.ENOBUFS:
			// The frame was not queued: wait for room and send it again.
			if err := p.backoff(ctx, errno, backoff); err != nil {
				p.clearSendIovs()
				return sent, fmt.Errorf("sending on %s: %d of %d frames sent: %w", p.where(), sent, len(frames), err)
			}
			backoff = min(2*backoff, maxBackoff)
		default:
			p.clearSendIovs()
			return sent, p.sendError(sent, len(frames[sent]), errno)
		}
	}
	p.clearSendIovs()
	return sent, nil
}

// clearSendIovs drops the iovecs' pointers so they do not keep the
// caller's frames alive.
func (p *Port) clearSendIovs() {
	for i := range p.sendIovs {
		p.sendIovs[i].Base = nil
	}
}

func (p *Port) backoff(ctx context.Context, errno unix.Errno, d time.Duration) error {
	if errno == unix.EAGAIN {
		// Socket buffer full: wait until it drains (or d passes).
		fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLOUT}}
		_, _ = unix.Poll(fds, max(1, int(d/time.Millisecond)))
		return ctx.Err()
	}
	// Device queue full: nothing to poll for, so sleep.
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (p *Port) sendError(i, size int, errno unix.Errno) error {
	switch errno {
	case unix.EMSGSIZE:
		return fmt.Errorf("sending frame %d (%d bytes) on %s: %w; the interface takes at most %d bytes (MTU %d + 14), raise it with ip link set %s mtu 9600",
			i, size, p.where(), errno, p.mtu+14, p.mtu, p.name)
	case unix.ENETDOWN, unix.ENXIO, unix.ENODEV:
		return fmt.Errorf("sending frame %d on %s: %w; is the interface up (ip link set %s up)?", i, p.where(), errno, p.name)
	case unix.EINVAL:
		return fmt.Errorf("sending frame %d (%d bytes) on %s: %w; a frame needs at least a 14-byte Ethernet header", i, size, p.where(), errno)
	case unix.EBADF:
		return ErrClosed
	}
	return fmt.Errorf("sending frame %d on %s: %w", i, p.where(), errno)
}

// RecvBatch waits for frames and fills bufs with up to min(len(bufs),
// MaxBatch) of them: lens[i] is frame i's length and stamps[i] its receive
// time (CLOCK_REALTIME ns; stamps may be nil). A frame longer than its
// buffer is cut to it, and lens[i] > len(bufs[i]) says so. It returns as
// soon as at least one frame is there, or with ctx's error within about
// 20 ms of ctx ending.
func (p *Port) RecvBatch(ctx context.Context, bufs [][]byte, lens []int, stamps []uint64) (int, error) {
	n := min(len(bufs), len(lens), MaxBatch)
	if stamps != nil {
		n = min(n, len(stamps))
	}
	if n == 0 {
		return 0, fmt.Errorf("receiving on %s: no buffers given", p.where())
	}
	p.recvMu.Lock()
	defer p.recvMu.Unlock()
	defer p.clearRecvIovs(n)
	for {
		if p.closed.Load() {
			return 0, ErrClosed
		}
		for j := range n {
			if len(bufs[j]) == 0 {
				return 0, fmt.Errorf("receiving on %s: buffer %d is empty", p.where(), j)
			}
			h := &p.recvHdrs[j]
			p.recvIovs[j].Base = &bufs[j][0]
			p.recvIovs[j].SetLen(len(bufs[j]))
			// The kernel rewrites these; every call starts afresh.
			h.Hdr.Control = &p.recvCtrl[j*ctrlSize]
			h.Hdr.SetControllen(ctrlSize)
			h.Hdr.Flags = 0
			if p.filterOutgoing {
				h.Hdr.Name = (*byte)(unsafe.Pointer(&p.recvNames[j]))
				h.Hdr.Namelen = unix.SizeofSockaddrLinklayer
			}
		}
		// MSG_TRUNC makes msg_len the frame's real length.
		r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(p.fd),
			uintptr(unsafe.Pointer(&p.recvHdrs[0])), uintptr(n), unix.MSG_TRUNC, 0, 0)
		runtime.KeepAlive(bufs)
		switch errno {
		case 0:
			if got := p.collect(int(r), bufs, lens, stamps); got > 0 {
				return got, nil
			}
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN:
		case unix.EBADF:
			return 0, ErrClosed
		default:
			return 0, fmt.Errorf("receiving on %s: %w", p.where(), errno)
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
		_, _ = unix.Poll(fds, int(pollInterval/time.Millisecond))
	}
}

// collect fills lens and stamps for the r messages received and returns
// how many frames remain after dropping outgoing ones.
func (p *Port) collect(r int, bufs [][]byte, lens []int, stamps []uint64) int {
	now := uint64(time.Now().UnixNano())
	w := 0
	for j := range r {
		h := &p.recvHdrs[j]
		if p.filterOutgoing && p.recvNames[j].Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if w != j {
			copy(bufs[w], bufs[j][:min(int(h.Len), len(bufs[j]))])
		}
		ts, aux := p.controls(j, h, now)
		lens[w] = int(h.Len)
		if aux != nil && aux.Status&unix.TP_STATUS_VLAN_VALID != 0 {
			lens[w] = insertVLAN(bufs[w], int(h.Len), aux)
		}
		if stamps != nil {
			stamps[w] = ts
		}
		w++
	}
	return w
}

// controls returns message j's SCM_TIMESTAMPNS time (now when it has none)
// and its PACKET_AUXDATA (nil when none).
func (p *Port) controls(j int, h *mmsghdr, now uint64) (uint64, *unix.TpacketAuxdata) {
	ctrl := p.recvCtrl[j*ctrlSize : (j+1)*ctrlSize]
	clen := min(int(h.Hdr.Controllen), len(ctrl))
	ts := now
	var aux *unix.TpacketAuxdata
	for off := 0; off+unix.SizeofCmsghdr <= clen; {
		c := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[off]))
		if int(c.Len) < unix.CmsgLen(0) || off+int(c.Len) > clen {
			break
		}
		data := off + unix.CmsgLen(0)
		switch {
		case c.Level == unix.SOL_SOCKET && c.Type == unix.SCM_TIMESTAMPNS && int(c.Len) >= unix.CmsgLen(sizeofTimespec):
			ts = uint64((*unix.Timespec)(unsafe.Pointer(&ctrl[data])).Nano())
		case c.Level == unix.SOL_PACKET && c.Type == unix.PACKET_AUXDATA && int(c.Len) >= unix.CmsgLen(sizeofAuxdata):
			a := *(*unix.TpacketAuxdata)(unsafe.Pointer(&ctrl[data]))
			aux = &a
		}
		off += unix.CmsgSpace(int(c.Len) - unix.CmsgLen(0))
	}
	return ts, aux
}

// insertVLAN puts the tag the kernel took off back after the MAC addresses
// of the n-byte frame in buf and returns the frame's new length (which is
// larger than len(buf) when the end no longer fits: the frame is cut).
func insertVLAN(buf []byte, n int, aux *unix.TpacketAuxdata) int {
	if n < 12 || len(buf) < 16 {
		return n
	}
	tpid := uint16(0x8100)
	if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 && aux.Vlan_tpid != 0 {
		tpid = aux.Vlan_tpid
	}
	copy(buf[16:], buf[12:min(n, len(buf))])
	buf[12], buf[13] = byte(tpid>>8), byte(tpid)
	buf[14], buf[15] = byte(aux.Vlan_tci>>8), byte(aux.Vlan_tci)
	return n + 4
}

func (p *Port) clearRecvIovs(n int) {
	for i := range n {
		p.recvIovs[i].Base = nil
	}
}

// Drain discards the frames queued on the port and resets its drop count,
// so that a capture starts clean. It stops as soon as the queue is seen
// empty, so traffic that keeps arriving does not hold it up.
func (p *Port) Drain() (int, error) {
	p.recvMu.Lock()
	defer p.recvMu.Unlock()
	if p.closed.Load() {
		return 0, ErrClosed
	}
	for j := range MaxBatch {
		// One shared byte: MSG_TRUNC discards the rest of each frame.
		p.recvIovs[j].Base = &p.drainBuf[0]
		p.recvIovs[j].SetLen(1)
		p.recvHdrs[j].Hdr.Control = nil
		p.recvHdrs[j].Hdr.SetControllen(0)
		p.recvHdrs[j].Hdr.Name = nil
		p.recvHdrs[j].Hdr.Namelen = 0
	}
	defer p.clearRecvIovs(MaxBatch)
	total := 0
	for {
		r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(p.fd),
			uintptr(unsafe.Pointer(&p.recvHdrs[0])), MaxBatch, unix.MSG_TRUNC, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno == unix.EAGAIN {
			break
		}
		if errno != 0 {
			return total, fmt.Errorf("draining %s: %w", p.where(), errno)
		}
		total += int(r)
		if int(r) < MaxBatch {
			break
		}
	}
	if _, err := p.dropsLocked(); err != nil {
		return total, err
	}
	return total, nil
}

// Drops returns how many arriving frames the kernel dropped since the last
// call (or Open, or Drain) because the receive buffer was full. A capture
// with drops is incomplete through no fault of the device.
func (p *Port) Drops() (uint64, error) {
	p.recvMu.Lock()
	defer p.recvMu.Unlock()
	return p.dropsLocked()
}

func (p *Port) dropsLocked() (uint64, error) {
	if p.closed.Load() {
		return 0, ErrClosed
	}
	// PACKET_STATISTICS reads and resets the counters.
	st, err := unix.GetsockoptTpacketStats(p.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, fmt.Errorf("reading packet statistics of %s: %w", p.where(), err)
	}
	return uint64(st.Drops), nil
}

// Close closes the socket. A RecvBatch or SendBatch in progress returns
// ErrClosed within about 20 ms, before the socket is closed.
func (p *Port) Close() error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		// Taking both locks waits out calls still using the fd, so a number
		// reused by a new socket is never read from or written to here.
		p.sendMu.Lock()
		p.recvMu.Lock()
		p.closeErr = unix.Close(p.fd)
		p.fd = -1
		p.recvMu.Unlock()
		p.sendMu.Unlock()
	})
	return p.closeErr
}
