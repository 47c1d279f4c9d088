package profile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"sort"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ReflectionPorts maps each UDP reflection kind to its source port: the
// amplifier's service (DNS, NTP, CLDAP, SSDP, memcached).
var ReflectionPorts = map[string]uint16{
	"udp-reflection-dns":       53,
	"udp-reflection-ntp":       123,
	"udp-reflection-cldap":     389,
	"udp-reflection-ssdp":      1900,
	"udp-reflection-memcached": 11211,
}

// template is a kind's frame before sizing: its layers without payload,
// an optional fix-up applied to the serialized frame (to break it on
// purpose), and, for truncated frames, where to cut it.
type template struct {
	layers []gopacket.SerializableLayer
	fix    func(b []byte)
	cut    func(n int) int // new length given the full length; nil keeps it
}

// gen holds the random source of one run; every choice goes through it, so a
// seed gives the same bytes.
type gen struct {
	rng *rand.Rand
	buf gopacket.SerializeBuffer // reused by every serialization
}

type builder func(g *gen) template

// Concrete kinds build one kind of frame; generic kinds pick one concrete
// kind at random for each frame.
var (
	kinds   map[string]builder
	generic = map[string][]string{
		"legit":          {"legit-tcp", "legit-udp"},
		"udp-reflection": {"udp-reflection-dns", "udp-reflection-ntp", "udp-reflection-cldap", "udp-reflection-ssdp", "udp-reflection-memcached"},
		"fragment":       {"fragment-first", "fragment-nonfirst"},
		"ipv6":           {"ipv6-tcp", "ipv6-udp", "icmpv6-echo"},
		"malformed":      {"truncated", "bad-ihl", "bad-ip-length"},
	}
)

func init() {
	kinds = map[string]builder{
		"legit-tcp":         func(g *gen) template { return g.ethIPv4(g.legitTCP()) },
		"legit-udp":         func(g *gen) template { return g.ethIPv4(g.legitUDP()) },
		"syn-flood":         (*gen).synFlood,
		"fragment-first":    (*gen).fragmentFirst,
		"fragment-nonfirst": (*gen).fragmentNonFirst,
		"vlan":              (*gen).vlan,
		"qinq":              (*gen).qinq,
		"ipv6-tcp":          (*gen).ipv6TCP,
		"ipv6-udp":          (*gen).ipv6UDP,
		"icmpv6-echo":       (*gen).icmpv6Echo,
		"icmp-echo":         (*gen).icmpEcho,
		"truncated":         (*gen).truncated,
		"bad-ihl":           (*gen).badIHL,
		"bad-ip-length":     (*gen).badIPLength,
	}
	for name, port := range ReflectionPorts {
		kinds[name] = func(g *gen) template { return g.reflection(port) }
	}
	for name := range generic {
		kinds[name] = nil // resolved in build
	}
}

// Kinds returns every kind name accepted in a mix, sorted. Generic kinds
// ("legit", "udp-reflection", "fragment", "ipv6", "malformed") pick one of
// their concrete kinds per frame; Frame.Kind records the concrete one.
func Kinds() []string {
	out := make([]string, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// build makes one frame of kind, size bytes long when the kind allows, with
// the trailer for id when it fits.
func (g *gen) build(kind string, size int, id uint32) ([]byte, string) {
	if choices, ok := generic[kind]; ok {
		kind = choices[g.rng.IntN(len(choices))]
	}
	t := kinds[kind](g)

	// The headers' length: serialized without Ethernet, which would pad them.
	hdr := EthernetLen + len(g.serialize(t.layers[1:]))
	n := max(size, hdr)
	payload := make([]byte, n-hdr)
	for i := range payload {
		payload[i] = byte(i)
	}
	if len(payload) >= TrailerLen {
		putTrailer(payload[len(payload)-TrailerLen:], id)
	}
	data := bytes.Clone(g.serialize(append(t.layers, gopacket.Payload(payload))))
	if t.fix != nil {
		t.fix(data)
	}
	if t.cut != nil {
		data = data[:t.cut(len(data))]
	}
	return data, kind
}

// EthernetLen is the length of an untagged Ethernet II header.
const EthernetLen = 14

var serializeOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

// serialize returns ls serialized; the bytes are g's until its next call.
func (g *gen) serialize(ls []gopacket.SerializableLayer) []byte {
	if err := gopacket.SerializeLayers(g.buf, serializeOpts, ls...); err != nil {
		// Only reachable through a bug in a builder: every layer is built here.
		panic(fmt.Sprintf("profile: serializing frame: %v", err))
	}
	return g.buf.Bytes()
}

// ---- addresses ----

var (
	clientMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}
	serverMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x20, 0x00, 0x01}
)

func (g *gen) clientIP() net.IP {
	return net.IPv4(10, byte(g.rng.IntN(256)), byte(g.rng.IntN(256)), byte(1+g.rng.IntN(254))).To4()
}
func (g *gen) serverIP() net.IP { return net.IPv4(192, 0, 2, byte(1+g.rng.IntN(254))).To4() }

