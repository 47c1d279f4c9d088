package vectors

import (
	"fmt"
	"math/rand/v2"

	"github.com/fpgactl/fpgactl/sim/rules"
)

func compileYAML(name, src string, p Params) (*rules.Table, error) {
	rs, err := rules.Parse(name+".yaml", []byte(src))
	if err != nil {
		return nil, err
	}
	return rs.Compile(p.NumRules)
}

// clock hands out increasing timestamps.
type clock struct{ t uint64 }

func (c *clock) next(step uint64) uint64 { c.t += step; return c.t }

const featuresRules = `
default: pass
malformed: drop
rules:
  - {name: admin-allow,   action: pass, src: 10.1.2.0/24}
  - {name: lab-drop,      action: drop, src: 10.1.0.0/16}
  - {name: dns-server,    action: drop, dst: 192.0.2.10, proto: udp, dst_port: 53}
  - {name: sport-range,   action: drop, proto: tcp, src_port: 1000-1999}
  - {name: syn-8080,      action: drop, proto: tcp, dst_port: 8080, tcp_flags: "syn,!ack"}
  - {name: ping,          action: drop, proto: icmp, icmp_type: 8}
  - {name: ping6,         action: drop, proto: icmpv6, icmp_type: 128}
  - {name: bad-v6-net,    action: drop, src: "2001:db8:bad::/48"}
  - {name: v6-https,      action: drop, dst: "2001:db8::443", proto: tcp, dst_port: 443}
  - {name: vlan-100,      action: drop, vlan: 100}
  - {name: big-untagged,  action: drop, vlan: untagged, length: 1000-1100}
  - {name: non-first,     action: drop, fragment: non-first}
  - {name: frag-net,      action: drop, fragment: yes, src: 198.51.100.0/24}
  - {name: gre-whole,     action: drop, fragment: no, proto: gre}
  - {name: non-ip-vlan,   action: drop, ip: non-ip, vlan: 300}
  - {name: sctp,          action: drop, ip: 6, proto: 132}
  - {name: udp-any-sport, action: drop, proto: udp, src_port: 7-9, dst_port: 7-9}
  - {name: pass-any-udp-to-7777, action: pass, proto: udp, dst_port: 7777}
  - {name: v4-len,        action: drop, ip: 4, length: 61-63}
`

