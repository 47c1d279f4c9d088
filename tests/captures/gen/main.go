// Command gen writes tests/captures/edge-mix.pcap, the capture replayed by
// the functional scenarios that need frames the traffic profiles
// (tests/harness/profile) cannot make: a realistic ~20 ms of traffic at the
// edge of a hosting network, as the filter of tests/rules/example.yaml sees
// it, plus every malformed-frame reason of hdl/SPEC.md §2 but mac_error
// (a MAC error is not in the bytes; scenarios add it with mac_errors).
//
// Regenerate it from the repository root (the output is byte-identical for a
// given -seed; the scenarios' covers depend on its contents, so run
// go test ./tests/harness/scenario/ after changing anything here):
//
//	go run ./tests/captures/gen                     # writes tests/captures/edge-mix.pcap
//	go run ./tests/captures/gen -seed 1 -o /tmp/x.pcap
//
// What is in it (documentation prefixes only):
//
//   - our servers 203.0.113.0/24 and 2001:db8:100::/48 (web .80, DNS .53,
//     ssh .10, GRE/IPsec peer .1); internet clients 198.18.0.0/16 and
//     2001:db8:ff00::/40; amplifiers 198.19.0.0/16; operations jump hosts
//     198.51.100.0/28; a customer's CGN range 100.64.0.0/10 behind VLAN 200.
//   - TCP with every common flag combination (SYN, SYN-ACK, ACK, PSH-ACK,
//     FIN-ACK, RST, RST-ACK; over IPv6 SYN, ACK, PSH-ACK, RST) and scan or
//     attack ones (xmas FIN+PSH+URG, null, SYN+FIN, SYN+ECE+CWR); IPv4 with
//     options; one 9000-byte jumbo.
//   - UDP: DNS queries and small/large answers, NTP small and monlist-sized,
//     SSDP, memcached, chargen, CLDAP reflection, QUIC.
//   - ICMP types 0, 3, 5, 8, 11; ICMPv6 128, 129, 134, 135, 136; and two
//     echo-request bursts of 1000-byte frames (IPv4 at 2 ms, 1 µs apart, and
//     again at 14 ms, 200 µs apart; IPv6 at 8 ms) that overrun the ICMP
//     policers of example.yaml, then let a few frames through once the
//     buckets refill, which only capture timing shows.
//   - other protocols: GRE, ESP (IPv4 and IPv6), AH, SCTP; non-IP frames:
//     ARP, LLDP, an experimental ethertype and triple-tagged frames (a third
//     tag makes a frame non-IP).
//   - VLAN: VID 10 (management), 200 (customer), 300, priority-tagged VID 0,
//     QinQ with outer VID 100 (inner 10) and outer 200 (inner 30), triple
//     tags with outer VID 4000.
//   - IPv4 fragments: first (UDP header, MF) and non-first.
//   - malformed: runts, one oversize frame (9240 bytes, for MAX_FRAME_BYTES
//     9216), truncated VLAN tags, and each IPv4/IPv6/TCP/UDP/ICMP reason.
//
// Frames are padded to 60 bytes like frames on the wire, except the runts
// and the frames cut inside a header on purpose. Checksums are correct
// (the filter ignores them; Wireshark does not).
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sort"

	"github.com/fpgactl/fpgactl/tests/harness/pcapio"
)

var rng *rand.Rand

// frame is one frame at a time offset from the start of the capture.
type frame struct {
	at   uint64 // ns
	data []byte
}

func main() {
	seed := flag.Uint64("seed", 1, "random seed; the same seed writes the same bytes")
	out := flag.String("o", "tests/captures/edge-mix.pcap", "output file")
	flag.Parse()
	rng = rand.New(rand.NewPCG(*seed, *seed^0x5eed))

	frames := build()
	sort.SliceStable(frames, func(i, j int) bool { return frames[i].at < frames[j].at })
	const base = 1_700_000_000_000_000_000 // 2023-11-14T22:13:20Z
	pf := make([]pcapio.Frame, len(frames))
	for i, f := range frames {
		pf[i] = pcapio.Frame{Data: f.data, TimeNS: base + f.at}
	}
	if err := pcapio.WriteFile(*out, pf); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	st, _ := os.Stat(*out)
	fmt.Printf("wrote %s: %d frames, %d bytes\n", *out, len(pf), st.Size())
}

