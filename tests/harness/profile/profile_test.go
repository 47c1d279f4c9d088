package profile

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func allKindsMix() []MixEntry {
	var mix []MixEntry
	for _, k := range Kinds() {
		mix = append(mix, MixEntry{Kind: k, Weight: 1})
	}
	return mix
}

func mustGenerate(t *testing.T, o Options) []Frame {
	t.Helper()
	fs, err := Generate(o)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", o, err)
	}
	if len(fs) != o.Frames {
		t.Fatalf("got %d frames, want %d", len(fs), o.Frames)
	}
	return fs
}

func TestDeterministic(t *testing.T) {
	o := Options{Seed: 42, Frames: 2000, Sizes: SizeSpec{IMIX: true}, Mix: allKindsMix(), RateGbps: 100}
	a, b := mustGenerate(t, o), mustGenerate(t, o)
	for i := range a {
		if !bytes.Equal(a[i].Data, b[i].Data) || a[i].TimeNS != b[i].TimeNS || a[i].Kind != b[i].Kind || a[i].ID != b[i].ID {
			t.Fatalf("frame %d differs between two runs with the same seed", i)
		}
	}
	o.Seed = 43
	c := mustGenerate(t, o)
	same := 0
	for i := range a {
		if bytes.Equal(a[i].Data, c[i].Data) {
			same++
		}
	}
	if same == len(a) {
		t.Fatal("seed 42 and 43 gave identical traffic")
	}
}

func TestIDsRecoverableAndUnique(t *testing.T) {
	for _, size := range []SizeSpec{{Fixed: 60}, {IMIX: true}, {List: []int{60, 61, 100, 1514}}} {
		fs := mustGenerate(t, Options{Seed: 3, Frames: 3000, Sizes: size, Mix: allKindsMix()})
		seen := map[uint32]bool{}
		withID := 0
		for i, f := range fs {
			id, ok := ExtractID(f.Data)
			if !ok {
				if f.Kind != "truncated" && len(f.Data) >= headerLen(t, f)+TrailerLen {
					t.Fatalf("frame %d (%s, %d bytes) has room but no trailer", i, f.Kind, len(f.Data))
				}
				continue
			}
			withID++
			if id != f.ID {
				t.Fatalf("frame %d: trailer ID %d, Frame.ID %d", i, id, f.ID)
			}
			if seen[id] {
				t.Fatalf("ID %d seen twice", id)
			}
			seen[id] = true
		}
		if size.Fixed == 0 && withID < len(fs)*3/4 {
			t.Errorf("sizes %+v: only %d of %d frames carry an ID", size, withID, len(fs))
		}
	}
}

// headerLen is the frame length without payload, found by decoding (for the
// well-formed kinds) — used to decide whether a trailer had room.
func headerLen(t *testing.T, f Frame) int {
	t.Helper()
	switch f.Kind {
	case "bad-ihl", "bad-ip-length":
		return 14 + 20 + 8
	}
	p := gopacket.NewPacket(f.Data, layers.LayerTypeEthernet, gopacket.Default)
	if app := p.ApplicationLayer(); app != nil {
		return len(f.Data) - len(app.Payload())
	}
	if fr := p.Layer(gopacket.LayerTypeFragment); fr != nil {
		return len(f.Data) - len(fr.LayerContents())
	}
	return len(f.Data)
}

func TestExtractIDRejects(t *testing.T) {
	b := make([]byte, 60)
	putTrailer(b[48:], 0xdeadbeef)
	if id, ok := ExtractID(b); !ok || id != 0xdeadbeef {
		t.Fatalf("ExtractID = %x, %v", id, ok)
	}
	for i := 48; i < 60; i++ {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		if _, ok := ExtractID(c); ok {
			t.Fatalf("corrupt byte %d accepted", i)
		}
	}
	if _, ok := ExtractID(b[:59]); ok {
		t.Fatal("cut trailer accepted")
	}
	if _, ok := ExtractID(b[:5]); ok {
		t.Fatal("short frame accepted")
	}
}

