package rules

import (
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// RuleSet is a parsed, fully checked rules file. Only the table size is left
// to check, by Compile.
type RuleSet struct {
	File          string
	DefaultDrop   bool
	MalformedPass bool
	Rules         []Rule
}

// Rule is one checked rule with its hardware entry already built.
type Rule struct {
	Name   string
	Line   int
	Column int
	Entry  Entry
	// Rate and Burst as written in the file, for display ("" unless police).
	Rate  string
	Burst string
}

// ParseFile reads and parses a rules file.
func ParseFile(path string) (*RuleSet, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read rules file: %v", err)}
	}
	return Parse(path, src)
}

var (
	topKeys  = []string{"default", "malformed", "rules"}
	ruleKeys = []string{"name", "action", "ip", "src", "dst", "proto", "src_port", "dst_port",
		"tcp_flags", "icmp_type", "length", "vlan", "fragment", "rate", "burst"}
	yamlLineRe = regexp.MustCompile(`line (\d+)`)
	nameRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)
)

// Parse parses the rules file src; filename is only used in errors. A failure
// is a *Error, or Errors when there are several problems.
func Parse(filename string, src []byte) (*RuleSet, error) {
	p := &parser{file: filename}
	rs := p.parse(src)
	switch len(p.errs) {
	case 0:
		return rs, nil
	case 1:
		return nil, p.errs[0]
	}
	sort.SliceStable(p.errs, func(i, j int) bool {
		a, b := p.errs[i], p.errs[j]
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
	return nil, p.errs
}

type parser struct {
	file string
	errs Errors
}

func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) {
	e := &Error{File: p.file, Line: 1, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil && n.Line > 0 {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// pairs walks a mapping, reporting unknown and duplicate keys; it returns the
// value node of each known key and the key nodes (for positions).
func (p *parser) pairs(n *yaml.Node, field string, allowed []string) (vals, keys map[string]*yaml.Node) {
	vals, keys = map[string]*yaml.Node{}, map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		name := k.Value
		sub := name
		if field != "" {
			sub = field + "." + name
		}
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, field, "keys must be plain words; allowed keys: %s", strings.Join(allowed, ", "))
			continue
		}
		if !slices.Contains(allowed, name) {
			p.errorf(k, sub, "unknown key %q; allowed keys: %s", name, strings.Join(allowed, ", "))
			continue
		}
		if prev, dup := keys[name]; dup {
			p.errorf(k, sub, "key %q given twice (first at line %d); keep one", name, prev.Line)
			continue
		}
		keys[name], vals[name] = k, v
	}
	return vals, keys
}

// scalar returns the text of a scalar value, reporting anything else.
func (p *parser) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, field, "want a single value, not a %s", kindName(n.Kind))
		return "", false
	}
	if n.Tag == "!!null" || strings.TrimSpace(n.Value) == "" {
		p.errorf(n, field, "value is empty; remove the key or give a value")
		return "", false
	}
	return strings.TrimSpace(n.Value), true
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func (p *parser) parse(src []byte) *RuleSet {
	rs := &RuleSet{File: p.file}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		line := 1
		if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, fmt.Sprintf("line %d: ", line))
		p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: "not valid YAML: " + msg})
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.errorf(nil, "", "file is empty; want a mapping with keys %s", strings.Join(topKeys, ", "))
		return nil
	}
	top := resolve(doc.Content[0])
	if top.Kind != yaml.MappingNode {
		p.errorf(top, "", "want a mapping with keys %s at the top, not a %s", strings.Join(topKeys, ", "), kindName(top.Kind))
		return nil
	}
	vals, _ := p.pairs(top, "", topKeys)
	if v, ok := vals["default"]; ok {
		if s, ok := p.scalar(v, "default"); ok {
			switch s {
			case "pass":
			case "drop":
				rs.DefaultDrop = true
			default:
				p.errorf(v, "default", "%q is not a default action; want pass or drop", s)
			}
		}
	}
	if v, ok := vals["malformed"]; ok {
		if s, ok := p.scalar(v, "malformed"); ok {
			switch s {
			case "drop":
			case "pass":
				rs.MalformedPass = true
			default:
				p.errorf(v, "malformed", "%q is not a malformed-frame action; want drop or pass", s)
			}
		}
	}
	list, ok := vals["rules"]
	if !ok {
		p.errorf(top, "rules", "missing; add a rules: list (it may be empty: rules: [])")
		return rs
	}
	if list.Kind == yaml.ScalarNode && list.Tag == "!!null" {
		return rs // "rules:" with nothing after it: no rules
	}
	if list.Kind != yaml.SequenceNode {
		p.errorf(list, "rules", "want a list of rules, not a %s", kindName(list.Kind))
		return rs
	}
	firstLine := map[string]int{}
	for i, item := range list.Content {
		item = resolve(item)
		field := fmt.Sprintf("rules[%d]", i)
		if item.Kind != yaml.MappingNode {
			p.errorf(item, field, "want a mapping (name: ..., action: ...), not a %s", kindName(item.Kind))
			continue
		}
		r, ok := p.rule(item, field)
		if !ok {
			continue
		}
		if l, dup := firstLine[r.Name]; dup {
			p.errorf(item, field+".name", "duplicate name %q (first used at line %d); names must be unique", r.Name, l)
			continue
		}
		firstLine[r.Name] = r.Line
		rs.Rules = append(rs.Rules, r)
	}
	return rs
}

