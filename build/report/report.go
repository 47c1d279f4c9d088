// Package report reads the timing and utilization reports of the flows
// fpgactl runs into one shape, so that seeds of different flows compare the
// same way:
//
//   - nextpnr: the JSON written by --report, or its log as a fallback;
//   - Vivado: report_timing_summary and report_utilization text;
//   - Quartus: the Timing Analyzer (TimeQuest) <rev>.sta.summary and
//     <rev>.sta.rpt, and the Fitter's <rev>.fit.summary.
//
// Sign convention, as all three tools print it: slack is required time minus
// arrival time, in ns. Positive slack is margin, negative a violation. WNS is
// the worst (smallest) setup slack; TNS the sum of the negative setup slacks,
// 0 when every path meets timing.
//
// A file in a shape the parser does not know gives a *FormatError naming the
// file and, where it makes sense, the line.
package report

import (
	"fmt"
	"math"
	"os"
	"strings"
)

// Timing is the timing result of one place-and-route run, for its worst
// clock: the clock whose setup slack is smallest.
type Timing struct {
	// Clock is the clock the figures below are for.
	Clock string `json:"clock"`
	// WNSns is the worst setup slack in ns; positive means margin.
	WNSns float64 `json:"wns_ns"`
	// TNSns is the total negative setup slack in ns (0 or negative), or nil
	// when the tool does not tell it: nextpnr gives no TNS, so a nextpnr run
	// that fails timing has a nil TNS, shown as null in JSON. (nil rather than
	// NaN: encoding/json cannot write NaN.)
	TNSns *float64 `json:"tns_ns"`
	// FmaxMHz is the highest frequency the worst clock's paths allow; 0 when
	// the report does not allow deriving it.
	FmaxMHz float64 `json:"fmax_mhz"`
	// TargetMHz is that clock's constraint; 0 when the report does not say.
	TargetMHz float64 `json:"target_mhz"`
	// Met is the tool's verdict over all clocks. Vivado's and Quartus's also
	// cover hold and pulse-width checks, so Met can be false with WNS >= 0.
	Met bool `json:"met"`
}

// Resource is the use of one kind of device resource.
type Resource struct {
	// Name is the tool's own name (e.g. "CLB LUTs", "TRELLIS_COMB",
	// "Logic utilization (in ALMs)"), so a reader knows what is counted.
	Name string `json:"name"`
	// Used can be fractional: Vivado counts a RAMB18 as half a Block RAM Tile.
	Used float64 `json:"used"`
	// Available is 0 when the tool does not report a total.
	Available float64 `json:"available"`
	// Percent is 100 × Used / Available, 0 when Available is 0. It is
	// computed rather than copied, as Vivado prints "<0.01" and Quartus "< 1".
	Percent float64 `json:"percent"`
}

// Utilization is the resource use of a placed design. LUTs, FFs, BRAM, URAM,
// DSP and IO are the usual classes, mapped from each tool's names (see the
// parsers), zero when the tool reports no such class; All lists every
// resource the report gives, in report order.
type Utilization struct {
	LUTs Resource   `json:"luts,omitzero"`
	FFs  Resource   `json:"ffs,omitzero"`
	BRAM Resource   `json:"bram,omitzero"`
	URAM Resource   `json:"uram,omitzero"`
	DSP  Resource   `json:"dsp,omitzero"`
	IO   Resource   `json:"io,omitzero"`
	All  []Resource `json:"all"`
}

// FormatError says that a report is not in the shape its parser expects.
type FormatError struct {
	File string
	Line int // 1-based; 0 when the problem is not at one line
	Msg  string
}

func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

func formatErr(file string, line int, format string, args ...any) error {
	return &FormatError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// class is where a tool's resource name goes in Utilization.
type class int

const (
	classOther class = iota
	classLUT
	classFF
	classBRAM
	classURAM
	classDSP
	classIO
)

// add appends r to u.All and, for the first resource of each class, sets
// that class.
func (u *Utilization) add(r Resource, c class) {
	if r.Available > 0 {
		r.Percent = 100 * r.Used / r.Available
		if !finite(r.Percent) {
			r.Percent = 0 // absurd counts; JSON could not hold the result
		}
	}
	u.All = append(u.All, r)
	var dst *Resource
	switch c {
	case classLUT:
		dst = &u.LUTs
	case classFF:
		dst = &u.FFs
	case classBRAM:
		dst = &u.BRAM
	case classURAM:
		dst = &u.URAM
	case classDSP:
		dst = &u.DSP
	case classIO:
		dst = &u.IO
	default:
		return
	}
	if dst.Name == "" {
		*dst = r
	}
}

func readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	return data, nil
}

// splitCells splits the inside of a table row at sep into trimmed cells.
func splitCells(row, sep string) []string {
	cells := strings.Split(row, sep)
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

func splitLines(data []byte) []string {
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// finite reports whether every v is a real number: a report that yields
// NaN or ±Inf (a zero period, an absurd value) is refused rather than passed
// on to JSON, which cannot hold it.
func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

func ptr(v float64) *float64 { return &v }
