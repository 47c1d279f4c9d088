package report

import (
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func td(parts ...string) string { return filepath.Join(append([]string{"testdata"}, parts...)...) }

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-4 }

// wantTiming is a hand-computed expectation; tns nil means "unknown".
type wantTiming struct {
	clock        string
	wns          float64
	tns          *float64
	fmax, target float64
	met          bool
}

func checkTiming(t *testing.T, what string, got Timing, w wantTiming) {
	t.Helper()
	if got.Clock != w.clock || !near(got.WNSns, w.wns) || !near(got.FmaxMHz, w.fmax) || !near(got.TargetMHz, w.target) || got.Met != w.met {
		t.Errorf("%s: got clock %q WNS %v Fmax %v target %v met %v; want %q %v %v %v %v",
			what, got.Clock, got.WNSns, got.FmaxMHz, got.TargetMHz, got.Met, w.clock, w.wns, w.fmax, w.target, w.met)
	}
	switch {
	case w.tns == nil && got.TNSns != nil:
		t.Errorf("%s: TNS %v, want unknown (nil)", what, *got.TNSns)
	case w.tns != nil && got.TNSns == nil:
		t.Errorf("%s: TNS unknown, want %v", what, *w.tns)
	case w.tns != nil && !near(*got.TNSns, *w.tns):
		t.Errorf("%s: TNS %v, want %v", what, *got.TNSns, *w.tns)
	}
}

func checkResource(t *testing.T, what string, got, want Resource) {
	t.Helper()
	if got.Name != want.Name || got.Used != want.Used || got.Available != want.Available || !near(got.Percent, want.Percent) {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
}

// checkClasses checks the class fields of got (LUTs .. IO) against those
// want sets; a class want leaves zero is not checked.
func checkClasses(t *testing.T, what string, got, want Utilization) {
	t.Helper()
	for _, c := range []struct {
		class     string
		got, want Resource
	}{
		{"LUTs", got.LUTs, want.LUTs}, {"FFs", got.FFs, want.FFs}, {"BRAM", got.BRAM, want.BRAM},
		{"URAM", got.URAM, want.URAM}, {"DSP", got.DSP, want.DSP}, {"IO", got.IO, want.IO},
	} {
		if c.want != (Resource{}) {
			checkResource(t, what+" "+c.class, c.got, c.want)
		}
	}
}

// ecp5Util is the utilization in both report-met.json and ecp5.log.
var ecp5Util = Utilization{
	LUTs: Resource{"TRELLIS_COMB", 4143, 83640, 4.95337},
	FFs:  Resource{"TRELLIS_FF", 1327, 83640, 1.58656},
	BRAM: Resource{"DP16KD", 12, 208, 5.76923},
	IO:   Resource{"TRELLIS_IO", 70, 365, 19.17808},
}

// checkFormatError checks that err is a *FormatError for file at line
// (0: any line) whose message says want.
func checkFormatError(t *testing.T, err error, file string, line int, want string) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want a *FormatError", err, err)
	}
	if fe.File != file || (line != 0 && fe.Line != line) || !strings.Contains(err.Error(), want) {
		t.Errorf("error %q: want file %s line %d saying %q", err, file, line, want)
	}
	if !strings.HasPrefix(err.Error(), file) {
		t.Errorf("error %q does not start with the file name", err)
	}
}

