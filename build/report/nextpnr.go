package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// nextpnrClasses maps nextpnr bel buckets (the keys of "utilization", also
// the names in the log's "Device utilisation" block) to classes, for the
// architectures fpgactl builds: ECP5 (TRELLIS_*) and iCE40 (ICESTORM_*,
// SB_*). An iCE40 logic cell is a LUT4 and a flip-flop together, and nextpnr
// counts only cells, so iCE40 results have LUTs and no FFs.
var nextpnrClasses = map[string]class{
	"TRELLIS_COMB": classLUT,
	"TRELLIS_FF":   classFF,
	"DP16KD":       classBRAM,
	"MULT18X18D":   classDSP,
	"TRELLIS_IO":   classIO,
	"ICESTORM_LC":  classLUT,
	"ICESTORM_RAM": classBRAM,
	"ICESTORM_DSP": classDSP,
	"SB_IO":        classIO,
}

// nextpnrClock is one clock's entry: achieved and constraint Fmax in MHz.
type nextpnrClock struct {
	name                string
	achieved, constrain float64
	pass                bool
}

// ParseNextpnrReport reads the JSON report nextpnr writes with
// --report FILE (docs/report.md in nextpnr):
//
//	{"utilization": {BEL: {"used": N, "available": N}, ...},
//	 "fmax": {CLOCK: {"achieved": MHz, "constraint": MHz}, ...}, ...}
//
// For each clock, WNS = 1000/constraint - 1000/achieved ns (the period
// constraint minus the achieved period: positive is slack). Timing is for
// the clock with the smallest WNS; Met holds when every clock's achieved Fmax
// is above its constraint (nextpnr's own PASS test). nextpnr reports no TNS:
// it is 0 when the worst clock has non-negative slack (then no path has
// negative slack) and nil (unknown) otherwise.
func ParseNextpnrReport(path string) (Timing, Utilization, error) {
	data, err := readFile(path)
	if err != nil {
		return Timing{}, Utilization{}, err
	}
	return parseNextpnrReport(path, data)
}