const spanNS = 20_000_000 // background traffic is spread over 20 ms

func build() []frame {
	var fs []frame
	// bg adds n frames at random times in the span, each made by mk.
	bg := func(n int, mk func() []byte) {
		for i := 0; i < n; i++ {
			fs = append(fs, frame{at: uint64(rng.IntN(spanNS)), data: mk()})
		}
	}
	// burst adds n frames from at, step ns apart.
	burst := func(at, step uint64, n int, mk func() []byte) {
		for i := 0; i < n; i++ {
			fs = append(fs, frame{at: at + uint64(i)*step, data: mk()})
		}
	}
	web := ip4("203.0.113.80")
	dnsSrv := ip4("203.0.113.53")
	web6 := ip6("2001:db8:100::80")
	dns6 := ip6("2001:db8:100::53")

	// --- TCP to our web server, every common flag combination --------------
	tcpTo := func(dst netip.Addr, dport uint16, flags byte, payload int) func() []byte {
		return func() []byte {
			src := client()
			if dst.Is6() {
				src = client6()
			}
			return eth(nil, ipPacket(src, dst, 6, tcp(ephemeral(), dport, flags, payload)))
		}
	}
	webPort := func() uint16 { return []uint16{80, 443}[rng.IntN(2)] }
	bg(40, func() []byte { return tcpTo(web, webPort(), SYN, 0)() })
	bg(10, func() []byte { return tcpTo(web, webPort(), SYN|ACK, 0)() })
	bg(60, func() []byte { return tcpTo(web, webPort(), ACK, 0)() })
	bg(60, func() []byte { return tcpTo(web, webPort(), PSH|ACK, 20+rng.IntN(230))() })
	bg(3, func() []byte { return tcpTo(web, 443, PSH|ACK, 1400)() })
	bg(15, tcpTo(web, 443, FIN|ACK, 0))
	bg(10, tcpTo(web, 80, RST, 0))
	bg(5, tcpTo(web, 443, RST|ACK, 0))
	// scans and broken stacks
	bg(8, func() []byte { return tcpTo(randHost(), uint16(1+rng.IntN(1024)), FIN|PSH|URG, 0)() })
	bg(8, func() []byte { return tcpTo(randHost(), uint16(1+rng.IntN(1024)), 0, 0)() })
	bg(8, func() []byte { return tcpTo(randHost(), 22, SYN|FIN, 0)() })
	bg(8, tcpTo(web, 443, SYN|ECE|CWR, 0))
	// IPv4 with options (IHL 6..8): well-formed, the L4 header moves
	bg(10, func() []byte {
		return eth(nil, ipv4(client(), web, 6, tcp(ephemeral(), 443, ACK, 0), withOptions(1+rng.IntN(3))))
	})
	// one jumbo
	fs = append(fs, frame{at: 3_000_000, data: tcpTo(web, 443, PSH|ACK, 9000-14-20-20)()})

	// --- SSH: operations jump hosts, and outsiders trying ---------------------
	bg(30, func() []byte {
		src := netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + rng.IntN(14))})
		return eth(nil, ipPacket(src, ip4("203.0.113.10"), 6, tcp(ephemeral(), 22, PSH|ACK, 40+rng.IntN(100))))
	})
	bg(10, tcpTo(ip4("203.0.113.10"), 22, SYN, 0))

	// --- IPv6 web ---------------------------------------------------------
	bg(15, tcpTo(web6, 443, SYN, 0))
	bg(30, func() []byte { return tcpTo(web6, 443, []byte{ACK, PSH | ACK}[rng.IntN(2)], rng.IntN(200))() })
	bg(5, tcpTo(web6, 8080, SYN, 0))
	bg(5, tcpTo(web6, 443, RST, 0))

	// --- UDP: DNS, NTP, reflection, QUIC ---------------------------------------
	udpTo := func(src, dst netip.Addr, sport, dport uint16, payload int) []byte {
		return eth(nil, ipPacket(src, dst, 17, udp(sport, dport, payload)))
	}
	bg(60, func() []byte { return udpTo(client(), dnsSrv, ephemeral(), 53, 30+rng.IntN(30)) })
	bg(15, func() []byte { return udpTo(client6(), dns6, ephemeral(), 53, 30+rng.IntN(30)) })
	bg(20, func() []byte { return udpTo(resolver(), dnsSrv, 53, ephemeral(), 60+rng.IntN(240)) })
	bg(6, func() []byte { return udpTo(reflector(), ourHost(), 53, ephemeral(), 800+rng.IntN(300)) })
	bg(15, func() []byte { return udpTo(reflector(), ourHost(), 123, 123, 48) })
	bg(15, func() []byte { return udpTo(reflector(), ourHost(), 123, ephemeral(), 300) })
	bg(10, func() []byte { return udpTo(reflector(), ourHost(), 1900, ephemeral(), 200+rng.IntN(100)) })
	bg(5, func() []byte { return udpTo(reflector(), ourHost(), 11211, ephemeral(), 1400) })
	bg(10, func() []byte { return udpTo(reflector(), ourHost(), 19, ephemeral(), 200+rng.IntN(100)) })
	bg(10, func() []byte { return udpTo(reflector(), ourHost(), 389, ephemeral(), 200+rng.IntN(100)) })
	bg(40, func() []byte { return udpTo(client(), web, ephemeral(), 443, 100+rng.IntN(100)) })

	// --- ICMP and ICMPv6 ------------------------------------------------------
	icmpTo := func(dst netip.Addr, typ byte, payload int) func() []byte {
		return func() []byte {
			if dst.Is6() {
				return eth(nil, ipPacket(client6(), dst, 58, icmpMsg(typ, payload)))
			}
			return eth(nil, ipPacket(client(), dst, 1, icmpMsg(typ, payload)))
		}
	}
	bg(20, func() []byte { return icmpTo(ourHost(), 8, 56)() })
	bg(20, func() []byte { return icmpTo(ourHost(), 0, 56)() })
	bg(15, func() []byte { return icmpTo(ourHost(), 3, 28)() })
	bg(15, func() []byte { return icmpTo(ourHost(), 11, 28)() })
	bg(5, func() []byte { return icmpTo(ourHost(), 5, 28)() })
	bg(15, func() []byte { return icmpTo(ourHost6(), 128, 56)() })
	bg(10, func() []byte { return icmpTo(ourHost6(), 129, 56)() })
	bg(15, func() []byte { return icmpTo(ourHost6(), 135, 20)() })
	bg(10, func() []byte { return icmpTo(ourHost6(), 136, 20)() })
	bg(5, func() []byte { return icmpTo(ourHost6(), 134, 12)() })
	// echo floods of 1000-byte frames
	burst(2_000_000, 1_000, 18, icmpTo(ip4("203.0.113.9"), 8, 1000-14-20-8))
	burst(14_000_000, 200_000, 4, icmpTo(ip4("203.0.113.9"), 8, 1000-14-20-8))
	burst(8_000_000, 2_000, 11, icmpTo(ip6("2001:db8:100::9"), 128, 1000-14-40-8))

	// --- other IP protocols ----------------------------------------------------
	peer := ip4("203.0.113.1")
	bg(15, func() []byte { return eth(nil, ipPacket(client(), peer, 47, payload(40+rng.IntN(100)))) })
	bg(15, func() []byte { return eth(nil, ipPacket(client(), peer, 50, payload(60+rng.IntN(100)))) })
	bg(5, func() []byte { return eth(nil, ipPacket(client6(), ip6("2001:db8:100::1"), 50, payload(80))) })
	bg(5, func() []byte { return eth(nil, ipPacket(client(), peer, 51, payload(40))) })
	bg(5, func() []byte { return eth(nil, ipPacket(client(), ourHost(), 132, payload(40))) })

	// --- non-IP ------------------------------------------------------------------
	bg(20, func() []byte { return ethType(nil, 0x0806, payload(28)) })
	bg(5, func() []byte { return ethType(nil, 0x88CC, payload(60)) })
	bg(5, func() []byte { return ethType(nil, 0x88B5, payload(46)) })
	bg(5, func() []byte {
		return eth([]uint16{4000, 20, 30}, ipPacket(client(), web, 17, udp(ephemeral(), 443, 40)))
	})

	// --- VLAN and QinQ -------------------------------------------------------------
	anyL4 := func(src, dst netip.Addr) []byte {
		switch rng.IntN(3) {
		case 0:
			return ipPacket(src, dst, 6, tcp(ephemeral(), 22, PSH|ACK, rng.IntN(100)))
		case 1:
			return ipPacket(src, dst, 17, udp(ephemeral(), 161, 40+rng.IntN(60)))
		}
		return ipPacket(src, dst, 1, icmpMsg(8, 56))
	}
	bg(30, func() []byte { return eth([]uint16{10}, anyL4(ip4("198.51.100.20"), ourHost())) })
	bg(30, func() []byte { return eth([]uint16{200}, anyL4(cgn(), ip4("100.64.0.1"))) })
	bg(20, func() []byte { return eth([]uint16{300}, anyL4(client(), ourHost())) })
	bg(10, func() []byte { return eth([]uint16{0}, anyL4(client(), ourHost())) })
	bg(15, func() []byte { return eth([]uint16{100, 10}, anyL4(client(), ourHost())) })
	bg(10, func() []byte { return eth([]uint16{200, 30}, anyL4(cgn(), ip4("100.64.0.1"))) })

	// --- IPv4 fragments --------------------------------------------------------------
	bg(15, func() []byte {
		u := udp(ephemeral(), 443, 300)
		binary.BigEndian.PutUint16(u[4:], uint16(8+300+1480)) // the datagram goes on in the next fragment
		return eth(nil, ipv4(client(), web, 17, u, withFrag(true, 0)))
	})
	bg(15, func() []byte {
		return eth(nil, ipv4(client(), web, 17, payload(100+rng.IntN(300)), withFrag(rng.IntN(2) == 0, uint16(185*(1+rng.IntN(3))))))
	})

	// --- malformed, one reason after another (SPEC §2) -------------------------------
	good4 := func() []byte { return eth(nil, ipPacket(client(), web, 17, udp(ephemeral(), 443, 40))) }
	good6 := func() []byte { return eth(nil, ipPacket(client6(), web6, 17, udp(ephemeral(), 443, 40))) }
	const l3 = 14
	bg(1, func() []byte { return good4()[:10] })                                                       // runt
	bg(2, func() []byte { return good4()[:13] })                                                       // runt
	fs = append(fs, frame{at: 17_000_000, data: udpTo(client(), web, ephemeral(), 443, 9240-14-20-8)}) // oversize
	bg(2, func() []byte { return ethType(nil, 0x8100, nil)[:14+rng.IntN(4)] })                         // vlan_truncated: tag cut
	bg(1, func() []byte { return eth([]uint16{100, 10}, nil)[:18+1] })                                 // vlan_truncated: inner tag cut
	bg(3, func() []byte { return good4()[:l3+1+rng.IntN(19)] })                                        // ipv4_truncated
	bg(3, func() []byte { b := good4(); b[l3] = 0x65; fixIPv4(b[l3:]); return b })                     // ipv4_version (6 under 0x0800)
	bg(3, func() []byte { b := good4(); b[l3] = 0x43; fixIPv4(b[l3:]); return b })                     // ipv4_ihl
	bg(3, func() []byte {                                                                              // ipv4_length: total length past the frame
		b := good4()
		binary.BigEndian.PutUint16(b[l3+2:], uint16(len(b)-l3+1+rng.IntN(300)))
		fixIPv4(b[l3:])
		return b
	})
	bg(3, func() []byte { return good6()[:l3+1+rng.IntN(39)] })                                   // ipv6_truncated
	bg(3, func() []byte { b := good6(); b[l3] = 0x40 | b[l3]&0x0F; return b })                    // ipv6_version
	bg(3, func() []byte { b := good6(); binary.BigEndian.PutUint16(b[l3+4:], 900); return b })    // ipv6_length
	bg(3, func() []byte { return eth(nil, ipPacket(client(), web, 6, payload(4+rng.IntN(16)))) }) // tcp_truncated
	bg(3, func() []byte {                                                                         // tcp_offset: data offset below 5 or past the segment
		t := tcp(ephemeral(), 443, ACK, 0)
		t[12] = []byte{0x40, 0xF0, 0x30}[rng.IntN(3)]
		return eth(nil, ipPacket(client(), web, 6, t))
	})
	bg(3, func() []byte { return eth(nil, ipPacket(client(), dnsSrv, 17, payload(rng.IntN(8)))) }) // udp_truncated
	bg(2, func() []byte { return eth(nil, ipPacket(client(), web, 1, payload(rng.IntN(4)))) })     // icmp_truncated
	bg(2, func() []byte { return eth(nil, ipPacket(client6(), web6, 58, payload(rng.IntN(4)))) })  // icmp_truncated (v6)
	return fs
}

