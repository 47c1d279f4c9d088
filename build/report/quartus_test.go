package report

import (
	"os"
	"path/filepath"
	"testing"
)

func TestQuartusTiming(t *testing.T) {
	zero, failTNS := 0.0, -4.669
	tests := []struct {
		name  string
		files QuartusFiles
		want  wantTiming
	}{
		// Worst setup slack over four corners and two clocks: clk_156 at
		// Slow 900mV 85C. Fmax: lowest Restricted Fmax of clk_156 over the
		// two slow corners (167.17, 170.40). Target: 1000 / 6.400 ns.
		{"met", QuartusFiles{td("quartus", "filter10g.sta.summary"), td("quartus", "filter10g.sta.rpt")},
			wantTiming{"clk_156", 0.412, &zero, 167.17, 156.25, true}},
		// TNS: per clock the worst over corners (clk_156 -4.567, ctl_clk
		// -0.102), summed: -4.669. ctl_clk's Restricted Fmax (500.0, below
		// its 717.36 Fmax) is not the worst clock's and does not count.
		{"fail", QuartusFiles{td("quartus", "filter10g-fail.sta.summary"), td("quartus", "filter10g-fail.sta.rpt")},
			wantTiming{"clk_156", -0.123, &failTNS, 153.30, 156.25, false}},
		// Without the .sta.rpt there is no Fmax and no target.
		{"summary only", QuartusFiles{Summary: td("quartus", "filter10g.sta.summary")},
			wantTiming{"clk_156", 0.412, &zero, 0, 0, true}},
	}
	for _, tt := range tests {
		got, err := ParseQuartusTiming(tt.files)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		checkTiming(t, tt.name, got, tt.want)
	}
}

func TestQuartusTimingEdgeCases(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	zero := 0.0

	// No Fmax row for the clock ("No paths to report."): Fmax from the
	// period and WNS, 1000 / (4.000 - 0.500) = 285.71429 MHz.
	sum := write("a.sta.summary", "Type  : Slow 900mV 85C Model Setup 'clk_x'\nSlack : 0.500\nTNS   : 0.000\n")
	rpt := write("a.sta.rpt", `+------------------------------------------------------------------------------------------------------------------------------------------------------------+
; Clocks                                                                                                                                                     ;
+------------+------+--------+-----------+-------+-------+------------+-----------+-------------+-------+--------+-----------+------------+----------+--------+--------+-------------+
; Clock Name ; Type ; Period ; Frequency ; Rise  ; Fall  ; Duty Cycle ; Divide by ; Multiply by ; Phase ; Offset ; Edge List ; Edge Shift ; Inverted ; Master ; Source ; Targets     ;
+------------+------+--------+-----------+-------+-------+------------+-----------+-------------+-------+--------+-----------+------------+----------+--------+--------+-------------+
; clk_x      ; Base ; 4.000  ; 250.0 MHz ; 0.000 ; 2.000 ;            ;           ;             ;       ;        ;           ;            ;          ;        ;        ; { clk_x_in } ;
+------------+------+--------+-----------+-------+-------+------------+-----------+-------------+-------+--------+-----------+------------+----------+--------+--------+-------------+


--------------------------------------
; Slow 900mV 85C Model Fmax Summary ;
--------------------------------------
No paths to report.
`)
	got, err := ParseQuartusTiming(QuartusFiles{sum, rpt})
	if err != nil {
		t.Fatal(err)
	}
	checkTiming(t, "derived fmax", got, wantTiming{"clk_x", 0.5, &zero, 285.71429, 250, true})

	// The clock's Restricted Fmax (limited by the device's minimum period)
	// is what counts, not its unrestricted Fmax.
	sum = write("r.sta.summary", "Type  : Slow 900mV 85C Model Setup 'io_clk'\nSlack : 2.600\nTNS   : 0.000\n")
	rpt = write("r.sta.rpt", `+-----------------------------------------------------------------------------------------------------------+
; Slow 900mV 85C Model Fmax Summary                                                                         ;
+------------+-----------------+------------+---------------------------------------------------------------+
; Fmax       ; Restricted Fmax ; Clock Name ; Note                                                          ;
+------------+-----------------+------------+---------------------------------------------------------------+
; 717.36 MHz ; 500.0 MHz       ; io_clk     ; limit due to minimum period restriction (max I/O toggle rate) ;
+------------+-----------------+------------+---------------------------------------------------------------+
`)
	got, err = ParseQuartusTiming(QuartusFiles{sum, rpt})
	if err != nil {
		t.Fatal(err)
	}
	checkTiming(t, "restricted fmax", got, wantTiming{"io_clk", 2.6, &zero, 500, 0, true})

	// Setup met everywhere, one hold violation: not met.
	sum = write("b.sta.summary", "Type  : Slow 900mV 85C Model Setup 'clk'\nSlack : 1.000\nTNS   : 0.000\n\nType  : Fast 900mV 0C Model Hold 'clk'\nSlack : -0.015\nTNS   : -0.030\n")
	got, err = ParseQuartusTiming(QuartusFiles{Summary: sum})
	if err != nil {
		t.Fatal(err)
	}
	checkTiming(t, "hold violation", got, wantTiming{"clk", 1.0, &zero, 0, 0, false})

	// "End Point TNS" spelling of the TNS line.
	sum = write("c.sta.summary", "Type  : Slow 1100mV 85C Model Setup 'sys_clk'\nSlack : -0.300\nEnd Point TNS : -1.250\n")
	got, err = ParseQuartusTiming(QuartusFiles{Summary: sum})
	if err != nil {
		t.Fatal(err)
	}
	tns := -1.25
	checkTiming(t, "End Point TNS", got, wantTiming{"sys_clk", -0.3, &tns, 0, 0, false})
}