func genFeatures(p Params) (*set, error) {
	t, err := compileYAML("features", featuresRules, p)
	if err != nil {
		return nil, err
	}
	udp := func(src, dst string, sp, dp uint16) frameSpec {
		return frameSpec{IPVer: 4, Src: src, Dst: dst, Proto: 17, Sport: sp, Dport: dp, Len: 80}
	}
	tcp := func(src, dst string, sp, dp uint16, flags uint8) frameSpec {
		return frameSpec{IPVer: 4, Src: src, Dst: dst, Proto: 6, Sport: sp, Dport: dp, TCPFlags: flags, Len: 90}
	}
	v6 := func(src, dst string, proto uint8, sp, dp uint16) frameSpec {
		return frameSpec{IPVer: 6, Src: src, Dst: dst, Proto: proto, Sport: sp, Dport: dp, Len: 100}
	}
	with := func(s frameSpec, mod func(*frameSpec)) frameSpec { mod(&s); return s }
	specs := []frameSpec{
		// prefixes and first-match order
		udp("10.1.2.3", "203.0.113.1", 5000, 6000), // admin-allow before lab-drop
		udp("10.1.3.3", "203.0.113.1", 5000, 6000), // lab-drop
		udp("10.2.3.3", "203.0.113.1", 5000, 6000), // miss
		// dst + proto + port
		udp("203.0.113.5", "192.0.2.10", 3333, 53),
		udp("203.0.113.5", "192.0.2.11", 3333, 53),
		tcp("203.0.113.5", "192.0.2.10", 3333, 53, 0x10),
		udp("203.0.113.5", "192.0.2.10", 3333, 54),
		// sport range edges
		tcp("203.0.113.5", "203.0.113.6", 999, 80, 0x10),
		tcp("203.0.113.5", "203.0.113.6", 1000, 80, 0x10),
		tcp("203.0.113.5", "203.0.113.6", 1999, 80, 0x10),
		tcp("203.0.113.5", "203.0.113.6", 2000, 80, 0x10),
		// TCP flags
		tcp("203.0.113.5", "203.0.113.6", 40000, 8080, 0x02),
		tcp("203.0.113.5", "203.0.113.6", 40000, 8080, 0x12),
		tcp("203.0.113.5", "203.0.113.6", 40000, 8080, 0x0A),
		tcp("203.0.113.5", "203.0.113.6", 40000, 8081, 0x02),
		// ICMP / ICMPv6
		{IPVer: 4, Src: "203.0.113.5", Dst: "203.0.113.6", Proto: 1, ICMPType: 8, Len: 64},
		{IPVer: 4, Src: "203.0.113.5", Dst: "203.0.113.6", Proto: 1, ICMPType: 0, Len: 64},
		{IPVer: 6, Src: "2001:db8::1", Dst: "2001:db8::2", Proto: 58, ICMPType: 128, Len: 70},
		{IPVer: 6, Src: "2001:db8::1", Dst: "2001:db8::2", Proto: 58, ICMPType: 129, Len: 70},
		{IPVer: 6, Src: "2001:db8::1", Dst: "2001:db8::2", Proto: 1, ICMPType: 8, Len: 70}, // ICMP in IPv6: no type
		// IPv6 prefixes
		v6("2001:db8:bad:1::5", "2001:db8::9", 17, 1, 2),
		v6("2001:db8:bae:1::5", "2001:db8::9", 17, 1, 2),
		v6("2001:db8::7", "2001:db8::443", 6, 5555, 443),
		v6("2001:db8::7", "2001:db8::444", 6, 5555, 443),
		v6("2001:db8::7", "2001:db8::443", 17, 5555, 443),
		v6("2001:db8::7", "2001:db8::9", 132, 0, 0),
		// VLAN and QinQ: outer VID counts
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.VIDs = []uint16{100} }),
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.VIDs = []uint16{101} }),
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.VIDs = []uint16{100, 200} }),
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.VIDs = []uint16{200, 100} }),
		with(v6("2001:db8::7", "2001:db8::443", 6, 5555, 443), func(s *frameSpec) { s.VIDs = []uint16{5, 6} }),
		{VIDs: []uint16{300}, EtherType: 0x88CC, Len: 60},
		{VIDs: []uint16{301}, EtherType: 0x88CC, Len: 60},
		{VIDs: []uint16{300, 7}, EtherType: 0x0806, Len: 64},
		{EtherType: 0x0806, Len: 60},
		// length range and untagged
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.Len = 999 }),
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.Len = 1000 }),
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.Len = 1100 }),
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.Len = 1101 }),
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.Len = 1050; s.VIDs = []uint16{42} }),
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.Len = 61 }),
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.Len = 63 }),
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.Len = 64 }),
		with(v6("2001:db8::1", "2001:db8::2", 17, 1, 2), func(s *frameSpec) { s.Len = 62 }), // too short for IPv6: grows to 70
		// fragments
		with(udp("203.0.113.5", "203.0.113.6", 7, 7), func(s *frameSpec) { s.MF = true }),                 // first fragment, ports parsed
		with(udp("203.0.113.5", "203.0.113.6", 7, 7), func(s *frameSpec) { s.FragOff = 185 }),             // non-first
		with(udp("198.51.100.9", "203.0.113.6", 1, 2), func(s *frameSpec) { s.MF = true }),                // frag-net
		with(udp("198.51.100.9", "203.0.113.6", 1, 2), func(s *frameSpec) { s.MF = true; s.FragOff = 1 }), // non-first wins
		{IPVer: 4, Src: "203.0.113.5", Dst: "203.0.113.6", Proto: 47, Len: 100},
		{IPVer: 4, Src: "203.0.113.5", Dst: "203.0.113.6", Proto: 47, MF: true, Len: 100},
		{IPVer: 6, Src: "2001:db8::1", Dst: "2001:db8::2", Proto: 47, Len: 100},
		// IPv4 options move L4
		with(udp("203.0.113.5", "192.0.2.10", 3333, 53), func(s *frameSpec) { s.OptWords = 10; s.VIDs = []uint16{7, 8} }),
		with(tcp("203.0.113.5", "203.0.113.6", 40000, 8080, 0x02), func(s *frameSpec) { s.OptWords = 10; s.VIDs = []uint16{7, 8} }),
		with(tcp("203.0.113.5", "203.0.113.6", 40000, 8080, 0x02), func(s *frameSpec) { s.OptWords = 3 }),
		// port rules with both ports
		udp("203.0.113.5", "203.0.113.6", 7, 9),
		udp("203.0.113.5", "203.0.113.6", 7, 10),
		udp("203.0.113.5", "203.0.113.6", 9, 7777),
		tcp("203.0.113.5", "203.0.113.6", 8, 8, 0),
		// big frames
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.Len = 1518 }),
		with(udp("203.0.113.5", "203.0.113.6", 1, 2), func(s *frameSpec) { s.Len = p.MaxFrameBytes }),
	}
	s := &set{Table: t}
	var c clock
	for i, sp := range specs {
		s.Frames = append(s.Frames, Input{Data: sp.build(), TimeNS: c.next(1000), Idle: i % 4})
	}
	return s, nil
}

