package model_test

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/fpgactl/fpgactl/sim/model"
	"github.com/fpgactl/fpgactl/sim/vectors"
)

// TestParseAgreesWithGopacket decodes the random traffic of sim/vectors with
// gopacket, an independent decoder, and compares what both can see. Frames
// where SPEC §2 deliberately differs from a general decoder (third VLAN tag,
// ICMP number in the other IP version) are compared only where they agree.
func TestParseAgreesWithGopacket(t *testing.T) {
	compared := 0
	for i, in := range vectors.RandomTraffic(1, 3000) {
		f := model.Parse(in.Data, false, 9216)
		if f.Malformed {
			continue
		}
		var (
			eth          layers.Ethernet
			dot1q        layers.Dot1Q
			ip4l         layers.IPv4
			ip6l         layers.IPv6
			tcpl         layers.TCP
			udpl         layers.UDP
			icmp4, icmp6 = layers.ICMPv4{}, layers.ICMPv6{}
			decoded      []gopacket.LayerType
		)
		p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1q, &ip4l, &ip6l, &tcpl, &udpl, &icmp4, &icmp6)
		p.IgnoreUnsupported = true
		if err := p.DecodeLayers(in.Data, &decoded); err != nil {
			continue // gopacket rejects it (say, bad IPv4 options): nothing to compare
		}
		tags := countTags(decoded)
		var outer layers.Dot1Q // the parser keeps only the last tag
		if tags > 0 {
			if err := outer.DecodeFromBytes(eth.Payload, gopacket.NilDecodeFeedback); err != nil {
				t.Fatal(err)
			}
		}
		if tags > 2 || tags != f.VLANCount {
			if f.VLANCount == 2 && tags > 2 {
				continue // SPEC: a third tag is not parsed
			}
			t.Fatalf("frame %d: %d tags, model says %d", i, tags, f.VLANCount)
		}
		if tags > 0 && outer.VLANIdentifier != f.OuterVID {
			t.Errorf("frame %d: outer VID %d, model %d", i, outer.VLANIdentifier, f.OuterVID)
		}
		// Only the first IP header and the layer right after it: gopacket
		// also decodes tunnels (GRE) that the filter does not look into.
		var ip4 *layers.IPv4
		var ip6 *layers.IPv6
		var l4 gopacket.LayerType
		for j, lt := range decoded {
			switch lt {
			case layers.LayerTypeIPv4:
				ip4 = &ip4l
			case layers.LayerTypeIPv6:
				ip6 = &ip6l
			default:
				continue
			}
			if j+1 < len(decoded) {
				l4 = decoded[j+1]
			}
			break
		}
		if (ip4 != nil) != f.IsIPv4 || (ip6 != nil) != f.IsIPv6 {
			t.Errorf("frame %d: gopacket ipv4 %v ipv6 %v, model %v %v", i, ip4 != nil, ip6 != nil, f.IsIPv4, f.IsIPv6)
			continue
		}
		var src, dst netip.Addr
		switch {
		case ip4 != nil:
			src, _ = netip.AddrFromSlice(ip4.SrcIP.To4())
			dst, _ = netip.AddrFromSlice(ip4.DstIP.To4())
			if uint8(ip4.Protocol) != f.Proto || (ip4.FragOffset != 0) != f.IsNonFirst ||
				(ip4.FragOffset != 0 || ip4.Flags&layers.IPv4MoreFragments != 0) != f.IsFrag {
				t.Errorf("frame %d: ipv4 proto %d frag %d flags %v; model %+v", i, ip4.Protocol, ip4.FragOffset, ip4.Flags, f)
			}
			if src != netip.AddrFrom4([4]byte(f.SrcAddr[12:])) || dst != netip.AddrFrom4([4]byte(f.DstAddr[12:])) {
				t.Errorf("frame %d: %v > %v; model %+v", i, src, dst, f)
			}
			if f.IsFrag {
				compared++
				continue // gopacket leaves every fragment undecoded; SPEC parses the first one's L4
			}
		case ip6 != nil:
			src, _ = netip.AddrFromSlice(ip6.SrcIP)
			dst, _ = netip.AddrFromSlice(ip6.DstIP)
			if uint8(ip6.NextHeader) != f.Proto || src != netip.AddrFrom16(f.SrcAddr) || dst != netip.AddrFrom16(f.DstAddr) {
				t.Errorf("frame %d: ipv6 %v > %v next %d; model %+v", i, src, dst, ip6.NextHeader, f)
			}
		}
		if tcp := &tcpl; l4 == layers.LayerTypeTCP {
			flags := b(tcp.CWR)<<7 | b(tcp.ECE)<<6 | b(tcp.URG)<<5 | b(tcp.ACK)<<4 | b(tcp.PSH)<<3 | b(tcp.RST)<<2 | b(tcp.SYN)<<1 | b(tcp.FIN)
			if !f.IsTCP || uint16(tcp.SrcPort) != f.Sport || uint16(tcp.DstPort) != f.Dport || flags != f.TCPFlags {
				t.Errorf("frame %d: tcp %d>%d flags %#x; model %+v", i, tcp.SrcPort, tcp.DstPort, flags, f)
			}
		} else if udp := &udpl; l4 == layers.LayerTypeUDP {
			if !f.HasPorts || f.IsTCP || uint16(udp.SrcPort) != f.Sport || uint16(udp.DstPort) != f.Dport {
				t.Errorf("frame %d: udp %d>%d; model %+v", i, udp.SrcPort, udp.DstPort, f)
			}
		} else if f.HasPorts {
			t.Errorf("frame %d: model found ports gopacket did not: %+v", i, f)
		}
		if ic := &icmp4; l4 == layers.LayerTypeICMPv4 && f.IsIPv4 {
			if !f.HasICMP || ic.TypeCode.Type() != f.ICMPType {
				t.Errorf("frame %d: icmp type %d; model %+v", i, ic.TypeCode.Type(), f)
			}
		}
		if ic := &icmp6; l4 == layers.LayerTypeICMPv6 && f.IsIPv6 {
			if !f.HasICMP || ic.TypeCode.Type() != f.ICMPType {
				t.Errorf("frame %d: icmpv6 type %d; model %+v", i, ic.TypeCode.Type(), f)
			}
		}
		compared++
	}
	if compared < 1000 {
		t.Errorf("only %d frames compared; the cross-check is too weak", compared)
	}
}

func b(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

func countTags(decoded []gopacket.LayerType) int {
	n := 0
	for _, lt := range decoded {
		if lt == layers.LayerTypeDot1Q {
			n++
		}
	}
	return n
}
