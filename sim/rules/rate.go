package rules

import (
	"math/big"
	"regexp"
)

var rateRe = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([kKMG]?)(pps|bps|Bps)$`)

// RateFromUnitsPerSecond converts a rate in units per second to the 40-bit
// register value round(units × 2^32 / 1e9), halves rounded up (SPEC §4).
func RateFromUnitsPerSecond(units *big.Rat) *big.Int {
	v := new(big.Rat).Mul(units, new(big.Rat).SetFrac(new(big.Int).Lsh(big.NewInt(1), 32), big.NewInt(1e9)))
	v.Add(v, big.NewRat(1, 2))
	return new(big.Int).Quo(v.Num(), v.Denom()) // floor: v is never negative
}

// parseRate parses "10kpps", "1.5Gbps" or "100MBps". bytes is true for bit
// and byte rates (the bucket counts bytes); msg explains a failure.
func parseRate(s string) (rate uint64, bytes bool, msg string) {
	m := rateRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false, "is not a rate; want a number and a unit: pps, bps (bits/s) or Bps (bytes/s), with an optional k, M or G prefix, such as 10kpps or 400Mbps"
	}
	units, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return 0, false, "is not a rate number"
	}
	mult := map[string]int64{"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}[m[2]]
	units.Mul(units, big.NewRat(mult, 1))
	if m[3] == "bps" {
		units.Quo(units, big.NewRat(8, 1))
	}
	r := RateFromUnitsPerSecond(units)
	switch {
	case r.Sign() == 0:
		return 0, false, "is too slow: it rounds to 0 in the rate register; the smallest rate is 1pps or 1Bps"
	case !r.IsUint64() || r.Uint64() > MaxRate:
		return 0, false, "is above the 40-bit rate register's limit (about 255Gpps, 255GBps or 2047Gbps)"
	}
	return r.Uint64(), m[3] != "pps", ""
}
