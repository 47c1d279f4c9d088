package profile

import (
	"fmt"
	"strconv"
	"strings"
)

// ProfileSyntax describes the compact form ParseProfile accepts.
const ProfileSyntax = `comma-separated items:
  imix                      IMIX sizes (same as size=imix)
  size=N | size=N/N/...     frame size(s) in bytes without FCS, 60..9212; a list is used in order
  rate=R                    line rate in Gbit/s, optional g suffix (10g, 100g, 2.5); 0 = back to back at 10G
  frames=N                  number of frames, > 0
  mix=KIND:W+KIND:W...      kinds and integer weights > 0 (weight may be omitted: 1)
  seed=N                    random seed (int64)
  start=N                   timestamp of the first frame in ns
defaults: size=60, rate=10g, frames=1000, mix=legit:1, seed=1, start=0`

// ParseProfile parses a compact profile such as
//
//	imix,rate=10g,frames=1000,mix=legit:8+syn-flood:1+udp-reflection:1,seed=7
//
// See ProfileSyntax for every item and the defaults. Errors name the item at
// fault and what it accepts. The result is valid for Generate.
func ParseProfile(spec string) (Options, error) {
	o := Options{Seed: 1, Frames: 1000, Sizes: SizeSpec{Fixed: MinFrameLen}, RateGbps: DefaultRateGbps}
	seen := map[string]bool{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, val, hasVal := strings.Cut(item, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		if key == "imix" && !hasVal {
			key, val, hasVal = "size", "imix", true
		}
		if !hasVal {
			return Options{}, fmt.Errorf("profile: item %q is not key=value: use imix, size=, rate=, frames=, mix=, seed= or start=", item)
		}
		if seen[key] {
			return Options{}, fmt.Errorf("profile: %s is given twice: give it once", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "size", "sizes":
			o.Sizes, err = parseSizes(val)
		case "rate":
			o.RateGbps, err = parseRate(val)
		case "frames":
			o.Frames, err = parsePositive("frames", val)
		case "mix":
			o.Mix, err = parseMix(val)
		case "seed":
			o.Seed, err = strconv.ParseInt(val, 10, 64)
			if err != nil {
				err = fmt.Errorf("profile: seed=%q: use a decimal int64", val)
			}
		case "start":
			o.StartNS, err = strconv.ParseUint(val, 10, 64)
			if err != nil {
				err = fmt.Errorf("profile: start=%q: use a non-negative time in ns", val)
			}
		default:
			err = fmt.Errorf("profile: unknown field %q: use imix, size, rate, frames, mix, seed or start", key)
		}
		if err != nil {
			return Options{}, err
		}
	}
	if err := o.validate(); err != nil {
		return Options{}, err
	}
	return o, nil
}

func parseSizes(val string) (SizeSpec, error) {
	if strings.EqualFold(val, "imix") {
		return SizeSpec{IMIX: true}, nil
	}
	parts := strings.Split(val, "/")
	sizes := make([]int, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < MinFrameLen || n > MaxFrameLen {
			return SizeSpec{}, fmt.Errorf("profile: size=%q: use imix or sizes %d..%d in bytes without FCS, separated by /",
				val, MinFrameLen, MaxFrameLen)
		}
		sizes = append(sizes, n)
	}
	if len(sizes) == 1 {
		return SizeSpec{Fixed: sizes[0]}, nil
	}
	return SizeSpec{List: sizes}, nil
}

func parseRate(val string) (float64, error) {
	num := strings.TrimSuffix(strings.ToLower(val), "g")
	r, err := strconv.ParseFloat(num, 64)
	if err != nil || r < 0 || r > 1e6 || r != r {
		return 0, fmt.Errorf("profile: rate=%q: use Gbit/s such as 10g or 100g (0 = back to back at 10G)", val)
	}
	return r, nil
}

func parsePositive(field, val string) (int, error) {
	n, err := strconv.Atoi(val)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("profile: %s=%q: use a whole number > 0", field, val)
	}
	return n, nil
}

func parseMix(val string) ([]MixEntry, error) {
	var mix []MixEntry
	for _, e := range strings.Split(val, "+") {
		name, w, hasW := strings.Cut(strings.TrimSpace(e), ":")
		name = strings.ToLower(strings.TrimSpace(name))
		if _, ok := kinds[name]; !ok {
			return nil, fmt.Errorf("profile: mix: unknown kind %q: use one of %s", name, strings.Join(Kinds(), ", "))
		}
		weight := 1
		if hasW {
			n, err := strconv.Atoi(strings.TrimSpace(w))
			if err != nil || n <= 0 || n > 1_000_000 {
				return nil, fmt.Errorf("profile: mix: weight %q of %s: use a whole number 1..1000000", w, name)
			}
			weight = n
		}
		mix = append(mix, MixEntry{Kind: name, Weight: weight})
	}
	return mix, nil
}