// ---- addresses ----

func ip4(s string) netip.Addr { return netip.MustParseAddr(s) }
func ip6(s string) netip.Addr { return netip.MustParseAddr(s) }

func host4(a, b byte) netip.Addr {
	return netip.AddrFrom4([4]byte{a, b, byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
}
func client() netip.Addr    { return host4(198, 18) }
func reflector() netip.Addr { return host4(198, 19) }
func resolver() netip.Addr  { return []netip.Addr{ip4("198.19.53.1"), ip4("198.19.53.2")}[rng.IntN(2)] }
func cgn() netip.Addr {
	return netip.AddrFrom4([4]byte{100, byte(64 + rng.IntN(64)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
}
func ourHost() netip.Addr { return netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + rng.IntN(254))}) }

// randHost is one of our hosts or, now and then, someone else's.
func randHost() netip.Addr {
	if rng.IntN(4) == 0 {
		return client()
	}
	return ourHost()
}

func client6() netip.Addr {
	var a [16]byte
	copy(a[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0xff, byte(rng.IntN(256))})
	for i := 8; i < 16; i++ {
		a[i] = byte(rng.IntN(256))
	}
	return netip.AddrFrom16(a)
}

func ourHost6() netip.Addr {
	a := ip6("2001:db8:100::").As16()
	a[15] = byte(1 + rng.IntN(254))
	return netip.AddrFrom16(a)
}

func ephemeral() uint16 { return uint16(32768 + rng.IntN(28232)) }

// ---- layers ----

// TCP flag bits.
const (
	FIN = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

var (
	routerMAC = []byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0xfe} // upstream router
	ourMAC    = []byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01} // the filter's side
)

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	return b
}

