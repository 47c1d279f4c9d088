// Package model is the golden model of the pf_filter RTL: parser, rule
// matching, policer and counters, bit-exact with hdl/SPEC.md §2–§5.
package model

// Malformed reasons of SPEC §2, in check order.
const (
	ReasonMACError      = "mac_error"
	ReasonOversize      = "oversize"
	ReasonRunt          = "runt"
	ReasonVLANTruncated = "vlan_truncated"
	ReasonIPv4Truncated = "ipv4_truncated"
	ReasonIPv4Version   = "ipv4_version"
	ReasonIPv4IHL       = "ipv4_ihl"
	ReasonIPv4Length    = "ipv4_length"
	ReasonIPv6Truncated = "ipv6_truncated"
	ReasonIPv6Version   = "ipv6_version"
	ReasonIPv6Length    = "ipv6_length"
	ReasonTCPTruncated  = "tcp_truncated"
	ReasonTCPOffset     = "tcp_offset"
	ReasonUDPTruncated  = "udp_truncated"
	ReasonICMPTruncated = "icmp_truncated"
)

// Reasons lists every malformed reason in SPEC §2 order.
var Reasons = []string{
	ReasonMACError, ReasonOversize, ReasonRunt, ReasonVLANTruncated,
	ReasonIPv4Truncated, ReasonIPv4Version, ReasonIPv4IHL, ReasonIPv4Length,
	ReasonIPv6Truncated, ReasonIPv6Version, ReasonIPv6Length,
	ReasonTCPTruncated, ReasonTCPOffset, ReasonUDPTruncated, ReasonICMPTruncated,
}

// HeaderBytes is how much of a frame the parser ever looks at (HDR_BYTES).
const HeaderBytes = 96

// Fields is the parser's output for one frame (SPEC §2, RTL p_* ports).
type Fields struct {
	Malformed bool
	Reason    string // one of the Reason* constants when Malformed

	IsIPv4, IsIPv6 bool
	VLANCount      int
	OuterVID       uint16
	IsFrag         bool
	IsNonFirst     bool
	Proto          uint8
	// Addresses as 128-bit big-endian values; IPv4 in bytes 12..15.
	SrcAddr, DstAddr [16]byte
	HasPorts         bool
	Sport, Dport     uint16
	IsTCP            bool
	TCPFlags         uint8
	HasICMP          bool
	ICMPType         uint8
	FrameLen         int // min(len(frame), maxFrameBytes+1)
}

func be16(b []byte, i int) int { return int(b[i])<<8 | int(b[i+1]) }

// Parse runs the SPEC §2 parser on frame (no preamble, no FCS). macError is the
// MAC's tuser on the last beat.
func Parse(frame []byte, macError bool, maxFrameBytes int) Fields {
	n := len(frame)
	if n > maxFrameBytes+1 {
		n = maxFrameBytes + 1
	}
	f := Fields{FrameLen: n}
	bad := func(reason string) Fields {
		return Fields{Malformed: true, Reason: reason, FrameLen: n}
	}
	b := frame
	switch {
	case macError:
		return bad(ReasonMACError)
	case n > maxFrameBytes:
		return bad(ReasonOversize)
	case n < 14:
		return bad(ReasonRunt)
	}

	off, et := 12, be16(b, 12)
	for i := 0; i < 2 && (et == 0x8100 || et == 0x88A8); i++ {
		if n < off+6 {
			return bad(ReasonVLANTruncated)
		}
		if f.VLANCount == 0 {
			f.OuterVID = uint16(be16(b, off+2) & 0xFFF)
		}
		off += 4
		et = be16(b, off)
		f.VLANCount++
	}
	l3 := off + 2

	var l4, avail int
	parseL4 := false
	switch et {
	case 0x0800:
		if n < l3+20 {
			return bad(ReasonIPv4Truncated)
		}
		if b[l3]>>4 != 4 {
			return bad(ReasonIPv4Version)
		}
		ihl := int(b[l3] & 15)
		if ihl < 5 {
			return bad(ReasonIPv4IHL)
		}
		hl, tl := 4*ihl, be16(b, l3+2)
		if hl > tl || l3+tl > n {
			return bad(ReasonIPv4Length)
		}
		f.IsIPv4 = true
		fragOff := be16(b, l3+6) & 0x1FFF
		mf := b[l3+6]&0x20 != 0
		f.IsFrag = mf || fragOff != 0
		f.IsNonFirst = fragOff != 0
		f.Proto = b[l3+9]
		copy(f.SrcAddr[12:], b[l3+12:l3+16])
		copy(f.DstAddr[12:], b[l3+16:l3+20])
		l4, avail, parseL4 = l3+hl, tl-hl, !f.IsNonFirst
	case 0x86DD:
		if n < l3+40 {
			return bad(ReasonIPv6Truncated)
		}
		if b[l3]>>4 != 6 {
			return bad(ReasonIPv6Version)
		}
		pl := be16(b, l3+4)
		if l3+40+pl > n {
			return bad(ReasonIPv6Length)
		}
		f.IsIPv6 = true
		f.Proto = b[l3+6]
		copy(f.SrcAddr[:], b[l3+8:l3+24])
		copy(f.DstAddr[:], b[l3+24:l3+40])
		l4, avail, parseL4 = l3+40, pl, true
	}
	if !parseL4 {
		return f
	}
	switch {
	case f.Proto == 6:
		if avail < 20 {
			return bad(ReasonTCPTruncated)
		}
		doff := int(b[l4+12] >> 4)
		if doff < 5 || 4*doff > avail {
			return bad(ReasonTCPOffset)
		}
		f.HasPorts, f.IsTCP = true, true
		f.Sport, f.Dport = uint16(be16(b, l4)), uint16(be16(b, l4+2))
		f.TCPFlags = b[l4+13]
	case f.Proto == 17:
		if avail < 8 {
			return bad(ReasonUDPTruncated)
		}
		f.HasPorts = true
		f.Sport, f.Dport = uint16(be16(b, l4)), uint16(be16(b, l4+2))
	case f.Proto == 1 && f.IsIPv4, f.Proto == 58 && f.IsIPv6:
		if avail < 4 {
			return bad(ReasonICMPTruncated)
		}
		f.HasICMP, f.ICMPType = true, b[l4]
	}
	return f
}
