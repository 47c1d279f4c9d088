package sweep

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/build/record"
)

func f(v float64) *float64 { return &v }

// node is a parsed XML element.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []node     `xml:",any"`
}

func (n *node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *node) num(t *testing.T, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attr(name), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		t.Fatalf("<%s class=%q> attribute %s=%q is not a finite number", n.XMLName.Local, n.attr("class"), name, n.attr(name))
	}
	return v
}

func (n *node) hasClass(c string) bool {
	for _, x := range strings.Fields(n.attr("class")) {
		if x == c {
			return true
		}
	}
	return false
}

// all returns the elements under n (n included) that have class c, in
// document order.
func (n *node) all(c string) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		if m.hasClass(c) {
			out = append(out, m)
		}
		for i := range m.Nodes {
			walk(&m.Nodes[i])
		}
	}
	walk(n)
	return out
}

// title is the text of n's <title> child.
func (n *node) title() string {
	for _, c := range n.Nodes {
		if c.XMLName.Local == "title" {
			return c.Text
		}
	}
	return ""
}

// allText is all character data under n.
func (n *node) allText() string {
	var sb strings.Builder
	var walk func(*node)
	walk = func(m *node) {
		sb.WriteString(m.Text)
		for i := range m.Nodes {
			walk(&m.Nodes[i])
		}
	}
	walk(n)
	return sb.String()
}

// renderTree writes b as SVG, checks that it is well-formed XML with an <svg>
// root and that every coordinate is a finite number, and returns the tree.
func renderTree(t *testing.T, b *record.Build) *node {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSVG(&buf, b); err != nil {
		t.Fatalf("WriteSVG: %v", err)
	}
	data := buf.Bytes()
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("output is not well-formed XML: %v\n%s", err, data)
		}
	}
	var root node
	if err := xml.Unmarshal(data, &root); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root element is %v, want svg in the SVG namespace", root.XMLName)
	}
	for _, bad := range []string{"NaN", "Inf"} {
		if bytes.Contains(data, []byte(bad)) {
			t.Errorf("output contains %q", bad)
		}
	}
	var walk func(*node)
	walk = func(m *node) {
		for _, a := range m.Attrs {
			switch a.Name.Local {
			case "x", "y", "cx", "cy", "r", "x1", "x2", "y1", "y2", "width", "height":
				m.num(t, a.Name.Local)
			}
		}
		for i := range m.Nodes {
			walk(&m.Nodes[i])
		}
	}
	walk(&root)
	return &root
}

func panelOf(t *testing.T, root *node, target string) *node {
	t.Helper()
	for _, p := range root.all("panel") {
		if p.attr("data-target") == target {
			return p
		}
	}
	t.Fatalf("no panel for target %q", target)
	return nil
}

// bySeed maps data-seed to the element, failing on duplicates.
func bySeed(t *testing.T, els []*node) map[int]*node {
	t.Helper()
	out := make(map[int]*node)
	for _, e := range els {
		s, err := strconv.Atoi(e.attr("data-seed"))
		if err != nil {
			t.Fatalf("bad data-seed %q", e.attr("data-seed"))
		}
		if out[s] != nil {
			t.Fatalf("two %q markers for seed %d", e.attr("class"), s)
		}
		out[s] = e
	}
	return out
}

func met(target string, seed int, fmax, wns, tns, clock float64) record.SeedResult {
	return record.SeedResult{Target: target, Seed: seed, Status: record.SeedMet, Met: true,
		FmaxMHz: f(fmax), WNSns: f(wns), TNSns: f(tns), TargetMHz: clock}
}

func failed(target string, seed int, fmax, wns float64, tns *float64, clock float64) record.SeedResult {
	return record.SeedResult{Target: target, Seed: seed, Status: record.SeedFailedTiming,
		FmaxMHz: f(fmax), WNSns: f(wns), TNSns: tns, TargetMHz: clock}
}

