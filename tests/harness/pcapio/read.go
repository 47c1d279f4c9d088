package pcapio

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
)

// Magic numbers, read as little-endian uint32 from the first four bytes.
const (
	magicMicroLE = 0xa1b2c3d4
	magicMicroBE = 0xd4c3b2a1
	magicNanoLE  = 0xa1b23c4d
	magicNanoBE  = 0x4d3cb2a1
)

const (
	pcapHeaderLen = 24
	pcapRecordLen = 16

	ngByteOrderMagic = 0x1a2b3c4d
	ngBlockSHB       = 0x0a0d0d0a // also the file's magic number
	ngBlockIDB       = 1
	ngBlockPB        = 2 // obsolete packet block
	ngBlockSPB       = 3
	ngBlockEPB       = 6

	// maxBlockLen bounds a pcapng block: a full-size packet plus generous
	// room for options. Longer blocks are corrupt, not big.
	maxBlockLen = MaxSnapLen + 1<<16
)

// ReadOptions tune ReadFile.
type ReadOptions struct {
	// MaxFrames stops reading after this many frames; the rest of the file
	// is not checked. Zero or less reads the whole file.
	MaxFrames int
}

// ReadFile reads every frame of a pcap or pcapng file.
func ReadFile(path string, opts ReadOptions) ([]Frame, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var frames []Frame
	for opts.MaxFrames <= 0 || len(frames) < opts.MaxFrames {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		frames = append(frames, f)
	}
	return frames, nil
}

// Reader streams frames from a capture file. Create it with Open.
type Reader struct {
	path   string
	r      io.Reader
	closer io.Closer
	off    int64 // offset of the next unread byte
	remain int64 // bytes left in the input, or -1 if unknown
	record int   // number of the record being read
	err    error // sticky: once the input is bad, it stays bad

	ng bool
	// classic pcap
	order   binary.ByteOrder
	nsScale uint64
	snaplen uint32
	// pcapng
	ifaces []ngIface
	block  []byte
}

type ngIface struct {
	snaplen  uint32
	tsresol  byte  // if_tsresol: 10^-n, or 2^-n with the top bit set
	tsoffset int64 // if_tsoffset, seconds
}

// Open opens a pcap or pcapng file, checks its header and returns a
// Reader positioned at the first frame. Close it when done.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	r, err := newReader(path, bufio.NewReaderSize(f, 64<<10), size)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// Close closes the underlying file.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	err := r.closer.Close()
	r.closer = nil
	return err
}

// newReader reads the file header from in. size is the number of bytes in
// in, or -1 if unknown; when known, no length from the file can make the
// reader allocate more than size bytes.
func newReader(path string, in io.Reader, size int64) (*Reader, error) {
	r := &Reader{path: path, r: in, remain: size}
	var m [4]byte
	n, err := r.read(m[:])
	switch {
	case n == 0 && err == io.ErrUnexpectedEOF:
		return nil, r.fail(0, "file is empty; expected a pcap or pcapng capture")
	case err == io.ErrUnexpectedEOF:
		return nil, r.fail(0, fmt.Sprintf("file header is truncated: %d bytes, too short for a magic number", n))
	case err != nil:
		return nil, err
	}
	switch magic := binary.LittleEndian.Uint32(m[:]); magic {
	case magicMicroLE:
		return r, r.pcapHeader(binary.LittleEndian, 1000)
	case magicMicroBE:
		return r, r.pcapHeader(binary.BigEndian, 1000)
	case magicNanoLE:
		return r, r.pcapHeader(binary.LittleEndian, 1)
	case magicNanoBE:
		return r, r.pcapHeader(binary.BigEndian, 1)
	case ngBlockSHB:
		r.ng = true
		return r, r.ngSectionHeader(0, m[:])
	default:
		if m[0] == 0x1f && m[1] == 0x8b {
			return nil, r.fail(0, "file is gzip-compressed; decompress it first (gunzip)")
		}
		return nil, r.fail(0, fmt.Sprintf("unknown magic number %#08x; expected pcap (a1b2c3d4 or a1b23c4d, either byte order) or pcapng (0a0d0d0a)", magic))
	}
}

