package model

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// gopacket is an encoder independent of the model and of sim/vectors.
func encode(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

var (
	macA = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{2, 0, 0, 0, 0, 2}
)

func eth(et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: et}
}

func ip4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.IPv4(192, 0, 2, 1), DstIP: net.IPv4(198, 51, 100, 2)}
}

func ip6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next,
		SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8:ffff::2")}
}

func payload(n int) gopacket.Payload { return make(gopacket.Payload, n) }

var (
	src4 = [16]byte{12: 192, 13: 0, 14: 2, 15: 1}
	dst4 = [16]byte{12: 198, 13: 51, 14: 100, 15: 2}
	src6 = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	dst6 = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 15: 2}
)

func TestParseWellFormed(t *testing.T) {
	tcp := func(flags func(*layers.TCP)) *layers.TCP {
		l := &layers.TCP{SrcPort: 40000, DstPort: 443, DataOffset: 5}
		if flags != nil {
			flags(l)
		}
		return l
	}
	udp := &layers.UDP{SrcPort: 123, DstPort: 5353}
	withOpts := ip4(layers.IPProtocolTCP)
	for i := 0; i < 12; i++ {
		withOpts.Options = append(withOpts.Options, layers.IPv4Option{OptionType: 1, OptionLength: 1})
	}
	frag := func(flags layers.IPv4Flag, off uint16) *layers.IPv4 {
		l := ip4(layers.IPProtocolUDP)
		l.Flags, l.FragOffset = flags, off
		return l
	}
	tests := []struct {
		name  string
		frame []byte
		want  Fields
	}{
		{"ipv4 udp", encode(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp, payload(30)),
			Fields{IsIPv4: true, Proto: 17, SrcAddr: src4, DstAddr: dst4, HasPorts: true, Sport: 123, Dport: 5353}},
		{"ipv4 tcp syn+ack", encode(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(func(l *layers.TCP) { l.SYN, l.ACK = true, true })),
			Fields{IsIPv4: true, Proto: 6, SrcAddr: src4, DstAddr: dst4, HasPorts: true, Sport: 40000, Dport: 443, IsTCP: true, TCPFlags: 0x12}},
		{"ipv4 tcp all flags", encode(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(func(l *layers.TCP) {
			l.CWR, l.ECE, l.URG, l.ACK, l.PSH, l.RST, l.SYN, l.FIN = true, true, true, true, true, true, true, true
		})),
			Fields{IsIPv4: true, Proto: 6, SrcAddr: src4, DstAddr: dst4, HasPorts: true, Sport: 40000, Dport: 443, IsTCP: true, TCPFlags: 0xFF}},
		{"ipv4 options move l4", encode(t, eth(layers.EthernetTypeIPv4), withOpts, tcp(func(l *layers.TCP) { l.FIN = true })),
			Fields{IsIPv4: true, Proto: 6, SrcAddr: src4, DstAddr: dst4, HasPorts: true, Sport: 40000, Dport: 443, IsTCP: true, TCPFlags: 0x01}},
		{"vlan", encode(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolUDP), udp),
			Fields{VLANCount: 1, OuterVID: 100, IsIPv4: true, Proto: 17, SrcAddr: src4, DstAddr: dst4, HasPorts: true, Sport: 123, Dport: 5353}},
		{"vlan priority bits ignored", encode(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{Priority: 7, DropEligible: true, VLANIdentifier: 4095, Type: layers.EthernetTypeARP}, payload(46)),
			Fields{VLANCount: 1, OuterVID: 4095}},
		{"qinq", encode(t, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv6}, ip6(layers.IPProtocolUDP), udp),
			Fields{VLANCount: 2, OuterVID: 200, IsIPv6: true, Proto: 17, SrcAddr: src6, DstAddr: dst6, HasPorts: true, Sport: 123, Dport: 5353}},
		{"third tag is not parsed", encode(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 1, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 2, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 3, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolUDP), udp),
			Fields{VLANCount: 2, OuterVID: 1}},
		{"ipv6 udp", encode(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp, payload(3)),
			Fields{IsIPv6: true, Proto: 17, SrcAddr: src6, DstAddr: dst6, HasPorts: true, Sport: 123, Dport: 5353}},
		{"ipv6 tcp", encode(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(func(l *layers.TCP) { l.RST = true })),
			Fields{IsIPv6: true, Proto: 6, SrcAddr: src6, DstAddr: dst6, HasPorts: true, Sport: 40000, Dport: 443, IsTCP: true, TCPFlags: 0x04}},
		{"icmpv6", encode(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, payload(4)),
			Fields{IsIPv6: true, Proto: 58, SrcAddr: src6, DstAddr: dst6, HasICMP: true, ICMPType: 128}},
		{"icmp", encode(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}),
			Fields{IsIPv4: true, Proto: 1, SrcAddr: src4, DstAddr: dst4, HasICMP: true, ICMPType: 8}},
		{"icmp number in ipv6 has no type", encode(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolICMPv4), payload(8)),
			Fields{IsIPv6: true, Proto: 1, SrcAddr: src6, DstAddr: dst6}},
		{"icmpv6 number in ipv4 has no type", encode(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv6), payload(8)),
			Fields{IsIPv4: true, Proto: 58, SrcAddr: src4, DstAddr: dst4}},
		{"first fragment keeps ports", encode(t, eth(layers.EthernetTypeIPv4), frag(layers.IPv4MoreFragments, 0), udp),
			Fields{IsIPv4: true, IsFrag: true, Proto: 17, SrcAddr: src4, DstAddr: dst4, HasPorts: true, Sport: 123, Dport: 5353}},
		{"non-first fragment has no l4", encode(t, eth(layers.EthernetTypeIPv4), frag(0, 100), payload(2)),
			Fields{IsIPv4: true, IsFrag: true, IsNonFirst: true, Proto: 17, SrcAddr: src4, DstAddr: dst4}},
		{"don't-fragment is not a fragment", encode(t, eth(layers.EthernetTypeIPv4), frag(layers.IPv4DontFragment, 0), udp),
			Fields{IsIPv4: true, Proto: 17, SrcAddr: src4, DstAddr: dst4, HasPorts: true, Sport: 123, Dport: 5353}},
		{"gre has no l4", encode(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolGRE), payload(4)),
			Fields{IsIPv4: true, Proto: 47, SrcAddr: src4, DstAddr: dst4}},
		{"arp", encode(t, eth(layers.EthernetTypeARP), payload(46)), Fields{}},
		{"14 bytes is enough", encode(t, eth(layers.EthernetTypeARP)), Fields{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			want.FrameLen = len(tt.frame)
			if got := Parse(tt.frame, false, 9216); got != want {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseEthernetPadding(t *testing.T) {
	// An IPv4 packet shorter than the frame (padding after it) is fine.
	f := encode(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2})
	f = append(f, make([]byte, 40)...)
	got := Parse(f, false, 9216)
	if got.Malformed || !got.HasPorts || got.FrameLen != len(f) {
		t.Errorf("padded frame: %+v", got)
	}
}

// header builds frames by hand for the malformed cases: gopacket would fix
// the very fields these tests break.
func header(et uint16, l3 ...byte) []byte {
	b := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, byte(et >> 8), byte(et)}
	return append(b, l3...)
}

// v4hdr is a 20-byte IPv4 header with the given first byte, total length,
// fragment word and protocol.
func v4hdr(verIHL byte, total uint16, frag uint16, proto byte) []byte {
	return []byte{verIHL, 0, byte(total >> 8), byte(total), 0, 0, byte(frag >> 8), byte(frag), 64, proto, 0, 0,
		10, 0, 0, 1, 10, 0, 0, 2}
}

func v6hdr(ver byte, plen uint16, next byte) []byte {
	h := make([]byte, 40)
	h[0], h[4], h[5], h[6], h[7] = ver<<4, byte(plen>>8), byte(plen), next, 64
	return h
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func zeros(n int) []byte { return make([]byte, n) }

func TestParseMalformed(t *testing.T) {
	good := cat(header(0x0800), v4hdr(0x45, 28, 0, 17), zeros(8))
	tcpHdr := func(doff byte) []byte { h := zeros(20); h[12] = doff << 4; return h }
	tests := []struct {
		name     string
		frame    []byte
		macError bool
		max      int
		want     string // "" = well-formed
	}{
		{"control: good frame", good, false, 9216, ""},
		{"mac error", good, true, 9216, ReasonMACError},
		{"mac error beats oversize", zeros(10000), true, 9216, ReasonMACError},
		{"oversize by one", cat(good, zeros(9217-len(good))), false, 9216, ReasonOversize},
		{"exactly max", cat(good, zeros(9216-len(good))), false, 9216, ""},
		{"oversize small max", cat(good, zeros(100-len(good))), false, 99, ReasonOversize},
		{"runt 1", zeros(1), false, 9216, ReasonRunt},
		{"runt 13", good[:13], false, 9216, ReasonRunt},
		{"vlan truncated", cat(header(0x8100), []byte{0, 5, 8}), false, 9216, ReasonVLANTruncated},
		{"vlan ok at 18", cat(header(0x8100), []byte{0, 5, 8, 6}), false, 9216, ""},
		{"second tag truncated", cat(header(0x88A8), []byte{0, 5, 0x81, 0, 0, 6, 8}), false, 9216, ReasonVLANTruncated},
		{"ipv4 truncated", good[:33], false, 9216, ReasonIPv4Truncated},
		{"ipv4 version", cat(header(0x0800), v4hdr(0x55, 28, 0, 17), zeros(8)), false, 9216, ReasonIPv4Version},
		{"ipv4 ihl", cat(header(0x0800), v4hdr(0x44, 28, 0, 17), zeros(8)), false, 9216, ReasonIPv4IHL},
		{"ipv4 total < header", cat(header(0x0800), v4hdr(0x46, 23, 0, 17), zeros(8)), false, 9216, ReasonIPv4Length},
		{"ipv4 total > frame", cat(header(0x0800), v4hdr(0x45, 29, 0, 17), zeros(8)), false, 9216, ReasonIPv4Length},
		{"ipv6 truncated", cat(header(0x86DD), v6hdr(6, 0, 59))[:53], false, 9216, ReasonIPv6Truncated},
		{"ipv6 version", cat(header(0x86DD), v6hdr(4, 0, 59)), false, 9216, ReasonIPv6Version},
		{"ipv6 payload > frame", cat(header(0x86DD), v6hdr(6, 1, 59)), false, 9216, ReasonIPv6Length},
		{"ipv6 no next header, empty", cat(header(0x86DD), v6hdr(6, 0, 59)), false, 9216, ""},
		{"udp truncated", cat(header(0x0800), v4hdr(0x45, 27, 0, 17), zeros(8)), false, 9216, ReasonUDPTruncated},
		{"udp truncated v6", cat(header(0x86DD), v6hdr(6, 7, 17), zeros(7)), false, 9216, ReasonUDPTruncated},
		{"tcp truncated", cat(header(0x0800), v4hdr(0x45, 39, 0, 6), tcpHdr(5)), false, 9216, ReasonTCPTruncated},
		{"tcp offset < 5", cat(header(0x0800), v4hdr(0x45, 40, 0, 6), tcpHdr(4)), false, 9216, ReasonTCPOffset},
		{"tcp offset > available", cat(header(0x0800), v4hdr(0x45, 40, 0, 6), tcpHdr(6)), false, 9216, ReasonTCPOffset},
		{"tcp offset fits", cat(header(0x0800), v4hdr(0x45, 44, 0, 6), tcpHdr(6), zeros(4)), false, 9216, ""},
		{"icmp truncated", cat(header(0x0800), v4hdr(0x45, 23, 0, 1), zeros(3)), false, 9216, ReasonICMPTruncated},
		{"icmpv6 truncated", cat(header(0x86DD), v6hdr(6, 3, 58), zeros(3)), false, 9216, ReasonICMPTruncated},
		{"icmp 4 bytes ok", cat(header(0x0800), v4hdr(0x45, 24, 0, 1), zeros(4)), false, 9216, ""},
		{"non-first fragment skips l4 checks", cat(header(0x0800), v4hdr(0x45, 21, 1, 6), zeros(1)), false, 9216, ""},
		{"first fragment checks l4", cat(header(0x0800), v4hdr(0x45, 21, 0x2000, 6), zeros(1)), false, 9216, ReasonTCPTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(tt.frame, tt.macError, tt.max)
			if got.Malformed != (tt.want != "") || got.Reason != tt.want {
				t.Errorf("Parse = malformed %v reason %q; want reason %q", got.Malformed, got.Reason, tt.want)
			}
			if wantLen := min(len(tt.frame), tt.max+1); got.FrameLen != wantLen {
				t.Errorf("FrameLen = %d, want %d", got.FrameLen, wantLen)
			}
		})
	}
}

func TestParseFarthestByte(t *testing.T) {
	// Two tags, IPv4 with 40 bytes of options, TCP: the flags are byte 95.
	f := cat(header(0x88A8), []byte{0, 1, 0x81, 0x00}, []byte{0, 2, 0x08, 0x00})
	ipv4 := v4hdr(0x4F, 80, 0, 6)
	f = cat(f, ipv4, zeros(40))
	tcp := zeros(20)
	tcp[12], tcp[13] = 0x50, 0xA5
	f = cat(f, tcp)
	if len(f) != 102 {
		t.Fatalf("frame is %d bytes, want 102", len(f))
	}
	got := Parse(f, false, 9216)
	if got.Malformed || got.TCPFlags != 0xA5 || got.VLANCount != 2 {
		t.Fatalf("got %+v", got)
	}
	if f[95] != 0xA5 {
		t.Fatalf("flags not at byte 95")
	}
}

// FuzzParse: any bytes give a verdict without panicking, and well-formed
// frames only claim fields their kind has.
func FuzzParse(f *testing.F) {
	f.Add(cat(header(0x0800), v4hdr(0x45, 28, 0, 17), zeros(8)), false, 9216)
	f.Add(cat(header(0x86DD), v6hdr(6, 20, 6), zeros(20)), false, 100)
	f.Add(cat(header(0x8100), []byte{0, 1, 0x88, 0xA8, 0, 2, 0x08, 0x00}, v4hdr(0x4F, 60, 0, 6), zeros(40)), true, 96)
	f.Fuzz(func(t *testing.T, frame []byte, macError bool, max int) {
		if max < 96 || max > 65534 {
			return
		}
		got := Parse(frame, macError, max)
		if got.FrameLen != min(len(frame), max+1) {
			t.Fatalf("FrameLen %d for %d bytes (max %d)", got.FrameLen, len(frame), max)
		}
		if got.Malformed != (got.Reason != "") || got.Malformed && got != (Fields{Malformed: true, Reason: got.Reason, FrameLen: got.FrameLen}) {
			t.Fatalf("inconsistent malformed frame: %+v", got)
		}
		if !got.IsIPv4 && !got.IsIPv6 && (got.Proto != 0 || got.HasPorts || got.HasICMP || got.IsFrag) {
			t.Fatalf("non-IP frame with IP fields: %+v", got)
		}
		if got.IsTCP && !got.HasPorts || got.HasICMP && got.HasPorts || got.IsNonFirst && (got.HasPorts || got.HasICMP) {
			t.Fatalf("impossible L4 fields: %+v", got)
		}
	})
}