// malformedFrames returns one frame per malformed reason (and some
// well-formed near misses), each built by breaking a good frame.
func malformedFrames(p Params) []Input {
	good := frameSpec{IPVer: 4, Src: "203.0.113.5", Dst: "203.0.113.6", Proto: 17, Sport: 1, Dport: 2, Len: 80}
	patch := func(s frameSpec, mod func(b []byte) []byte) []byte { return mod(s.build()) }
	l3 := l3Offset(good)
	put16 := func(b []byte, i, v int) { b[i], b[i+1] = byte(v>>8), byte(v) }
	tcpGood := frameSpec{IPVer: 4, Src: "203.0.113.5", Dst: "203.0.113.6", Proto: 6, Sport: 1, Dport: 2, TCPFlags: 2, Len: 80}
	v6Good := frameSpec{IPVer: 6, Src: "2001:db8::1", Dst: "2001:db8::2", Proto: 17, Sport: 1, Dport: 2, Len: 100}
	oversize := p.MaxFrameBytes + 1
	huge := max(10000, p.MaxFrameBytes+100)
	var frames []Input
	add := func(b []byte, macErr bool) { frames = append(frames, Input{Data: b, MACError: macErr}) }
	add(good.build(), true) // mac_error on a good frame
	add(frameSpec{EtherType: 0x0806, Len: 14}.build(), true)
	add(frameSpec{IPVer: 4, Src: "1.1.1.1", Dst: "2.2.2.2", Proto: 17, Len: oversize}.build(), false)
	add(frameSpec{IPVer: 4, Src: "1.1.1.1", Dst: "2.2.2.2", Proto: 17, Len: huge}.build(), false)
	add(frameSpec{IPVer: 4, Src: "1.1.1.1", Dst: "2.2.2.2", Proto: 17, Len: huge}.build(), true) // mac_error wins
	add(frameSpec{IPVer: 4, Src: "1.1.1.1", Dst: "2.2.2.2", Proto: 17, Len: p.MaxFrameBytes}.build(), false)
	add(good.build()[:1], false)
	add(good.build()[:13], false)
	add(frameSpec{EtherType: 0x0806}.build()[:14], false) // 14 bytes: well-formed non-IP
	add(frameSpec{VIDs: []uint16{1}, EtherType: 0x0806}.build()[:17], false)
	add(frameSpec{VIDs: []uint16{1}, EtherType: 0x0806}.build()[:18], false)
	add(frameSpec{VIDs: []uint16{1, 2}, EtherType: 0x0806}.build()[:21], false)
	add(frameSpec{VIDs: []uint16{1, 2}, EtherType: 0x0806}.build()[:22], false)
	add(patch(frameSpec{VIDs: []uint16{1, 2}, EtherType: 0x0806, Len: 64}, func(b []byte) []byte { put16(b, 20, 0x8100); return b }), false) // third tag: non-IP
	add(good.build()[:l3+19], false)
	add(good.build()[:l3+20], false) // tl now too long: ipv4_length
	add(patch(good, func(b []byte) []byte { b[l3] = 0x65; return b }), false)
	add(patch(good, func(b []byte) []byte { b[l3] = 0x44; return b }), false)
	add(patch(good, func(b []byte) []byte { b[l3] = 0x46; return b }), false) // IHL 6 but UDP moves: still well formed
	add(patch(good, func(b []byte) []byte { put16(b, l3+2, 19); return b }), false)
	add(patch(good, func(b []byte) []byte { put16(b, l3+2, len(b)-l3+1); return b }), false)
	add(patch(good, func(b []byte) []byte { put16(b, l3+2, 28); return b }), false) // shorter tl: trailing pad ok
	add(patch(good, func(b []byte) []byte { b[l3] = 0x4F; put16(b, l3+2, 60); return b }), false)
	add(v6Good.build()[:l3+39], false)
	add(patch(v6Good, func(b []byte) []byte { b[l3] = 0x40; return b }), false)
	add(patch(v6Good, func(b []byte) []byte { put16(b, l3+4, len(b)-l3-39); return b }), false)
	add(patch(v6Good, func(b []byte) []byte { put16(b, l3+4, 7); return b }), false)                       // udp_truncated
	add(patch(v6Good, func(b []byte) []byte { put16(b, l3+4, 8); return b }), false)                       // exactly a UDP header
	add(patch(good, func(b []byte) []byte { put16(b, l3+2, 27); return b }), false)                        // udp_truncated
	add(patch(tcpGood, func(b []byte) []byte { put16(b, l3+2, 39); return b }), false)                     // tcp_truncated
	add(patch(tcpGood, func(b []byte) []byte { b[l3+20+12] = 0x40; return b }), false)                     // doff 4
	add(patch(tcpGood, func(b []byte) []byte { b[l3+20+12] = 0xF0; return b }), false)                     // 60 > avail
	add(patch(tcpGood, func(b []byte) []byte { b[l3+20+12] = 0x60; put16(b, l3+2, 44); return b }), false) // doff 6 fits exactly
	add(patch(frameSpec{IPVer: 4, Src: "1.1.1.1", Dst: "2.2.2.2", Proto: 1, Len: 60}, func(b []byte) []byte { put16(b, l3+2, 23); return b }), false)
	add(patch(frameSpec{IPVer: 6, Src: "::1", Dst: "::2", Proto: 58, Len: 80}, func(b []byte) []byte { put16(b, l3+4, 3); return b }), false)
	add(patch(frameSpec{IPVer: 4, Src: "1.1.1.1", Dst: "2.2.2.2", Proto: 6, FragOff: 3, Len: 60}, func(b []byte) []byte { put16(b, l3+2, 21); return b }), false) // non-first: L4 not checked
	add(patch(frameSpec{IPVer: 4, Src: "1.1.1.1", Dst: "2.2.2.2", Proto: 6, MF: true, Len: 60}, func(b []byte) []byte { put16(b, l3+2, 21); return b }), false)   // first fragment: tcp_truncated
	add(patch(frameSpec{IPVer: 6, Src: "::1", Dst: "::2", Proto: 1, Len: 80}, func(b []byte) []byte { put16(b, l3+4, 0); return b }), false)                      // ICMP(v4) number in IPv6: no L4
	// QinQ + options at the far end of the header window
	add(frameSpec{VIDs: []uint16{1, 2}, IPVer: 4, Src: "1.1.1.1", Dst: "2.2.2.2", Proto: 6, OptWords: 10, TCPFlags: 0x12, Len: 96}.build(), false)
	add(frameSpec{VIDs: []uint16{1, 2}, IPVer: 4, Src: "1.1.1.1", Dst: "2.2.2.2", Proto: 6, OptWords: 10, TCPFlags: 0x12, Len: 96}.build()[:95], false)
	return frames
}