// wantNS computes the start of every frame independently: integer bits,
// rate in Mbit/s, rounded half up.
func wantNS(fs []Frame, rateMbps uint64) []uint64 {
	out := make([]uint64, len(fs))
	var bits uint64
	for i, f := range fs {
		out[i] = (2*bits*1000 + rateMbps) / (2 * rateMbps)
		bits += uint64(len(f.Data)+4+8+12) * 8
	}
	return out
}

func TestTiming(t *testing.T) {
	for _, tc := range []struct {
		rate     float64
		rateMbps uint64
		sizes    SizeSpec
	}{
		{10, 10000, SizeSpec{Fixed: 60}},
		{0, 10000, SizeSpec{Fixed: 60}},
		{100, 100000, SizeSpec{Fixed: 60}},
		{10, 10000, SizeSpec{IMIX: true}},
		{100, 100000, SizeSpec{IMIX: true}},
	} {
		const n = 10000
		fs := mustGenerate(t, Options{Seed: 1, Frames: n, Sizes: tc.sizes, RateGbps: tc.rate, Mix: []MixEntry{{"legit-udp", 1}}, StartNS: 1000})
		want := wantNS(fs, tc.rateMbps)
		for i, f := range fs {
			if f.TimeNS != 1000+want[i] {
				t.Fatalf("rate %v %+v frame %d: TimeNS %d, want %d", tc.rate, tc.sizes, i, f.TimeNS, 1000+want[i])
			}
		}
		if tc.sizes.Fixed == 60 {
			// 84 bytes on the wire: 67.2 ns at 10G, 6.72 ns at 100G.
			span := float64(fs[n-1].TimeNS-fs[0].TimeNS) / (n - 1)
			wantGap := 672.0 / float64(tc.rateMbps/1000)
			if d := span - wantGap; d > 0.001 || d < -0.001 {
				t.Errorf("rate %v: mean gap %.4f ns, want %.2f", tc.rate, span, wantGap)
			}
			if tc.rateMbps == 10000 && fs[1000].TimeNS-fs[0].TimeNS != 67200 {
				t.Errorf("1000 64-byte frames at 10G took %d ns, want 67200 (14.88 Mpps)", fs[1000].TimeNS-fs[0].TimeNS)
			}
		}
	}
}

func TestIMIXRatio(t *testing.T) {
	fs := mustGenerate(t, Options{Seed: 9, Frames: 1200, Sizes: SizeSpec{IMIX: true}, Mix: []MixEntry{{"legit", 1}}})
	count := map[int]int{}
	for _, f := range fs {
		count[len(f.Data)]++
	}
	if count[60] != 700 || count[590] != 400 || count[1514] != 100 || len(count) != 3 {
		t.Fatalf("IMIX sizes %v, want 60:700 590:400 1514:100", count)
	}
}

func TestSizes(t *testing.T) {
	fs := mustGenerate(t, Options{Seed: 1, Frames: 8, Sizes: SizeSpec{List: []int{60, 128, 1514, 9212}}, Mix: []MixEntry{{"legit-udp", 1}}})
	for i, f := range fs {
		if want := []int{60, 128, 1514, 9212}[i%4]; len(f.Data) != want {
			t.Errorf("frame %d: %d bytes, want %d", i, len(f.Data), want)
		}
	}
	// Headers longer than the size win: IPv6+TCP is 74 bytes.
	fs = mustGenerate(t, Options{Seed: 1, Frames: 1, Sizes: SizeSpec{Fixed: 60}, Mix: []MixEntry{{"ipv6-tcp", 1}}})
	if len(fs[0].Data) != 74 {
		t.Errorf("ipv6-tcp at 60: %d bytes, want 74", len(fs[0].Data))
	}
}

func decode(t *testing.T, f Frame) gopacket.Packet {
	t.Helper()
	p := gopacket.NewPacket(f.Data, layers.LayerTypeEthernet, gopacket.Default)
	// gopacket decodes reflection payloads as DNS/NTP/... by port; the filler
	// payload is not a valid message, which is fine once L4 decoded.
	if el := p.ErrorLayer(); el != nil && p.TransportLayer() == nil {
		t.Fatalf("%s frame %d: decode error: %v", f.Kind, f.ID, el.Error())
	}
	return p
}

