package rules

import (
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func v4(a, b, c, d byte) (x [16]byte) { x[12], x[13], x[14], x[15] = a, b, c, d; return x }

func TestParseGoodFile(t *testing.T) {
	rs, err := ParseFile(filepath.Join("testdata", "good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := rs.Compile(8)
	if err != nil {
		t.Fatal(err)
	}
	if !tab.DefaultDrop || !tab.MalformedPass {
		t.Errorf("DefaultDrop, MalformedPass = %v, %v; want true, true", tab.DefaultDrop, tab.MalformedPass)
	}
	any := func(a Action) Entry {
		return Entry{Valid: true, Action: a, SportHi: 65535, DportHi: 65535, LenHi: 65535}
	}
	ntp := any(ActionDrop)
	ntp.IPVer, ntp.ProtoValid, ntp.Proto, ntp.SportLo, ntp.SportHi = IPv4, true, 17, 123, 123
	ntp.SrcAddr, ntp.SrcMask = v4(192, 0, 2, 0), v4(255, 255, 255, 0)

	syn := any(ActionPolice)
	syn.IPVer, syn.ProtoValid, syn.Proto, syn.DportLo, syn.DportHi = IPv6, true, 6, 1000, 2000
	syn.DstAddr = [16]byte{0x20, 0x01, 0x0d, 0xb8}
	syn.DstMask = [16]byte{0xff, 0xff, 0xff, 0xff}
	syn.TCPFlagsMask, syn.TCPFlagsValue = 0x12, 0x02
	syn.Rate, syn.Burst = 42950, 64 // 10000 × 2^32 / 1e9 = 42949.67

	ping := any(ActionPass)
	ping.ProtoValid, ping.Proto, ping.ICMPValid, ping.ICMPType = true, 1, true, 8
	ping.LenLo, ping.LenHi, ping.VLANMode, ping.VLANID = 60, 128, VLANMatchID, 100

	frags := any(ActionPolice)
	frags.IPVer, frags.Frag, frags.PoliceBytes = IPv4, FragNonFirst, true
	frags.Rate, frags.Burst = 4294967, 1500 // 1e6 bytes/s × 2^32 / 1e9 = 4294967.296

	lldp := any(ActionDrop)
	lldp.IPVer, lldp.VLANMode = IPNonIP, VLANUntagged

	want := []Entry{ntp, syn, ping, frags, lldp}
	names := []string{"ntp-reflection", "syn-police", "ping", "frags", "lldp"}
	if len(tab.Entries) != len(want) {
		t.Fatalf("got %d entries, want %d", len(tab.Entries), len(want))
	}
	for i := range want {
		if tab.Entries[i] != want[i] {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, tab.Entries[i], want[i])
		}
		if tab.Names[i] != names[i] {
			t.Errorf("name %d = %q, want %q", i, tab.Names[i], names[i])
		}
	}
	if rs.Rules[1].Line != 10 {
		t.Errorf("rule 1 line = %d, want 10", rs.Rules[1].Line)
	}
}

func TestWordsLayout(t *testing.T) {
	e := Entry{
		Valid: true, Action: ActionPolice, IPVer: IPv6, VLANMode: VLANMatchID, Frag: FragNonFirst,
		ProtoValid: true, PoliceBytes: true, Proto: 6, ICMPType: 0x0b, TCPFlagsMask: 0x12, TCPFlagsValue: 0x02,
		VLANID: 0xABC, SportLo: 1, SportHi: 2, DportLo: 3, DportHi: 4, LenLo: 60, LenHi: 1518,
		Rate: 0xAB_1234_5678, Burst: 0xDEADBEEF,
		SrcAddr: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 0x01},
		DstAddr: v4(198, 51, 100, 7), DstMask: v4(255, 255, 255, 0),
	}
	want := [WordsPerRule]uint32{
		0: 1 | 2<<1 | 2<<3 | 2<<5 | 3<<7 | 1<<9 | 1<<11,
		1: 0x02120B06, 2: 0xABC, 3: 0x00020001, 4: 0x00040003, 5: 0x05EE003C,
		6: 0x12345678, 7: 0xAB, 8: 0xDEADBEEF,
		9: 0x00000001, 12: 0x20010DB8,
		17: 0xC6336407, 21: 0xFFFFFF00,
	}
	if got := e.Words(); got != want {
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("word %d = %#08x, want %#08x", i, got[i], want[i])
			}
		}
	}
	if got := DecodeEntry(want); got != e {
		t.Errorf("DecodeEntry:\n got %+v\nwant %+v", got, e)
	}
	if w0 := want[0]; w0 != 0xBD5 {
		t.Fatalf("hand-computed CTRL word %#x, want 0xBD5", w0)
	}
}