const malformedRules = `
default: pass
malformed: %s
rules:
  - {name: drop-udp-2, action: drop, proto: udp, dst_port: 2}
  - {name: pass-tcp,   action: pass, proto: tcp}
`

func genMalformed(p Params, pass bool) (*set, error) {
	act := "drop"
	if pass {
		act = "pass"
	}
	t, err := compileYAML("malformed", fmt.Sprintf(malformedRules, act), p)
	if err != nil {
		return nil, err
	}
	s := &set{Table: t, Frames: malformedFrames(p)}
	var c clock
	for i := range s.Frames {
		s.Frames[i].TimeNS = c.next(500)
		s.Frames[i].Idle = i % 3
	}
	return s, nil
}

const policeRules = `
default: pass
rules:
  - {name: udp-1mpps,  action: police, proto: udp, dst_port: 5000, rate: 1Mpps, burst: 4}
  - {name: tcp-8gbps,  action: police, proto: tcp, dst_port: 80, rate: 8Gbps, burst: 3000}
  - {name: icmp-1MBps, action: police, proto: icmp, rate: 1MBps, burst: 1500}
  - {name: udp-drop,   action: drop, proto: udp, dst_port: 5001}
`

func genPolice(p Params) (*set, error) {
	t, err := compileYAML("police", policeRules, p)
	if err != nil {
		return nil, err
	}
	udp := frameSpec{IPVer: 4, Src: "203.0.113.5", Dst: "192.0.2.1", Proto: 17, Sport: 9, Dport: 5000, Len: 64}
	tcp := frameSpec{IPVer: 4, Src: "203.0.113.5", Dst: "192.0.2.1", Proto: 6, Sport: 9, Dport: 80, TCPFlags: 0x18}
	icmp := frameSpec{IPVer: 4, Src: "203.0.113.5", Dst: "192.0.2.1", Proto: 1, ICMPType: 8}
	s := &set{Table: t}
	add := func(sp frameSpec, length int, ts uint64) {
		sp.Len = length
		s.Frames = append(s.Frames, Input{Data: sp.build(), TimeNS: ts})
	}
	base := uint64(1_000_000)
	// pps: 6 frames at the same instant (4 pass), then refill edges: the rate
	// register holds slightly under 1 packet per 1000 ns.
	for i := 0; i < 6; i++ {
		add(udp, 64, base)
	}
	add(udp, 64, base+1000)  // rate·1000 ns is just under one token: policed
	add(udp, 64, base+1001)  // now one token: passes
	add(udp, 64, base+1500)  // half a token: policed
	add(udp, 64, base+500)   // time goes back: dt 0, policed; last_ns moves back too
	add(udp, 64, base+3500)  // dt 3000 from base+500: about 3.5 tokens
	add(udp, 64, base+3500)  // about 2.5
	add(udp, 64, base+3500)  // about 1.5
	add(udp, 64, base+3500)  // about 0.5: policed
	add(udp, 1500, base+1e9) // long gap: full bucket again; length does not matter for pps
	// bytes: 8 Gbps is exactly 1 byte per ns (rate register 2^32), burst 3000
	tb := base + 2_000_000
	add(tcp, 1500, tb)
	add(tcp, 1400, tb)
	add(tcp, 200, tb) // 100 left: policed
	add(tcp, 100, tb) // exactly the 100 left: passes
	add(tcp, 64, tb+63)
	add(tcp, 64, tb+64) // policed frame above kept 63 tokens: now 64, passes
	add(tcp, 1518, tb+1600)
	add(tcp, 9000, tb+50_000) // larger than the burst: never conforms
	add(tcp, 60, tb+50_001)
	// dt above 2^32-1 ns is capped; the bucket is full anyway
	add(tcp, 3000, tb+(1<<33))
	add(tcp, 54, tb+(1<<33))                                                          // bucket just emptied: policed
	s.Frames = append(s.Frames, Input{Data: tcp.build()[:1], TimeNS: tb + (1 << 33)}) // runt: malformed, never policed
	// 1 MB/s: rate register 4294967, a hair under 1 byte per µs
	ti := tb + (1 << 34)
	add(icmp, 1000, ti)
	add(icmp, 600, ti+1) // 500 left: policed
	add(icmp, 500, ti+2)
	add(icmp, 100, ti+100_000) // dt 99998 ns gives 99.998 bytes: policed
	add(icmp, 60, ti+200_000)  // about 200 bytes: passes
	add(icmp, 142, ti+200_001) // about 140 left: policed
	add(udp, 64, ti+200_001)   // pps bucket long refilled
	// interleaved, with an unrelated drop rule in between
	for i := 0; i < 40; i++ {
		ts := ti + 300_000 + uint64(i)*350
		switch i % 4 {
		case 0, 1:
			add(udp, 64+i, ts)
		case 2:
			add(tcp, 300+10*i, ts)
		default:
			sp := udp
			sp.Dport = 5001
			add(sp, 70, ts)
		}
	}
	return s, nil
}