// publicIP is a random unicast source outside 0/8, 10/8, 127/8 and
// multicast, as a spoofed flood source would be.
func (g *gen) publicIP() net.IP {
	for {
		a := byte(1 + g.rng.IntN(223))
		if a != 10 && a != 127 {
			return net.IPv4(a, byte(g.rng.IntN(256)), byte(g.rng.IntN(256)), byte(1+g.rng.IntN(254))).To4()
		}
	}
}

func (g *gen) ipv6(prefix byte) net.IP {
	ip := make(net.IP, 16)
	copy(ip, []byte{0x20, 0x01, 0x0d, 0xb8, prefix})
	for i := 8; i < 16; i++ {
		ip[i] = byte(g.rng.IntN(256))
	}
	return ip
}

func (g *gen) ephemeralPort() uint16 { return uint16(32768 + g.rng.IntN(28232)) }

// ---- layer builders ----

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: clientMAC, DstMAC: serverMAC, EthernetType: t}
}

func (g *gen) ipv4(proto layers.IPProtocol, src, dst net.IP) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, Id: uint16(g.rng.Uint32()), Flags: layers.IPv4DontFragment,
		Protocol: proto, SrcIP: src, DstIP: dst}
}

// l4 is an IPv4 network layer and what rides on it.
type l4 struct {
	ip    *layers.IPv4
	upper []gopacket.SerializableLayer
}

func (g *gen) legitTCP() l4 {
	ip := g.ipv4(layers.IPProtocolTCP, g.clientIP(), g.serverIP())
	tcp := &layers.TCP{SrcPort: layers.TCPPort(g.ephemeralPort()), DstPort: 443, Seq: g.rng.Uint32(),
		Ack: g.rng.Uint32(), ACK: true, PSH: true, Window: 64240}
	tcp.SetNetworkLayerForChecksum(ip)
	return l4{ip, []gopacket.SerializableLayer{tcp}}
}

func (g *gen) legitUDP() l4 {
	ip := g.ipv4(layers.IPProtocolUDP, g.clientIP(), g.serverIP())
	udp := &layers.UDP{SrcPort: layers.UDPPort(g.ephemeralPort()), DstPort: 443}
	udp.SetNetworkLayerForChecksum(ip)
	return l4{ip, []gopacket.SerializableLayer{udp}}
}

// legitL4 is TCP or UDP at random, the payload of VLAN and QinQ frames.
func (g *gen) legitL4() l4 {
	if g.rng.IntN(2) == 0 {
		return g.legitTCP()
	}
	return g.legitUDP()
}

func (g *gen) ethIPv4(x l4) template {
	return template{layers: append([]gopacket.SerializableLayer{eth(layers.EthernetTypeIPv4), x.ip}, x.upper...)}
}

func (g *gen) synFlood() template {
	ip := g.ipv4(layers.IPProtocolTCP, g.publicIP(), g.serverIP())
	ip.Flags = 0
	mss := make([]byte, 2)
	binary.BigEndian.PutUint16(mss, 1460)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(1024 + g.rng.IntN(64512)), DstPort: 80, Seq: g.rng.Uint32(),
		SYN: true, Window: 65535,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: mss}}}
	tcp.SetNetworkLayerForChecksum(ip)
	return g.ethIPv4(l4{ip, []gopacket.SerializableLayer{tcp}})
}

func (g *gen) reflection(port uint16) template {
	ip := g.ipv4(layers.IPProtocolUDP, g.publicIP(), g.serverIP())
	ip.Flags = 0
	udp := &layers.UDP{SrcPort: layers.UDPPort(port), DstPort: layers.UDPPort(g.ephemeralPort())}
	udp.SetNetworkLayerForChecksum(ip)
	return g.ethIPv4(l4{ip, []gopacket.SerializableLayer{udp}})
}

// fragmentFirst is the first fragment of a large UDP datagram: MF set,
// offset 0, a UDP header whose length covers the whole datagram.
func (g *gen) fragmentFirst() template {
	ip := g.ipv4(layers.IPProtocolUDP, g.publicIP(), g.serverIP())
	ip.Flags = layers.IPv4MoreFragments
	udp := &layers.UDP{SrcPort: layers.UDPPort(g.ephemeralPort()), DstPort: 443}
	udp.SetNetworkLayerForChecksum(ip)
	extra := uint16(1480 * (1 + g.rng.IntN(3)))
	t := g.ethIPv4(l4{ip, []gopacket.SerializableLayer{udp}})
	t.fix = func(b []byte) {
		u := b[EthernetLen+20:]
		binary.BigEndian.PutUint16(u[4:6], binary.BigEndian.Uint16(u[4:6])+extra)
	}
	return t
}