// ethType frames body with the given VLAN tags (the outer one 802.1ad when
// there are several) and ethertype, padded to 60 bytes.
func ethType(vids []uint16, et uint16, body []byte) []byte {
	b := append(append([]byte{}, ourMAC...), routerMAC...)
	for i, vid := range vids {
		tpid := uint16(0x8100)
		if i == 0 && len(vids) > 1 {
			tpid = 0x88A8
		}
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, vid)
	}
	b = binary.BigEndian.AppendUint16(b, et)
	b = append(b, body...)
	for len(b) < 60 {
		b = append(b, 0)
	}
	return b
}

// eth frames an IP packet (the version is its first nibble).
func eth(vids []uint16, ip []byte) []byte {
	et := uint16(0x0800)
	if len(ip) > 0 && ip[0]>>4 == 6 {
		et = 0x86DD
	}
	return ethType(vids, et, ip)
}

type ipOpt func(h []byte) []byte

func withOptions(words int) ipOpt {
	return func(h []byte) []byte {
		for i := 0; i < words*4; i++ {
			h = append(h, 1) // NOP
		}
		h[0] = 0x40 | byte(5+words)
		return h
	}
}

func withFrag(mf bool, off uint16) ipOpt {
	return func(h []byte) []byte {
		v := off & 0x1FFF
		if mf {
			v |= 0x2000
		}
		binary.BigEndian.PutUint16(h[6:], v)
		return h
	}
}