// sampleBuild is two targets with different clocks, eight seeds, and every
// kind of seed: met, failed, error, cancelled, lost, running, and no result.
func sampleBuild() *record.Build {
	const a, b = "eth10g", "pcie_x4"
	return &record.Build{
		Version:   1,
		ID:        "20250314-101500-abcd",
		Commit:    "0123456789abcdef0123456789abcdef01234567",
		CreatedAt: time.Date(2025, 3, 14, 10, 15, 0, 0, time.UTC),
		Targets:   []string{a, b},
		Seeds:     []int{1, 2, 3, 4, 5, 6, 7, 8},
		Runner:    "local",
		Status:    record.StatusRunning,
		Results: []record.SeedResult{
			met(a, 1, 160.5, 0.151, 0, 156.25),
			failed(a, 2, 150.1, -0.262, f(-12.5), 156.25),
			met(a, 3, 171.9, 0.577, 0, 156.25),
			{Target: a, Seed: 4, Status: record.SeedError, Error: "route: congestion"},
			failed(a, 5, 149.0, -0.312, nil, 156.25),
			met(a, 6, 158.0, 0.05, 0, 156.25),
			{Target: a, Seed: 7, Status: record.SeedLost},
			// seed 8 of a: no result recorded
			failed(b, 1, 301.2, -0.2, f(-40), 322.27),
			failed(b, 2, 318.9, -0.034, f(-2.1), 322.27),
			met(b, 3, 330.0, 0.07, 0, 322.27),
			{Target: b, Seed: 4, Status: record.SeedCancelled},
			{Target: b, Seed: 5, Status: record.SeedRunning, Phase: record.PhaseRoute},
			{Target: b, Seed: 6, Status: record.SeedQueued},
			failed(b, 7, 290.0, -0.33, f(-90), 322.27),
			met(b, 8, 325.5, 0.03, 0, 322.27),
		},
	}
}

func TestMarkers(t *testing.T) {
	b := sampleBuild()
	root := renderTree(t, b)
	if got := len(root.all("panel")); got != len(b.Targets) {
		t.Fatalf("%d panels, want %d", got, len(b.Targets))
	}
	for _, target := range b.Targets {
		p := panelOf(t, root, target)
		if p.attr("data-metric") != "fmax" {
			t.Errorf("%s: metric %q, want fmax", target, p.attr("data-metric"))
		}
		points := bySeed(t, p.all("point"))
		crosses := bySeed(t, p.all("no-result"))
		for _, s := range b.Seeds {
			r := b.Seed(target, s)
			pt, cross := points[s], crosses[s]
			if r != nil && r.FmaxMHz != nil {
				if pt == nil || cross != nil {
					t.Errorf("%s seed %d: want a point and no cross, got point %v cross %v", target, s, pt != nil, cross != nil)
					continue
				}
				wantClass, wantFill := "failed", colorFailed
				if r.Met {
					wantClass, wantFill = "met", colorMet
				}
				if !pt.hasClass(wantClass) || pt.attr("fill") != wantFill {
					t.Errorf("%s seed %d: class %q fill %q, want %s %s", target, s, pt.attr("class"), pt.attr("fill"), wantClass, wantFill)
				}
				title := pt.title()
				for _, want := range []string{fmt.Sprintf("seed %d: ", s), "Fmax " + fnum(*r.FmaxMHz) + " MHz", "WNS " + fnum(*r.WNSns) + " ns", string(r.Status)} {
					if !strings.Contains(title, want) {
						t.Errorf("%s seed %d: title %q lacks %q", target, s, title, want)
					}
				}
				if hasTNS := strings.Contains(title, "TNS"); hasTNS != (r.TNSns != nil) {
					t.Errorf("%s seed %d: title %q: TNS shown %v, known %v", target, s, title, hasTNS, r.TNSns != nil)
				}
			} else {
				if pt != nil || cross == nil {
					t.Errorf("%s seed %d: want a cross and no point, got point %v cross %v", target, s, pt != nil, cross != nil)
					continue
				}
				want := "no result"
				if r != nil {
					want = string(r.Status)
				}
				if !strings.Contains(cross.title(), want) {
					t.Errorf("%s seed %d: cross title %q lacks %q", target, s, cross.title(), want)
				}
			}
		}

		// Higher Fmax is higher up (smaller y), strictly.
		for s1, p1 := range points {
			for s2, p2 := range points {
				f1, f2 := *b.Seed(target, s1).FmaxMHz, *b.Seed(target, s2).FmaxMHz
				y1, y2 := p1.num(t, "cy"), p2.num(t, "cy")
				if f1 > f2 && !(y1 < y2) {
					t.Errorf("%s: seed %d (Fmax %v) at y=%v is not above seed %d (Fmax %v) at y=%v", target, s1, f1, y1, s2, f2, y2)
				}
			}
		}

		// Crosses are below every point.
		for s, c := range crosses {
			cy := crossY(t, c)
			for s2, pt := range points {
				if !(cy > pt.num(t, "cy")) {
					t.Errorf("%s: cross of seed %d at y=%v is not below point of seed %d", target, s, cy, s2)
				}
			}
		}

		// Markers go left to right in seed order.
		prev := math.Inf(-1)
		for _, s := range b.Seeds {
			var x float64
			if pt := points[s]; pt != nil {
				x = pt.num(t, "cx")
			} else {
				x = crossX(t, crosses[s])
			}
			if !(x > prev) {
				t.Errorf("%s: seed %d at x=%v is not right of the previous seed at x=%v", target, s, x, prev)
			}
			prev = x
		}
	}
}

