package report

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// QuartusFiles names the Timing Analyzer outputs of one Quartus revision.
type QuartusFiles struct {
	// Summary is <rev>.sta.summary: "Type : <corner> Model Setup '<clock>'"
	// blocks with Slack and TNS, one per corner, check and clock. Required.
	Summary string
	// Report is <rev>.sta.rpt, for the "<corner> Model Fmax Summary" tables
	// and the clock periods. Optional: without it FmaxMHz and TargetMHz are 0.
	Report string
}

// ParseQuartusTiming reads Quartus timing results:
//
//   - WNS: the worst setup slack over every corner and clock in the summary,
//     and Clock the clock it belongs to;
//   - TNS: for each clock its worst setup TNS over the corners, summed over
//     clocks (what Quartus calls Design-wide TNS);
//   - Met: every slack in the summary, setup, hold, recovery, removal and
//     pulse width alike, is >= 0;
//   - FmaxMHz: the lowest Restricted Fmax of that clock over the Fmax
//     Summary tables of the report (Restricted Fmax also honours the
//     device's minimum clock period, so it is the one the clock can run at);
//     when the clock has no Fmax row, 1000 / (period - WNS);
//   - TargetMHz: 1000 / the clock's period in the report's Clocks table.
func ParseQuartusTiming(files QuartusFiles) (Timing, error) {
	sum, err := readFile(files.Summary)
	if err != nil {
		return Timing{}, err
	}
	var rpt []byte
	if files.Report != "" {
		if rpt, err = readFile(files.Report); err != nil {
			return Timing{}, err
		}
	}
	return parseQuartusTiming(files.Summary, sum, files.Report, rpt)
}

type quartusCheck struct {
	kind, clock string
	slack, tns  float64
	hasSlack    bool
}

var quartusKinds = []string{"Minimum Pulse Width", "Setup", "Hold", "Recovery", "Removal"}

// Type  : Slow 900mV 85C Model Setup 'clk'
var (
	quartusType  = regexp.MustCompile(`^Type\s*:\s*(.*?)\s*'(.*)'\s*$`)
	quartusSlack = regexp.MustCompile(`^Slack\s*:\s*(\S+)`)
	quartusTNS   = regexp.MustCompile(`^(?:End Point )?TNS\s*:\s*(\S+)\s*$`)
)

