package pcapio

import (
	"bytes"
	"encoding/binary"
	"io"
	"runtime"
	"testing"
)

// FuzzRead feeds arbitrary bytes to the reader: it must not panic, and no
// length in the input may make it allocate far more than the input holds.
func FuzzRead(f *testing.F) {
	le := binary.LittleEndian
	var w bytes.Buffer
	_ = Write(&w, []Frame{{Data: frame(60, 1), TimeNS: 1}, {Data: frame(20, 2), OrigLen: 90}})
	f.Add(w.Bytes())
	f.Add(pcapFile(binary.BigEndian, magicMicroLE, 65535, 1, goodRec(60, 0)))
	f.Add(ngFile(le, 1, 9, goodRec(60, 0)))
	f.Add(ngFile(binary.BigEndian, 1, 0x80|20, goodRec(14, 0)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r, err := newReader("fuzz.pcap", bytes.NewReader(data), int64(len(data)))
		total := 0
		if err == nil {
			for {
				fr, err := r.Next()
				if err != nil {
					if err != io.EOF && r.err == nil {
						t.Fatalf("error %v not kept", err)
					}
					break
				}
				if len(fr.Data) > fr.OrigLen {
					t.Fatalf("frame with %d bytes but OrigLen %d", len(fr.Data), fr.OrigLen)
				}
				total += len(fr.Data)
			}
		}
		if total > len(data) {
			t.Fatalf("read %d frame bytes from %d input bytes", total, len(data))
		}
		runtime.ReadMemStats(&after)
		// Frames, one reused block buffer and small fixed costs.
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(3*len(data)+64<<10); got > limit {
			t.Fatalf("allocated %d bytes for a %d-byte input (limit %d)", got, len(data), limit)
		}
	})
}