// crossPoints parses the numbers of a cross's path "Mx yLx yMx yLx y".
func crossPoints(t *testing.T, c *node) []float64 {
	t.Helper()
	for _, ch := range c.Nodes {
		if ch.XMLName.Local != "path" {
			continue
		}
		d := strings.NewReplacer("M", " ", "L", " ").Replace(ch.attr("d"))
		var out []float64
		for _, s := range strings.Fields(d) {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("cross path %q: %v", ch.attr("d"), err)
			}
			out = append(out, v)
		}
		if len(out) != 8 {
			t.Fatalf("cross path %q: want 4 points", ch.attr("d"))
		}
		return out
	}
	t.Fatalf("cross of seed %s has no path", c.attr("data-seed"))
	return nil
}

func crossX(t *testing.T, c *node) float64 { p := crossPoints(t, c); return (p[0] + p[2]) / 2 }
func crossY(t *testing.T, c *node) float64 { p := crossPoints(t, c); return (p[1] + p[3]) / 2 }

func TestBestRing(t *testing.T) {
	b := sampleBuild()
	root := renderTree(t, b)
	for _, target := range b.Targets {
		best, ok := b.Best(target)
		if !ok {
			t.Fatalf("%s: no best seed in the sample", target)
		}
		p := panelOf(t, root, target)
		rings := p.all("best-ring")
		if len(rings) != 1 {
			t.Fatalf("%s: %d best rings, want 1", target, len(rings))
		}
		if got := rings[0].attr("data-seed"); got != strconv.Itoa(best.Seed) {
			t.Errorf("%s: best ring on seed %s, want %d", target, got, best.Seed)
		}
		pt := bySeed(t, p.all("point"))[best.Seed]
		if pt == nil {
			t.Fatalf("%s: no point for best seed %d", target, best.Seed)
		}
		if rings[0].num(t, "cx") != pt.num(t, "cx") || rings[0].num(t, "cy") != pt.num(t, "cy") {
			t.Errorf("%s: ring at (%s,%s), best point at (%s,%s)", target,
				rings[0].attr("cx"), rings[0].attr("cy"), pt.attr("cx"), pt.attr("cy"))
		}
		labels := p.all("best-label")
		if len(labels) != 1 || labels[0].Text != "best" {
			t.Errorf("%s: best labels %v, want one saying best", target, labels)
		}
	}
	// Sanity check of the sample: the best is not simply the highest Fmax
	// everywhere, so a ring on the wrong seed would show.
	if best, _ := b.Best("eth10g"); best.Seed != 3 {
		t.Errorf("sample: best of eth10g is seed %d, want 3", best.Seed)
	}
}

func TestNoBestWhenNothingFinished(t *testing.T) {
	b := &record.Build{ID: "x", Targets: []string{"t"}, Seeds: []int{1, 2},
		Results: []record.SeedResult{
			{Target: "t", Seed: 1, Status: record.SeedRunning},
			{Target: "t", Seed: 2, Status: record.SeedError},
		}}
	root := renderTree(t, b)
	if n := len(root.all("best-ring")); n != 0 {
		t.Errorf("%d best rings, want none", n)
	}
}