func parseQuartusSummary(name string, data []byte) ([]quartusCheck, error) {
	lines := splitLines(data)
	var (
		checks []quartusCheck
		cur    *quartusCheck
		curAt  int
	)
	finish := func() error {
		if cur != nil && !cur.hasSlack {
			return formatErr(name, curAt, "Type block without a Slack line")
		}
		return nil
	}
	for i, raw := range lines {
		l := strings.TrimSpace(raw)
		switch {
		case strings.HasPrefix(l, "Type"):
			m := quartusType.FindStringSubmatch(l)
			if m == nil {
				return nil, formatErr(name, i+1, "unrecognised line %q (expected \"Type  : <corner> Model Setup '<clock>'\")", l)
			}
			if err := finish(); err != nil {
				return nil, err
			}
			c := quartusCheck{clock: m[2]}
			for _, k := range quartusKinds {
				if strings.HasSuffix(m[1], k) {
					c.kind = k
					break
				}
			}
			if c.kind == "" {
				return nil, formatErr(name, i+1, "unknown check in %q (expected Setup, Hold, Recovery, Removal or Minimum Pulse Width)", l)
			}
			checks = append(checks, c)
			cur, curAt = &checks[len(checks)-1], i+1
		case strings.HasPrefix(l, "Slack"):
			m := quartusSlack.FindStringSubmatch(l)
			if cur == nil || m == nil || cur.hasSlack {
				return nil, formatErr(name, i+1, "Slack line %q outside a Type block", l)
			}
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil || !finite(v) {
				return nil, formatErr(name, i+1, "Slack %q is not a number", m[1])
			}
			cur.slack, cur.hasSlack = v, true
		case strings.HasPrefix(l, "TNS"), strings.HasPrefix(l, "End Point TNS"):
			m := quartusTNS.FindStringSubmatch(l)
			if cur == nil || m == nil {
				return nil, formatErr(name, i+1, "TNS line %q outside a Type block", l)
			}
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil || !finite(v) {
				return nil, formatErr(name, i+1, "TNS %q is not a number", m[1])
			}
			cur.tns = v
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	if len(checks) == 0 {
		return nil, formatErr(name, 0, `no "Type : ... Model Setup '<clock>'" blocks; is this the <rev>.sta.summary written by quartus_sta?`)
	}
	return checks, nil
}

func parseQuartusTiming(sumName string, sum []byte, rptName string, rpt []byte) (Timing, error) {
	checks, err := parseQuartusSummary(sumName, sum)
	if err != nil {
		return Timing{}, err
	}
	var (
		t         = Timing{Met: true}
		haveSetup bool
		tnsBy     = map[string]float64{}
	)
	for _, c := range checks {
		if c.slack < 0 {
			t.Met = false
		}
		if c.kind != "Setup" {
			continue
		}
		if !haveSetup || c.slack < t.WNSns {
			t.WNSns, t.Clock = c.slack, c.clock
		}
		haveSetup = true
		if v, ok := tnsBy[c.clock]; !ok || c.tns < v {
			tnsBy[c.clock] = c.tns
		}
	}
	if !haveSetup {
		return Timing{}, formatErr(sumName, 0, "no setup checks in the summary; does the design have clock constraints (create_clock in the .sdc)?")
	}
	var tns float64
	for _, v := range tnsBy {
		tns += v
	}
	t.TNSns = ptr(tns)

	if rpt != nil {
		fmax, period, err := quartusClockFigures(rptName, rpt, t.Clock)
		if err != nil {
			return Timing{}, err
		}
		if period > 0 {
			t.TargetMHz = 1000 / period
		}
		switch {
		case fmax > 0:
			t.FmaxMHz = fmax
		case period > 0 && period-t.WNSns > 0:
			t.FmaxMHz = 1000 / (period - t.WNSns)
		}
	}
	if !finite(t.WNSns, *t.TNSns, t.FmaxMHz, t.TargetMHz) {
		return Timing{}, formatErr(sumName, 0, "figures out of range")
	}
	return t, nil
}

// quartusClockFigures reads clock's lowest Restricted Fmax over the Fmax
// Summary tables of a .sta.rpt and its period in the Clocks table; each is
// 0 when the report does not give it.
func quartusClockFigures(name string, rpt []byte, clock string) (fmax, period float64, err error) {
	known := false
	for _, tb := range quartusTables(rpt) {
		switch {
		case strings.HasSuffix(tb.title, "Fmax Summary"):
			known = true
			fi, ri, ci := slices.Index(tb.header, "Fmax"), slices.Index(tb.header, "Restricted Fmax"), slices.Index(tb.header, "Clock Name")
			if fi < 0 || ri < 0 || ci < 0 {
				return 0, 0, formatErr(name, tb.headerLine, "%s: expected columns Fmax, Restricted Fmax and Clock Name", tb.title)
			}
			for k, row := range tb.rows {
				if len(row) != len(tb.header) {
					return 0, 0, formatErr(name, tb.rowLines[k], "row has %d cells, its table header %d", len(row), len(tb.header))
				}
				if row[ci] != clock {
					continue
				}
				v, err := parseMHz(row[ri])
				if err != nil {
					return 0, 0, formatErr(name, tb.rowLines[k], "Restricted Fmax %q: %v", row[ri], err)
				}
				if fmax == 0 || v < fmax {
					fmax = v // parseMHz gives only positive figures
				}
			}
		case tb.title == "Clocks":
			known = true
			ni, pi := slices.Index(tb.header, "Clock Name"), slices.Index(tb.header, "Period")
			if ni < 0 || pi < 0 {
				return 0, 0, formatErr(name, tb.headerLine, "Clocks table: expected columns Clock Name and Period")
			}
			for k, row := range tb.rows {
				if len(row) != len(tb.header) || row[ni] != clock {
					continue
				}
				v, err := strconv.ParseFloat(row[pi], 64)
				if err != nil || !finite(v) || v <= 0 {
					return 0, 0, formatErr(name, tb.rowLines[k], "clock %s: Period %q is not a positive number", clock, row[pi])
				}
				period = v
			}
		}
	}
	if !known {
		return 0, 0, formatErr(name, 0, `no "Fmax Summary" or "Clocks" table; is this the <rev>.sta.rpt written by quartus_sta?`)
	}
	return fmax, period, nil
}

// "162.23 MHz"
func parseMHz(s string) (float64, error) {
	v, ok := strings.CutSuffix(s, "MHz")
	if !ok {
		return 0, errNotMHz
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !finite(f) || f <= 0 {
		return 0, errNotMHz
	}
	return f, nil
}

var errNotMHz = errors.New("not a frequency like 162.23 MHz")

// quartusTable is one ";"-delimited table of a Quartus .rpt:
//
//	+------------------------------------+
//	; Slow 900mV 85C Model Fmax Summary  ;
//	+-----------+-----------------+------------+------+
//	; Fmax      ; Restricted Fmax ; Clock Name ; Note ;
//	+-----------+-----------------+------------+------+
//	; 61.88 MHz ; 61.88 MHz       ; clk        ;      ;
//	+-----------+-----------------+------------+------+
type quartusTable struct {
	title      string
	header     []string
	headerLine int
	rows       [][]string
	rowLines   []int
}

func quartusTables(data []byte) []quartusTable {
	var (
		tables []quartusTable
		cur    *quartusTable
	)
	for i, raw := range splitLines(data) {
		l := strings.TrimSpace(raw)
		switch {
		case strings.HasPrefix(l, ";"):
			cells := splitCells(strings.TrimSuffix(strings.TrimPrefix(l, ";"), ";"), ";")
			switch {
			case cur == nil && len(cells) == 1:
				tables = append(tables, quartusTable{title: cells[0]})
				cur = &tables[len(tables)-1]
			case cur == nil:
				tables = append(tables, quartusTable{header: cells, headerLine: i + 1})
				cur = &tables[len(tables)-1]
			case cur.header == nil:
				cur.header, cur.headerLine = cells, i+1
			default:
				cur.rows = append(cur.rows, cells)
				cur.rowLines = append(cur.rowLines, i+1)
			}
		case strings.HasPrefix(l, "+"):
			// Borders separate title, header and rows; the one after the rows
			// ends the table.
			if cur != nil && len(cur.rows) > 0 {
				cur = nil
			}
		default:
			cur = nil
		}
	}
	return slices.DeleteFunc(tables, func(t quartusTable) bool { return t.header == nil })
}

// quartusClasses maps Fitter summary lines to classes. Quartus counts ALMs
// (Stratix V, Cyclone V) or logic elements (older families), not LUTs; the
// Resource keeps the name so that nobody mistakes one for the other.
var quartusClasses = map[string]class{
	"Logic utilization (in ALMs)": classLUT,
	"Total logic elements":        classLUT,
	"Total registers":             classFF,
	"Total RAM Blocks":            classBRAM,
	"Total DSP Blocks":            classDSP,
	"Total pins":                  classIO,
}

// 1,234 / 234,720 ( < 1 % )   or a bare count: 2345
var quartusUsage = regexp.MustCompile(`^([0-9,]+)(?:\s*/\s*([0-9,]+)\s*\(\s*[<>]?\s*[0-9.]+\s*%\s*\))?$`)

// ParseQuartusUtilization reads <rev>.fit.summary, the Fitter's
// "Key : Value" summary ("Logic utilization (in ALMs) : 1,234 / 234,720
// ( < 1 % )", "Total registers : 2345", "Total RAM Blocks", "Total DSP
// Blocks", "Total pins", ...).
func ParseQuartusUtilization(path string) (Utilization, error) {
	data, err := readFile(path)
	if err != nil {
		return Utilization{}, err
	}
	return parseQuartusUtilization(path, data)
}

func parseQuartusUtilization(name string, data []byte) (Utilization, error) {
	var u Utilization
	found := false
	for i, raw := range splitLines(data) {
		key, val, ok := strings.Cut(raw, ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		c, isResource := quartusClasses[key]
		if !isResource && !strings.HasPrefix(key, "Total ") {
			continue
		}
		m := quartusUsage.FindStringSubmatch(val)
		if m == nil {
			if val == "N/A" || !isResource {
				continue
			}
			return Utilization{}, formatErr(name, i+1, "%s: %q is not a count like \"1,234 / 234,720 ( < 1 %% )\"", key, val)
		}
		r := Resource{Name: key}
		var err error
		if r.Used, err = strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64); err != nil {
			return Utilization{}, formatErr(name, i+1, "%s: count %q out of range", key, m[1])
		}
		if m[2] != "" {
			if r.Available, err = strconv.ParseFloat(strings.ReplaceAll(m[2], ",", ""), 64); err != nil {
				return Utilization{}, formatErr(name, i+1, "%s: count %q out of range", key, m[2])
			}
		}
		found = found || isResource
		u.add(r, c)
	}
	if !found {
		return Utilization{}, formatErr(name, 0, `no "Logic utilization" or "Total registers" line; is this the <rev>.fit.summary written by quartus_fit?`)
	}
	return u, nil
}
