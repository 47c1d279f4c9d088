// Package sweep draws the seed-sweep plot of a build as a standalone SVG.
//
// The plot has one panel per target, stacked vertically (targets have
// different clocks). In each panel the x axis is the build's seeds in order,
// evenly spaced, and the y axis is Fmax in MHz with a dashed line at the
// target clock. A seed with a result is a filled circle, green when it met
// timing and red when it did not; a seed without one (queued, running, error,
// cancelled, lost, or no result recorded) is a small grey cross in a strip at
// the bottom of the panel. The best seed (record.Best) is ringed and labelled
// "best". Every marker carries a <title> tooltip with the seed's numbers and
// status.
//
// When no seed of a target has an Fmax but some have a WNS, that panel plots
// WNS in ns instead, with a dashed line at 0 ns in place of the clock line.
//
// The output depends only on the build: the same record always gives the
// same bytes. Elements carry class and data-* attributes (data-seed,
// data-target, data-value) so that tools and tests can find them.
package sweep

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"github.com/fpgactl/fpgactl/internal/atomicfile"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/internal/gitinfo"
)

// Geometry, in SVG user units (px).
const (
	width        = 720
	headerHeight = 74  // build title, subtitle and legend
	panelHeight  = 260 // one target
	marginLeft   = 78  // y tick labels and the y axis label
	marginRight  = 30  // room for a "best" label at the last seed
	plotTopPad   = 30  // panel top to plot top: the panel title
	plotBotPad   = 46  // plot bottom to panel bottom: x tick labels, "seed"
	dataTopPad   = 12  // plot top to the top of the y range
	crossStrip   = 24  // bottom strip of the plot for seeds without a value
	footerHeight = 8
)

// Colors.
const (
	colorMet    = "#2e9e44"
	colorFailed = "#d0312d"
	colorNone   = "#8c8c8c"
	colorRef    = "#444444"
	colorGrid   = "#e6e6e6"
	colorAxis   = "#333333"
	colorText   = "#222222"
	colorMuted  = "#666666"
)

// WriteSVG writes the seed-sweep plot of b to w as a standalone SVG document.
func WriteSVG(w io.Writer, b *record.Build) error {
	if b == nil {
		return fmt.Errorf("sweep: no build")
	}
	var buf bytes.Buffer
	render(&buf, b)
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("build %s: write sweep plot: %w", b.ID, err)
	}
	return nil
}

// WriteFile writes the seed-sweep plot of b to path atomically (a reader
// sees the old plot or the new one, never a part).
func WriteFile(path string, b *record.Build) error {
	if b == nil {
		return fmt.Errorf("sweep: no build")
	}
	var buf bytes.Buffer
	render(&buf, b)
	if err := atomicfile.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("build %s: write sweep plot: %w", b.ID, err)
	}
	return nil
}

// metric is what a panel's y axis shows.
type metric int

const (
	metricNone metric = iota // no seed has a timing result
	metricFmax
	metricWNS
)

// panel is one target's data, ready to draw.
type panel struct {
	target string
	metric metric
	seeds  []seedPoint // one per x position, in x order
	refs   []float64   // target clocks (Fmax) or 0 (WNS): dashed lines
	best   int         // index into seeds of the best seed, or -1
	met    int         // seeds that met timing
	timed  int         // seeds with a timing result
}

// seedPoint is one seed of one target.
type seedPoint struct {
	seed   int
	result *record.SeedResult // nil when no result is recorded
	value  float64            // the y value, when ok
	ok     bool               // has a finite value for the panel's metric
	met    bool
}