func TestTargetLine(t *testing.T) {
	b := sampleBuild()
	root := renderTree(t, b)
	for _, target := range b.Targets {
		p := panelOf(t, root, target)
		lines := p.all("target-line")
		if len(lines) != 1 {
			t.Fatalf("%s: %d target lines, want 1", target, len(lines))
		}
		line := lines[0]
		if line.attr("stroke-dasharray") == "" {
			t.Errorf("%s: target line is not dashed", target)
		}
		y := line.num(t, "y1")
		if line.num(t, "y2") != y {
			t.Errorf("%s: target line is not horizontal", target)
		}
		clock := b.Seed(target, 1).TargetMHz
		var above, below int
		for s, pt := range bySeed(t, p.all("point")) {
			fm := *b.Seed(target, s).FmaxMHz
			cy := pt.num(t, "cy")
			switch {
			case fm > clock:
				above++
				if !(cy < y) {
					t.Errorf("%s: seed %d Fmax %v > clock %v but y=%v is not above the line at y=%v", target, s, fm, clock, cy, y)
				}
			case fm < clock:
				below++
				if !(cy > y) {
					t.Errorf("%s: seed %d Fmax %v < clock %v but y=%v is not below the line at y=%v", target, s, fm, clock, cy, y)
				}
			}
		}
		if above == 0 || below == 0 {
			t.Errorf("%s: sample has %d points above and %d below the clock; want both", target, above, below)
		}
		want := "target " + fnum(clock) + " MHz"
		labels := p.all("target-line-label")
		if len(labels) != 1 || labels[0].Text != want {
			t.Errorf("%s: target line labels %+v, want one %q", target, labels, want)
		}
		if len(p.all("zero-line")) != 0 {
			t.Errorf("%s: Fmax panel has a zero line", target)
		}
	}
	if !strings.Contains(root.allText(), "target 156.25 MHz") || !strings.Contains(root.allText(), "target 322.27 MHz") {
		t.Errorf("clock labels missing from the text")
	}
}

// The y axis covers the target line even when every seed is far from it.
func TestRangeCoversTargetLine(t *testing.T) {
	b := &record.Build{ID: "x", Targets: []string{"t"}, Seeds: []int{1, 2},
		Results: []record.SeedResult{
			failed("t", 1, 10, -90, nil, 1000),
			failed("t", 2, 12, -80, nil, 1000),
		}}
	root := renderTree(t, b)
	p := panelOf(t, root, "t")
	frame := p.all("frame")[0]
	top := frame.num(t, "y")
	bot := top + frame.num(t, "height")
	line := p.all("target-line")[0]
	for _, e := range append(p.all("point"), line) {
		var y float64
		if e == line {
			y = line.num(t, "y1")
		} else {
			y = e.num(t, "cy")
		}
		if y < top || y > bot {
			t.Errorf("%s at y=%v is outside the plot [%v, %v]", e.attr("class"), y, top, bot)
		}
	}
	ticks := p.all("y-tick")
	lo, hi := ticks[0].num(t, "data-value"), ticks[len(ticks)-1].num(t, "data-value")
	if lo > 10 || hi < 1000 {
		t.Errorf("y ticks span %v..%v, want at least 10..1000", lo, hi)
	}
}

func TestYTicksAreRound(t *testing.T) {
	root := renderTree(t, sampleBuild())
	for _, p := range root.all("panel") {
		ticks := p.all("y-tick")
		if len(ticks) < 3 || len(ticks) > maxTicks {
			t.Fatalf("%s: %d y ticks", p.attr("data-target"), len(ticks))
		}
		var vals, ys []float64
		for _, tk := range ticks {
			vals = append(vals, tk.num(t, "data-value"))
			ys = append(ys, tk.num(t, "y"))
		}
		step := vals[1] - vals[0]
		mant := step / math.Pow(10, math.Floor(math.Log10(step)))
		if math.Abs(mant-1) > 1e-9 && math.Abs(mant-2) > 1e-9 && math.Abs(mant-5) > 1e-9 {
			t.Errorf("%s: tick step %v is not 1, 2 or 5 × 10^k", p.attr("data-target"), step)
		}
		for i := 1; i < len(vals); i++ {
			if math.Abs(vals[i]-vals[i-1]-step) > step*1e-9 {
				t.Errorf("%s: uneven ticks %v", p.attr("data-target"), vals)
			}
			if !(ys[i] < ys[i-1]) {
				t.Errorf("%s: tick %v is not above tick %v", p.attr("data-target"), vals[i], vals[i-1])
			}
		}
		if math.Abs(math.Remainder(vals[0], step)) > step*1e-9 {
			t.Errorf("%s: first tick %v is not a multiple of the step %v", p.attr("data-target"), vals[0], step)
		}
	}
}

