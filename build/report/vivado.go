package report

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const (
	vivadoMet    = "All user specified timing constraints are met."
	vivadoNotMet = "Timing constraints are not met."
	vivadoNone   = "There are no user specified timing constraints."
)

// ParseVivadoTiming reads the text of report_timing_summary:
//
//   - WNS and TNS from the "Design Timing Summary" table (WNS(ns), TNS(ns)
//     columns);
//   - Met from Vivado's verdict line ("All user specified timing
//     constraints are met." / "Timing constraints are not met."), which also
//     covers hold and pulse width; without one, from WNS, WHS and WPWS;
//   - the clock: the one with the worst WNS in the "Intra Clock Table", or
//     the first clock of the "Clock Summary" when that table has no rows;
//   - TargetMHz from that clock's Frequency(MHz) in the "Clock Summary", and
//     FmaxMHz = 1000 / (period - clock WNS), the frequency at which the
//     clock's worst path would have zero slack.
func ParseVivadoTiming(path string) (Timing, error) {
	data, err := readFile(path)
	if err != nil {
		return Timing{}, err
	}
	return parseVivadoTiming(path, data)
}

func parseVivadoTiming(name string, data []byte) (Timing, error) {
	lines := splitLines(data)
	sec := findSection(lines, 0, "Design Timing Summary")
	if sec < 0 {
		if findText(lines, 0, vivadoNone) >= 0 {
			return Timing{}, formatErr(name, 0, "the design has no timing constraints; add create_clock constraints (XDC) so that timing is checked")
		}
		return Timing{}, formatErr(name, 0, `no "Design Timing Summary" section; is this the output of report_timing_summary?`)
	}
	tbl, err := dashTable(name, lines, sec+1, "WNS(ns)")
	if err != nil {
		return Timing{}, err
	}
	if len(tbl.rows) == 0 {
		return Timing{}, formatErr(name, tbl.headerLine, "Design Timing Summary has no row of figures")
	}
	row, rowLine := tbl.rows[0], tbl.rowLines[0]
	wnsText, tnsText := row["WNS(ns)"], row["TNS(ns)"]
	if wnsText == "NA" || wnsText == "inf" {
		return Timing{}, formatErr(name, rowLine, "WNS is %s: no constrained setup paths; add create_clock constraints (XDC) so that timing is checked", wnsText)
	}
	wns, err := vivadoNumber(name, rowLine, "WNS(ns)", wnsText)
	if err != nil {
		return Timing{}, err
	}
	tns, err := vivadoNumber(name, rowLine, "TNS(ns)", tnsText)
	if err != nil {
		return Timing{}, err
	}
	t := Timing{WNSns: wns, TNSns: ptr(tns)}

	switch {
	case findText(lines, sec, vivadoNotMet) >= 0:
		t.Met = false
	case findText(lines, sec, vivadoMet) >= 0:
		t.Met = true
	default:
		t.Met = wns >= 0
		for _, col := range []string{"WHS(ns)", "WPWS(ns)"} {
			if v, err := strconv.ParseFloat(row[col], 64); err == nil && v < 0 {
				t.Met = false
			}
		}
	}

	clocks, err := vivadoClockSummary(name, lines)
	if err != nil {
		return Timing{}, err
	}
	clockWNS := wns
	if intra := findSection(lines, 0, "Intra Clock Table"); intra >= 0 {
		it, err := dashTable(name, lines, intra+1, "WNS(ns)")
		if err != nil {
			return Timing{}, err
		}
		found := false
		for i, r := range it.rows {
			v, err := strconv.ParseFloat(r["WNS(ns)"], 64)
			if err != nil {
				continue // a clock with hold checks only has no setup WNS
			}
			if !finite(v) {
				return Timing{}, formatErr(name, it.rowLines[i], "WNS %q is not a number", r["WNS(ns)"])
			}
			if !found || v < clockWNS {
				t.Clock, clockWNS, found = r["Clock"], v, true
			}
		}
	}
	if t.Clock == "" && len(clocks) > 0 {
		t.Clock = clocks[0].name
	}
	for _, c := range clocks {
		if c.name != t.Clock {
			continue
		}
		t.TargetMHz = c.freqMHz
		if d := c.periodNS - clockWNS; d > 0 {
			t.FmaxMHz = 1000 / d
		}
		break
	}
	if !finite(t.WNSns, *t.TNSns, t.FmaxMHz, t.TargetMHz) {
		return Timing{}, formatErr(name, rowLine, "figures out of range")
	}
	return t, nil
}