func render(buf *bytes.Buffer, b *record.Build) {
	seeds := seedAxis(b)
	targets := targetList(b)
	panels := make([]panel, len(targets))
	for i, t := range targets {
		panels[i] = buildPanel(b, t, seeds)
	}

	n := max(len(panels), 1)
	height := headerHeight + n*panelHeight + footerHeight
	fmt.Fprintf(buf, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12" fill="%s">`+"\n",
		width, height, width, height, colorText)
	fmt.Fprintf(buf, `<title>%s</title>`+"\n", esc(titleText(b)))
	fmt.Fprintf(buf, `<rect class="background" x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	writeHeader(buf, b)
	if len(panels) == 0 {
		top := float64(headerHeight)
		fmt.Fprintf(buf, `<text class="note" x="%s" y="%s" text-anchor="middle" fill="%s">no targets</text>`+"\n",
			num2(width/2), num2(top+panelHeight/2), colorMuted)
	}
	for i := range panels {
		writePanel(buf, &panels[i], float64(headerHeight+i*panelHeight))
	}
	buf.WriteString("</svg>\n")
}

// seedAxis is the x axis: b.Seeds in order, then any seed that has a result
// but is missing from b.Seeds (a record should not have one, but a plot that
// dropped it would hide it), each once.
func seedAxis(b *record.Build) []int {
	seen := make(map[int]bool)
	var out []int
	add := func(s int) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, s := range b.Seeds {
		add(s)
	}
	for _, r := range b.Results {
		add(r.Seed)
	}
	return out
}

// targetList is b.Targets in order, then any target that has a result but is
// missing from b.Targets, each once.
func targetList(b *record.Build) []string {
	seen := make(map[string]bool)
	var out []string
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, t := range b.Targets {
		add(t)
	}
	for _, r := range b.Results {
		add(r.Target)
	}
	return out
}

func finite(v *float64) bool {
	return v != nil && !math.IsNaN(*v) && !math.IsInf(*v, 0)
}

func buildPanel(b *record.Build, target string, seeds []int) panel {
	p := panel{target: target, best: -1}
	// The first result of a seed counts, as with record.Build.Seed.
	results := make(map[int]*record.SeedResult)
	for i := range b.Results {
		r := &b.Results[i]
		if r.Target == target && results[r.Seed] == nil {
			results[r.Seed] = r
		}
	}
	var anyFmax, anyWNS bool
	for _, s := range seeds {
		if r := results[s]; r != nil {
			anyFmax = anyFmax || finite(r.FmaxMHz)
			anyWNS = anyWNS || finite(r.WNSns)
		}
	}
	switch {
	case anyFmax:
		p.metric = metricFmax
	case anyWNS:
		p.metric = metricWNS
	}

	for _, s := range seeds {
		sp := seedPoint{seed: s, result: results[s]}
		if r := sp.result; r != nil {
			sp.met = r.Met || r.Status == record.SeedMet
			var v *float64
			switch p.metric {
			case metricFmax:
				v = r.FmaxMHz
			case metricWNS:
				v = r.WNSns
			}
			if finite(v) {
				sp.value, sp.ok = *v, true
				p.timed++
				if sp.met {
					p.met++
				}
			}
			if p.metric == metricFmax && r.TargetMHz > 0 && !math.IsInf(r.TargetMHz, 0) && !containsFloat(p.refs, r.TargetMHz) {
				p.refs = append(p.refs, r.TargetMHz)
			}
		}
		p.seeds = append(p.seeds, sp)
	}
	if p.metric == metricWNS {
		p.refs = []float64{0}
	}
	if best, ok := b.Best(target); ok {
		for i, sp := range p.seeds {
			if sp.seed == best.Seed {
				p.best = i
				break
			}
		}
	}
	return p
}

func containsFloat(xs []float64, v float64) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

func titleText(b *record.Build) string {
	parts := []string{"build " + b.ID}
	if b.Commit != "" {
		parts = append(parts, "commit "+gitinfo.Head{Commit: b.Commit, Dirty: b.Dirty}.Short())
	}
	if !b.CreatedAt.IsZero() {
		parts = append(parts, b.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return strings.Join(parts, " · ")
}

func writeHeader(buf *bytes.Buffer, b *record.Build) {
	fmt.Fprintf(buf, `<text class="title" x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n",
		marginLeft-60, esc(titleText(b)))
	sub := fmt.Sprintf("seed sweep: %s, %s", plural(len(b.Seeds), "seed"), plural(len(targetList(b)), "target"))
	if b.Status != "" {
		sub += ", " + string(b.Status)
	}
	if b.Runner != "" {
		sub += ", runner " + b.Runner
	}
	if !b.FinishedAt.IsZero() && !b.CreatedAt.IsZero() && b.FinishedAt.After(b.CreatedAt) {
		sub += ", took " + b.FinishedAt.Sub(b.CreatedAt).Round(time.Second).String()
	}
	fmt.Fprintf(buf, `<text class="subtitle" x="%d" y="44" fill="%s">%s</text>`+"\n", marginLeft-60, colorMuted, esc(sub))

	// Legend, on its own line so that a long subtitle cannot run into it.
	x, y := float64(marginLeft-60+5), 60.0
	buf.WriteString(`<g class="legend" font-size="11">` + "\n")
	fmt.Fprintf(buf, `<circle cx="%s" cy="%s" r="4.5" fill="%s"/><text x="%s" y="%s">met</text>`+"\n",
		num2(x), num2(y), colorMet, num2(x+8), num2(y+4))
	x += 44
	fmt.Fprintf(buf, `<circle cx="%s" cy="%s" r="4.5" fill="%s"/><text x="%s" y="%s">failed timing</text>`+"\n",
		num2(x), num2(y), colorFailed, num2(x+8), num2(y+4))
	x += 96
	fmt.Fprintf(buf, `<path d="%s" stroke="%s" stroke-width="1.5" fill="none"/><text x="%s" y="%s">no timing result</text>`+"\n",
		crossPath(x, y, 3.5), colorNone, num2(x+8), num2(y+4))
	x += 116
	fmt.Fprintf(buf, `<circle cx="%s" cy="%s" r="6.5" fill="none" stroke="%s" stroke-width="1.5"/><text x="%s" y="%s">best</text>`+"\n",
		num2(x), num2(y), colorText, num2(x+10), num2(y+4))
	buf.WriteString("</g>\n")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func writePanel(buf *bytes.Buffer, p *panel, top float64) {
	left, right := float64(marginLeft), float64(width-marginRight)
	plotTop := top + plotTopPad
	plotBot := top + panelHeight - plotBotPad
	dataTop := plotTop + dataTopPad
	dataBot := plotBot - crossStrip
	crossY := plotBot - crossStrip/2

	fmt.Fprintf(buf, `<g class="panel" data-target="%s" data-metric="%s">`+"\n", esc(p.target), p.metric)

	// Panel title: the target and a summary.
	summary := panelSummary(p)
	fmt.Fprintf(buf, `<text class="panel-title" x="%s" y="%s"><tspan font-weight="bold">%s</tspan><tspan dx="10" fill="%s">%s</tspan></text>`+"\n",
		num2(left), num2(top+plotTopPad-10), esc(p.target), colorMuted, esc(summary))

	// Plot frame.
	fmt.Fprintf(buf, `<rect class="frame" x="%s" y="%s" width="%s" height="%s" fill="none" stroke="%s" stroke-width="1"/>`+"\n",
		num2(left), num2(plotTop), num2(right-left), num2(plotBot-plotTop), colorAxis)

	// X positions: seeds are categorical and evenly spaced.
	n := len(p.seeds)
	const xPad = 6 // keeps the first and last markers off the frame
	spacing := (right - left - 2*xPad) / float64(max(n, 1))
	xOf := func(i int) float64 { return left + xPad + (float64(i)+0.5)*spacing }
	writeXAxis(buf, p, xOf, spacing, plotBot)
	fmt.Fprintf(buf, `<text class="axis-label" x="%s" y="%s" text-anchor="middle">seed</text>`+"\n",
		num2((left+right)/2), num2(plotBot+38))

	// Y axis.
	var yOf func(float64) float64
	if p.metric != metricNone {
		var vals []float64
		for _, sp := range p.seeds {
			if sp.ok {
				vals = append(vals, sp.value)
			}
		}
		vals = append(vals, p.refs...)
		ax := makeAxis(vals)
		yOf = func(v float64) float64 { return dataBot - ax.frac(v)*(dataBot-dataTop) }
		label := "Fmax (MHz)"
		if p.metric == metricWNS {
			label = "WNS (ns)"
		}
		fmt.Fprintf(buf, `<g class="y-axis" data-label="%s" font-size="11" text-anchor="end">`+"\n", esc(label))
		for _, t := range ax.ticks {
			y := yOf(t)
			fmt.Fprintf(buf, `<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`+"\n",
				num2(left+1), num2(y), num2(right-1), num2(y), colorGrid)
			fmt.Fprintf(buf, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`+"\n",
				num2(left-4), num2(y), num2(left), num2(y), colorAxis)
			fmt.Fprintf(buf, `<text class="y-tick" x="%s" y="%s" data-value="%s">%s</text>`+"\n",
				num2(left-7), num2(y+4), fnum(t), esc(ax.format(t)))
		}
		buf.WriteString("</g>\n")
		cx, cy := left-58, (dataTop+dataBot)/2
		fmt.Fprintf(buf, `<text class="axis-label" x="%s" y="%s" text-anchor="middle" transform="rotate(-90 %s %s)">%s</text>`+"\n",
			num2(cx), num2(cy), num2(cx), num2(cy), esc(label))

		// Reference lines: the target clock(s), or WNS 0. Their labels
		// are placed last, clear of the markers.
		for _, ref := range p.refs {
			y := yOf(ref)
			fmt.Fprintf(buf, `<line class="%s" data-value="%s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.2" stroke-dasharray="6 4"/>`+"\n",
				refClass(p.metric), fnum(ref), num2(left), num2(y), num2(right), num2(y), colorRef)
		}
	} else {
		fmt.Fprintf(buf, `<text class="note" x="%s" y="%s" text-anchor="middle" fill="%s">no timing results</text>`+"\n",
			num2((left+right)/2), num2((dataTop+dataBot)/2), colorMuted)
	}

	// The strip for seeds without a value, shaded so that its crosses do
	// not read as values on the y axis.
	if p.timed < len(p.seeds) && p.metric != metricNone {
		fmt.Fprintf(buf, `<rect class="no-result-strip" x="%s" y="%s" width="%s" height="%s" fill="#f4f4f4"/>`+"\n",
			num2(left+0.5), num2(dataBot+5), num2(right-left-1), num2(plotBot-dataBot-5.5))
	}

	// Markers. Size shrinks with many seeds so that neighbours stay apart.
	r := math.Min(5, math.Max(2.2, spacing*0.38))
	var obstacles []box // for placing labels
	buf.WriteString(`<g class="markers">` + "\n")
	for i, sp := range p.seeds {
		x := xOf(i)
		tip := esc(tooltip(sp))
		if sp.ok {
			class, color := "point failed", colorFailed
			if sp.met {
				class, color = "point met", colorMet
			}
			y := yOf(sp.value)
			fmt.Fprintf(buf, `<circle class="%s" data-seed="%d" data-value="%s" cx="%s" cy="%s" r="%s" fill="%s" stroke="#ffffff" stroke-width="0.6"><title>%s</title></circle>`+"\n",
				class, sp.seed, fnum(sp.value), num2(x), num2(y), num2(r), color, tip)
			obstacles = append(obstacles, box{x - r, y - r, x + r, y + r})
		} else {
			status := "no result"
			if sp.result != nil {
				status = string(sp.result.Status)
			}
			fmt.Fprintf(buf, `<g class="no-result" data-seed="%d" data-status="%s"><title>%s</title><path d="%s" stroke="%s" stroke-width="1.4" fill="none"/></g>`+"\n",
				sp.seed, esc(status), tip, crossPath(x, crossY, math.Min(3.5, math.Max(1.5, spacing*0.3))), colorNone)
		}
	}
	buf.WriteString("</g>\n")

	// Best seed: a ring and a label.
	if p.best >= 0 {
		sp := p.seeds[p.best]
		x := xOf(p.best)
		y := crossY
		if sp.ok {
			y = yOf(sp.value)
		}
		ringR := r + 4
		fmt.Fprintf(buf, `<circle class="best-ring" data-seed="%d" cx="%s" cy="%s" r="%s" fill="none" stroke="%s" stroke-width="1.6"><title>best: %s</title></circle>`+"\n",
			sp.seed, num2(x), num2(y), num2(ringR), colorText, esc(tooltip(sp)))
		obstacles = append(obstacles, box{x - ringR, y - ringR, x + ringR, y + ringR})
		const w = 26
		lx, anchor, bx := x+ringR+2, "start", x+ringR+2
		if lx+w > float64(width) {
			lx, anchor, bx = x-ringR-2, "end", x-ringR-2-w
		}
		ly := y - ringR + 2
		if ly-10 < plotTop+1 {
			ly = y + ringR + 8 // below the ring rather than over the frame
		}
		fmt.Fprintf(buf, `<text class="best-label" data-seed="%d" x="%s" y="%s" text-anchor="%s" font-size="11" font-weight="bold" %s>best</text>`+"\n",
			sp.seed, num2(lx), num2(ly), anchor, halo)
		obstacles = append(obstacles, box{bx, ly - 10, bx + w, ly + 2})
	}

	for _, ref := range p.refs {
		text := "target " + fnum(ref) + " MHz"
		if p.metric == metricWNS {
			text = "WNS 0 ns (met above)"
		}
		y := yOf(ref)
		w := float64(len(text))*6.3 + 4
		type place struct {
			x, y   float64
			anchor string
			b      box
		}
		var places []place
		for _, ly := range []float64{y - 4, y + 13} {
			places = append(places,
				place{right - 4, ly, "end", box{right - 4 - w, ly - 10, right - 4, ly + 2}},
				place{left + 4, ly, "start", box{left + 4, ly - 10, left + 4 + w, ly + 2}})
		}
		best, bestHits := places[0], -1
		for _, pl := range places {
			if pl.b.y0 < plotTop || pl.b.y1 > plotBot {
				continue
			}
			hits := 0
			for _, o := range obstacles {
				if pl.b.overlaps(o) {
					hits++
				}
			}
			if bestHits < 0 || hits < bestHits {
				best, bestHits = pl, hits
			}
		}
		fmt.Fprintf(buf, `<text class="%s-label" x="%s" y="%s" text-anchor="%s" font-size="11" fill="%s" %s>%s</text>`+"\n",
			refClass(p.metric), num2(best.x), num2(best.y), best.anchor, colorRef, halo, esc(text))
		obstacles = append(obstacles, best.b)
	}
	buf.WriteString("</g>\n")
}

// halo outlines text in white so that it stays legible over lines.
const halo = `stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"`

// box is a rectangle for keeping labels clear of markers.
type box struct{ x0, y0, x1, y1 float64 }

func (a box) overlaps(b box) bool {
	return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1
}

func refClass(m metric) string {
	if m == metricWNS {
		return "zero-line"
	}
	return "target-line"
}

func (m metric) String() string {
	switch m {
	case metricFmax:
		return "fmax"
	case metricWNS:
		return "wns"
	}
	return "none"
}

func panelSummary(p *panel) string {
	var parts []string
	if p.metric == metricFmax && len(p.refs) > 0 {
		clocks := make([]string, len(p.refs))
		for i, r := range p.refs {
			clocks[i] = fnum(r)
		}
		parts = append(parts, "clock "+strings.Join(clocks, "/")+" MHz")
	}
	if p.metric == metricWNS {
		parts = append(parts, "no Fmax reported: plotting WNS")
	}
	parts = append(parts, fmt.Sprintf("%d of %d seeds met timing", p.met, len(p.seeds)))
	if p.best >= 0 {
		parts = append(parts, "best seed "+strconv.Itoa(p.seeds[p.best].seed))
	}
	return strings.Join(parts, " · ")
}

// tooltip is "seed N: Fmax X MHz, WNS Y ns, TNS Z ns, status", leaving out
// what is unknown.
func tooltip(sp seedPoint) string {
	var sb strings.Builder
	sb.WriteString("seed " + strconv.Itoa(sp.seed) + ": ")
	r := sp.result
	if r == nil {
		sb.WriteString("no result")
		return sb.String()
	}
	var parts []string
	if r.FmaxMHz != nil {
		parts = append(parts, "Fmax "+fnum(*r.FmaxMHz)+" MHz")
	}
	if r.WNSns != nil {
		parts = append(parts, "WNS "+fnum(*r.WNSns)+" ns")
	}
	if r.TNSns != nil {
		parts = append(parts, "TNS "+fnum(*r.TNSns)+" ns")
	}
	status := string(r.Status)
	if status == "" {
		status = "unknown status"
	}
	if r.Status == record.SeedRunning && r.Phase != "" {
		status += " (" + string(r.Phase) + ")"
	}
	if r.Error != "" {
		status += ": " + r.Error
	}
	parts = append(parts, status)
	sb.WriteString(strings.Join(parts, ", "))
	return sb.String()
}

// writeXAxis draws a tick at every seed when they are far enough apart and
// labels as many seeds as fit without overlapping.
func writeXAxis(buf *bytes.Buffer, p *panel, xOf func(int) float64, spacing, plotBot float64) {
	seeds := make([]int, len(p.seeds))
	for i, sp := range p.seeds {
		seeds[i] = sp.seed
	}
	labelled := xLabels(seeds, spacing)
	buf.WriteString(`<g class="x-axis" font-size="11" text-anchor="middle">` + "\n")
	for i, s := range seeds {
		x := xOf(i)
		if labelled[i] {
			fmt.Fprintf(buf, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`+"\n",
				num2(x), num2(plotBot), num2(x), num2(plotBot+5), colorAxis)
			fmt.Fprintf(buf, `<text class="x-tick" data-seed="%d" x="%s" y="%s">%d</text>`+"\n",
				s, num2(x), num2(plotBot+18), s)
		} else if spacing >= 4 {
			fmt.Fprintf(buf, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`+"\n",
				num2(x), num2(plotBot), num2(x), num2(plotBot+3), colorAxis)
		}
	}
	buf.WriteString("</g>\n")
}

// labelWidth is about how wide a seed label is at font size 11, plus a gap.
func labelWidth(seed int) float64 {
	return float64(len(strconv.Itoa(seed)))*7 + 8
}

// xLabels picks the seeds to label. It prefers round seeds: the seeds that
// are multiples of the smallest step in 1, 2, 5, 10, 20, ... whose labels do
// not overlap. When that labels fewer than two seeds (irregular seeds), it
// labels seeds greedily from the left instead.
func xLabels(seeds []int, spacing float64) []bool {
	n := len(seeds)
	fits := func(sel []int) bool {
		for j := 1; j < len(sel); j++ {
			a, b := sel[j-1], sel[j]
			gap := float64(b-a) * spacing
			if gap < (labelWidth(seeds[a])+labelWidth(seeds[b]))/2 {
				return false
			}
		}
		return true
	}
	out := make([]bool, n)
	for step := 1; step > 0 && step <= 1_000_000_000; {
		var sel []int
		for i, s := range seeds {
			if s%step == 0 {
				sel = append(sel, i)
			}
		}
		if len(sel) >= min(n, 2) && fits(sel) {
			for _, i := range sel {
				out[i] = true
			}
			return out
		}
		switch d := step / pow10(step); d {
		case 1:
			step *= 2
		case 2:
			step = step / 2 * 5
		default:
			step *= 2
		}
	}
	// Greedy from the left.
	last := -1
	for i := range seeds {
		if last < 0 || float64(i-last)*spacing >= (labelWidth(seeds[last])+labelWidth(seeds[i]))/2 {
			out[i] = true
			last = i
		}
	}
	return out
}

// pow10 is the largest power of ten <= n, for n >= 1.
func pow10(n int) int {
	p := 1
	for p <= n/10 {
		p *= 10
	}
	return p
}

func crossPath(x, y, s float64) string {
	return fmt.Sprintf("M%s %sL%s %sM%s %sL%s %s",
		num2(x-s), num2(y-s), num2(x+s), num2(y+s), num2(x-s), num2(y+s), num2(x+s), num2(y-s))
}

// esc escapes s for XML text and double-quoted attribute values.
func esc(s string) string {
	var sb strings.Builder
	xml.EscapeText(&sb, []byte(s)) // writes to a strings.Builder never fail
	return sb.String()
}

// num2 formats a coordinate.
func num2(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// fnum formats a value for people: up to 6 significant digits, without an
// exponent in the range numbers from a timing report fall in.
func fnum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if v == 0 {
		return "0" // not -0
	}
	a := math.Abs(v)
	if a >= 1e-4 && a < 1e9 {
		r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
		if err == nil {
			return strconv.FormatFloat(r, 'f', -1, 64)
		}
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}
