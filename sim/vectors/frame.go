package vectors

import (
	"encoding/binary"
	"net/netip"
)

// frameSpec describes a well-formed test frame; build lays it out byte by
// byte. Checksums are left 0: the filter never looks at them.
type frameSpec struct {
	VIDs      []uint16 // VLAN tags, outer first; two tags make QinQ (0x88A8 outer)
	EtherType uint16   // for non-IP frames (IPVer 0)
	IPVer     int      // 0, 4 or 6
	Src, Dst  string
	Proto     uint8
	Sport     uint16
	Dport     uint16
	TCPFlags  uint8
	ICMPType  uint8
	MF        bool   // IPv4 more-fragments
	FragOff   uint16 // IPv4 fragment offset (8-byte units)
	OptWords  int    // IPv4 option words (IHL = 5 + OptWords)
	Len       int    // frame length; payload is padded up to it
}

func (s frameSpec) build() []byte {
	b := []byte{0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02}
	for i, vid := range s.VIDs {
		tpid := uint16(0x8100)
		if i == 0 && len(s.VIDs) > 1 {
			tpid = 0x88A8
		}
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, vid&0xFFF)
	}
	switch s.IPVer {
	case 4:
		b = binary.BigEndian.AppendUint16(b, 0x0800)
	case 6:
		b = binary.BigEndian.AppendUint16(b, 0x86DD)
	default:
		et := s.EtherType
		if et == 0 {
			et = 0x0806
		}
		b = binary.BigEndian.AppendUint16(b, et)
	}
	l3 := len(b)

	var l4 []byte
	switch {
	case s.IPVer == 0:
	case s.Proto == 6:
		l4 = make([]byte, 20)
		binary.BigEndian.PutUint16(l4, s.Sport)
		binary.BigEndian.PutUint16(l4[2:], s.Dport)
		l4[12] = 5 << 4
		l4[13] = s.TCPFlags
	case s.Proto == 17:
		l4 = make([]byte, 8)
		binary.BigEndian.PutUint16(l4, s.Sport)
		binary.BigEndian.PutUint16(l4[2:], s.Dport)
	case s.Proto == 1 || s.Proto == 58:
		l4 = make([]byte, 8)
		l4[0] = s.ICMPType
	}

	switch s.IPVer {
	case 4:
		hl := 20 + 4*s.OptWords
		h := make([]byte, hl)
		h[0] = 0x40 | byte(5+s.OptWords)
		h[8] = 64
		h[9] = s.Proto
		frag := s.FragOff & 0x1FFF
		if s.MF {
			frag |= 0x2000
		}
		binary.BigEndian.PutUint16(h[6:], frag)
		copy(h[12:16], addr4(s.Src))
		copy(h[16:20], addr4(s.Dst))
		for i := 20; i < hl; i++ {
			h[i] = 1 // NOP options
		}
		b = append(b, h...)
	case 6:
		h := make([]byte, 40)
		h[0] = 0x60
		h[6] = s.Proto
		h[7] = 64
		copy(h[8:24], addr16(s.Src))
		copy(h[24:40], addr16(s.Dst))
		b = append(b, h...)
	}
	b = append(b, l4...)
	for i := 0; len(b) < s.Len; i++ {
		b = append(b, byte(i*7+3))
	}
	switch s.IPVer {
	case 4:
		binary.BigEndian.PutUint16(b[l3+2:], uint16(len(b)-l3))
	case 6:
		binary.BigEndian.PutUint16(b[l3+4:], uint16(len(b)-l3-40))
	}
	return b
}

func addr4(s string) []byte {
	a := netip.MustParseAddr(s)
	if !a.Is4() {
		panic("vectors: not an IPv4 address: " + s)
	}
	v := a.As4()
	return v[:]
}

func addr16(s string) []byte {
	a := netip.MustParseAddr(s)
	v := a.As16()
	return v[:]
}

// l3Offset is where the IP header starts, for malformed-frame builders that
// patch header fields.
func l3Offset(s frameSpec) int { return 14 + 4*len(s.VIDs) }
