package board

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// The protocol between Go and the simulated board (board.cpp) on the board's
// stdin and stdout. Every message is one type byte and fixed little-endian
// fields, some followed by frame bytes. Requests are executed strictly in
// order; frames are put on the bus no earlier than their time, in the order
// sent. Replies come only for what asks one (FRAME gives SENT when its first
// beat is accepted), plus OUT for every frame leaving the filter.
//
// Requests (Go → board):
//
//	FRAME  1  u64 tag, u64 at_ns (relative to BASE; AtOnce = as soon as possible),
//	          u32 len, u8 flags (bit0 = MAC error: tuser on the last beat), data
//	WRITE  2  u32 addr, u32 data                  → WRITE_DONE
//	READ   3  u32 addr                            → READ_DONE
//	SYNC   4  u64 token: run until nothing is in flight → SYNCED
//	BASE   5  the current cycle becomes at_ns 0
//	CONFIG 6  u32 backpressure (parts per million of cycles m_axis_tready is low),
//	          u64 seed, u8 flags (bit0 = live: keep clocking while frames are in
//	          flight and no request is waiting)
//	RESET  7  reset the whole design (rules, counters, buckets)
//	QUIT   8
//
// Replies (board → Go):
//
//	HELLO      0x80 "PFSB", u32 version, u32 data width, u64 clock Hz, u32 LATENCY cycles
//	SENT       0x81 u64 tag, u64 time_ns of the first beat (what the policer sampled)
//	OUT        0x82 u64 time_ns first beat, u64 time_ns last beat, u32 len, u8 flags (bit0 tuser), data
//	WRITE_DONE 0x83 u32 addr, u8 resp (AXI: 0 OKAY, 2 SLVERR, 3 DECERR)
//	READ_DONE  0x84 u32 addr, u32 data, u8 resp
//	SYNCED     0x85 u64 token, u64 cycle, u64 time_ns
//	ERROR      0x8F u32 len, text; the board then exits
const (
	reqFrame  = 1
	reqWrite  = 2
	reqRead   = 3
	reqSync   = 4
	reqBase   = 5
	reqConfig = 6
	reqReset  = 7
	reqQuit   = 8

	repHello  = 0x80
	repSent   = 0x81
	repOut    = 0x82
	repWrite  = 0x83
	repRead   = 0x84
	repSynced = 0x85
	repError  = 0x8F

	protocolVersion = 1
	// AtOnce as a frame time puts the frame on the bus as soon as possible.
	AtOnce = ^uint64(0)
	// MaxFrameBytes is the longest frame the protocol carries.
	MaxFrameBytes = 65535
)

var le = binary.LittleEndian

// encoder writes requests.
type encoder struct {
	w   *bufio.Writer
	buf [32]byte
}

func (e *encoder) frame(tag, atNS uint64, data []byte, macError bool) error {
	if len(data) == 0 || len(data) > MaxFrameBytes {
		return fmt.Errorf("frame %d is %d bytes; the simulated board takes 1..%d", tag, len(data), MaxFrameBytes)
	}
	b := e.buf[:22]
	b[0] = reqFrame
	le.PutUint64(b[1:], tag)
	le.PutUint64(b[9:], atNS)
	le.PutUint32(b[17:], uint32(len(data)))
	b[21] = 0
	if macError {
		b[21] = 1
	}
	e.w.Write(b)
	_, err := e.w.Write(data)
	return err
}

func (e *encoder) write(addr, data uint32) error {
	b := e.buf[:9]
	b[0] = reqWrite
	le.PutUint32(b[1:], addr)
	le.PutUint32(b[5:], data)
	_, err := e.w.Write(b)
	return err
}

func (e *encoder) read(addr uint32) error {
	b := e.buf[:5]
	b[0] = reqRead
	le.PutUint32(b[1:], addr)
	_, err := e.w.Write(b)
	return err
}

func (e *encoder) sync(token uint64) error {
	b := e.buf[:9]
	b[0] = reqSync
	le.PutUint64(b[1:], token)
	_, err := e.w.Write(b)
	return err
}

func (e *encoder) simple(kind byte) error { return e.w.WriteByte(kind) }