const defaultDropRules = `
default: drop
malformed: drop
rules:
  - {name: web,      action: pass, dst: 192.0.2.0/24, proto: tcp, dst_port: 80-443}
  - {name: dns,      action: pass, proto: udp, src_port: 53}
  - {name: v6-all,   action: pass, ip: 6}
  - {name: arp,      action: pass, ip: non-ip}
`

func genDefaultDrop(p Params) (*set, error) {
	t, err := compileYAML("default_drop", defaultDropRules, p)
	if err != nil {
		return nil, err
	}
	specs := []frameSpec{
		{IPVer: 4, Src: "1.2.3.4", Dst: "192.0.2.5", Proto: 6, Sport: 3000, Dport: 80, TCPFlags: 2, Len: 60},
		{IPVer: 4, Src: "1.2.3.4", Dst: "192.0.2.5", Proto: 6, Sport: 3000, Dport: 443, TCPFlags: 2, Len: 60},
		{IPVer: 4, Src: "1.2.3.4", Dst: "192.0.2.5", Proto: 6, Sport: 3000, Dport: 444, TCPFlags: 2, Len: 60},
		{IPVer: 4, Src: "1.2.3.4", Dst: "192.0.3.5", Proto: 6, Sport: 3000, Dport: 80, TCPFlags: 2, Len: 60},
		{IPVer: 4, Src: "1.2.3.4", Dst: "192.0.2.5", Proto: 17, Sport: 53, Dport: 3000, Len: 200},
		{IPVer: 4, Src: "1.2.3.4", Dst: "192.0.2.5", Proto: 17, Sport: 54, Dport: 53, Len: 200},
		{IPVer: 6, Src: "2001:db8::1", Dst: "2001:db8::2", Proto: 17, Len: 90},
		{EtherType: 0x0806, Len: 60},
		{IPVer: 4, Src: "1.2.3.4", Dst: "192.0.2.5", Proto: 1, ICMPType: 8, Len: 98},
		{VIDs: []uint16{10}, IPVer: 6, Src: "2001:db8::1", Dst: "2001:db8::2", Proto: 6, Len: 90},
	}
	s := &set{Table: t}
	var c clock
	for i := 0; i < 3; i++ {
		for j, sp := range specs {
			sp.Len += 17 * i
			s.Frames = append(s.Frames, Input{Data: sp.build(), TimeNS: c.next(700), Idle: (i + j) % 2})
		}
	}
	return s, nil
}