// Next returns the next frame, or io.EOF after the last one.
func (r *Reader) Next() (Frame, error) {
	if r.err != nil {
		return Frame{}, r.err
	}
	var f Frame
	var err error
	if r.ng {
		f, err = r.nextNg()
	} else {
		f, err = r.nextPcap()
	}
	if err != nil {
		r.err = err
	}
	return f, err
}

// read fills p, returning io.ErrUnexpectedEOF if the input ends first.
func (r *Reader) read(p []byte) (int, error) {
	n, err := io.ReadFull(r.r, p)
	r.off += int64(n)
	if r.remain >= 0 {
		r.remain -= int64(n)
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.ErrUnexpectedEOF {
		err = fmt.Errorf("%s: read at byte %d: %w", r.path, r.off, err)
	}
	return n, err
}

// fits reports whether n more bytes may be in the input; it is false only
// when the input is known to be shorter.
func (r *Reader) fits(n int64) bool { return r.remain < 0 || n <= r.remain }

func (r *Reader) fail(start int64, msg string) error {
	return &FileError{Path: r.path, Record: r.record, Offset: start, Msg: msg}
}

// checkLengths applies the length rules shared by both formats.
func (r *Reader) checkLengths(start int64, caplen, origlen, snaplen uint32) error {
	switch {
	case caplen > MaxSnapLen:
		return r.fail(start, fmt.Sprintf("captured length %d exceeds the %d-byte maximum; the file is corrupt", caplen, MaxSnapLen))
	case snaplen != 0 && caplen > snaplen:
		return r.fail(start, fmt.Sprintf("captured length %d exceeds the %d-byte snap length", caplen, snaplen))
	case origlen < caplen:
		return r.fail(start, fmt.Sprintf("original length %d is less than captured length %d; the file is corrupt", origlen, caplen))
	}
	return nil
}

// Classic pcap.

func (r *Reader) pcapHeader(order binary.ByteOrder, nsScale uint64) error {
	r.order, r.nsScale = order, nsScale
	var h [pcapHeaderLen - 4]byte
	if n, err := r.read(h[:]); err == io.ErrUnexpectedEOF {
		return r.fail(0, fmt.Sprintf("file header is truncated: %d of %d bytes", 4+n, pcapHeaderLen))
	} else if err != nil {
		return err
	}
	if major := order.Uint16(h[0:2]); major != 2 {
		return r.fail(0, fmt.Sprintf("pcap version %d.%d is not supported; expected 2.x", major, order.Uint16(h[2:4])))
	}
	r.snaplen = order.Uint32(h[12:16])
	if lt := order.Uint32(h[16:20]) & 0x0fffffff; lt != LinkTypeEthernet { // top bits: FCS info
		return r.fail(0, linkTypeMsg(lt))
	}
	return nil
}

func (r *Reader) nextPcap() (Frame, error) {
	start := r.off
	r.record++
	var h [pcapRecordLen]byte
	n, err := r.read(h[:])
	if err == io.ErrUnexpectedEOF {
		if n == 0 {
			return Frame{}, io.EOF
		}
		return Frame{}, r.fail(start, fmt.Sprintf("record header is truncated: %d of %d bytes", n, pcapRecordLen))
	} else if err != nil {
		return Frame{}, err
	}
	caplen, origlen := r.order.Uint32(h[8:12]), r.order.Uint32(h[12:16])
	if err := r.checkLengths(start, caplen, origlen, r.snaplen); err != nil {
		return Frame{}, err
	}
	if !r.fits(int64(caplen)) {
		return Frame{}, r.fail(start, fmt.Sprintf("record is truncated: %d of %d data bytes present", r.remain, caplen))
	}
	data := make([]byte, caplen)
	if n, err := r.read(data); err == io.ErrUnexpectedEOF {
		return Frame{}, r.fail(start, fmt.Sprintf("record is truncated: %d of %d data bytes present", n, caplen))
	} else if err != nil {
		return Frame{}, err
	}
	ts := uint64(r.order.Uint32(h[0:4]))*1e9 + uint64(r.order.Uint32(h[4:8]))*r.nsScale
	return Frame{Data: data, TimeNS: ts, OrigLen: int(origlen)}, nil
}

// pcapng.

// nextNg returns the next packet, handling the blocks before it.
func (r *Reader) nextNg() (Frame, error) {
	for {
		start := r.off
		r.record++
		var h [8]byte
		n, err := r.read(h[:])
		if err == io.ErrUnexpectedEOF {
			if n == 0 {
				return Frame{}, io.EOF
			}
			return Frame{}, r.fail(start, fmt.Sprintf("block header is truncated: %d of 8 bytes", n))
		} else if err != nil {
			return Frame{}, err
		}
		if binary.LittleEndian.Uint32(h[0:4]) == ngBlockSHB {
			if err := r.ngSectionHeader(start, h[:]); err != nil {
				return Frame{}, err
			}
			continue
		}
		typ := r.order.Uint32(h[0:4])
		body, err := r.ngBody(start, r.order.Uint32(h[4:8]), 8)
		if err != nil {
			return Frame{}, err
		}
		switch typ {
		case ngBlockIDB:
			if err := r.ngInterface(start, body); err != nil {
				return Frame{}, err
			}
		case ngBlockEPB, ngBlockPB, ngBlockSPB:
			return r.ngPacket(start, typ, body)
		}
		// Other blocks (statistics, name resolution, ...) carry no frames.
	}
}

// ngSectionHeader reads a section header block whose first bytes, at
// least the block type, are already in got. A section resets the byte
// order and the interfaces.
func (r *Reader) ngSectionHeader(start int64, got []byte) error {
	var h [12]byte
	copy(h[:], got)
	if n, err := r.read(h[len(got):]); err == io.ErrUnexpectedEOF {
		return r.fail(start, fmt.Sprintf("section header is truncated: %d of 12 bytes", len(got)+n))
	} else if err != nil {
		return err
	}
	switch {
	case binary.LittleEndian.Uint32(h[8:12]) == ngByteOrderMagic:
		r.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[8:12]) == ngByteOrderMagic:
		r.order = binary.BigEndian
	default:
		return r.fail(start, "section header has a bad byte-order magic; the file is not pcapng or is corrupt")
	}
	body, err := r.ngBody(start, r.order.Uint32(h[4:8]), 12)
	if err != nil {
		return err
	}
	if len(body) < 4 {
		return r.fail(start, "section header block is too short")
	}
	if major := r.order.Uint16(body[0:2]); major != 1 {
		return r.fail(start, fmt.Sprintf("pcapng version %d.%d is not supported; expected 1.x", major, r.order.Uint16(body[2:4])))
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

// ngBody reads the rest of a block of total length blockLen of which
// headLen bytes are read, checks the trailing length and returns the
// block body without it. The body is valid until the next call.
func (r *Reader) ngBody(start int64, blockLen uint32, headLen int) ([]byte, error) {
	if blockLen%4 != 0 || blockLen < uint32(headLen)+4 || blockLen > maxBlockLen {
		return nil, r.fail(start, fmt.Sprintf("block length %d is invalid; the file is corrupt", blockLen))
	}
	rest := int(blockLen) - headLen
	if !r.fits(int64(rest)) {
		return nil, r.fail(start, fmt.Sprintf("block is truncated: %d of %d bytes present", int64(headLen)+r.remain, blockLen))
	}
	if cap(r.block) < rest {
		r.block = make([]byte, rest)
	}
	b := r.block[:rest]
	if n, err := r.read(b); err == io.ErrUnexpectedEOF {
		return nil, r.fail(start, fmt.Sprintf("block is truncated: %d of %d bytes present", headLen+n, blockLen))
	} else if err != nil {
		return nil, err
	}
	if tail := r.order.Uint32(b[rest-4:]); tail != blockLen {
		return nil, r.fail(start, fmt.Sprintf("block length %d at the end does not match %d at the start; the file is corrupt", tail, blockLen))
	}
	return b[:rest-4], nil
}

func (r *Reader) ngInterface(start int64, body []byte) error {
	if len(body) < 8 {
		return r.fail(start, "interface description block is too short")
	}
	if lt := uint32(r.order.Uint16(body[0:2])); lt != LinkTypeEthernet {
		return r.fail(start, linkTypeMsg(lt))
	}
	ifc := ngIface{snaplen: r.order.Uint32(body[4:8]), tsresol: 6}
	opts := body[8:]
	for len(opts) >= 4 {
		code, n := r.order.Uint16(opts[0:2]), int(r.order.Uint16(opts[2:4]))
		if code == 0 || 4+n > len(opts) {
			break
		}
		v := opts[4 : 4+n]
		switch {
		case code == 9 && n >= 1: // if_tsresol
			ifc.tsresol = v[0]
		case code == 14 && n >= 8: // if_tsoffset
			ifc.tsoffset = int64(r.order.Uint64(v))
		}
		opts = opts[min(len(opts), 4+(n+3)&^3):]
	}
	if res := ifc.tsresol; (res&0x80 == 0 && res > 19) || res&0x7f > 63 {
		return r.fail(start, fmt.Sprintf("timestamp resolution %#x is not supported", res))
	}
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

func (r *Reader) ngPacket(start int64, typ uint32, body []byte) (Frame, error) {
	var ifID, caplen, origlen uint32
	var ts uint64
	var data []byte
	switch typ {
	case ngBlockSPB:
		if len(body) < 4 {
			return Frame{}, r.fail(start, "simple packet block is too short")
		}
		origlen, data = r.order.Uint32(body[0:4]), body[4:]
		caplen = uint32(min(int64(origlen), int64(len(data))))
		if len(r.ifaces) > 0 && r.ifaces[0].snaplen != 0 {
			caplen = min(caplen, r.ifaces[0].snaplen)
		}
	default:
		if len(body) < 20 {
			return Frame{}, r.fail(start, "packet block is too short")
		}
		if typ == ngBlockPB {
			ifID = uint32(r.order.Uint16(body[0:2]))
		} else {
			ifID = r.order.Uint32(body[0:4])
		}
		ts = uint64(r.order.Uint32(body[4:8]))<<32 | uint64(r.order.Uint32(body[8:12]))
		caplen, origlen, data = r.order.Uint32(body[12:16]), r.order.Uint32(body[16:20]), body[20:]
	}
	if int(ifID) >= len(r.ifaces) {
		return Frame{}, r.fail(start, fmt.Sprintf("packet refers to interface %d, but the section describes %d; the file is corrupt", ifID, len(r.ifaces)))
	}
	ifc := r.ifaces[ifID]
	if err := r.checkLengths(start, caplen, origlen, ifc.snaplen); err != nil {
		return Frame{}, err
	}
	if int64(caplen) > int64(len(data)) {
		return Frame{}, r.fail(start, fmt.Sprintf("captured length %d overruns the %d data bytes in the block; the file is corrupt", caplen, len(data)))
	}
	var ns uint64
	if typ != ngBlockSPB {
		var ok bool
		if ns, ok = ifc.nanos(ts); !ok {
			return Frame{}, r.fail(start, fmt.Sprintf("timestamp %d does not fit in 64-bit nanoseconds", ts))
		}
	}
	out := make([]byte, caplen)
	copy(out, data)
	return Frame{Data: out, TimeNS: ns, OrigLen: int(origlen)}, nil
}

// nanos converts a timestamp in interface units to nanoseconds.
func (i ngIface) nanos(ts uint64) (uint64, bool) {
	var ns uint64
	if i.tsresol&0x80 != 0 { // 2^-k seconds
		k := uint(i.tsresol & 0x7f)
		hi, lo := bits.Mul64(ts, 1e9)
		if k == 0 {
			if hi != 0 {
				return 0, false
			}
			ns = lo
		} else {
			if hi>>k != 0 {
				return 0, false
			}
			ns = lo>>k | hi<<(64-k)
		}
	} else { // 10^-k seconds
		k := int(i.tsresol)
		if k <= 9 {
			mul := pow10(9 - k)
			if ts > math.MaxUint64/mul {
				return 0, false
			}
			ns = ts * mul
		} else {
			ns = ts / pow10(k-9)
		}
	}
	off := i.tsoffset * 1e9
	if i.tsoffset != off/1e9 {
		return 0, false
	}
	sum := ns + uint64(off)
	if (off > 0 && sum < ns) || (off < 0 && sum > ns) {
		return 0, false
	}
	return sum, true
}

func pow10(n int) uint64 {
	p := uint64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}