func (e *encoder) config(backpressurePPM uint32, seed uint64, live bool) error {
	b := e.buf[:14]
	b[0] = reqConfig
	le.PutUint32(b[1:], backpressurePPM)
	le.PutUint64(b[5:], seed)
	b[13] = 0
	if live {
		b[13] = 1
	}
	_, err := e.w.Write(b)
	return err
}

// reply is one decoded reply; which fields are set depends on kind.
type reply struct {
	kind     byte
	tag      uint64 // SENT, SYNCED (token)
	timeNS   uint64 // SENT, OUT (first beat), SYNCED
	lastNS   uint64 // OUT
	cycle    uint64 // SYNCED
	addr     uint32 // WRITE_DONE, READ_DONE
	data     uint32 // READ_DONE
	resp     uint8  // WRITE_DONE, READ_DONE
	macError bool   // OUT
	frame    []byte // OUT
	text     string // ERROR
}

// Hello is what the board says about itself when it starts.
type Hello struct {
	DataWidth int
	ClockHz   uint64
	// Latency is the filter's fixed delay in cycles (GEOMETRY register).
	Latency int
}

func readHello(r *bufio.Reader) (Hello, error) {
	var b [25]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Hello{}, fmt.Errorf("no greeting from the simulated board: %w", err)
	}
	if b[0] != repHello || string(b[1:5]) != "PFSB" {
		return Hello{}, fmt.Errorf("the simulated board's greeting is % x, not HELLO; is this a board build of this fpgactl?", b[:5])
	}
	if v := le.Uint32(b[5:]); v != protocolVersion {
		return Hello{}, fmt.Errorf("simulated board speaks protocol %d, fpgactl speaks %d; rebuild it", v, protocolVersion)
	}
	return Hello{DataWidth: int(le.Uint32(b[9:])), ClockHz: le.Uint64(b[13:]), Latency: int(le.Uint32(b[21:]))}, nil
}

func readReply(r *bufio.Reader) (reply, error) {
	kind, err := r.ReadByte()
	if err != nil {
		return reply{}, err
	}
	var b [28]byte
	n := replyFixedSize(kind)
	if n < 0 {
		return reply{}, fmt.Errorf("simulated board sent unknown reply type 0x%02x", kind)
	}
	if _, err := io.ReadFull(r, b[:n]); err != nil {
		return reply{}, io.ErrUnexpectedEOF
	}
	rp := reply{kind: kind}
	switch kind {
	case repSent:
		rp.tag, rp.timeNS = le.Uint64(b[0:]), le.Uint64(b[8:])
	case repOut:
		rp.timeNS, rp.lastNS = le.Uint64(b[0:]), le.Uint64(b[8:])
		size := le.Uint32(b[16:])
		rp.macError = b[20]&1 != 0
		rp.frame = make([]byte, size)
		if _, err := io.ReadFull(r, rp.frame); err != nil {
			return reply{}, io.ErrUnexpectedEOF
		}
	case repWrite:
		rp.addr, rp.resp = le.Uint32(b[0:]), b[4]
	case repRead:
		rp.addr, rp.data, rp.resp = le.Uint32(b[0:]), le.Uint32(b[4:]), b[8]
	case repSynced:
		rp.tag, rp.cycle, rp.timeNS = le.Uint64(b[0:]), le.Uint64(b[8:]), le.Uint64(b[16:])
	case repError:
		text := make([]byte, le.Uint32(b[0:]))
		io.ReadFull(r, text)
		rp.text = string(text)
	}
	return rp, nil
}

// replyFixedSize is the size of a reply's fixed fields after its type byte,
// -1 for an unknown type.
func replyFixedSize(kind byte) int {
	switch kind {
	case repSent:
		return 16
	case repOut:
		return 21
	case repWrite:
		return 5
	case repRead:
		return 9
	case repSynced:
		return 24
	case repError:
		return 4
	}
	return -1
}

// respName names an AXI response code.
func respName(resp uint8) string {
	return [...]string{"OKAY", "EXOKAY", "SLVERR", "DECERR"}[resp&3]
}
