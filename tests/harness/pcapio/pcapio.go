// Package pcapio reads and writes the capture files the traffic harness
// replays and saves: classic pcap (either byte order, microsecond or
// nanosecond timestamps) and pcapng, Ethernet link type only.
//
// The reader is strict on purpose. A capture with a corrupt record is
// reported as a *FileError naming the file, the record and its byte
// offset, rather than being replayed partly: a functional test that
// silently drops frames would compare the wrong traffic.
//
// gopacket's pcapgo reads the same formats but reports neither the record
// nor the offset of a bad one, so reading is done here; interop_test.go
// checks both directions against pcapgo.
//
// Frames are written as nanosecond pcap, so that mismatches saved by the
// harness keep the timestamps they were replayed with.
package pcapio

import (
	"fmt"
)

// MaxSnapLen is the largest captured length accepted in a record, and the
// snap length written by Write. It is libpcap's own maximum.
const MaxSnapLen = 262144

// LinkTypeEthernet is the only link type the harness replays.
const LinkTypeEthernet = 1

// Frame is one captured Ethernet frame.
type Frame struct {
	// Data holds the captured bytes, starting with the Ethernet header.
	Data []byte
	// TimeNS is the capture time in nanoseconds since the Unix epoch.
	TimeNS uint64
	// OrigLen is the length of the frame on the wire. It is larger than
	// len(Data) when the capture cut the frame at its snap length.
	OrigLen int
}

// Truncated reports whether the capture holds fewer bytes than the frame
// had on the wire. Replaying such a frame sends a different frame.
func (f Frame) Truncated() bool { return len(f.Data) < f.OrigLen }

// FileError is returned for a capture file that cannot be read: wrong
// format, unsupported link type or a corrupt record.
type FileError struct {
	// Path is the file, as given to Open or ReadFile.
	Path string
	// Record is the 1-based number of the bad record: the packet record in
	// a pcap file, the block in a pcapng file. It is 0 for the file header.
	Record int
	// Offset is the byte offset at which the bad record or header starts.
	Offset int64
	// Msg says what is wrong and, where possible, what to do.
	Msg string
}

func (e *FileError) Error() string {
	if e.Record == 0 {
		return fmt.Sprintf("%s: file header at byte %d: %s", e.Path, e.Offset, e.Msg)
	}
	return fmt.Sprintf("%s: record %d at byte %d: %s", e.Path, e.Record, e.Offset, e.Msg)
}

// linkTypeName names the link types people most often capture by mistake.
func linkTypeName(lt uint32) string {
	switch lt {
	case 0:
		return "BSD loopback"
	case 101:
		return "raw IP"
	case 105:
		return "IEEE 802.11"
	case 113:
		return "Linux cooked capture (SLL)"
	case 127:
		return "802.11 radiotap"
	case 228:
		return "raw IPv4"
	case 229:
		return "raw IPv6"
	case 276:
		return "Linux cooked capture v2 (SLL2)"
	}
	return "unknown"
}

func linkTypeMsg(lt uint32) string {
	return fmt.Sprintf("link type %d (%s) is not supported; only Ethernet (link type %d) captures can be replayed: "+
		"capture on an Ethernet interface, not \"any\" or a tunnel", lt, linkTypeName(lt), LinkTypeEthernet)
}
