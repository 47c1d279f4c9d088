package profile

import (
	"encoding/binary"
	"hash/crc32"
)

// TrailerLen is the size of the frame identifier every generated frame with
// room for it carries as the last bytes of its payload (and of the frame):
//
//	"FPID" | ID (4 bytes, big-endian) | CRC-32/IEEE of the previous 8 bytes (big-endian)
//
// The filter only reads the first 96 bytes of a frame, so the trailer never
// changes a verdict; the harness uses it to pair frames that came out of a
// target with the frames that went in, after drops or reordering.
const TrailerLen = 12

var trailerMagic = [4]byte{'F', 'P', 'I', 'D'}

// putTrailer writes the trailer for id into b, which must be TrailerLen long.
func putTrailer(b []byte, id uint32) {
	copy(b[0:4], trailerMagic[:])
	binary.BigEndian.PutUint32(b[4:8], id)
	binary.BigEndian.PutUint32(b[8:12], crc32.ChecksumIEEE(b[0:8]))
}

// ExtractID returns the ID carried in the trailer at the end of frame. It
// reports false when the frame is shorter than the trailer, the magic is
// absent, or the CRC does not match (the trailer was cut or corrupted).
// frame is the frame without FCS; strip a captured FCS before calling.
func ExtractID(frame []byte) (uint32, bool) {
	if len(frame) < TrailerLen {
		return 0, false
	}
	t := frame[len(frame)-TrailerLen:]
	if [4]byte(t[0:4]) != trailerMagic {
		return 0, false
	}
	if binary.BigEndian.Uint32(t[8:12]) != crc32.ChecksumIEEE(t[0:8]) {
		return 0, false
	}
	return binary.BigEndian.Uint32(t[4:8]), true
}
