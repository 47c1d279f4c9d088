package rules

import (
	"strconv"
	"strings"
)

// ProtoName is how a rules file writes IP protocol p: its name where the
// format has one ("tcp"), else the number.
func ProtoName(p uint8) string {
	for name, v := range protoNames {
		if v == p {
			return name
		}
	}
	return strconv.Itoa(int(p))
}

// FormatTCPFlags writes a flags mask/value pair in the rules-file syntax
// ("syn,!ack"), flags in bit order; "*" when the mask is empty.
func FormatTCPFlags(mask, value uint8) string {
	if mask == 0 {
		return "*"
	}
	var parts []string
	for i, name := range tcpFlagNames {
		bit := uint8(1) << i
		if mask&bit == 0 {
			continue
		}
		if value&bit == 0 {
			name = "!" + name
		}
		parts = append(parts, name)
	}
	return strings.Join(parts, ",")
}
