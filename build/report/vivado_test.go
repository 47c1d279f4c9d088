package report

import (
	"strings"
	"testing"
)

func TestVivadoTiming(t *testing.T) {
	zero, fail := 0.0, -35.871
	tests := []struct {
		file string
		want wantTiming
	}{
		// clk_322 has the worst intra-clock WNS; period 3.103 ns:
		// 1000 / (3.103 - 0.112) = 334.33634 MHz.
		{"timing-met.rpt", wantTiming{"clk_322", 0.112, &zero, 334.33634, 322.266, true}},
		// 1000 / (3.103 + 0.245) = 298.68578 MHz.
		{"timing-fail.rpt", wantTiming{"clk_322", -0.245, &fail, 298.68578, 322.266, false}},
		// Setup met, hold violated: Vivado's verdict says not met.
		// 1000 / (3.103 - 0.050) = 327.54668 MHz.
		{"timing-hold.rpt", wantTiming{"clk_322", 0.050, &zero, 327.54668, 322.266, false}},
	}
	for _, tt := range tests {
		got, err := ParseVivadoTiming(td("vivado", tt.file))
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		checkTiming(t, tt.file, got, tt.want)
	}
}

func TestVivadoTimingWithoutVerdictOrClockTables(t *testing.T) {
	// Only the summary table, as in a report cut down with -no_header or by
	// a user: Met comes from WNS/WHS/WPWS, and there is no clock to derive
	// Fmax from.
	const rpt = `------------------------------------------------------------------------------------------------
| Design Timing Summary
| ---------------------
------------------------------------------------------------------------------------------------

    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)  THS Failing Endpoints  THS Total Endpoints     WPWS(ns)     TPWS(ns)  TPWS Failing Endpoints  TPWS Total Endpoints  
    -------      -------  ---------------------  -------------------      -------      -------  ---------------------  -------------------     --------     --------  ----------------------  --------------------  
      0.020        0.000                      0                  100       -0.004       -0.004                      1                  100        1.000        0.000                       0                   50  
`
	got, err := parseVivadoTiming("cut.rpt", []byte(rpt))
	if err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	checkTiming(t, "cut.rpt", got, wantTiming{"", 0.020, &zero, 0, 0, false})

	// Same, with a blank THS cell: the cells no longer line up one to one,
	// and the overlap rule must still put WHS in its column.
	i := strings.LastIndex(rpt, "-0.004") // THS
	blank := rpt[:i] + "      " + rpt[i+6:]
	got, err = parseVivadoTiming("blank.rpt", []byte(blank))
	if err != nil {
		t.Fatal(err)
	}
	if !near(got.WNSns, 0.020) || got.Met {
		t.Errorf("blank cell: WNS %v met %v; want 0.020, not met (WHS -0.004)", got.WNSns, got.Met)
	}
}

func TestVivadoTimingErrors(t *testing.T) {
	_, err := ParseVivadoTiming(td("vivado", "timing-malformed.rpt"))
	checkFormatError(t, err, td("vivado", "timing-malformed.rpt"), 10, `WNS(ns) is "0.1x2"`)

	_, err = ParseVivadoTiming(td("vivado", "timing-noconstraints.rpt"))
	checkFormatError(t, err, td("vivado", "timing-noconstraints.rpt"), 10, "create_clock")

	_, err = ParseVivadoTiming(td("vivado", "util-ultrascale.rpt"))
	checkFormatError(t, err, td("vivado", "util-ultrascale.rpt"), 0, "report_timing_summary")

	const noDashes = "| Design Timing Summary\n| ---------------------\n\n    WNS(ns)      TNS(ns)\n      0.1          0.0\n"
	_, err = parseVivadoTiming("nodash.rpt", []byte(noDashes))
	checkFormatError(t, err, "nodash.rpt", 4, "dashes")
}

func TestVivadoUtilization(t *testing.T) {
	u, err := ParseVivadoUtilization(td("vivado", "util-ultrascale.rpt"))
	if err != nil {
		t.Fatal(err)
	}
	checkClasses(t, "util-ultrascale.rpt", u, Utilization{
		LUTs: Resource{"CLB LUTs", 214870, 1182240, 18.17482},
		FFs:  Resource{"CLB Registers", 301455, 2364480, 12.74931},
		BRAM: Resource{"Block RAM Tile", 322.5, 2160, 14.93056},
		URAM: Resource{"URAM", 48, 960, 5},
		DSP:  Resource{"DSPs", 0, 6840, 0},
		IO:   Resource{"Bonded IOB", 12, 832, 1.44231},
	})
	// Counted by hand: 12 rows in CLB Logic, 4 new in the distribution
	// table (LUT as Logic and CLB Registers repeat), 6 BLOCKRAM, 1 DSP, 3 I/O.
	if len(u.All) != 26 {
		var names []string
		for _, r := range u.All {
			names = append(names, r.Name)
		}
		t.Errorf("All has %d resources, want 26: %v", len(u.All), names)
	}
	for _, r := range u.All {
		if strings.HasSuffix(r.Name, "*") {
			t.Errorf("name %q keeps Vivado's footnote star", r.Name)
		}
		if r.Name == "LUT as Distributed RAM" && (r.Used != 11904 || r.Available != 0 || r.Percent != 0) {
			t.Errorf("nested row without Available: %+v", r)
		}
	}

	u, err = ParseVivadoUtilization(td("vivado", "util-7series.rpt"))
	if err != nil {
		t.Fatal(err)
	}
	checkClasses(t, "util-7series.rpt", u, Utilization{
		LUTs: Resource{"Slice LUTs", 3779, 53200, 7.10338},
		FFs:  Resource{"Slice Registers", 5069, 106400, 4.76410},
		BRAM: Resource{"Block RAM Tile", 4.5, 140, 3.21429},
		DSP:  Resource{"DSPs", 6, 220, 2.72727},
	})
	if u.URAM.Name != "" || u.IO.Name != "" {
		t.Errorf("7-series report has no URAM or IO table: %+v %+v", u.URAM, u.IO)
	}
}

func TestVivadoUtilizationErrors(t *testing.T) {
	_, err := ParseVivadoUtilization(td("vivado", "util-malformed.rpt"))
	checkFormatError(t, err, td("vivado", "util-malformed.rpt"), 8, `Used is "many"`)

	_, err = ParseVivadoUtilization(td("vivado", "timing-met.rpt"))
	checkFormatError(t, err, td("vivado", "timing-met.rpt"), 0, "report_utilization")

	const short = "| Site Type | Used | Fixed | Available | Util% |\n+---+\n| CLB LUTs | 10 | 0 | 100 |\n"
	_, err = parseVivadoUtilization("short.rpt", []byte(short))
	checkFormatError(t, err, "short.rpt", 3, "row has 4 cells")
}
