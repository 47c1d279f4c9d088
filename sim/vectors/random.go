package vectors

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/netip"

	"github.com/fpgactl/fpgactl/sim/rules"
)

// RandomSeed is the seed of the random set; RandomTable and RandomTraffic
// take any seed so differential tests can reproduce a failure by seed.
const RandomSeed = 20261123

// pools keep random rules and random traffic in the same small value space so
// that rules actually hit.
var (
	randV4     = []string{"10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.1.200", "10.7.3.4", "192.0.2.1"}
	randV6     = []string{"2001:db8::1", "2001:db8::2", "2001:db8:0:1::1", "2001:db8:1::9", "fe80::1"}
	randPorts  = []uint16{0, 7, 53, 80, 123, 443, 1000, 1001, 11211, 65535}
	randProtos = []uint8{6, 17, 1, 58, 47}
	randVIDs   = []uint16{0, 1, 100, 4095}
	// ICMP (0, 8) and ICMPv6 (128, 129) echo types, for rules and traffic alike.
	randICMPTypes = []uint8{0, 8, 128, 129}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func randPrefix(r *rand.Rand, v6 bool) (addr, mask [16]byte) {
	// One address draw, then one length draw: the order fixes the random stream.
	a, lens := netip.Addr{}, []int{0, 8, 16, 24, 31, 32}
	if v6 {
		a, lens = netip.MustParseAddr(pick(r, randV6)), []int{0, 16, 32, 48, 64, 127, 128}
	} else {
		a = netip.MustParseAddr(pick(r, randV4))
	}
	return rules.PrefixBits(netip.PrefixFrom(a, pick(r, lens)).Masked())
}

func randRange(r *rand.Rand) (uint16, uint16) {
	a, b := pick(r, randPorts), pick(r, randPorts)
	if a > b {
		a, b = b, a
	}
	return a, b
}

// RandomTable returns n random entries drawn to hit RandomTraffic's frames.
func RandomTable(seed uint64, n int) *rules.Table {
	r := rand.New(rand.NewPCG(seed, 0x7AB1E))
	t := &rules.Table{DefaultDrop: r.IntN(2) == 0, MalformedPass: r.IntN(2) == 0}
	for i := 0; i < n; i++ {
		e := rules.AnyEntry(rules.Action(r.IntN(3)))
		chance := func(pct int) bool { return r.IntN(100) < pct }
		e.Valid = !chance(5)
		e.IPVer = rules.IPVersion(r.IntN(4))
		if e.IPVer == rules.IPv4 || e.IPVer == rules.IPv6 {
			if chance(40) {
				e.SrcAddr, e.SrcMask = randPrefix(r, e.IPVer == rules.IPv6)
			}
			if chance(40) {
				e.DstAddr, e.DstMask = randPrefix(r, e.IPVer == rules.IPv6)
			}
		}
		if e.IPVer != rules.IPNonIP && chance(50) {
			e.ProtoValid, e.Proto = true, pick(r, randProtos)
		}
		if chance(30) {
			e.SportLo, e.SportHi = randRange(r)
		}
		if chance(30) {
			e.DportLo, e.DportHi = randRange(r)
		}
		if chance(20) {
			e.TCPFlagsMask = uint8(r.IntN(256))
			e.TCPFlagsValue = uint8(r.IntN(256)) & e.TCPFlagsMask
		}
		if chance(15) {
			e.ICMPValid, e.ICMPType = true, pick(r, randICMPTypes)
		}
		if chance(20) {
			lo := uint16(60 + r.IntN(300))
			e.LenLo, e.LenHi = lo, lo+uint16(r.IntN(400))
		}
		if chance(20) {
			e.VLANMode = rules.VLANMode(1 + r.IntN(2))
			if e.VLANMode == rules.VLANMatchID {
				e.VLANID = pick(r, randVIDs)
			}
		}
		if chance(15) {
			e.Frag = rules.FragMode(1 + r.IntN(3))
		}
		if e.Action == rules.ActionPolice {
			e.PoliceBytes = chance(50)
			ups := int64(1000 * (1 + r.IntN(10000)))
			if e.PoliceBytes {
				ups *= 100
				e.Burst = uint32(100 + r.IntN(5000))
			} else {
				e.Burst = uint32(1 + r.IntN(20))
			}
			e.Rate = rules.RateFromUnitsPerSecond(big.NewRat(ups, 1)).Uint64()
		}
		t.Entries = append(t.Entries, e)
		t.Names = append(t.Names, fmt.Sprintf("random-%d", i))
	}
	return t
}

// RandomTraffic returns n random frames (some malformed) from the same pools.
func RandomTraffic(seed uint64, n int) []Input {
	r := rand.New(rand.NewPCG(seed, 0xF4A3E))
	var c clock
	out := make([]Input, 0, n)
	for i := 0; i < n; i++ {
		sp := frameSpec{Len: 60 + r.IntN(240)}
		if r.IntN(20) == 0 {
			sp.Len = 60 + r.IntN(1600)
		}
		for t := r.IntN(4) - 1; t > 0; t-- {
			sp.VIDs = append(sp.VIDs, pick(r, randVIDs))
		}
		switch r.IntN(10) {
		case 0:
			sp.EtherType = pick(r, []uint16{0x0806, 0x88CC, 0x8100})
		case 1, 2, 3:
			sp.IPVer, sp.Src, sp.Dst = 6, pick(r, randV6), pick(r, randV6)
		default:
			sp.IPVer, sp.Src, sp.Dst = 4, pick(r, randV4), pick(r, randV4)
			if r.IntN(6) == 0 {
				sp.MF = r.IntN(2) == 0
				sp.FragOff = uint16(r.IntN(2) * r.IntN(500))
			}
			if r.IntN(5) == 0 {
				sp.OptWords = r.IntN(11)
			}
		}
		if sp.IPVer != 0 {
			sp.Proto = pick(r, randProtos)
			sp.Sport, sp.Dport = pick(r, randPorts), pick(r, randPorts)
			sp.TCPFlags = uint8(r.IntN(256))
			sp.ICMPType = pick(r, randICMPTypes)
		}
		data := sp.build()
		in := Input{Data: data, TimeNS: c.next(uint64(r.IntN(3000))), Idle: r.IntN(3) * r.IntN(4)}
		switch r.IntN(25) {
		case 0:
			in.MACError = true
		case 1:
			in.Data = data[:1+r.IntN(min(len(data), 96))]
		case 2:
			in.Data[l3Offset(sp)+r.IntN(8)] ^= byte(1 << r.IntN(8)) // corrupt an IP header byte
		}
		if r.IntN(100) == 0 {
			in.TimeNS -= uint64(r.IntN(1000)) // the clock may step back
		}
		out = append(out, in)
	}
	return out
}

func genRandom(p Params) (*set, error) {
	seed := p.Seed
	if seed == 0 {
		seed = RandomSeed
	}
	t := RandomTable(seed, min(p.NumRules, 32))
	return &set{Table: t, Frames: RandomTraffic(seed, 600)}, nil
}