const zeroBubbleRules = `
default: pass
rules:
  - {name: drop-100-110, action: drop, length: 100-110}
  - {name: drop-odd-port, action: drop, proto: udp, dst_port: 1001}
  - {name: police-tcp, action: police, proto: tcp, rate: 10Gbps, burst: 20000}
`

func genZeroBubble(p Params) (*set, error) {
	t, err := compileYAML("zero_bubble", zeroBubbleRules, p)
	if err != nil {
		return nil, err
	}
	s := &set{Table: t, Flags: FlagGapFree}
	var c clock
	add := func(size, i int) {
		sp := frameSpec{IPVer: 4, Src: "203.0.113.5", Dst: "192.0.2.1", Proto: 17, Sport: 7, Dport: uint16(1000 + i%3), Len: size}
		if i%5 == 4 {
			sp.Proto, sp.TCPFlags = 6, 0x10
		}
		if size < 64 && sp.Proto == 6 {
			sp.Proto = 17 // keep every size exact: TCP needs 54 bytes
		}
		// ~wire time at 10G: (size+20)*0.8 ns
		s.Frames = append(s.Frames, Input{Data: sp.build()[:size], TimeNS: c.next(uint64(size+20) * 8 / 10)})
	}
	i := 0
	for size := 60; size <= 200; size++ {
		add(size, i)
		i++
	}
	// a few malformed ones among them: they must not bubble either
	for _, size := range []int{60, 61, 64, 65} {
		add(size, i)
		s.Frames[len(s.Frames)-1].MACError = true
		i++
	}
	step := max(1, (p.MaxFrameBytes-200)/90)
	for size := 201; size < p.MaxFrameBytes; size += step {
		add(size, i)
		i++
	}
	for _, size := range []int{p.MaxFrameBytes, 60, p.MaxFrameBytes, 61, 1518, 64, 65} {
		add(size, i)
		i++
	}
	return s, nil
}