func TestKindsDecode(t *testing.T) {
	fs := mustGenerate(t, Options{Seed: 5, Frames: 4000, Sizes: SizeSpec{IMIX: true}, Mix: allKindsMix()})
	seen := map[string]int{}
	for _, f := range fs {
		seen[f.Kind]++
		if _, generic := generic[f.Kind]; generic {
			t.Fatalf("Frame.Kind is generic %q, want a concrete kind", f.Kind)
		}
		if port, ok := ReflectionPorts[f.Kind]; ok {
			udp := decode(t, f).Layer(layers.LayerTypeUDP).(*layers.UDP)
			if uint16(udp.SrcPort) != port {
				t.Errorf("%s: source port %d, want %d", f.Kind, udp.SrcPort, port)
			}
			continue
		}
		switch f.Kind {
		case "legit-tcp":
			tcp := decode(t, f).Layer(layers.LayerTypeTCP).(*layers.TCP)
			if !tcp.ACK || !tcp.PSH || tcp.SYN {
				t.Errorf("legit-tcp flags wrong: %+v", tcp)
			}
		case "legit-udp":
			if udp := decode(t, f).Layer(layers.LayerTypeUDP).(*layers.UDP); udp.DstPort != 443 {
				t.Errorf("legit-udp dst port %d", udp.DstPort)
			}
		case "syn-flood":
			tcp := decode(t, f).Layer(layers.LayerTypeTCP).(*layers.TCP)
			if !tcp.SYN || tcp.ACK || tcp.RST || tcp.FIN || tcp.PSH {
				t.Errorf("syn-flood flags wrong: SYN=%v ACK=%v", tcp.SYN, tcp.ACK)
			}
		case "fragment-first":
			p := decode(t, f)
			ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if ip.Flags&layers.IPv4MoreFragments == 0 || ip.FragOffset != 0 {
				t.Errorf("fragment-first: flags %v offset %d", ip.Flags, ip.FragOffset)
			}
			// The UDP header is the first 8 bytes of the fragment.
			udpLen := binary.BigEndian.Uint16(f.Data[14+20+4:])
			if int(udpLen) <= int(ip.Length)-20 {
				t.Errorf("fragment-first: UDP length %d fits in the fragment (%d)", udpLen, ip.Length-20)
			}
		case "fragment-nonfirst":
			ip := decode(t, f).Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if ip.FragOffset == 0 || ip.Protocol != layers.IPProtocolUDP {
				t.Errorf("fragment-nonfirst: offset %d proto %v", ip.FragOffset, ip.Protocol)
			}
		case "vlan":
			p := decode(t, f)
			if eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); eth.EthernetType != layers.EthernetTypeDot1Q {
				t.Errorf("vlan TPID %v", eth.EthernetType)
			}
			if p.Layer(layers.LayerTypeIPv4) == nil || len(dot1qs(p)) != 1 {
				t.Errorf("vlan: want one Dot1Q then IPv4, got %v", p.Layers())
			}
		case "qinq":
			p := decode(t, f)
			tags := dot1qs(p)
			if len(tags) != 2 || binary.BigEndian.Uint16(f.Data[12:]) != 0x88a8 || tags[0].Type != layers.EthernetTypeDot1Q ||
				binary.BigEndian.Uint16(f.Data[16:]) != 0x8100 || tags[1].Type != layers.EthernetTypeIPv4 {
				t.Errorf("qinq: want 0x88A8 then 0x8100 tags then IPv4, got % x", f.Data[12:22])
			}
		case "ipv6-tcp", "ipv6-udp", "icmpv6-echo":
			p := decode(t, f)
			want := map[string]gopacket.LayerType{"ipv6-tcp": layers.LayerTypeTCP, "ipv6-udp": layers.LayerTypeUDP, "icmpv6-echo": layers.LayerTypeICMPv6Echo}[f.Kind]
			if p.Layer(layers.LayerTypeIPv6) == nil || p.Layer(want) == nil {
				t.Errorf("%s: layers %v", f.Kind, p.Layers())
			}
		case "icmp-echo":
			icmp := decode(t, f).Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			if icmp.TypeCode.Type() != layers.ICMPv4TypeEchoRequest {
				t.Errorf("icmp-echo type %v", icmp.TypeCode)
			}
		case "truncated":
			if n := len(f.Data); n < 15 || n > 33 {
				t.Errorf("truncated: %d bytes, want a cut inside the IPv4 header (15..33)", n)
			}
		case "bad-ihl":
			if ihl := f.Data[14] & 15; ihl >= 5 || f.Data[14]>>4 != 4 {
				t.Errorf("bad-ihl: version/IHL byte %#x", f.Data[14])
			}
		case "bad-ip-length":
			if tl := int(binary.BigEndian.Uint16(f.Data[16:])); 14+tl <= len(f.Data) {
				t.Errorf("bad-ip-length: total length %d fits in %d-byte frame", tl, len(f.Data))
			}
		default:
			t.Fatalf("kind %q not checked by this test", f.Kind)
		}
	}
	for k, b := range kinds {
		if b != nil && seen[k] == 0 {
			t.Errorf("kind %s never generated", k)
		}
	}
}