func parseNextpnrReport(name string, data []byte) (Timing, Utilization, error) {
	var doc struct {
		Utilization map[string]struct {
			Used      *float64 `json:"used"`
			Available *float64 `json:"available"`
		} `json:"utilization"`
		Fmax map[string]struct {
			Achieved   *float64 `json:"achieved"`
			Constraint *float64 `json:"constraint"`
		} `json:"fmax"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		line := 0
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		offset := int64(-1)
		switch {
		case errors.As(err, &se):
			offset = se.Offset
		case errors.As(err, &te):
			offset = te.Offset
		}
		if offset >= 0 {
			line = 1 + bytes.Count(data[:min(int(offset), len(data))], []byte("\n"))
		}
		return Timing{}, Utilization{}, formatErr(name, line, "not a nextpnr --report JSON file: %v", err)
	}
	if len(doc.Fmax) == 0 {
		return Timing{}, Utilization{}, formatErr(name, 0, `no "fmax" entries: nextpnr writes them after routing, for clocks with constrained paths; check that place-and-route finished and the design has a clock (--freq or a clock constraint)`)
	}
	var clocks []nextpnrClock
	for _, c := range slices.Sorted(maps.Keys(doc.Fmax)) {
		e := doc.Fmax[c]
		if e.Achieved == nil || e.Constraint == nil {
			return Timing{}, Utilization{}, formatErr(name, 0, `fmax entry for clock %q lacks "achieved" or "constraint"`, c)
		}
		if !(*e.Achieved > 0) || !(*e.Constraint > 0) || !finite(*e.Achieved, *e.Constraint) {
			return Timing{}, Utilization{}, formatErr(name, 0, "fmax entry for clock %q: achieved %v MHz, constraint %v MHz; both must be positive", c, *e.Achieved, *e.Constraint)
		}
		clocks = append(clocks, nextpnrClock{name: c, achieved: *e.Achieved, constrain: *e.Constraint, pass: *e.Constraint < *e.Achieved})
	}
	t := nextpnrTiming(clocks)
	if !finite(t.WNSns) {
		return Timing{}, Utilization{}, formatErr(name, 0, "fmax entry for clock %q: figures out of range", t.Clock)
	}

	var u Utilization
	for _, bel := range slices.Sorted(maps.Keys(doc.Utilization)) {
		e := doc.Utilization[bel]
		if e.Used == nil || !finite(*e.Used) {
			return Timing{}, Utilization{}, formatErr(name, 0, `utilization entry %q has no "used" count`, bel)
		}
		r := Resource{Name: bel, Used: *e.Used}
		if e.Available != nil && finite(*e.Available) {
			r.Available = *e.Available
		}
		u.add(r, nextpnrClasses[bel])
	}
	return t, u, nil
}

func nextpnrTiming(clocks []nextpnrClock) Timing {
	var t Timing
	t.Met = true
	worst := -1
	for i, c := range clocks {
		wns := 1000/c.constrain - 1000/c.achieved
		if worst < 0 || wns < t.WNSns {
			worst, t.WNSns = i, wns
		}
		t.Met = t.Met && c.pass
	}
	w := clocks[worst]
	t.Clock, t.FmaxMHz, t.TargetMHz = w.name, w.achieved, w.constrain
	if t.WNSns >= 0 {
		t.TNSns = ptr(0)
	}
	return t
}

var (
	// Info: Max frequency for clock '$glbnet$clk': 123.45 MHz (PASS at 100.00 MHz)
	// nextpnr pads between "clock" and the quote to align clock names, and
	// the line is a Warning or ERROR when the clock fails.
	nextpnrFmaxLine = regexp.MustCompile(`^(?:Info|Warning|ERROR): +Max frequency for clock +'(.*)': +([0-9.]+) MHz \((PASS|FAIL) at ([0-9.]+) MHz\)\s*$`)
	// Info: 	        TRELLIS_COMB:  4143/83640     4%
	nextpnrUtilLine = regexp.MustCompile(`^Info:\s+([A-Za-z0-9_$.]+):\s+([0-9]+)/\s*([0-9]+)\s+[0-9]+%\s*$`)
)

// ParseNextpnrLog reads timing (and, when present, the "Device utilisation"
// block) from a nextpnr log, for runs without --report. nextpnr prints
// "Max frequency for clock" lines after placement and again after routing;
// the last line for each clock wins, so the post-route figures are used.
// Figures are as printed (0.01 MHz). See ParseNextpnrReport for the WNS and
// TNS conventions.
func ParseNextpnrLog(path string) (Timing, Utilization, error) {
	data, err := readFile(path)
	if err != nil {
		return Timing{}, Utilization{}, err
	}
	return parseNextpnrLog(path, data)
}

func parseNextpnrLog(name string, data []byte) (Timing, Utilization, error) {
	lines := splitLines(data)
	byClock := map[string]nextpnrClock{}
	var u Utilization
	firstErr := 0
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.Contains(l, "Device utilisation:") {
			// One "BEL: used/ available  pct%" line per bucket follows; nextpnr
			// prints the block after packing, and the last block wins.
			var block Utilization
			j := i + 1
			for ; j < len(lines); j++ {
				m := nextpnrUtilLine.FindStringSubmatch(lines[j])
				if m == nil {
					break
				}
				used, err1 := strconv.ParseFloat(m[2], 64)
				avail, err2 := strconv.ParseFloat(m[3], 64)
				if err1 != nil || err2 != nil {
					return Timing{}, Utilization{}, formatErr(name, j+1, "utilisation line %q: count out of range", lines[j])
				}
				block.add(Resource{Name: m[1], Used: used, Available: avail}, nextpnrClasses[m[1]])
			}
			if len(block.All) > 0 {
				u = block
			}
			i = j - 1
			continue
		}
		if !strings.Contains(l, "Max frequency for clock") {
			if firstErr == 0 && strings.HasPrefix(l, "ERROR:") {
				firstErr = i + 1
			}
			continue
		}
		m := nextpnrFmaxLine.FindStringSubmatch(l)
		if m == nil {
			return Timing{}, Utilization{}, formatErr(name, i+1, "unrecognised Max frequency line %q (expected \"Info: Max frequency for clock 'CLK': 123.45 MHz (PASS at 100.00 MHz)\")", l)
		}
		achieved, err1 := strconv.ParseFloat(m[2], 64)
		target, err2 := strconv.ParseFloat(m[4], 64)
		if err1 != nil || err2 != nil || !(achieved > 0) || !(target > 0) || !finite(achieved, target) {
			return Timing{}, Utilization{}, formatErr(name, i+1, "Max frequency line %q: frequencies must be positive numbers", l)
		}
		byClock[m[1]] = nextpnrClock{name: m[1], achieved: achieved, constrain: target, pass: m[3] == "PASS"}
	}
	if len(byClock) == 0 {
		if firstErr > 0 {
			return Timing{}, u, formatErr(name, firstErr, "nextpnr stopped before timing analysis: %s", strings.TrimSpace(lines[firstErr-1]))
		}
		return Timing{}, u, formatErr(name, 0, `no "Max frequency for clock" line: nextpnr did not finish, or the design has no clocked paths`)
	}
	var clocks []nextpnrClock
	for _, c := range slices.Sorted(maps.Keys(byClock)) {
		clocks = append(clocks, byClock[c])
	}
	t := nextpnrTiming(clocks)
	if !finite(t.WNSns) {
		return Timing{}, u, formatErr(name, 0, "Max frequency for clock %q: figures out of range", t.Clock)
	}
	return t, u, nil
}
