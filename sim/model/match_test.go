package model

import (
	"testing"

	"github.com/fpgactl/fpgactl/sim/rules"
)

// base is a well-formed IPv4 TCP frame's parser output.
func base() Fields {
	return Fields{IsIPv4: true, Proto: 6, SrcAddr: src4, DstAddr: dst4, HasPorts: true, Sport: 1234, Dport: 80,
		IsTCP: true, TCPFlags: 0x02, FrameLen: 64}
}

func anyRule() rules.Entry {
	return rules.Entry{Valid: true, Action: rules.ActionDrop, SportHi: 0xFFFF, DportHi: 0xFFFF, LenHi: 0xFFFF}
}

func TestMatchFields(t *testing.T) {
	v6 := Fields{IsIPv6: true, Proto: 17, SrcAddr: src6, DstAddr: dst6, HasPorts: true, Sport: 53, Dport: 9, FrameLen: 90}
	nonIP := Fields{FrameLen: 60, VLANCount: 1, OuterVID: 7}
	icmp := Fields{IsIPv4: true, Proto: 1, HasICMP: true, ICMPType: 8, FrameLen: 60}
	frag := base()
	frag.IsFrag = true
	nonFirst := Fields{IsIPv4: true, IsFrag: true, IsNonFirst: true, Proto: 6, FrameLen: 200}
	tagged := base()
	tagged.VLANCount, tagged.OuterVID = 2, 100
	mask24 := [16]byte{12: 255, 13: 255, 14: 255}
	with := func(mod func(e *rules.Entry)) rules.Entry { e := anyRule(); mod(&e); return e }
	tests := []struct {
		name  string
		entry rules.Entry
		frame Fields
		want  bool
	}{
		{"any matches", anyRule(), base(), true},
		{"any matches non-ip", anyRule(), nonIP, true},
		{"invalid never", with(func(e *rules.Entry) { e.Valid = false }), base(), false},
		{"ipver 4 hit", with(func(e *rules.Entry) { e.IPVer = rules.IPv4 }), base(), true},
		{"ipver 4 miss", with(func(e *rules.Entry) { e.IPVer = rules.IPv4 }), v6, false},
		{"ipver 6 hit", with(func(e *rules.Entry) { e.IPVer = rules.IPv6 }), v6, true},
		{"ipver 6 miss", with(func(e *rules.Entry) { e.IPVer = rules.IPv6 }), base(), false},
		{"non-ip hit", with(func(e *rules.Entry) { e.IPVer = rules.IPNonIP }), nonIP, true},
		{"non-ip miss", with(func(e *rules.Entry) { e.IPVer = rules.IPNonIP }), base(), false},
		{"src /24 hit", with(func(e *rules.Entry) { e.SrcAddr, e.SrcMask = [16]byte{12: 192, 14: 2, 15: 99}, mask24 }), base(), true},
		{"src /24 miss", with(func(e *rules.Entry) { e.SrcAddr, e.SrcMask = [16]byte{12: 192, 14: 3}, mask24 }), base(), false},
		{"dst /24 hit", with(func(e *rules.Entry) { e.DstAddr, e.DstMask = [16]byte{12: 198, 13: 51, 14: 100}, mask24 }), base(), true},
		{"dst /24 miss", with(func(e *rules.Entry) { e.DstAddr, e.DstMask = [16]byte{12: 198, 13: 51, 14: 101}, mask24 }), base(), false},
		{"v6 src /32 hit", with(func(e *rules.Entry) {
			e.SrcAddr, e.SrcMask = [16]byte{0x20, 0x01, 0x0d, 0xb8}, [16]byte{255, 255, 255, 255}
		}), v6, true},
		{"v6 dst last bit miss", with(func(e *rules.Entry) { e.DstAddr, e.DstMask = [16]byte{15: 1}, [16]byte{15: 1} }), Fields{IsIPv6: true, FrameLen: 80}, false},
		{"proto hit", with(func(e *rules.Entry) { e.ProtoValid, e.Proto = true, 6 }), base(), true},
		{"proto miss", with(func(e *rules.Entry) { e.ProtoValid, e.Proto = true, 17 }), base(), false},
		{"proto 0 never matches non-ip", with(func(e *rules.Entry) { e.ProtoValid = true }), nonIP, false},
		{"proto not valid ignores value", with(func(e *rules.Entry) { e.Proto = 99 }), base(), true},
		{"sport lo edge", with(func(e *rules.Entry) { e.SportLo, e.SportHi = 1234, 2000 }), base(), true},
		{"sport hi edge", with(func(e *rules.Entry) { e.SportLo, e.SportHi = 1000, 1234 }), base(), true},
		{"sport below", with(func(e *rules.Entry) { e.SportLo, e.SportHi = 1235, 2000 }), base(), false},
		{"dport hit", with(func(e *rules.Entry) { e.DportLo, e.DportHi = 80, 80 }), base(), true},
		{"dport miss", with(func(e *rules.Entry) { e.DportLo, e.DportHi = 81, 90 }), base(), false},
		{"port range 0..0 needs ports", with(func(e *rules.Entry) { e.DportLo, e.DportHi = 0, 0 }), icmp, false},
		{"ports any matches portless", anyRule(), icmp, true},
		{"port range on portless", with(func(e *rules.Entry) { e.SportLo, e.SportHi = 0, 65534 }), nonIP, false},
		{"flags hit", with(func(e *rules.Entry) { e.TCPFlagsMask, e.TCPFlagsValue = 0x12, 0x02 }), base(), true},
		{"flags miss", with(func(e *rules.Entry) { e.TCPFlagsMask, e.TCPFlagsValue = 0x12, 0x12 }), base(), false},
		{"flags need tcp", with(func(e *rules.Entry) { e.TCPFlagsMask, e.TCPFlagsValue = 0x02, 0x00 }), v6, false},
		{"flag value outside mask never", with(func(e *rules.Entry) { e.TCPFlagsMask, e.TCPFlagsValue = 0x02, 0x03 }), base(), false},
		{"icmp hit", with(func(e *rules.Entry) { e.ICMPValid, e.ICMPType = true, 8 }), icmp, true},
		{"icmp miss", with(func(e *rules.Entry) { e.ICMPValid, e.ICMPType = true, 0 }), icmp, false},
		{"icmp needs icmp", with(func(e *rules.Entry) { e.ICMPValid, e.ICMPType = true, 0 }), base(), false},
		{"len lo edge", with(func(e *rules.Entry) { e.LenLo, e.LenHi = 64, 100 }), base(), true},
		{"len hi edge", with(func(e *rules.Entry) { e.LenLo, e.LenHi = 60, 64 }), base(), true},
		{"len above", with(func(e *rules.Entry) { e.LenLo, e.LenHi = 60, 63 }), base(), false},
		{"len below", with(func(e *rules.Entry) { e.LenLo, e.LenHi = 65, 100 }), base(), false},
		{"untagged hit", with(func(e *rules.Entry) { e.VLANMode = rules.VLANUntagged }), base(), true},
		{"untagged miss", with(func(e *rules.Entry) { e.VLANMode = rules.VLANUntagged }), tagged, false},
		{"vid hit on outer", with(func(e *rules.Entry) { e.VLANMode, e.VLANID = rules.VLANMatchID, 100 }), tagged, true},
		{"vid miss", with(func(e *rules.Entry) { e.VLANMode, e.VLANID = rules.VLANMatchID, 101 }), tagged, false},
		{"vid 0 needs a tag", with(func(e *rules.Entry) { e.VLANMode, e.VLANID = rules.VLANMatchID, 0 }), base(), false},
		{"vlan mode 3 never", with(func(e *rules.Entry) { e.VLANMode = 3 }), tagged, false},
		{"unfragmented hit", with(func(e *rules.Entry) { e.Frag = rules.FragNo }), base(), true},
		{"unfragmented miss", with(func(e *rules.Entry) { e.Frag = rules.FragNo }), frag, false},
		{"unfragmented needs ipv4", with(func(e *rules.Entry) { e.Frag = rules.FragNo }), v6, false},
		{"fragment hit first", with(func(e *rules.Entry) { e.Frag = rules.FragYes }), frag, true},
		{"fragment hit non-first", with(func(e *rules.Entry) { e.Frag = rules.FragYes }), nonFirst, true},
		{"fragment miss", with(func(e *rules.Entry) { e.Frag = rules.FragYes }), base(), false},
		{"non-first hit", with(func(e *rules.Entry) { e.Frag = rules.FragNonFirst }), nonFirst, true},
		{"non-first miss on first", with(func(e *rules.Entry) { e.Frag = rules.FragNonFirst }), frag, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Matches(&tt.entry, tt.frame); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchFirstWins(t *testing.T) {
	miss := anyRule()
	miss.ProtoValid, miss.Proto = true, 17
	pass := anyRule()
	pass.Action = rules.ActionPass
	tab := &rules.Table{Entries: []rules.Entry{miss, {}, pass, anyRule()}}
	if r, hit := Match(tab, base()); !hit || r != 2 {
		t.Errorf("Match = %d, %v; want 2, true", r, hit)
	}
	if r, hit := Match(&rules.Table{Entries: []rules.Entry{miss}}, base()); hit || r != -1 {
		t.Errorf("Match = %d, %v; want -1, false", r, hit)
	}
}