// A target whose flow reports WNS but no Fmax is plotted as WNS around 0.
func TestWNSFallback(t *testing.T) {
	b := sampleBuild()
	b.Targets = append(b.Targets, "ice40")
	wnsOnly := func(seed int, wns float64, met bool) record.SeedResult {
		st := record.SeedFailedTiming
		if met {
			st = record.SeedMet
		}
		return record.SeedResult{Target: "ice40", Seed: seed, Status: st, Met: met, WNSns: f(wns), TargetMHz: 48}
	}
	b.Results = append(b.Results,
		wnsOnly(1, 0.8, true), wnsOnly(2, -1.5, false), wnsOnly(3, 2.25, true),
		record.SeedResult{Target: "ice40", Seed: 4, Status: record.SeedError})
	root := renderTree(t, b)
	p := panelOf(t, root, "ice40")
	if p.attr("data-metric") != "wns" {
		t.Fatalf("metric %q, want wns", p.attr("data-metric"))
	}
	if n := len(p.all("target-line")); n != 0 {
		t.Errorf("WNS panel has %d target lines", n)
	}
	zero := p.all("zero-line")
	if len(zero) != 1 {
		t.Fatalf("%d zero lines, want 1", len(zero))
	}
	y0 := zero[0].num(t, "y1")
	points := bySeed(t, p.all("point"))
	if len(points) != 3 {
		t.Fatalf("%d points, want 3", len(points))
	}
	wns := map[int]float64{1: 0.8, 2: -1.5, 3: 2.25}
	for s, pt := range points {
		cy := pt.num(t, "cy")
		if (wns[s] > 0) != (cy < y0) {
			t.Errorf("seed %d WNS %v at y=%v, zero line at y=%v", s, wns[s], cy, y0)
		}
		if !strings.Contains(pt.title(), "WNS "+fnum(wns[s])+" ns") || strings.Contains(pt.title(), "Fmax") {
			t.Errorf("seed %d title %q", s, pt.title())
		}
	}
	if !(points[3].num(t, "cy") < points[1].num(t, "cy") && points[1].num(t, "cy") < points[2].num(t, "cy")) {
		t.Errorf("WNS points out of order")
	}
	axes := p.all("y-axis")
	if len(axes) != 1 || axes[0].attr("data-label") != "WNS (ns)" {
		t.Errorf("y axis label: %+v", axes)
	}
	if !strings.Contains(p.allText(), "WNS (ns)") {
		t.Errorf("panel text lacks the WNS axis label")
	}
	if got := p.all("best-ring"); len(got) != 1 || got[0].attr("data-seed") != "3" {
		t.Errorf("best ring: %+v, want seed 3", got)
	}
	// The other panels stay Fmax.
	if m := panelOf(t, root, "eth10g").attr("data-metric"); m != "fmax" {
		t.Errorf("eth10g metric %q", m)
	}
	if !strings.Contains(panelOf(t, root, "eth10g").allText(), "Fmax (MHz)") {
		t.Errorf("eth10g lacks the Fmax axis label")
	}
}

// With Fmax for some seeds, a seed with only WNS is not mixed into the Fmax
// axis: it goes to the no-value strip, its numbers in the tooltip.
func TestFmaxPanelSeedWithOnlyWNS(t *testing.T) {
	b := &record.Build{ID: "x", Targets: []string{"t"}, Seeds: []int{1, 2},
		Results: []record.SeedResult{
			met("t", 1, 200, 1, 0, 100),
			{Target: "t", Seed: 2, Status: record.SeedFailedTiming, WNSns: f(-0.5), TargetMHz: 100},
		}}
	root := renderTree(t, b)
	p := panelOf(t, root, "t")
	if p.attr("data-metric") != "fmax" {
		t.Fatalf("metric %q", p.attr("data-metric"))
	}
	c := bySeed(t, p.all("no-result"))[2]
	if c == nil || !strings.Contains(c.title(), "WNS -0.5 ns") || !strings.Contains(c.title(), "failed-timing") {
		t.Errorf("seed 2: %+v", c)
	}
}

