package pcapio

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// WriteFile writes frames to path as a nanosecond pcap file, replacing
// any file already there.
func WriteFile(path string, frames []Frame) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create capture: %w", err)
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	err = Write(bw, frames)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Write writes frames to w as a little-endian nanosecond pcap stream with Ethernet link
// type and a MaxSnapLen snap length. A frame's OrigLen of 0 means
// len(Data). Frames are checked before anything is written.
func Write(w io.Writer, frames []Frame) error {
	for i, f := range frames {
		if err := checkFrame(f); err != nil {
			return fmt.Errorf("frame %d: %w", i+1, err)
		}
	}
	var h [pcapHeaderLen]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:4], magicNanoLE)
	le.PutUint16(h[4:6], 2) // version 2.4
	le.PutUint16(h[6:8], 4)
	le.PutUint32(h[16:20], MaxSnapLen)
	le.PutUint32(h[20:24], LinkTypeEthernet)
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	var rec [pcapRecordLen]byte
	for i, f := range frames {
		orig := f.OrigLen
		if orig == 0 {
			orig = len(f.Data)
		}
		le.PutUint32(rec[0:4], uint32(f.TimeNS/1e9))
		le.PutUint32(rec[4:8], uint32(f.TimeNS%1e9))
		le.PutUint32(rec[8:12], uint32(len(f.Data)))
		le.PutUint32(rec[12:16], uint32(orig))
		if _, err := w.Write(rec[:]); err != nil {
			return fmt.Errorf("frame %d: %w", i+1, err)
		}
		if _, err := w.Write(f.Data); err != nil {
			return fmt.Errorf("frame %d: %w", i+1, err)
		}
	}
	return nil
}

func checkFrame(f Frame) error {
	switch {
	case len(f.Data) > MaxSnapLen:
		return fmt.Errorf("%d bytes exceed the %d-byte pcap snap length; cut the frame and set OrigLen", len(f.Data), MaxSnapLen)
	case f.OrigLen != 0 && f.OrigLen < len(f.Data):
		return fmt.Errorf("OrigLen %d is less than the %d captured bytes; set OrigLen to the wire length or 0", f.OrigLen, len(f.Data))
	case f.OrigLen > math.MaxUint32:
		return fmt.Errorf("OrigLen %d does not fit in a pcap record", f.OrigLen)
	case f.TimeNS/1e9 > math.MaxUint32:
		return fmt.Errorf("time %d ns is after 2106, beyond what pcap can store", f.TimeNS)
	}
	return nil
}