func TestQuartusTimingErrors(t *testing.T) {
	_, err := ParseQuartusTiming(QuartusFiles{Summary: td("quartus", "malformed.sta.summary")})
	checkFormatError(t, err, td("quartus", "malformed.sta.summary"), 10, `Slack "fast"`)

	_, err = ParseQuartusTiming(QuartusFiles{Summary: td("quartus", "filter10g.fit.summary")})
	checkFormatError(t, err, td("quartus", "filter10g.fit.summary"), 0, ".sta.summary")

	for name, tc := range map[string]struct {
		text string
		line int
		want string
	}{
		"slack outside a block": {"Slack : 0.1\n", 1, "outside a Type block"},
		"block without slack":   {"Type  : Slow 900mV 85C Model Setup 'clk'\nTNS   : 0.000\nType  : Slow 900mV 0C Model Setup 'clk'\nSlack : 1.0\n", 1, "without a Slack line"},
		"unknown check":         {"Type  : Slow 900mV 85C Model Sideways 'clk'\nSlack : 1.0\n", 1, "unknown check"},
		"no clock":              {"Type  : Slow 900mV 85C Model Setup\nSlack : 1.0\n", 1, "unrecognised line"},
		"two slacks":            {"Type  : Slow 900mV 85C Model Setup 'clk'\nSlack : 1.0\nSlack : 2.0\n", 3, "outside a Type block"},
		"hold only":             {"Type  : Slow 900mV 85C Model Hold 'clk'\nSlack : 1.0\n", 0, "create_clock"},
	} {
		_, err := parseQuartusTiming("x.sta.summary", []byte(tc.text), "", nil)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		checkFormatError(t, err, "x.sta.summary", tc.line, tc.want)
	}

	okSum := []byte("Type  : Slow 900mV 85C Model Setup 'clk'\nSlack : 1.0\nTNS   : 0.0\n")
	badFmax := "+------+\n; Slow 900mV 85C Model Fmax Summary ;\n+------+\n; Fmax ; Restricted Fmax ; Clock Name ; Note ;\n+------+\n; 100.0 MHz ; fast MHz ; clk ; ;\n+------+\n"
	_, err = parseQuartusTiming("x.sta.summary", okSum, "x.sta.rpt", []byte(badFmax))
	checkFormatError(t, err, "x.sta.rpt", 6, `Restricted Fmax "fast MHz"`)

	_, err = parseQuartusTiming("x.sta.summary", okSum, "x.sta.rpt", []byte("Info: nothing to see\n"))
	checkFormatError(t, err, "x.sta.rpt", 0, ".sta.rpt")
}

func TestQuartusUtilization(t *testing.T) {
	u, err := ParseQuartusUtilization(td("quartus", "filter10g.fit.summary"))
	if err != nil {
		t.Fatal(err)
	}
	checkClasses(t, "filter10g.fit.summary", u, Utilization{
		LUTs: Resource{"Logic utilization (in ALMs)", 21345, 234720, 9.09381},
		FFs:  Resource{"Total registers", 40123, 0, 0},
		BRAM: Resource{"Total RAM Blocks", 80, 2560, 3.125},
		DSP:  Resource{"Total DSP Blocks", 0, 256, 0},
		IO:   Resource{"Total pins", 24, 840, 2.85714},
	})
	if len(u.All) != 9 {
		t.Errorf("All has %d resources, want the 9 count lines", len(u.All))
	}

	_, err = ParseQuartusUtilization(td("quartus", "malformed.fit.summary"))
	checkFormatError(t, err, td("quartus", "malformed.fit.summary"), 3, "Logic utilization (in ALMs)")
	_, err = ParseQuartusUtilization(td("quartus", "filter10g.sta.summary"))
	checkFormatError(t, err, td("quartus", "filter10g.sta.summary"), 0, "fit.summary")
}