func TestNextpnrReport(t *testing.T) {
	zero := 0.0
	tm, u, err := ParseNextpnrReport(td("nextpnr", "report-met.json"))
	if err != nil {
		t.Fatal(err)
	}
	// clk_sys: 1000/156.25 - 1000/182.34 = 6.4 - 5.48426 = 0.91574 ns;
	// clk_ctl has 11.70 ns of slack, so clk_sys is the worst clock.
	checkTiming(t, "report-met", tm, wantTiming{"$glbnet$clk_sys", 0.91574, &zero, 182.34, 156.25, true})
	want := ecp5Util
	want.DSP = Resource{"MULT18X18D", 0, 156, 0}
	checkClasses(t, "report-met", u, want)
	if len(u.All) != 8 || u.URAM.Name != "" {
		t.Errorf("All has %d resources (want 8), URAM %+v (want none)", len(u.All), u.URAM)
	}

	tm, u, err = ParseNextpnrReport(td("nextpnr", "report-fail.json"))
	if err != nil {
		t.Fatal(err)
	}
	// 6.4 - 1000/143.1 = -0.58812 ns; nextpnr gives no TNS.
	checkTiming(t, "report-fail", tm, wantTiming{"$glbnet$clk_sys", -0.58812, nil, 143.1, 156.25, false})
	checkClasses(t, "report-fail", u, Utilization{LUTs: Resource{"TRELLIS_COMB", 23011, 24288, 94.74226}})
	// Unknown TNS must stay valid JSON: null.
	out, err := json.Marshal(tm)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"tns_ns":null`) {
		t.Errorf("JSON %s: want tns_ns null", out)
	}

	tm, u, err = ParseNextpnrReport(td("nextpnr", "ice40.json"))
	if err != nil {
		t.Fatal(err)
	}
	// 1000/50 - 1000/52.08 = 20 - 19.20123 = 0.79877 ns.
	checkTiming(t, "ice40", tm, wantTiming{"clk_sys$SB_IO_IN_$glb_clk", 0.79877, &zero, 52.08, 50, true})
	checkClasses(t, "iCE40", u, Utilization{
		LUTs: Resource{"ICESTORM_LC", 6102, 7680, 79.45313},
		BRAM: Resource{"ICESTORM_RAM", 20, 32, 62.5},
		IO:   Resource{"SB_IO", 41, 256, 16.01563},
	})
	if u.FFs.Name != "" {
		t.Errorf("iCE40 logic cells are LUT+FF pairs; FFs must stay empty, got %+v", u.FFs)
	}
}

func TestNextpnrReportErrors(t *testing.T) {
	_, _, err := ParseNextpnrReport(td("nextpnr", "report-malformed.json"))
	checkFormatError(t, err, td("nextpnr", "report-malformed.json"), 4, "not a nextpnr --report JSON")
	_, _, err = ParseNextpnrReport(td("nextpnr", "report-nofmax.json"))
	checkFormatError(t, err, td("nextpnr", "report-nofmax.json"), 0, `no "fmax" entries`)
	for name, doc := range map[string]string{
		"zero achieved":      `{"fmax":{"clk":{"achieved":0,"constraint":100}}}`,
		"missing constraint": `{"fmax":{"clk":{"achieved":120}}}`,
		"fmax not an object": `{"fmax":[1,2]}`,
		"used missing":       `{"fmax":{"clk":{"achieved":120,"constraint":100}},"utilization":{"X":{"available":3}}}`,
	} {
		if _, _, err := parseNextpnrReport("r.json", []byte(doc)); err == nil {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
	if _, _, err := ParseNextpnrReport(td("nextpnr", "no-such.json")); err == nil || !strings.Contains(err.Error(), "no-such.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestNextpnrLog(t *testing.T) {
	zero := 0.0
	tm, u, err := ParseNextpnrLog(td("nextpnr", "ecp5.log"))
	if err != nil {
		t.Fatal(err)
	}
	// The post-route line (176.53 MHz) wins over the post-place one (171.20):
	// 6.4 - 1000/176.53 = 0.73524 ns.
	checkTiming(t, "ecp5.log", tm, wantTiming{"$glbnet$clk_sys", 0.73524, &zero, 176.53, 156.25, true})
	checkClasses(t, "ecp5.log", u, ecp5Util)
	wantOrder := []string{"TRELLIS_IO", "DCCA", "DP16KD", "MULT18X18D", "EHXPLLL", "TRELLIS_FF", "TRELLIS_COMB", "TRELLIS_RAMW"}
	if len(u.All) != len(wantOrder) {
		t.Fatalf("All: %d resources, want %d", len(u.All), len(wantOrder))
	}
	for i, n := range wantOrder {
		if u.All[i].Name != n {
			t.Errorf("All[%d] = %s, want %s (log order)", i, u.All[i].Name, n)
		}
	}

	tm, u, err = ParseNextpnrLog(td("nextpnr", "ecp5-fail.log"))
	if err != nil {
		t.Fatal(err)
	}
	checkTiming(t, "ecp5-fail.log", tm, wantTiming{"$glbnet$clk_sys", -0.58812, nil, 143.10, 156.25, false})
	checkClasses(t, "ecp5-fail.log", u, Utilization{LUTs: Resource{"TRELLIS_COMB", 23011, 24288, 94.74226}})
}

func TestNextpnrLogErrors(t *testing.T) {
	_, u, err := ParseNextpnrLog(td("nextpnr", "pnr-error.log"))
	checkFormatError(t, err, td("nextpnr", "pnr-error.log"), 6, "Unable to find legal placement")
	// What was learned before the failure is still returned: it explains it.
	checkResource(t, "LUTs of a failed run", u.LUTs, Resource{"TRELLIS_COMB", 35628, 24288, 146.68972})

	_, _, err = ParseNextpnrLog(td("nextpnr", "malformed.log"))
	checkFormatError(t, err, td("nextpnr", "malformed.log"), 3, "unrecognised Max frequency line")

	_, _, err = parseNextpnrLog("empty.log", []byte("Info: Program finished normally.\n"))
	checkFormatError(t, err, "empty.log", 0, "no \"Max frequency for clock\" line")
}