func TestEscaping(t *testing.T) {
	const name = `a<b&"c"`
	b := &record.Build{
		ID:      `id&<x>`,
		Commit:  `c0ffee"<`,
		Targets: []string{name},
		Seeds:   []int{1, 2},
		Results: []record.SeedResult{
			met(name, 1, 100, 1, 0, 90),
			{Target: name, Seed: 2, Status: record.SeedError, Error: `nextpnr: <<crash>> & "bye" ]]>`},
		},
	}
	root := renderTree(t, b)
	p := panelOf(t, root, name) // the attribute round-trips
	if !strings.Contains(p.allText(), name) {
		t.Errorf("panel text %q lacks the target name %q", p.allText(), name)
	}
	c := bySeed(t, p.all("no-result"))[2]
	if c == nil || !strings.Contains(c.title(), `nextpnr: <<crash>> & "bye" ]]>`) {
		t.Errorf("error message did not round-trip: %+v", c)
	}
	if !strings.Contains(root.allText(), `id&<x>`) {
		t.Errorf("build ID did not round-trip")
	}
}

func TestOneSeed(t *testing.T) {
	b := &record.Build{ID: "one", Targets: []string{"t"}, Seeds: []int{42},
		Results: []record.SeedResult{met("t", 42, 123.4, 0.2, 0, 100)}}
	root := renderTree(t, b)
	p := panelOf(t, root, "t")
	points := p.all("point")
	if len(points) != 1 || points[0].attr("data-seed") != "42" {
		t.Fatalf("points %+v", points)
	}
	frame := p.all("frame")[0]
	mid := frame.num(t, "x") + frame.num(t, "width")/2
	if x := points[0].num(t, "cx"); math.Abs(x-mid) > 0.01 {
		t.Errorf("single seed at x=%v, want the middle %v", x, mid)
	}
	ticks := p.all("x-tick")
	if len(ticks) != 1 || ticks[0].Text != "42" {
		t.Errorf("x ticks %+v, want one for 42", ticks)
	}
	if n := len(p.all("best-ring")); n != 1 {
		t.Errorf("%d best rings", n)
	}
	// The one point and the clock line are distinct, in order.
	if !(points[0].num(t, "cy") < p.all("target-line")[0].num(t, "y1")) {
		t.Errorf("point above the clock is drawn below the line")
	}
}

// One seed whose Fmax equals the clock: a range of one value is widened, not
// collapsed.
func TestOneValue(t *testing.T) {
	b := &record.Build{ID: "one", Targets: []string{"t"}, Seeds: []int{1},
		Results: []record.SeedResult{met("t", 1, 100, 0, 0, 100)}}
	root := renderTree(t, b)
	p := panelOf(t, root, "t")
	if len(p.all("y-tick")) < 2 {
		t.Errorf("want at least two y ticks")
	}
	frame := p.all("frame")[0]
	top, bot := frame.num(t, "y"), frame.num(t, "y")+frame.num(t, "height")
	cy := p.all("point")[0].num(t, "cy")
	if cy <= top || cy >= bot {
		t.Errorf("point at y=%v outside the plot %v..%v", cy, top, bot)
	}
}

