package model

import "github.com/fpgactl/fpgactl/sim/rules"

// Match returns the index of the lowest-numbered valid entry of t that matches
// the well-formed frame f (SPEC §3); hit is false when none does.
func Match(t *rules.Table, f Fields) (rule int, hit bool) {
	for i := range t.Entries {
		if Matches(&t.Entries[i], f) {
			return i, true
		}
	}
	return -1, false
}

// Matches reports whether one entry matches the well-formed frame f.
func Matches(e *rules.Entry, f Fields) bool {
	isIP := f.IsIPv4 || f.IsIPv6
	if !e.Valid {
		return false
	}
	switch e.IPVer {
	case rules.IPv4:
		if !f.IsIPv4 {
			return false
		}
	case rules.IPv6:
		if !f.IsIPv6 {
			return false
		}
	case rules.IPNonIP:
		if isIP {
			return false
		}
	}
	for i := 0; i < 16; i++ {
		if (f.SrcAddr[i]^e.SrcAddr[i])&e.SrcMask[i] != 0 || (f.DstAddr[i]^e.DstAddr[i])&e.DstMask[i] != 0 {
			return false
		}
	}
	if e.ProtoValid && !(isIP && f.Proto == e.Proto) {
		return false
	}
	if !portOK(e.SportLo, e.SportHi, f.HasPorts, f.Sport) || !portOK(e.DportLo, e.DportHi, f.HasPorts, f.Dport) {
		return false
	}
	if e.TCPFlagsMask != 0 && !(f.IsTCP && f.TCPFlags&e.TCPFlagsMask == e.TCPFlagsValue) {
		return false
	}
	if e.ICMPValid && !(f.HasICMP && f.ICMPType == e.ICMPType) {
		return false
	}
	if f.FrameLen < int(e.LenLo) || f.FrameLen > int(e.LenHi) {
		return false
	}
	switch e.VLANMode {
	case rules.VLANUntagged:
		if f.VLANCount != 0 {
			return false
		}
	case rules.VLANMatchID:
		if f.VLANCount == 0 || f.OuterVID != e.VLANID {
			return false
		}
	case 3: // reserved: never matches
		return false
	}
	switch e.Frag {
	case rules.FragNo:
		return f.IsIPv4 && !f.IsFrag
	case rules.FragYes:
		return f.IsIPv4 && f.IsFrag
	case rules.FragNonFirst:
		return f.IsIPv4 && f.IsNonFirst
	}
	return true
}

func portOK(lo, hi uint16, has bool, port uint16) bool {
	if lo == 0 && hi == 0xFFFF {
		return true
	}
	return has && lo <= port && port <= hi
}