// ipPacket is ipv4 or ipv6 by the addresses' family.
func ipPacket(src, dst netip.Addr, proto byte, l4 []byte) []byte {
	if src.Is6() {
		return ipv6(src, dst, proto, l4)
	}
	return ipv4(src, dst, proto, l4, withFrag(false, 0), func(h []byte) []byte { h[6] |= 0x40; return h }) // DF
}

func ipv4(src, dst netip.Addr, proto byte, l4 []byte, opts ...ipOpt) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[4:], uint16(rng.Uint32()))
	h[8] = 64
	h[9] = proto
	s, d := src.As4(), dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	for _, o := range opts {
		h = o(h)
	}
	binary.BigEndian.PutUint16(h[2:], uint16(len(h)+len(l4)))
	fixIPv4(h)
	l4 = append([]byte{}, l4...)
	if binary.BigEndian.Uint16(h[6:])&0x1FFF == 0 { // a non-first fragment has no L4 header
		l4Checksum(proto, s[:], d[:], l4)
	}
	return append(h, l4...)
}

func ipv6(src, dst netip.Addr, next byte, l4 []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	fl := rng.Uint32() & 0xFFFFF
	h[1], h[2], h[3] = byte(fl>>16), byte(fl>>8), byte(fl)
	binary.BigEndian.PutUint16(h[4:], uint16(len(l4)))
	h[6] = next
	h[7] = 64
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	l4 = append([]byte{}, l4...)
	l4Checksum(next, s[:], d[:], l4)
	return append(h, l4...)
}