func genBackpressure(p Params) (*set, error) {
	t, err := compileYAML("backpressure", zeroBubbleRules, p)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(7, 1))
	s := &set{Table: t, Flags: FlagBackpressure}
	var c clock
	for i := 0; i < 300; i++ {
		size := 60 + rng.IntN(200)
		if rng.IntN(10) == 0 {
			size = 60 + rng.IntN(2000)
		}
		sp := frameSpec{IPVer: 4, Src: "203.0.113.5", Dst: "192.0.2.1", Proto: 17, Sport: 7, Dport: uint16(1000 + rng.IntN(3)), Len: size}
		if rng.IntN(4) == 0 {
			sp.Proto, sp.TCPFlags = 6, 0x10
		}
		idle := 0
		if rng.IntN(3) == 0 {
			idle = rng.IntN(20)
		}
		s.Frames = append(s.Frames, Input{Data: sp.build(), TimeNS: c.next(uint64(rng.IntN(400))), Idle: idle})
	}
	// Then a gap-free run of long frames, mostly passed: with m_axis_tready
	// low part of the time the output drains slower than the input fills, so
	// the delay FIFO fills up and s_axis_tready must drop (input stalls). The
	// run is far longer than the FIFO's room beyond LATENCY at any width.
	for i := 0; i < 80; i++ {
		size := min(p.MaxFrameBytes, 600+rng.IntN(900))
		if rng.IntN(8) == 0 {
			size = min(p.MaxFrameBytes, 1518+rng.IntN(8000))
		}
		sp := frameSpec{IPVer: 4, Src: "203.0.113.5", Dst: "192.0.2.1", Proto: 17, Sport: 7, Dport: 1000, Len: size}
		switch rng.IntN(8) {
		case 0:
			sp.Dport = 1001 // dropped: vanishes from the full FIFO
		case 1:
			sp.Proto, sp.TCPFlags = 6, 0x10 // policed or passed
		default:
			sp.Dport = uint16(1000 + 2*rng.IntN(2))
		}
		s.Frames = append(s.Frames, Input{Data: sp.build(), TimeNS: c.next(uint64(size+20) * 8 / 10)})
	}
	return s, nil
}