var protoNames = map[string]uint8{"icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "sctp": 132}

const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// tcpFlagNames are the TCP flags by bit number (FIN is bit 0), as SPEC §2 orders them.
var tcpFlagNames = [8]string{"fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"}

var tcpFlagBits = func() map[string]uint8 {
	m := make(map[string]uint8, len(tcpFlagNames))
	for i, n := range tcpFlagNames {
		m[n] = 1 << i
	}
	return m
}()

// rule checks one rule mapping and builds its entry. ok is false when any
// error was reported for it.
func (p *parser) rule(n *yaml.Node, field string) (Rule, bool) {
	before := len(p.errs)
	vals, keys := p.pairs(n, field, ruleKeys)
	r := Rule{Line: n.Line, Column: n.Column}
	f := func(k string) string { return field + "." + k }
	// text returns the scalar of key k, or "" when absent (or "any", which
	// every match field accepts to mean no constraint).
	text := func(k string) (string, *yaml.Node) {
		v, ok := vals[k]
		if !ok {
			return "", nil
		}
		s, ok := p.scalar(v, f(k))
		if !ok || s == "any" {
			return "", v
		}
		return s, v
	}

	var name string
	if nameNode := vals["name"]; nameNode == nil {
		p.errorf(n, f("name"), "missing; every rule needs a unique name")
	} else if s, ok := p.scalar(nameNode, f("name")); ok {
		if !nameRe.MatchString(s) || s == "any" {
			p.errorf(nameNode, f("name"), "%q is not a valid name; use letters, digits and _ . : - (starting with a letter or digit)", s)
		}
		name = s
	}
	r.Name = name

	e := AnyEntry(ActionPass)
	var act string
	actNode := vals["action"]
	if actNode == nil {
		p.errorf(n, f("action"), "missing; want pass, drop or police")
	} else if s, ok := p.scalar(actNode, f("action")); ok {
		act = s
		switch act {
		case "pass":
		case "drop":
			e.Action = ActionDrop
		case "police":
			e.Action = ActionPolice
		default:
			p.errorf(actNode, f("action"), "%q is not an action; want pass, drop or police", act)
			act = ""
		}
	}

	// IP version: explicit, else inferred from addresses and fragment.
	ipText, ipNode := text("ip")
	ip := IPAny
	switch ipText {
	case "":
	case "4", "ipv4":
		ip = IPv4
	case "6", "ipv6":
		ip = IPv6
	case "non-ip":
		ip = IPNonIP
	default:
		p.errorf(ipNode, f("ip"), "%q is not an IP version; want 4, 6, any or non-ip", ipText)
	}
	ipFrom := "ip"
	prefix := func(k string, addr, mask *[16]byte) {
		s, v := text(k)
		if s == "" {
			return
		}
		pf, err := parsePrefix(s)
		if err != nil {
			p.errorf(v, f(k), "%q is not a prefix; want an address or address/length such as 192.0.2.0/24 or 2001:db8::/32", s)
			return
		}
		if pf.Masked() != pf {
			p.errorf(v, f(k), "%q has host bits set; did you mean %s?", s, pf.Masked())
			return
		}
		ver := IPv6
		if pf.Addr().Is4() {
			ver = IPv4
		}
		switch {
		case ip == IPNonIP:
			p.errorf(v, f(k), "a non-ip rule cannot match addresses; remove %s or change ip", k)
			return
		case ip != IPAny && ip != ver:
			p.errorf(v, f(k), "%q is an IPv%s prefix but %s says IPv%s; use one IP version per rule", s, ver, ipFrom, ip)
			return
		}
		ip, ipFrom = ver, k
		*addr, *mask = PrefixBits(pf)
	}
	prefix("src", &e.SrcAddr, &e.SrcMask)
	prefix("dst", &e.DstAddr, &e.DstMask)

	if s, v := text("fragment"); s != "" {
		switch s {
		case "no":
			e.Frag = FragNo
		case "yes":
			e.Frag = FragYes
		case "non-first":
			e.Frag = FragNonFirst
		default:
			p.errorf(v, f("fragment"), "%q is not a fragment mode; want any, no, yes or non-first", s)
		}
		if e.Frag != FragAny {
			if ip == IPAny {
				ip = IPv4 // only IPv4 frames carry fragment fields
			} else if ip != IPv4 {
				p.errorf(v, f("fragment"), "fragment matching is IPv4 only but this rule is ip %s", ip)
			}
		}
	}

	protoText, protoNode := text("proto")
	protoSet := false
	if protoText != "" {
		if v, ok := protoNames[strings.ToLower(protoText)]; ok {
			e.Proto, protoSet = v, true
		} else if v, err := strconv.ParseUint(protoText, 10, 8); err == nil {
			e.Proto, protoSet = uint8(v), true
		} else {
			p.errorf(protoNode, f("proto"), "%q is not a protocol; want tcp, udp, icmp, icmpv6, gre, esp, ah, sctp or a number 0-255", protoText)
		}
		if protoSet && ip == IPNonIP {
			p.errorf(protoNode, f("proto"), "a non-ip rule has no IP protocol; remove proto or change ip")
			protoSet = false
		}
		e.ProtoValid = protoSet
	}
	hasPorts := !protoSet || e.Proto == protoTCP || e.Proto == protoUDP

	portRange := func(k string, lo, hi *uint16) {
		s, v := text(k)
		if s == "" {
			return
		}
		a, b, ok := parseRange(s, 65535)
		if !ok {
			p.errorf(v, f(k), "%q is not a port; want N or N-M with 0 <= N <= M <= 65535", s)
			return
		}
		if !hasPorts {
			p.errorf(v, f(k), "proto %s has no ports; ports need proto tcp or udp (or no proto)", protoText)
			return
		}
		if ip == IPNonIP {
			p.errorf(v, f(k), "a non-ip rule has no ports; remove %s or change ip", k)
			return
		}
		*lo, *hi = uint16(a), uint16(b)
	}
	portRange("src_port", &e.SportLo, &e.SportHi)
	portRange("dst_port", &e.DportLo, &e.DportHi)

	if s, v := text("tcp_flags"); s != "" {
		mask, value, msg := parseTCPFlags(s)
		switch {
		case msg != "":
			p.errorf(v, f("tcp_flags"), "%q: %s", s, msg)
		case protoSet && e.Proto != protoTCP:
			p.errorf(v, f("tcp_flags"), "proto %s has no TCP flags; tcp_flags needs proto tcp (or no proto)", protoText)
		case ip == IPNonIP:
			p.errorf(v, f("tcp_flags"), "a non-ip rule has no TCP flags; remove tcp_flags or change ip")
		default:
			e.TCPFlagsMask, e.TCPFlagsValue = mask, value
		}
	}

	if s, v := text("icmp_type"); s != "" {
		t, err := strconv.ParseUint(s, 10, 8)
		switch {
		case err != nil:
			p.errorf(v, f("icmp_type"), "%q is not an ICMP type; want a number 0-255", s)
		case !protoSet || (e.Proto != protoICMP && e.Proto != protoICMPv6):
			p.errorf(v, f("icmp_type"), "icmp_type needs proto icmp (IPv4) or icmpv6 (IPv6)")
		case e.Proto == protoICMP && ip == IPv6:
			p.errorf(v, f("icmp_type"), "proto icmp is only parsed in IPv4 frames but this rule is IPv6; use proto icmpv6")
		case e.Proto == protoICMPv6 && ip == IPv4:
			p.errorf(v, f("icmp_type"), "proto icmpv6 is only parsed in IPv6 frames but this rule is IPv4; use proto icmp")
		default:
			e.ICMPValid, e.ICMPType = true, uint8(t)
		}
	}

	if s, v := text("length"); s != "" {
		a, b, ok := parseRange(s, 65535)
		if !ok {
			p.errorf(v, f("length"), "%q is not a length; want N or N-M frame bytes with 0 <= N <= M <= 65535", s)
		} else {
			e.LenLo, e.LenHi = uint16(a), uint16(b)
		}
	}

	if s, v := text("vlan"); s != "" {
		if s == "untagged" {
			e.VLANMode = VLANUntagged
		} else if id, err := strconv.ParseUint(s, 10, 16); err == nil && id <= 4095 {
			e.VLANMode, e.VLANID = VLANMatchID, uint16(id)
		} else {
			p.errorf(v, f("vlan"), "%q is not a VLAN; want a VID 0-4095, untagged or any", s)
		}
	}

	e.IPVer = ip

	rateNode, burstNode := vals["rate"], vals["burst"]
	if e.Action == ActionPolice {
		if rateNode == nil {
			p.errorf(n, f("rate"), "missing; a police rule needs rate (such as 10kpps or 100Mbps) and burst")
		}
		if burstNode == nil {
			p.errorf(n, f("burst"), "missing; a police rule needs burst (packets for pps rates, bytes for bps/Bps rates)")
		}
		if rateNode != nil {
			if s, ok := p.scalar(rateNode, f("rate")); ok {
				rate, bytes, msg := parseRate(s)
				if msg != "" {
					p.errorf(rateNode, f("rate"), "%q %s", s, msg)
				} else {
					e.Rate, e.PoliceBytes, r.Rate = rate, bytes, s
				}
			}
		}
		if burstNode != nil {
			if s, ok := p.scalar(burstNode, f("burst")); ok {
				b, ok := parseBurst(s)
				if !ok {
					p.errorf(burstNode, f("burst"), "%q is not a burst; want a whole number 1-4294967295 (k, M, G allowed), in packets for pps rates, bytes otherwise", s)
				} else {
					e.Burst, r.Burst = b, s
				}
			}
		}
	} else if act != "" {
		for _, k := range []string{"rate", "burst"} {
			if keys[k] != nil {
				p.errorf(keys[k], f(k), "only police rules have a %s; set action: police or remove %s", k, k)
			}
		}
	}
	r.Entry = e
	return r, len(p.errs) == before
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		if err == nil && pf.Addr().Zone() != "" {
			err = fmt.Errorf("zone not allowed")
		}
		return pf, err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("zone not allowed")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// PrefixBits lays a prefix out as the 128-bit address and mask of SPEC §3.
func PrefixBits(pf netip.Prefix) (addr, mask [16]byte) {
	raw := pf.Addr().AsSlice()
	off := 16 - len(raw) // IPv4 goes to bits [31:0]
	copy(addr[off:], raw)
	for i := 0; i < pf.Bits(); i++ {
		mask[off+i/8] |= 0x80 >> (i % 8)
	}
	return addr, mask
}

// parseRange parses "N" or "N-M" with 0 <= N <= M <= max.
func parseRange(s string, max uint64) (lo, hi uint64, ok bool) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err := strconv.ParseUint(strings.TrimSpace(a), 10, 32)
	if err != nil {
		return 0, 0, false
	}
	hi = lo
	if isRange {
		if hi, err = strconv.ParseUint(strings.TrimSpace(b), 10, 32); err != nil {
			return 0, 0, false
		}
	}
	return lo, hi, lo <= hi && hi <= max
}

// parseTCPFlags turns "syn,!ack" into mask/value; msg explains a failure.
func parseTCPFlags(s string) (mask, value uint8, msg string) {
	for _, part := range strings.Split(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		set := true
		if strings.HasPrefix(part, "!") {
			set, part = false, strings.TrimSpace(part[1:])
		}
		bit, ok := tcpFlagBits[part]
		if !ok {
			names := make([]string, 0, len(tcpFlagBits))
			for k := range tcpFlagBits {
				names = append(names, k)
			}
			sort.Strings(names)
			return 0, 0, fmt.Sprintf("%q is not a TCP flag; want a comma list of %s, each optionally prefixed by ! (unset)", part, strings.Join(names, ", "))
		}
		if mask&bit != 0 {
			return 0, 0, fmt.Sprintf("flag %s given twice; name each flag once", part)
		}
		mask |= bit
		if set {
			value |= bit
		}
	}
	return mask, value, ""
}

var burstRe = regexp.MustCompile(`^([0-9]+)([kKMG]?)$`)

func parseBurst(s string) (uint32, bool) {
	m := burstRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		return 0, false
	}
	mult := map[string]uint64{"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}[m[2]]
	if n == 0 || n > (1<<32-1)/mult {
		return 0, false
	}
	return uint32(n * mult), true
}
