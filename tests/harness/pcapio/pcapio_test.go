package pcapio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// frame returns an n-byte frame whose bytes are easy to tell apart.
func frame(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// pcapFile builds a classic pcap file; recs are (ts sec, ts frac, caplen,
// origlen, data) records, written as given so they can be wrong.
type rec struct {
	sec, frac, caplen, origlen uint32
	data                       []byte
}

func pcapFile(order binary.ByteOrder, magic, snaplen, linkType uint32, recs ...rec) []byte {
	var b bytes.Buffer
	h := make([]byte, 24)
	order.PutUint32(h[0:4], magic)
	order.PutUint16(h[4:6], 2)
	order.PutUint16(h[6:8], 4)
	order.PutUint32(h[16:20], snaplen)
	order.PutUint32(h[20:24], linkType)
	b.Write(h)
	for _, r := range recs {
		rh := make([]byte, 16)
		order.PutUint32(rh[0:4], r.sec)
		order.PutUint32(rh[4:8], r.frac)
		order.PutUint32(rh[8:12], r.caplen)
		order.PutUint32(rh[12:16], r.origlen)
		b.Write(rh)
		b.Write(r.data)
	}
	return b.Bytes()
}

func goodRec(n int, seed byte) rec {
	return rec{sec: 1, frac: uint32(seed), caplen: uint32(n), origlen: uint32(n), data: frame(n, seed)}
}

func TestRoundTripKeepsNanoseconds(t *testing.T) {
	want := []Frame{
		{Data: frame(60, 1), TimeNS: 1_700_000_000_123_456_789, OrigLen: 60},
		{Data: frame(1514, 2), TimeNS: 1_700_000_000_123_456_790, OrigLen: 1514},
		{Data: frame(128, 3), TimeNS: 0, OrigLen: 9000}, // cut capture
		{Data: frame(9018, 4), TimeNS: 4_294_967_295_999_999_999, OrigLen: 9018},
	}
	path := filepath.Join(t.TempDir(), "rt.pcap")
	if err := WriteFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, want)
	}
	if got[0].Truncated() || !got[2].Truncated() {
		t.Errorf("Truncated: got %v, %v; want false, true", got[0].Truncated(), got[2].Truncated())
	}

	limited, err := ReadFile(path, ReadOptions{MaxFrames: 2})
	if err != nil || len(limited) != 2 {
		t.Fatalf("MaxFrames 2: got %d frames, err %v", len(limited), err)
	}
}

func TestWriteOrigLenZeroMeansDataLength(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, []Frame{{Data: frame(64, 0)}}); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, "w.pcap", b.Bytes())
	if len(got) != 1 || got[0].OrigLen != 64 {
		t.Fatalf("got %+v, want one frame with OrigLen 64", got)
	}
}

func TestWriteRejectsBadFrames(t *testing.T) {
	for _, f := range []Frame{
		{Data: frame(MaxSnapLen+1, 0)},
		{Data: frame(100, 0), OrigLen: 99},
		{Data: frame(60, 0), TimeNS: 1 << 63},
	} {
		var b bytes.Buffer
		err := Write(&b, []Frame{{Data: frame(60, 0)}, f})
		if err == nil || !strings.Contains(err.Error(), "frame 2") {
			t.Errorf("len %d OrigLen %d TimeNS %d: err %v, want one naming frame 2", len(f.Data), f.OrigLen, f.TimeNS, err)
		}
		if b.Len() != 0 {
			t.Errorf("wrote %d bytes before failing", b.Len())
		}
	}
}