// fragmentNonFirst is a later fragment: offset > 0 (in 8-byte units), no L4
// header, MF set on middle fragments and clear on the last.
func (g *gen) fragmentNonFirst() template {
	ip := g.ipv4(layers.IPProtocolUDP, g.publicIP(), g.serverIP())
	ip.Flags = 0
	if g.rng.IntN(2) == 0 {
		ip.Flags = layers.IPv4MoreFragments
	}
	ip.FragOffset = uint16(185 * (1 + g.rng.IntN(4))) // 1480-byte steps
	return template{layers: []gopacket.SerializableLayer{eth(layers.EthernetTypeIPv4), ip}}
}

func (g *gen) vlan() template {
	x := g.legitL4()
	tag := &layers.Dot1Q{VLANIdentifier: uint16(1 + g.rng.IntN(4094)), Type: layers.EthernetTypeIPv4}
	return template{layers: append([]gopacket.SerializableLayer{eth(layers.EthernetTypeDot1Q), tag, x.ip}, x.upper...)}
}

// qinq is 802.1ad outer tag (TPID 0x88A8) + 802.1Q inner tag (0x8100).
func (g *gen) qinq() template {
	x := g.legitL4()
	outer := &layers.Dot1Q{VLANIdentifier: uint16(1 + g.rng.IntN(4094)), Type: layers.EthernetTypeDot1Q}
	inner := &layers.Dot1Q{VLANIdentifier: uint16(1 + g.rng.IntN(4094)), Type: layers.EthernetTypeIPv4}
	return template{layers: append([]gopacket.SerializableLayer{eth(layers.EthernetTypeQinQ), outer, inner, x.ip}, x.upper...)}
}

func (g *gen) ip6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, NextHeader: next, HopLimit: 64, FlowLabel: g.rng.Uint32() & 0xfffff,
		SrcIP: g.ipv6(0x01), DstIP: g.ipv6(0x02)}
}

func (g *gen) ipv6TCP() template {
	ip := g.ip6(layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(g.ephemeralPort()), DstPort: 443, Seq: g.rng.Uint32(),
		Ack: g.rng.Uint32(), ACK: true, PSH: true, Window: 64240}
	tcp.SetNetworkLayerForChecksum(ip)
	return template{layers: []gopacket.SerializableLayer{eth(layers.EthernetTypeIPv6), ip, tcp}}
}

func (g *gen) ipv6UDP() template {
	ip := g.ip6(layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(g.ephemeralPort()), DstPort: 443}
	udp.SetNetworkLayerForChecksum(ip)
	return template{layers: []gopacket.SerializableLayer{eth(layers.EthernetTypeIPv6), ip, udp}}
}

func (g *gen) icmpv6Echo() template {
	ip := g.ip6(layers.IPProtocolICMPv6)
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
	icmp.SetNetworkLayerForChecksum(ip)
	echo := &layers.ICMPv6Echo{Identifier: uint16(g.rng.Uint32()), SeqNumber: uint16(g.rng.Uint32())}
	return template{layers: []gopacket.SerializableLayer{eth(layers.EthernetTypeIPv6), ip, icmp, echo}}
}

func (g *gen) icmpEcho() template {
	ip := g.ipv4(layers.IPProtocolICMPv4, g.clientIP(), g.serverIP())
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0),
		Id: uint16(g.rng.Uint32()), Seq: uint16(g.rng.Uint32())}
	return g.ethIPv4(l4{ip, []gopacket.SerializableLayer{icmp}})
}

// truncated is a legit UDP frame cut inside its IPv4 header (14 + 1..19
// bytes): the filter's ipv4_truncated case. It carries no trailer.
func (g *gen) truncated() template {
	t := g.ethIPv4(g.legitUDP())
	keep := EthernetLen + 1 + g.rng.IntN(19)
	t.cut = func(int) int { return keep }
	return t
}

// badIHL is a legit UDP frame whose IPv4 IHL is below 5 (ipv4_ihl).
func (g *gen) badIHL() template {
	t := g.ethIPv4(g.legitUDP())
	ihl := byte(g.rng.IntN(5))
	t.fix = func(b []byte) {
		b[EthernetLen] = 0x40 | ihl
		fixIPv4Checksum(b[EthernetLen:])
	}
	return t
}

// badIPLength is a legit UDP frame whose IPv4 total length claims 1..512
// bytes more than the frame holds (ipv4_length).
func (g *gen) badIPLength() template {
	t := g.ethIPv4(g.legitUDP())
	extra := uint16(1 + g.rng.IntN(512))
	t.fix = func(b []byte) {
		l := b[EthernetLen+2 : EthernetLen+4]
		binary.BigEndian.PutUint16(l, binary.BigEndian.Uint16(l)+extra)
		fixIPv4Checksum(b[EthernetLen:])
	}
	return t
}

// fixIPv4Checksum recomputes the checksum of the 20-byte fixed IPv4 header
// at ip, so a frame broken on purpose is broken in one field only.
func fixIPv4Checksum(ip []byte) {
	ip[10], ip[11] = 0, 0
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i : i+2]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(ip[10:12], ^uint16(sum))
}