func TestDecodeIgnoresUndefinedBits(t *testing.T) {
	var w [WordsPerRule]uint32
	w[0], w[2], w[7] = 0xFFFFF000|1, 0xFFFFF000, 0xFFFFFF00
	got := DecodeEntry(w)
	if want := (Entry{Valid: true}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestRateConversion(t *testing.T) {
	tests := []struct {
		in    string
		rate  uint64
		bytes bool
	}{
		{"1pps", 4, false},                          // 4.29
		{"10kpps", 42950, false},                    // 42949.67
		{"1Mpps", 4294967, false},                   // 4294967.296
		{"8Gbps", 1 << 32, true},                    // 1 byte per ns exactly
		{"1GBps", 1 << 32, true},                    // same
		{"100Mbps", 53687091, true},                 // 12.5e6 B/s → 53687091.2
		{"0.116415321826934814453125pps", 1, false}, // exactly 0.5: rounds up
		{"0.582076609134674072265625pps", 3, false}, // exactly 2.5: rounds up (not to even)
		{"255Gpps", 255 << 32, false},
		{"2047Gbps", 1098974756864, true}, // 255.875e9 B/s → 255.875 × 2^32
	}
	for _, tt := range tests {
		rate, bytes, msg := parseRate(tt.in)
		if msg != "" || rate != tt.rate || bytes != tt.bytes {
			t.Errorf("parseRate(%q) = %d, %v, %q; want %d, %v", tt.in, rate, bytes, msg, tt.rate, tt.bytes)
		}
	}
	for _, bad := range []string{"256Gpps", "3Tbps", "0.1pps", "0pps", "10", "10 kpps/s", "mpps", "1mpps"} {
		if _, _, msg := parseRate(bad); msg == "" {
			t.Errorf("parseRate(%q) accepted; want an error", bad)
		}
	}
	if got := RateFromUnitsPerSecond(big.NewRat(1e9, 1)); got.Uint64() != 1<<32 {
		t.Errorf("RateFromUnitsPerSecond(1e9) = %v, want 2^32", got)
	}
}

func TestRegisterWrites(t *testing.T) {
	tab := &Table{DefaultDrop: true, MalformedPass: true, Entries: []Entry{{Valid: true, Action: ActionDrop, SportHi: 7}}}
	w := tab.RegisterWrites(4)
	if len(w) != 4*25+2 {
		t.Fatalf("got %d writes, want %d", len(w), 4*25+2)
	}
	checks := map[int]RegWrite{
		0:   {0x10000, 1 | 1<<1},
		3:   {0x1000C, 7 << 16},
		24:  {0x10060, 0},
		25:  {0x10080, 0}, // rule 1 word 0: unused, zeroed
		99:  {0x101E0, 0}, // rule 3 word 24
		100: {0x10, 3},    // CONTROL: default drop, malformed pass
		101: {0x14, 1},    // SWAP
	}
	for i, want := range checks {
		if w[i] != want {
			t.Errorf("write %d = {%#x %#x}, want {%#x %#x}", i, w[i].Addr, w[i].Data, want.Addr, want.Data)
		}
	}
	if RuleCounterAddr(3) != 0x40030 || TotalAddr(4) != 0x140 || RuleWordAddr(2, 24) != 0x10160 {
		t.Errorf("address helpers disagree with SPEC §6")
	}
}

func TestCompileTooManyRules(t *testing.T) {
	src := "rules:\n  - {name: a, action: drop}\n  - {name: b, action: drop}\n  - {name: c, action: drop}\n"
	rs, err := Parse("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Compile(3); err != nil {
		t.Fatalf("3 rules in 3 slots: %v", err)
	}
	_, err = rs.Compile(2)
	var e *Error
	if !errors.As(err, &e) || e.Line != 4 || e.Field != "rules[2]" || !strings.Contains(e.Msg, "do not fit") {
		t.Errorf("Compile(2) = %v; want an error at line 4, rules[2]", err)
	}
}

func TestErrorFiles(t *testing.T) {
	tests := []struct {
		file string
		want string // full message of the first error
	}{
		{"bad_port.yaml", `testdata/bad_port.yaml:9:15: rules[1].src_port: "70000" is not a port; want N or N-M with 0 <= N <= M <= 65535`},
		{"bad_hostbits.yaml", `testdata/bad_hostbits.yaml:4:10: rules[0].src: "192.0.2.1/24" has host bits set; did you mean 192.0.2.0/24?`},
		{"bad_mix.yaml", `testdata/bad_mix.yaml:5:10: rules[0].dst: "2001:db8::/32" is an IPv6 prefix but src says IPv4; use one IP version per rule`},
		{"bad_police.yaml", `testdata/bad_police.yaml:2:5: rules[0].burst: missing; a police rule needs burst (packets for pps rates, bytes for bps/Bps rates)`},
		{"bad_unknown_key.yaml", `testdata/bad_unknown_key.yaml:4:5: rules[0].dport: unknown key "dport"; allowed keys: ` + strings.Join(ruleKeys, ", ")},
		{"bad_duplicate.yaml", `testdata/bad_duplicate.yaml:4:5: rules[1].name: duplicate name "same" (first used at line 2); names must be unique`},
		{"bad_empty.yaml", `testdata/bad_empty.yaml:1: file is empty; want a mapping with keys default, malformed, rules`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := ParseFile("testdata/" + tt.file)
			errs := AsErrors(err)
			if len(errs) == 0 {
				t.Fatalf("got %v, want a *Error", err)
			}
			if got := errs[0].Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	rule := func(body string) string { return "rules:\n  - name: r\n" + body }
	tests := []struct {
		name, src string
		line      int
		field     string
		msg       string
	}{
		{"ports need tcp or udp", rule("    action: drop\n    proto: icmp\n    dst_port: 53\n"), 5, "rules[0].dst_port", "has no ports"},
		{"flags need tcp", rule("    action: drop\n    proto: udp\n    tcp_flags: syn\n"), 5, "rules[0].tcp_flags", "no TCP flags"},
		{"unknown flag", rule("    action: drop\n    tcp_flags: syn,foo\n"), 4, "rules[0].tcp_flags", `"foo" is not a TCP flag`},
		{"flag twice", rule("    action: drop\n    tcp_flags: syn,!syn\n"), 4, "rules[0].tcp_flags", "twice"},
		{"rate without police", rule("    action: drop\n    rate: 1kpps\n"), 4, "rules[0].rate", "only police rules"},
		{"burst without police", rule("    action: pass\n    burst: 10\n"), 4, "rules[0].burst", "only police rules"},
		{"police without rate", rule("    action: police\n    burst: 10\n"), 2, "rules[0].rate", "missing"},
		{"rate too high", rule("    action: police\n    rate: 256Gpps\n    burst: 1\n"), 4, "rules[0].rate", "40-bit"},
		{"rate too low", rule("    action: police\n    rate: 0.1pps\n    burst: 1\n"), 4, "rules[0].rate", "rounds to 0"},
		{"burst zero", rule("    action: police\n    rate: 1pps\n    burst: 0\n"), 5, "rules[0].burst", "not a burst"},
		{"burst too big", rule("    action: police\n    rate: 1pps\n    burst: 5G\n"), 5, "rules[0].burst", "not a burst"},
		{"ip 4 with v6 src", rule("    action: drop\n    ip: 4\n    src: 2001:db8::/32\n"), 5, "rules[0].src", "IPv6 prefix but ip says IPv4"},
		{"non-ip with proto", rule("    action: drop\n    ip: non-ip\n    proto: tcp\n"), 5, "rules[0].proto", "non-ip"},
		{"non-ip with src", rule("    action: drop\n    ip: non-ip\n    src: 10.0.0.0/8\n"), 5, "rules[0].src", "non-ip"},
		{"icmp_type without proto", rule("    action: drop\n    icmp_type: 8\n"), 4, "rules[0].icmp_type", "needs proto icmp"},
		{"icmp in v6", rule("    action: drop\n    ip: 6\n    proto: icmp\n    icmp_type: 8\n"), 6, "rules[0].icmp_type", "icmpv6"},
		{"icmp_type range", rule("    action: drop\n    proto: icmp\n    icmp_type: 256\n"), 5, "rules[0].icmp_type", "0-255"},
		{"fragment v6", rule("    action: drop\n    ip: 6\n    fragment: yes\n"), 5, "rules[0].fragment", "IPv4 only"},
		{"fragment makes icmpv6 impossible", rule("    action: drop\n    fragment: yes\n    proto: icmpv6\n    icmp_type: 128\n"), 6, "rules[0].icmp_type", "only parsed in IPv6"},
		{"fragment word", rule("    action: drop\n    fragment: maybe\n"), 4, "rules[0].fragment", "not a fragment mode"},
		{"bad action", rule("    action: reject\n"), 3, "rules[0].action", `"reject" is not an action`},
		{"missing action", rule("    proto: tcp\n"), 2, "rules[0].action", "missing"},
		{"missing name", "rules:\n  - action: drop\n", 2, "rules[0].name", "missing"},
		{"bad name", "rules:\n  - name: 'a b'\n    action: drop\n", 2, "rules[0].name", "not a valid name"},
		{"name any", "rules:\n  - name: any\n    action: drop\n", 2, "rules[0].name", "not a valid name"},
		{"empty name", "rules:\n  - name: ''\n    action: drop\n", 2, "rules[0].name", "empty"},
		{"vlan range", rule("    action: drop\n    vlan: 4096\n"), 4, "rules[0].vlan", "VID 0-4095"},
		{"length order", rule("    action: drop\n    length: 100-50\n"), 4, "rules[0].length", "not a length"},
		{"proto name", rule("    action: drop\n    proto: foo\n"), 4, "rules[0].proto", "not a protocol"},
		{"proto number", rule("    action: drop\n    proto: 256\n"), 4, "rules[0].proto", "not a protocol"},
		{"prefix garbage", rule("    action: drop\n    dst: 10.0.0/8\n"), 4, "rules[0].dst", "not a prefix"},
		{"v6 host bits", rule("    action: drop\n    dst: 2001:db8::1/64\n"), 4, "rules[0].dst", "did you mean 2001:db8::/64"},
		{"empty value", rule("    action: drop\n    src:\n"), 4, "rules[0].src", "empty"},
		{"list value", rule("    action: drop\n    src: [1.2.3.4]\n"), 4, "rules[0].src", "single value"},
		{"duplicate key", rule("    action: drop\n    action: pass\n"), 4, "rules[0].action", "given twice"},
		{"default word", "default: block\nrules: []\n", 1, "default", `"block" is not a default action`},
		{"malformed word", "malformed: keep\nrules: []\n", 1, "malformed", "drop or pass"},
		{"unknown top key", "defaults: drop\nrules: []\n", 1, "defaults", "allowed keys: default, malformed, rules"},
		{"rules missing", "default: drop\n", 1, "rules", "missing"},
		{"rules not a list", "rules: {name: a}\n", 1, "rules", "list of rules"},
		{"rule not a mapping", "rules:\n  - drop\n", 2, "rules[0]", "mapping"},
		{"top is a list", "- a\n- b\n", 1, "", "at the top"},
		{"bad yaml", "rules:\n  - name: a: b\n", 2, "", "not valid YAML"},
		{"tab yaml", "rules:\n\t- a\n", 2, "", "not valid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tt.src))
			errs := AsErrors(err)
			if len(errs) == 0 {
				t.Fatalf("got %v, want an error", err)
			}
			e := errs[0]
			if e.File != "r.yaml" || e.Line != tt.line || e.Field != tt.field || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got %q (line %d, field %q); want line %d, field %q, message containing %q",
					e.Error(), e.Line, e.Field, tt.line, tt.field, tt.msg)
			}
		})
	}
}

func TestParseReportsEveryError(t *testing.T) {
	src := "rules:\n  - name: a\n    action: nope\n  - name: b\n    action: drop\n    src_port: x\n"
	_, err := Parse("r.yaml", []byte(src))
	errs := AsErrors(err)
	if len(errs) != 2 || errs[0].Line != 3 || errs[1].Line != 6 {
		t.Fatalf("got %v; want two errors, at lines 3 and 6", err)
	}
	if !strings.Contains(err.Error(), "\n") {
		t.Errorf("several errors should print one per line: %q", err.Error())
	}
}

func TestParseAcceptsAnyAndInference(t *testing.T) {
	src := `rules:
  - {name: a, action: pass, src: any, proto: any, src_port: any, vlan: any, fragment: any, ip: any}
  - {name: b, action: drop, dst: "2001:db8::1"}
  - {name: c, action: drop, dst_port: 53}
  - {name: d, action: drop, src: 0.0.0.0/0}
  - {name: e, action: police, rate: 1.5kpps, burst: 2k}
rules_end_marker_is_not_a_key: 1
`
	if _, err := Parse("r.yaml", []byte(src)); err == nil {
		t.Fatal("unknown top-level key accepted")
	}
	src = src[:strings.Index(src, "rules_end")]
	rs, err := Parse("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e := func(i int) Entry { return rs.Rules[i].Entry }
	if e(0) != AnyEntry(ActionPass) {
		t.Errorf("all-any rule = %+v, want AnyEntry(pass)", e(0))
	}
	var full [16]byte
	for i := range full {
		full[i] = 0xff
	}
	if e(1).IPVer != IPv6 || e(1).DstMask != full || e(1).DstAddr[15] != 1 || e(1).DstAddr[0] != 0x20 {
		t.Errorf("bare IPv6 address should be a /128 IPv6 rule: %+v", e(1))
	}
	if e(2).ProtoValid || e(2).DportLo != 53 || e(2).DportHi != 53 || e(2).IPVer != IPAny {
		t.Errorf("port without proto: %+v", e(2))
	}
	if e(3).IPVer != IPv4 || e(3).SrcMask != ([16]byte{}) {
		t.Errorf("0.0.0.0/0 should set ip 4 with mask 0: %+v", e(3))
	}
	if e(4).Rate != 6442 || e(4).Burst != 2000 || e(4).PoliceBytes { // 1500 × 2^32 / 1e9 = 6442.45
		t.Errorf("police 1.5kpps/2k: rate %d burst %d bytes %v; want 6442, 2000, false", e(4).Rate, e(4).Burst, e(4).PoliceBytes)
	}
}

func TestExampleRulesFilesCompile(t *testing.T) {
	files, _ := filepath.Glob("../../tests/rules/*.yaml")
	for _, f := range files {
		rs, err := ParseFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if _, err := rs.Compile(DefaultNumRules); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"good.yaml", "bad_port.yaml", "bad_mix.yaml", "bad_police.yaml"} {
		if b, err := os.ReadFile(filepath.Join("testdata", p)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		rs, err := Parse("f.yaml", src)
		if err != nil {
			errs := AsErrors(err)
			if len(errs) == 0 {
				t.Fatalf("error is not a *rules.Error: %v", err)
			}
			for _, e := range errs {
				if e.File != "f.yaml" || e.Line < 1 {
					t.Fatalf("error without file or line: %#v", e)
				}
			}
			return
		}
		tab, err := rs.Compile(1 << 16)
		if err != nil {
			t.Fatalf("parsed but did not compile: %v", err)
		}
		for i, e := range tab.Entries {
			if got := DecodeEntry(e.Words()); got != e {
				t.Fatalf("entry %d does not survive Words/DecodeEntry:\n%+v\n%+v", i, e, got)
			}
			if e.Rate > MaxRate || e.VLANID > 0xFFF || e.TCPFlagsValue&^e.TCPFlagsMask != 0 {
				t.Fatalf("entry %d out of range: %+v", i, e)
			}
		}
	})
}