func TestManySeeds(t *testing.T) {
	const n = 256
	b := &record.Build{ID: "many", Targets: []string{"t", "u"}}
	for s := 1; s <= n; s++ {
		b.Seeds = append(b.Seeds, s)
		fm := 150 + 20*math.Sin(float64(s)/7)
		if fm >= 156.25 {
			b.Results = append(b.Results, met("t", s, fm, 0.1, 0, 156.25))
		} else {
			b.Results = append(b.Results, failed("t", s, fm, -0.1, f(-1), 156.25))
		}
		if s%3 != 0 {
			b.Results = append(b.Results, met("u", s, 400+float64(s), 0.1, 0, 322.27))
		}
	}
	root := renderTree(t, b)
	for _, target := range b.Targets {
		p := panelOf(t, root, target)
		points := p.all("point")
		crosses := p.all("no-result")
		if len(points)+len(crosses) != n {
			t.Errorf("%s: %d points + %d crosses, want %d seeds", target, len(points), len(crosses), n)
		}
		ticks := p.all("x-tick")
		if len(ticks) < 5 || len(ticks) > 40 {
			t.Errorf("%s: %d x tick labels for %d seeds", target, len(ticks), n)
		}
		// Labels must not overlap: centers at least one label width apart.
		for i := 1; i < len(ticks); i++ {
			gap := ticks[i].num(t, "x") - ticks[i-1].num(t, "x")
			if w := float64(len(ticks[i].Text)) * 6.5; gap < w {
				t.Errorf("%s: x labels %s and %s are %.1f px apart, less than %.1f", target, ticks[i-1].Text, ticks[i].Text, gap, w)
			}
		}
		// Neighbouring markers do not overlap much.
		if len(points) > 1 {
			r := points[0].num(t, "r")
			dx := points[1].num(t, "cx") - points[0].num(t, "cx")
			if 2*r > 2*dx {
				t.Errorf("%s: markers of radius %v, %v px apart", target, r, dx)
			}
		}
	}
	if got := len(panelOf(t, root, "u").all("point")); got != n-n/3 {
		t.Errorf("u: %d points", got)
	}
}

func TestXLabels(t *testing.T) {
	labelled := func(seeds []int, spacing float64) []int {
		var out []int
		for i, ok := range xLabels(seeds, spacing) {
			if ok {
				out = append(out, seeds[i])
			}
		}
		return out
	}
	seq := func(lo, hi int) []int {
		var s []int
		for i := lo; i <= hi; i++ {
			s = append(s, i)
		}
		return s
	}
	if got := labelled([]int{1, 5, 9}, 200); fmt.Sprint(got) != "[1 5 9]" {
		t.Errorf("wide: %v", got)
	}
	got := labelled(seq(1, 256), 612.0/256)
	if len(got) < 5 {
		t.Fatalf("256 seeds: labels %v", got)
	}
	for _, s := range got {
		if s%10 != 0 {
			t.Errorf("256 seeds: label %d is not round (%v)", s, got)
		}
	}
	// Irregular seeds still get labels, without overlap.
	irregular := []int{7, 13, 101, 257, 1009, 2003, 4099, 8191, 16411, 32771}
	got = labelled(irregular, 20)
	if len(got) < 2 || got[0] != 7 {
		t.Errorf("irregular: %v", got)
	}
}

func TestNoResults(t *testing.T) {
	b := &record.Build{ID: "empty", Targets: []string{"t", "u"}, Seeds: []int{1, 2, 3}, Status: record.StatusRunning}
	root := renderTree(t, b)
	for _, target := range b.Targets {
		p := panelOf(t, root, target)
		notes := p.all("note")
		if len(notes) != 1 || notes[0].Text != "no timing results" {
			t.Errorf("%s: notes %+v", target, notes)
		}
		if n := len(p.all("point")); n != 0 {
			t.Errorf("%s: %d points", target, n)
		}
		if n := len(p.all("no-result")); n != 3 {
			t.Errorf("%s: %d crosses, want one per seed", target, n)
		}
	}

	// No targets and no seeds at all still make a document.
	root = renderTree(t, &record.Build{ID: "nothing"})
	if n := len(root.all("panel")); n != 0 {
		t.Errorf("%d panels", n)
	}
	if !strings.Contains(root.allText(), "no targets") {
		t.Errorf("no note for a build without targets")
	}
}

