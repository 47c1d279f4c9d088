package rules

import "fmt"

// Action is what a matching rule does with a frame (SPEC §3).
type Action uint8

const (
	ActionPass   Action = 0
	ActionDrop   Action = 1
	ActionPolice Action = 2
)

func (a Action) String() string {
	switch a {
	case ActionPass:
		return "pass"
	case ActionDrop:
		return "drop"
	case ActionPolice:
		return "police"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// IPVersion selects the kind of frame a rule applies to (SPEC §3 `ipver`).
type IPVersion uint8

const (
	IPAny   IPVersion = 0
	IPv4    IPVersion = 1
	IPv6    IPVersion = 2
	IPNonIP IPVersion = 3
)

func (v IPVersion) String() string {
	switch v {
	case IPAny:
		return "any"
	case IPv4:
		return "4"
	case IPv6:
		return "6"
	case IPNonIP:
		return "non-ip"
	}
	return fmt.Sprintf("ipver(%d)", uint8(v))
}

// VLANMode selects how the outer VLAN tag is matched (SPEC §3 `vlan_mode`).
type VLANMode uint8

const (
	VLANAny      VLANMode = 0
	VLANUntagged VLANMode = 1
	VLANMatchID  VLANMode = 2
)

// FragMode selects how IPv4 fragmentation is matched (SPEC §3 `frag`).
type FragMode uint8

const (
	FragAny      FragMode = 0
	FragNo       FragMode = 1
	FragYes      FragMode = 2
	FragNonFirst FragMode = 3
)

func (f FragMode) String() string {
	switch f {
	case FragAny:
		return "any"
	case FragNo:
		return "no"
	case FragYes:
		return "yes"
	case FragNonFirst:
		return "non-first"
	}
	return fmt.Sprintf("frag(%d)", uint8(f))
}

// Entry is one hardware rule, field for field as SPEC §3 and §6 define it.
// Addresses and masks are 128-bit values stored big-endian: byte 0 holds
// bits [127:120]; an IPv4 address sits in bytes 12..15 (bits [31:0]).
type Entry struct {
	Valid       bool
	Action      Action
	IPVer       IPVersion
	VLANMode    VLANMode
	Frag        FragMode
	ProtoValid  bool
	ICMPValid   bool
	PoliceBytes bool

	Proto         uint8
	ICMPType      uint8
	TCPFlagsMask  uint8
	TCPFlagsValue uint8
	VLANID        uint16 // 12 bits

	SportLo, SportHi uint16
	DportLo, DportHi uint16
	LenLo, LenHi     uint16

	Rate  uint64 // 40 bits: units per ns × 2^32
	Burst uint32 // units (packets or bytes)

	SrcAddr, SrcMask [16]byte
	DstAddr, DstMask [16]byte
}

// WordsPerRule is the number of 32-bit registers of one rule (SPEC §6).
const WordsPerRule = 25

// MaxRate is the largest value the 40-bit rate register holds.
const MaxRate = 1<<40 - 1

// AnyEntry returns a valid entry that matches every well-formed frame; rule
// builders start from it and narrow fields down.
func AnyEntry(action Action) Entry {
	return Entry{Valid: true, Action: action, SportHi: 0xFFFF, DportHi: 0xFFFF, LenHi: 0xFFFF}
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// addrWords splits a 128-bit big-endian value into four words, w[0] = bits [31:0].
func addrWords(a [16]byte) [4]uint32 {
	var w [4]uint32
	for i := 0; i < 4; i++ {
		o := 12 - 4*i
		w[i] = uint32(a[o])<<24 | uint32(a[o+1])<<16 | uint32(a[o+2])<<8 | uint32(a[o+3])
	}
	return w
}

func wordsAddr(w []uint32) [16]byte {
	var a [16]byte
	for i := 0; i < 4; i++ {
		o := 12 - 4*i
		a[o], a[o+1], a[o+2], a[o+3] = byte(w[i]>>24), byte(w[i]>>16), byte(w[i]>>8), byte(w[i])
	}
	return a
}

// Words packs the entry into its 25 register words (SPEC §6 rule words).
func (e Entry) Words() [WordsPerRule]uint32 {
	var w [WordsPerRule]uint32
	w[0] = b2u(e.Valid) | uint32(e.Action&3)<<1 | uint32(e.IPVer&3)<<3 | uint32(e.VLANMode&3)<<5 |
		uint32(e.Frag&3)<<7 | b2u(e.ProtoValid)<<9 | b2u(e.ICMPValid)<<10 | b2u(e.PoliceBytes)<<11
	w[1] = uint32(e.Proto) | uint32(e.ICMPType)<<8 | uint32(e.TCPFlagsMask)<<16 | uint32(e.TCPFlagsValue)<<24
	w[2] = uint32(e.VLANID & 0xFFF)
	w[3] = uint32(e.SportLo) | uint32(e.SportHi)<<16
	w[4] = uint32(e.DportLo) | uint32(e.DportHi)<<16
	w[5] = uint32(e.LenLo) | uint32(e.LenHi)<<16
	w[6] = uint32(e.Rate)
	w[7] = uint32(e.Rate>>32) & 0xFF
	w[8] = e.Burst
	for i, a := range [4][16]byte{e.SrcAddr, e.SrcMask, e.DstAddr, e.DstMask} {
		aw := addrWords(a)
		copy(w[9+4*i:13+4*i], aw[:])
	}
	return w
}

// DecodeEntry is the inverse of Words; bits outside the defined fields are ignored.
func DecodeEntry(w [WordsPerRule]uint32) Entry {
	return Entry{
		Valid:         w[0]&1 != 0,
		Action:        Action(w[0] >> 1 & 3),
		IPVer:         IPVersion(w[0] >> 3 & 3),
		VLANMode:      VLANMode(w[0] >> 5 & 3),
		Frag:          FragMode(w[0] >> 7 & 3),
		ProtoValid:    w[0]>>9&1 != 0,
		ICMPValid:     w[0]>>10&1 != 0,
		PoliceBytes:   w[0]>>11&1 != 0,
		Proto:         uint8(w[1]),
		ICMPType:      uint8(w[1] >> 8),
		TCPFlagsMask:  uint8(w[1] >> 16),
		TCPFlagsValue: uint8(w[1] >> 24),
		VLANID:        uint16(w[2] & 0xFFF),
		SportLo:       uint16(w[3]),
		SportHi:       uint16(w[3] >> 16),
		DportLo:       uint16(w[4]),
		DportHi:       uint16(w[4] >> 16),
		LenLo:         uint16(w[5]),
		LenHi:         uint16(w[5] >> 16),
		Rate:          uint64(w[6]) | uint64(w[7]&0xFF)<<32,
		Burst:         w[8],
		SrcAddr:       wordsAddr(w[9:13]),
		SrcMask:       wordsAddr(w[13:17]),
		DstAddr:       wordsAddr(w[17:21]),
		DstMask:       wordsAddr(w[21:25]),
	}
}