func vivadoNumber(file string, line int, col, s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !finite(v) {
		return 0, formatErr(file, line, "%s is %q, not a number", col, s)
	}
	return v, nil
}

type vivadoClock struct {
	name              string
	periodNS, freqMHz float64
}

// clk    {0.000 2.500}        5.000           200.000
// Generated clocks are indented under their master.
var vivadoClockRow = regexp.MustCompile(`^\s*(\S+)\s+\{[^}]*\}\s+(\S+)\s+(\S+)\s*$`)

func vivadoClockSummary(name string, lines []string) ([]vivadoClock, error) {
	sec := findSection(lines, 0, "Clock Summary")
	if sec < 0 {
		return nil, nil
	}
	h := findLine(lines, sec+1, func(l string) bool {
		f := strings.Fields(l)
		return len(f) >= 4 && f[0] == "Clock" && strings.Contains(l, "Period(ns)")
	})
	if h < 0 || h > sec+8 || h+1 >= len(lines) || !isDashes(lines[h+1]) {
		return nil, formatErr(name, sec+1, "Clock Summary without its \"Clock  Waveform(ns)  Period(ns)  Frequency(MHz)\" header")
	}
	var clocks []vivadoClock
	for i := h + 2; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
		m := vivadoClockRow.FindStringSubmatch(lines[i])
		if m == nil {
			return nil, formatErr(name, i+1, "unrecognised Clock Summary row %q", lines[i])
		}
		p, err1 := strconv.ParseFloat(m[2], 64)
		f, err2 := strconv.ParseFloat(m[3], 64)
		if err1 != nil || err2 != nil || !finite(p, f) || p <= 0 {
			return nil, formatErr(name, i+1, "Clock Summary row %q: period and frequency must be numbers", lines[i])
		}
		clocks = append(clocks, vivadoClock{name: m[1], periodNS: p, freqMHz: f})
	}
	return clocks, nil
}

// findSection finds Vivado's section banner "| <title>" at or after from.
func findSection(lines []string, from int, title string) int {
	return findLine(lines, from, func(l string) bool {
		s, ok := strings.CutPrefix(strings.TrimSpace(l), "|")
		return ok && strings.TrimSpace(s) == title
	})
}

// findText finds the line at or after from that is text, surrounding blanks
// aside.
func findText(lines []string, from int, text string) int {
	return findLine(lines, from, func(l string) bool { return strings.TrimSpace(l) == text })
}

func findLine(lines []string, from int, match func(string) bool) int {
	for i := max(from, 0); i < len(lines); i++ {
		if match(lines[i]) {
			return i
		}
	}
	return -1
}

func isDashes(l string) bool {
	t := strings.TrimSpace(l)
	return t != "" && strings.Trim(t, "- ") == ""
}

// table is a Vivado text table: a header line, a line of dashes under each
// column, then rows up to a blank line.
type table struct {
	headerLine int // 1-based
	rows       []map[string]string
	rowLines   []int // 1-based
}

// dashTable reads the table whose header has column want, starting the
// search at line from (within a few lines of the section banner). Columns
// are where the dashes are; a cell belongs to the column its text overlaps,
// which keeps blank cells from shifting the others.
func dashTable(file string, lines []string, from int, want string) (table, error) {
	h := findLine(lines, from, func(l string) bool { return strings.Contains(l, want) })
	if h < 0 || h > from+8 {
		return table{}, formatErr(file, from, "expected a table header with %s here", want)
	}
	if h+1 >= len(lines) || !isDashes(lines[h+1]) {
		return table{}, formatErr(file, h+1, "table header not followed by a line of dashes")
	}
	type col struct {
		name       string
		start, end int
	}
	var cols []col
	dash := lines[h+1]
	for i := 0; i < len(dash); {
		if dash[i] != '-' {
			i++
			continue
		}
		j := i
		for j < len(dash) && dash[j] == '-' {
			j++
		}
		header := lines[h]
		name := ""
		if i < len(header) {
			name = strings.TrimSpace(header[i:min(j, len(header))])
		}
		cols = append(cols, col{name, i, j})
		i = j
	}
	t := table{headerLine: h + 1}
	for i := h + 2; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
		row := map[string]string{}
		type tok struct {
			s          string
			start, end int
		}
		var toks []tok
		l := lines[i]
		for k := 0; k < len(l); {
			if l[k] == ' ' || l[k] == '\t' {
				k++
				continue
			}
			e := k
			for e < len(l) && l[e] != ' ' && l[e] != '\t' {
				e++
			}
			toks = append(toks, tok{l[k:e], k, e})
			k = e
		}
		if len(toks) == len(cols) {
			for c, tk := range toks {
				row[cols[c].name] = tk.s
			}
		} else {
			for _, tk := range toks {
				hit := -1
				for c, cl := range cols {
					if tk.start < cl.end && tk.end > cl.start {
						if hit >= 0 {
							hit = -2
							break
						}
						hit = c
					}
				}
				if hit < 0 {
					return table{}, formatErr(file, i+1, "cannot tell which column %q belongs to", tk.s)
				}
				row[cols[hit].name] = tk.s
			}
		}
		t.rows = append(t.rows, row)
		t.rowLines = append(t.rowLines, i+1)
	}
	return t, nil
}