func TestExtremeValues(t *testing.T) {
	cases := [][]float64{
		{1e-6, 1e6},
		{0.001, 0.0010000001},
		{1e12, 1e12 + 1},
		{-1e300, 1e300},
		{math.MaxFloat64, -math.MaxFloat64},
		{math.MaxFloat64, math.MaxFloat64},
		{5e-324, 0},
	}
	for _, vals := range cases {
		t.Run(fmt.Sprint(vals), func(t *testing.T) {
			b := &record.Build{ID: "x", Targets: []string{"t"}}
			for i, v := range vals {
				b.Seeds = append(b.Seeds, i+1)
				b.Results = append(b.Results, failed("t", i+1, v, v, nil, 156.25))
			}
			root := renderTree(t, b)
			p := panelOf(t, root, "t")
			frame := p.all("frame")[0]
			top, bot := frame.num(t, "y"), frame.num(t, "y")+frame.num(t, "height")
			elems := append(p.all("point"), p.all("target-line")...)
			if len(elems) != len(vals)+1 {
				t.Fatalf("%d points and lines, want %d", len(elems), len(vals)+1)
			}
			for _, e := range elems {
				y := e.attr("cy")
				if y == "" {
					y = e.attr("y1")
				}
				v, _ := strconv.ParseFloat(y, 64)
				if v < top-0.01 || v > bot+0.01 {
					t.Errorf("%s at y=%v outside the plot %v..%v", e.attr("class"), v, top, bot)
				}
			}
			ticks := p.all("y-tick")
			if len(ticks) < 2 {
				t.Fatalf("%d y ticks", len(ticks))
			}
			seen := map[string]bool{}
			for _, tk := range ticks {
				if seen[tk.Text] {
					t.Errorf("two y ticks labelled %q", tk.Text)
				}
				seen[tk.Text] = true
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := WriteSVG(&a, sampleBuild()); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		b.Reset()
		if err := WriteSVG(&b, sampleBuild()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatal("two renderings of the same build differ")
		}
	}
}

func TestTitle(t *testing.T) {
	root := renderTree(t, sampleBuild())
	text := root.allText()
	for _, want := range []string{"20250314-101500-abcd", "0123456789ab", "2025-03-14"} {
		if !strings.Contains(text, want) {
			t.Errorf("title lacks %q", want)
		}
	}
	if strings.Contains(text, "0123456789abcdef0123") {
		t.Errorf("commit is not shortened")
	}
}

// Results for a seed or a target the record does not list are drawn, not
// dropped.
func TestUnlistedSeedsAndTargets(t *testing.T) {
	b := &record.Build{ID: "x", Targets: []string{"t"}, Seeds: []int{1},
		Results: []record.SeedResult{
			met("t", 1, 100, 1, 0, 90),
			met("t", 9, 110, 2, 0, 90),
			met("extra", 1, 50, 1, 0, 40),
		}}
	root := renderTree(t, b)
	if n := len(panelOf(t, root, "t").all("point")); n != 2 {
		t.Errorf("t: %d points, want 2", n)
	}
	panelOf(t, root, "extra")
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	if err := WriteSVG(failWriter{}, sampleBuild()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteSVG to a failing writer: %v", err)
	}
	if err := WriteSVG(io.Discard, nil); err == nil {
		t.Errorf("WriteSVG(nil build) succeeded")
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sweep.svg")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := sampleBuild()
	if err := WriteFile(path, b); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := WriteSVG(&want, b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("file differs from WriteSVG output")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only sweep.svg (temp file left behind?)", names)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.svg"), b); err == nil {
		t.Errorf("WriteFile into a missing directory succeeded")
	}
}

// TestExample writes the sample plot to $SWEEP_EXAMPLE, for looking at:
//
//	SWEEP_EXAMPLE=/tmp/sweep-example.svg go test -run TestExample ./build/sweep/
func TestExample(t *testing.T) {
	path := os.Getenv("SWEEP_EXAMPLE")
	if path == "" {
		t.Skip("set SWEEP_EXAMPLE to a path to write the example plot")
	}
	b := sampleBuild()
	b.Targets = append(b.Targets, `ice40 a<b&"c"`)
	for s, w := range []float64{0.8, -1.5, 2.25, -0.3} {
		st, met := record.SeedFailedTiming, w > 0
		if met {
			st = record.SeedMet
		}
		b.Results = append(b.Results, record.SeedResult{Target: `ice40 a<b&"c"`, Seed: s + 1, Status: st, Met: met, WNSns: f(w)})
	}
	if err := WriteFile(path, b); err != nil {
		t.Fatal(err)
	}
}
