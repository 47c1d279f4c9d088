package sweep

import (
	"math"
	"strconv"
)

// axis is a y axis: the range [lo, hi] drawn, and round ticks in it.
type axis struct {
	lo, hi float64
	step   float64
	ticks  []float64
	// exp10 is the power of ten of step (step = 1, 2 or 5 × 10^exp10).
	exp10 int
}

// maxTicks bounds the ticks of one axis; makeAxis aims for about five.
const maxTicks = 12

// makeAxis returns an axis whose range covers every value in vals (finite
// numbers), widened to round 1-2-5 steps. Nothing is clamped: every value
// maps into [0, 1] by frac. A range of one value, or one too narrow to tick,
// is widened around it.
func makeAxis(vals []float64) axis {
	lo, hi := 0.0, 1.0
	for i, v := range vals {
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	// Halves keep every difference finite even at ±MaxFloat64.
	mag := math.Max(math.Abs(lo), math.Abs(hi))
	if hi/2-lo/2 <= mag/2*1e-9 {
		d := mag * 0.05
		if d == 0 {
			d = 1
		}
		lo = math.Max(lo-d, -math.MaxFloat64)
		hi = math.Min(hi+d, math.MaxFloat64)
	}
	half := hi/2 - lo/2
	step, exp10 := niceStep(half * 0.4) // (hi-lo)/5
	a := axis{lo: lo, hi: hi, step: step, exp10: exp10}
	if l := math.Floor(lo/step) * step; !math.IsInf(l, 0) && !math.IsNaN(l) {
		a.lo = l
	}
	if h := math.Ceil(hi/step) * step; !math.IsInf(h, 0) && !math.IsNaN(h) {
		a.hi = h
	}
	kLo, kHi := math.Ceil(a.lo/step), math.Floor(a.hi/step)
	if kHi-kLo+1 <= maxTicks && kHi >= kLo {
		for k := kLo; k <= kHi; k++ {
			t := k * step
			if t == 0 {
				t = 0 // not -0
			}
			a.ticks = append(a.ticks, t)
		}
	} else {
		// Cannot happen with finite input; keep the ends labelled anyway.
		a.ticks = []float64{a.lo, a.hi}
	}
	return a
}

// niceStep returns the smallest of 1, 2, 5 × 10^k that is >= raw (raw > 0),
// and k.
func niceStep(raw float64) (float64, int) {
	if !(raw > 0) || math.IsInf(raw, 0) {
		return 1, 0
	}
	k := int(math.Floor(math.Log10(raw)))
	for {
		p := math.Pow(10, float64(k))
		for _, m := range []float64{1, 2, 5} {
			if s := m * p; s >= raw*(1-1e-12) {
				return s, k
			}
		}
		k++
	}
}

// frac maps v to its position on the axis: 0 at lo, 1 at hi.
func (a axis) frac(v float64) float64 {
	den := a.hi/2 - a.lo/2
	if den == 0 {
		return 0.5
	}
	return (v/2 - a.lo/2) / den
}

// format writes a tick value with as many digits as the step needs.
func (a axis) format(v float64) string {
	if v == 0 {
		return "0"
	}
	maxAbs := math.Max(math.Abs(a.lo), math.Abs(a.hi))
	if a.exp10 >= -6 && maxAbs < 1e9 {
		return strconv.FormatFloat(v, 'f', max(0, -a.exp10), 64)
	}
	// Significant digits from the value's magnitude down to the step's.
	digits := int(math.Floor(math.Log10(maxAbs))) - a.exp10 + 1
	return strconv.FormatFloat(v, 'g', max(1, min(digits, 17)), 64)
}