// vivadoClasses maps report_utilization site types to classes: "CLB ..." on
// UltraScale(+), "Slice ..." on 7 series. Only top-level rows count: nested
// rows ("  LUT as Logic") are parts of the row above.
var vivadoClasses = map[string]class{
	"CLB LUTs":        classLUT,
	"Slice LUTs":      classLUT,
	"CLB Registers":   classFF,
	"Slice Registers": classFF,
	"Block RAM Tile":  classBRAM,
	"URAM":            classURAM,
	"DSPs":            classDSP,
	"Bonded IOB":      classIO,
}

// ParseVivadoUtilization reads the text of report_utilization: every table
// whose header is "| Site Type | Used | Fixed | [Prohibited |] Available |
// Util% |" (both the UltraScale+ and the older layout without Prohibited).
// A site type listed in several tables counts once, at its first row.
func ParseVivadoUtilization(path string) (Utilization, error) {
	data, err := readFile(path)
	if err != nil {
		return Utilization{}, err
	}
	return parseVivadoUtilization(path, data)
}

func parseVivadoUtilization(name string, data []byte) (Utilization, error) {
	lines := splitLines(data)
	var (
		u      Utilization
		seen   = map[string]bool{}
		tables int
	)
	for i := 0; i < len(lines); i++ {
		hdr := pipeCells(lines[i])
		if len(hdr) < 3 || hdr[0] != "Site Type" {
			continue
		}
		used, avail := slices.Index(hdr, "Used"), slices.Index(hdr, "Available")
		if used < 0 || avail < 0 {
			continue // e.g. the per-SLR tables: their columns are SLRs
		}
		tables++
		j := i + 1
		if j < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[j]), "+") {
			j++
		}
		for ; j < len(lines); j++ {
			l := strings.TrimSpace(lines[j])
			if !strings.HasPrefix(l, "|") {
				break
			}
			raw := strings.Split(l, "|")
			cells := pipeCells(l)
			if len(cells) != len(hdr) {
				return Utilization{}, formatErr(name, j+1, "row has %d cells, its table header %d", len(cells), len(hdr))
			}
			// raw[1] keeps the indentation: one space for a top-level row.
			top := len(raw[1])-len(strings.TrimLeft(raw[1], " ")) <= 1
			site := strings.TrimSuffix(cells[0], "*")
			if cells[used] == "" || seen[site] {
				continue
			}
			n, err := strconv.ParseFloat(cells[used], 64)
			if err != nil || !finite(n) {
				return Utilization{}, formatErr(name, j+1, "%s: Used is %q, not a number", site, cells[used])
			}
			r := Resource{Name: site, Used: n}
			if cells[avail] != "" {
				a, err := strconv.ParseFloat(cells[avail], 64)
				if err != nil || !finite(a) {
					return Utilization{}, formatErr(name, j+1, "%s: Available is %q, not a number", site, cells[avail])
				}
				r.Available = a
			}
			seen[site] = true
			c := classOther
			if top {
				c = vivadoClasses[site]
			}
			u.add(r, c)
		}
		i = j - 1
	}
	if tables == 0 {
		return Utilization{}, formatErr(name, 0, `no "| Site Type | Used | ... | Available | Util%% |" table; is this the output of report_utilization?`)
	}
	return u, nil
}

// pipeCells splits "| a | b |" into trimmed cells; nil if l is not such a row.
func pipeCells(l string) []string {
	t := strings.TrimSpace(l)
	if len(t) < 2 || t[0] != '|' || t[len(t)-1] != '|' {
		return nil
	}
	return splitCells(t[1:len(t)-1], "|")
}