func dot1qs(p gopacket.Packet) []*layers.Dot1Q {
	var out []*layers.Dot1Q
	for _, l := range p.Layers() {
		if d, ok := l.(*layers.Dot1Q); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestParseProfile(t *testing.T) {
	o, err := ParseProfile("imix,rate=10g,frames=1000,mix=legit:8+syn-flood:1+udp-reflection:1,seed=7")
	if err != nil {
		t.Fatal(err)
	}
	if !o.Sizes.IMIX || o.RateGbps != 10 || o.Frames != 1000 || o.Seed != 7 || len(o.Mix) != 3 ||
		o.Mix[0] != (MixEntry{"legit", 8}) || o.Mix[2] != (MixEntry{"udp-reflection", 1}) {
		t.Fatalf("parsed %+v", o)
	}
	o, err = ParseProfile("size=60/590,rate=100,start=5,mix=qinq")
	if err != nil || len(o.Sizes.List) != 2 || o.RateGbps != 100 || o.StartNS != 5 || o.Mix[0].Weight != 1 {
		t.Fatalf("parsed %+v, %v", o, err)
	}
	if _, err := Generate(o); err != nil {
		t.Fatal(err)
	}
	for spec, field := range map[string]string{
		"rate=fast":     "rate",
		"rate=-1":       "rate",
		"frames=0":      "frames",
		"frames=x":      "frames",
		"size=59":       "size",
		"size=abc":      "size",
		"mix=legit:0":   "weight",
		"mix=nope:1":    "unknown kind",
		"seed=1.5":      "seed",
		"start=-3":      "start",
		"colour=red":    "unknown field",
		"frames":        "key=value",
		"seed=1,seed=2": "twice",
		"imix,size=60":  "twice",
	} {
		_, err := ParseProfile(spec)
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("ParseProfile(%q) = %v, want an error naming %q", spec, err, field)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, o := range []Options{
		{Frames: 0, Sizes: SizeSpec{Fixed: 60}},
		{Frames: 1},
		{Frames: 1, Sizes: SizeSpec{Fixed: 60, IMIX: true}},
		{Frames: 1, Sizes: SizeSpec{Fixed: 10}},
		{Frames: 1, Sizes: SizeSpec{Fixed: 60}, RateGbps: -1},
		{Frames: 1, Sizes: SizeSpec{Fixed: 60}, Mix: []MixEntry{{"bogus", 1}}},
		{Frames: 1, Sizes: SizeSpec{Fixed: 60}, Mix: []MixEntry{{"legit", 0}}},
	} {
		if _, err := Generate(o); err == nil {
			t.Errorf("Generate(%+v) succeeded, want an error", o)
		}
	}
}

func FuzzParseProfile(f *testing.F) {
	f.Add("imix,rate=10g,frames=1000,mix=legit:8+syn-flood:1+udp-reflection:1,seed=7")
	f.Fuzz(func(t *testing.T, spec string) {
		o, err := ParseProfile(spec)
		if err != nil {
			if err.Error() == "" || !strings.HasPrefix(err.Error(), "profile: ") {
				t.Fatalf("bad error %q", err)
			}
			return
		}
		if err := o.validate(); err != nil {
			t.Fatalf("ParseProfile(%q) returned invalid options: %v", spec, err)
		}
		o.Frames = min(o.Frames, 20)
		if _, err := Generate(o); err != nil {
			t.Fatalf("Generate after ParseProfile(%q): %v", spec, err)
		}
	})
}