func tcp(sport, dport uint16, flags byte, n int) []byte {
	t := make([]byte, 20, 20+n)
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], dport)
	binary.BigEndian.PutUint32(t[4:], rng.Uint32())
	if flags&ACK != 0 {
		binary.BigEndian.PutUint32(t[8:], rng.Uint32())
	}
	t[12] = 5 << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:], 64240)
	return append(t, payload(n)...)
}

func udp(sport, dport uint16, n int) []byte {
	u := make([]byte, 8, 8+n)
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+n))
	return append(u, payload(n)...)
}

// icmpMsg is an ICMP or ICMPv6 message (same layout: type, code, checksum, 4 bytes).
func icmpMsg(typ byte, n int) []byte {
	m := make([]byte, 8, 8+n)
	m[0] = typ
	binary.BigEndian.PutUint32(m[4:], rng.Uint32())
	return append(m, payload(n)...)
}

// ---- checksums ----

func sum16(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xFFFF {
		s = s>>16 + s&0xFFFF
	}
	return ^uint16(s)
}

func fixIPv4(h []byte) {
	hl := int(h[0]&15) * 4
	if hl < 20 || hl > len(h) {
		hl = 20
	}
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:], fold(sum16(h[:hl], 0)))
}

// l4Checksum fills the checksum of a TCP, UDP, ICMP or ICMPv6 message in place.
func l4Checksum(proto byte, src, dst, l4 []byte) {
	at := map[byte]int{6: 16, 17: 6, 1: 2, 58: 2}[proto]
	if at == 0 || len(l4) < at+2 {
		return
	}
	l4[at], l4[at+1] = 0, 0
	var s uint32
	if proto != 1 { // ICMP (v4) has no pseudo-header
		s = sum16(src, sum16(dst, 0))
		s += uint32(proto) + uint32(len(l4))
	}
	c := fold(sum16(l4, s))
	if proto == 17 && c == 0 {
		c = 0xFFFF
	}
	binary.BigEndian.PutUint16(l4[at:], c)
}