func readAll(t *testing.T, name string, data []byte) []Frame {
	t.Helper()
	got, err := ReadFile(writeTemp(t, name, data), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestReadMicrosecondPcapBothByteOrders(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		data := pcapFile(order, magicMicroLE, 65535, 1,
			rec{sec: 1_700_000_000, frac: 999_999, caplen: 60, origlen: 60, data: frame(60, 7)},
			rec{sec: 1_700_000_001, frac: 1, caplen: 60, origlen: 1500, data: frame(60, 8)})
		got := readAll(t, "micro.pcap", data)
		want := []Frame{
			{Data: frame(60, 7), TimeNS: 1_700_000_000_999_999_000, OrigLen: 60},
			{Data: frame(60, 8), TimeNS: 1_700_000_001_000_001_000, OrigLen: 1500},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v: got %+v, want %+v", order, got, want)
		}
	}
}

func TestReadNanosecondBigEndian(t *testing.T) {
	data := pcapFile(binary.BigEndian, magicNanoLE, 0, 1,
		rec{sec: 2, frac: 5, caplen: 14, origlen: 14, data: frame(14, 0)})
	got := readAll(t, "nano.pcap", data)
	if len(got) != 1 || got[0].TimeNS != 2_000_000_005 {
		t.Fatalf("got %+v, want one frame at 2000000005 ns", got)
	}
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// ngBlock builds a pcapng block with body padded to 4 bytes.
func ngBlock(order byteOrder, typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b := order.AppendUint32(nil, typ)
	b = order.AppendUint32(b, n)
	b = append(b, body...)
	return order.AppendUint32(b, n)
}

func ngFile(order byteOrder, linkType uint16, tsresol byte, packets ...rec) []byte {
	shb := order.AppendUint32(nil, ngByteOrderMagic)
	shb = order.AppendUint16(shb, 1)
	shb = order.AppendUint16(shb, 0)
	shb = order.AppendUint64(shb, ^uint64(0))
	out := ngBlock(order, ngBlockSHB, shb)

	idb := order.AppendUint16(nil, linkType)
	idb = order.AppendUint16(idb, 0)
	idb = order.AppendUint32(idb, 65535)
	idb = order.AppendUint16(idb, 9) // if_tsresol
	idb = order.AppendUint16(idb, 1)
	idb = append(idb, tsresol, 0, 0, 0)
	idb = append(idb, 0, 0, 0, 0) // opt_endofopt
	out = append(out, ngBlock(order, ngBlockIDB, idb)...)

	out = append(out, ngBlock(order, 0x0bad, []byte("unknown blocks are skipped"))...)
	for _, p := range packets {
		epb := order.AppendUint32(nil, 0)
		epb = order.AppendUint32(epb, p.sec) // timestamp high
		epb = order.AppendUint32(epb, p.frac)
		epb = order.AppendUint32(epb, p.caplen)
		epb = order.AppendUint32(epb, p.origlen)
		epb = append(epb, p.data...)
		out = append(out, ngBlock(order, ngBlockEPB, epb)...)
	}
	return out
}

func TestReadPcapngBothByteOrders(t *testing.T) {
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		// 2^-10 s units: 1024 units is one second.
		data := ngFile(order, 1, 0x80|10,
			rec{sec: 0, frac: 1024 + 512, caplen: 61, origlen: 61, data: frame(61, 3)},
			rec{sec: 0, frac: 2048, caplen: 20, origlen: 100, data: frame(20, 4)})
		got := readAll(t, "x.pcapng", data)
		want := []Frame{
			{Data: frame(61, 3), TimeNS: 1_500_000_000, OrigLen: 61},
			{Data: frame(20, 4), TimeNS: 2_000_000_000, OrigLen: 100},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v: got %+v, want %+v", order, got, want)
		}
	}
}

func TestStreamingReaderStopsAtEOF(t *testing.T) {
	path := writeTemp(t, "s.pcap", pcapFile(binary.LittleEndian, magicNanoLE, 65535, 1, goodRec(60, 1), goodRec(70, 2)))
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; i < 2; i++ {
		if _, err := r.Next(); err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
	}
	for i := 0; i < 2; i++ {
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("after the last frame: err %v, want io.EOF", err)
		}
	}
}

func TestBadFiles(t *testing.T) {
	le := binary.LittleEndian
	header := pcapFile(le, magicNanoLE, 65535, 1)
	sixteen := make([]rec, 16)
	for i := range sixteen {
		sixteen[i] = goodRec(60, byte(i))
	}
	tests := []struct {
		name   string
		data   []byte
		record int
		offset int64
		msg    string
	}{
		{"empty", nil, 0, 0, "file header at byte 0: file is empty"},
		{"bad magic", []byte("GET / HTTP/1.1\r\n\r\n"), 0, 0, "unknown magic number"},
		{"gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}, 0, 0, "gunzip"},
		{"raw IP link type", pcapFile(le, magicMicroLE, 65535, 101), 0, 0, "link type 101 (raw IP) is not supported"},
		{"SLL link type pcapng", ngFile(le, 113, 9), 1, 28, "link type 113 (Linux cooked capture (SLL))"},
		{"truncated magic", header[:3], 0, 0, "file header is truncated: 3 bytes"},
		{"truncated header", header[:10], 0, 0, "file header is truncated: 10 of 24 bytes"},
		{"bad version", pcapFile(le, magicNanoLE, 65535, 1)[:4], 0, 0, "truncated"},
		{"truncated record header", append(pcapFile(le, magicNanoLE, 65535, 1, goodRec(60, 0), goodRec(60, 1)), 1, 2, 3, 4, 5),
			3, 24 + 2*76, "record header is truncated: 5 of 16 bytes"},
		{"truncated record", pcapFile(le, magicNanoLE, 65535, 1, goodRec(60, 0), rec{caplen: 60, origlen: 60, data: frame(30, 0)}),
			2, 24 + 76, "record is truncated: 30 of 60 data bytes present"},
		{"caplen over snaplen", pcapFile(le, magicNanoLE, 65535, 1, append(sixteen, rec{caplen: 70000, origlen: 70000, data: frame(70000, 0)})...),
			17, 24 + 16*76, "record 17 at byte 1240: captured length 70000 exceeds the 65535-byte snap length"},
		{"huge caplen", pcapFile(le, magicNanoLE, 0, 1, goodRec(60, 0), rec{caplen: 0xfffffff0, origlen: 0xfffffff0}),
			2, 24 + 76, "captured length 4294967280 exceeds the 262144-byte maximum"},
		{"origlen under caplen", pcapFile(le, magicNanoLE, 65535, 1, rec{caplen: 60, origlen: 59, data: frame(60, 0)}),
			1, 24, "original length 59 is less than captured length 60"},
		{"pcapng truncated block", ngFile(le, 1, 9, goodRec(60, 0))[:120], 3, 100, "block is truncated"},
		{"pcapng caplen overruns block", ngFile(le, 1, 9, rec{caplen: 64, origlen: 64, data: frame(40, 0)}), 3, 100, "overruns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTemp(t, "capture.pcap", tt.data)
			_, err := ReadFile(path, ReadOptions{})
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err %v (%T), want *FileError", err, err)
			}
			if fe.Path != path || fe.Record != tt.record || fe.Offset != tt.offset {
				t.Errorf("got path %q record %d offset %d, want %q %d %d", fe.Path, fe.Record, fe.Offset, path, tt.record, tt.offset)
			}
			where := "file header"
			if tt.record > 0 {
				where = fmt.Sprintf("record %d at byte %d", tt.record, tt.offset)
			}
			for _, s := range []string{path + ": " + where, tt.msg} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestExactMessage(t *testing.T) {
	err := &FileError{Path: "capture.pcap", Record: 17, Offset: 4242, Msg: "captured length 70000 exceeds the 65535-byte snap length"}
	want := "capture.pcap: record 17 at byte 4242: captured length 70000 exceeds the 65535-byte snap length"
	if err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
}

func TestOpenMissingFile(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope.pcap"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err %v, want os.ErrNotExist", err)
	}
}
