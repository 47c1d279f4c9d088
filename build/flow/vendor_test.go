package flow

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/build/report"
)

// vendorDesign is a design whose source and include directory are in a
// directory with a space in its name, to exercise the Tcl quoting.
func vendorDesign(t *testing.T) (Design, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rtl dir")
	inc := filepath.Join(root, "inc")
	if err := os.MkdirAll(inc, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "pf_filter_pins.sv")
	if err := os.WriteFile(src, []byte("module pf_filter_pins(input clk); endmodule\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return Design{Sources: []string{src}, Include: []string{inc}, Top: "pf_filter_pins",
		Parameters: map[string]int{"DATA_WIDTH": 512, "NUM_RULES": 64}}, root
}

func vivadoOptions(t *testing.T, seed int) VendorOptions {
	d, _ := vendorDesign(t)
	return VendorOptions{Design: d, Part: "xcvu9p-flga2104-2L-e", ClockMHz: 322.265625, Seed: seed,
		Dir: filepath.Join(t.TempDir(), "seed dir")}
}

func quartusOptions(t *testing.T, seed int) VendorOptions {
	d, _ := vendorDesign(t)
	d.Parameters["DATA_WIDTH"] = 64
	return VendorOptions{Design: d, Part: "5SGXEA7N2F45C2", ClockMHz: 156.25, Seed: seed,
		Dir: filepath.Join(t.TempDir(), "seed dir")}
}

// scriptLacks lists the lines of want that are not lines of script.
func scriptLacks(script string, want ...string) []string {
	have := strings.Split(script, "\n")
	var missing []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			missing = append(missing, w)
		}
	}
	return missing
}

// scriptLine is the index of the first line of script that starts with
// prefix, or -1.
func scriptLine(script, prefix string) int {
	return slices.IndexFunc(strings.Split(script, "\n"), func(l string) bool { return strings.HasPrefix(l, prefix) })
}

func TestVivadoStrategy(t *testing.T) {
	n := len(vivadoPlaceDirectives) * len(vivadoRouteDirectives)
	seen := map[[2]string]int{}
	for seed := range n {
		p, r := VivadoStrategy(seed)
		if p2, r2 := VivadoStrategy(seed); p2 != p || r2 != r {
			t.Fatalf("seed %d: %s/%s, then %s/%s", seed, p, r, p2, r2)
		}
		if !slices.Contains(vivadoPlaceDirectives, p) || !slices.Contains(vivadoRouteDirectives, r) {
			t.Fatalf("seed %d: %s/%s is not a listed pair", seed, p, r)
		}
		if prev, dup := seen[[2]string{p, r}]; dup {
			t.Fatalf("seeds %d and %d both give %s/%s", prev, seed, p, r)
		}
		seen[[2]string{p, r}] = seed
		// After the first pairs, the cycle repeats.
		if p2, r2 := VivadoStrategy(seed + n); p2 != p || r2 != r {
			t.Errorf("seed %d: %s/%s, seed %d %s/%s; want the cycle of %d", seed, p, r, seed+n, p2, r2, n)
		}
	}
	if len(seen) != n || n != 119 {
		t.Errorf("%d distinct pairs of %d; want 17 × 7 = 119", len(seen), n)
	}
	for seed, want := range map[int][2]string{
		0: {"Default", "Default"},
		1: {"Explore", "Explore"},
		2: {"ExtraNetDelay_high", "AggressiveExplore"},
		7: {"EarlyBlockPlacement", "Default"},
	} {
		if p, r := VivadoStrategy(seed); p != want[0] || r != want[1] {
			t.Errorf("seed %d: %s/%s, want %s/%s", seed, p, r, want[0], want[1])
		}
	}
	// Consecutive seeds change both directives.
	for seed := range 20 {
		p1, r1 := VivadoStrategy(seed)
		p2, r2 := VivadoStrategy(seed + 1)
		if p1 == p2 || r1 == r2 {
			t.Errorf("seeds %d and %d: %s/%s and %s/%s share a directive", seed, seed+1, p1, r1, p2, r2)
		}
	}
}

func TestPeriodNS(t *testing.T) {
	for mhz, want := range map[float64]string{322.265625: "3.103", 156.25: "6.4", 100: "10", 250: "4", 161.1328125: "6.206", 644.53125: "1.552"} {
		if got, err := clockPeriodNS(mhz); err != nil || got != want {
			t.Errorf("%g MHz: %q, %v; want %q", mhz, got, err, want)
		}
	}
}

func TestVivadoScript(t *testing.T) {
	o := vivadoOptions(t, 1)
	src, inc := o.Design.Sources[0], o.Design.Include[0]
	s, err := VivadoScript(o)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs(o.Dir)
	if m := scriptLacks(s,
		"read_verilog -sv [list {"+src+"}]",
		"read_xdc {"+filepath.Join(dir, "clock.xdc")+"}",
		"synth_design -top pf_filter_pins -part xcvu9p-flga2104-2L-e -include_dirs [list {"+inc+"}] -generic DATA_WIDTH=512 -generic NUM_RULES=64",
		"opt_design",
		"place_design -directive Explore",
		"phys_opt_design",
		"route_design -directive Explore",
		"write_checkpoint -force {"+filepath.Join(dir, "routed.dcp")+"}",
		"report_timing_summary -max_paths 10 -report_unconstrained -file {"+filepath.Join(dir, "timing_summary.rpt")+"}",
		"report_utilization -file {"+filepath.Join(dir, "utilization.rpt")+"}",
		"write_bitstream -force {"+filepath.Join(dir, "bitstream.bit")+"}",
		"set_property SEVERITY {Warning} [get_drc_checks UCIO-1]",
		`puts "fpgactl-phase: route"`,
	); m != nil {
		t.Errorf("script lacks %q:\n%s", m, s)
	}
	order := []string{"read_verilog", "synth_design", "opt_design", "place_design", "phys_opt_design", "route_design",
		"write_checkpoint", "report_timing_summary", "report_utilization", "write_bitstream"}
	for i := 1; i < len(order); i++ {
		if scriptLine(s, order[i-1]) >= scriptLine(s, order[i]) {
			t.Errorf("%s is not before %s:\n%s", order[i-1], order[i], s)
		}
	}

	// The seed selects the directives.
	for _, seed := range []int{0, 5, 16, 118} {
		o.Seed = seed
		s, err := VivadoScript(o)
		if err != nil {
			t.Fatal(err)
		}
		p, r := VivadoStrategy(seed)
		if m := scriptLacks(s, "place_design -directive "+p, "route_design -directive "+r); m != nil {
			t.Errorf("seed %d: script lacks %q", seed, m)
		}
	}

	// The clock, on the default port and on another; a relative source
	// becomes absolute; user constraints are read and keep the pin DRCs.
	xdc, err := VivadoXDC(o)
	if err != nil || !strings.Contains(xdc, "\ncreate_clock -name clk -period 3.103 [get_ports {clk}]\n") {
		t.Errorf("XDC %q, %v; want create_clock -period 3.103 on clk", xdc, err)
	}
	o.ClockPort = "sys_clk"
	o.Design.Sources = append(o.Design.Sources, "testdata/blinky.sv")
	o.Constraints = []string{"/pins/vu9p.xdc"}
	xdc, _ = VivadoXDC(o)
	if !strings.Contains(xdc, "create_clock -name sys_clk -period 3.103 [get_ports {sys_clk}]") {
		t.Errorf("XDC %q: want the clock on sys_clk", xdc)
	}
	s, _ = VivadoScript(o)
	blinky, _ := filepath.Abs("testdata/blinky.sv")
	if m := scriptLacks(s, "read_verilog -sv [list {"+src+"} {"+blinky+"}]", "read_xdc {/pins/vu9p.xdc}"); m != nil {
		t.Errorf("script lacks %q:\n%s", m, s)
	}
	if strings.Contains(s, "get_drc_checks") {
		t.Errorf("script with pin constraints changes DRC severities:\n%s", s)
	}
}

func TestQuartusScript(t *testing.T) {
	o := quartusOptions(t, 7)
	src, inc := o.Design.Sources[0], o.Design.Include[0]
	s, err := QuartusScript(o)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs(o.Dir)
	if m := scriptLacks(s,
		"load_package flow",
		"cd {"+dir+"}",
		"project_new -overwrite -revision pf_filter_pins pf_filter_pins",
		"set_global_assignment -name FAMILY {Stratix V}",
		"set_global_assignment -name DEVICE 5SGXEA7N2F45C2",
		"set_global_assignment -name TOP_LEVEL_ENTITY pf_filter_pins",
		"set_global_assignment -name PROJECT_OUTPUT_DIRECTORY output_files",
		"set_global_assignment -name SYSTEMVERILOG_FILE {"+src+"}",
		"set_global_assignment -name SEARCH_PATH {"+inc+"}",
		"set_global_assignment -name SDC_FILE {"+filepath.Join(dir, "clock.sdc")+"}",
		"set_global_assignment -name SEED 7",
		"set_parameter -name DATA_WIDTH 64",
		"set_parameter -name NUM_RULES 64",
		`puts "fpgactl-phase: timing"`,
	); m != nil {
		t.Errorf("script lacks %q:\n%s", m, s)
	}
	order := []string{"project_new", "set_global_assignment -name SEED", "export_assignments", "execute_module -tool map",
		"execute_module -tool fit", "execute_module -tool sta", "execute_module -tool asm", "project_close"}
	for i := 1; i < len(order); i++ {
		if scriptLine(s, order[i-1]) < 0 || scriptLine(s, order[i-1]) >= scriptLine(s, order[i]) {
			t.Errorf("%s is not before %s:\n%s", order[i-1], order[i], s)
		}
	}
	sdc, err := QuartusSDC(o)
	if err != nil || scriptLacks(sdc, "create_clock -name clk -period 6.4 [get_ports {clk}]", "derive_clock_uncertainty") != nil {
		t.Errorf("SDC %q, %v: want create_clock -period 6.4 on clk and derive_clock_uncertainty", sdc, err)
	}

	o.Seed = 0
	o.Constraints = []string{"/pins/board.sdc", "/pins/pins.tcl"}
	s, _ = QuartusScript(o)
	if m := scriptLacks(s, "set_global_assignment -name SEED 0", "set_global_assignment -name SDC_FILE {/pins/board.sdc}", "source {/pins/pins.tcl}"); m != nil {
		t.Errorf("script lacks %q:\n%s", m, s)
	}

	o.Part = "XC7A35T"
	if _, err := QuartusScript(o); err == nil || !strings.Contains(err.Error(), "family") {
		t.Errorf("unknown family: %v", err)
	}
	o.Family = "Cyclone IV E"
	if s, err := QuartusScript(o); err != nil || !strings.Contains(s, "-name FAMILY {Cyclone IV E}\n") {
		t.Errorf("family given: %v\n%s", err, s)
	}
}

func TestVendorScriptErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*VendorOptions)
		want   string
	}{
		{"brace in path", func(o *VendorOptions) { o.Design.Sources = []string{"/a/{b}.sv"} }, `"/a/{b}.sv"`},
		{"newline in path", func(o *VendorOptions) { o.Design.Include = []string{"/a\nb"} }, "include directory"},
		{"backslash in dir", func(o *VendorOptions) { o.Dir = `/tmp/a\b` }, "run directory"},
		{"no sources", func(o *VendorOptions) { o.Design.Sources = nil }, "no source"},
		{"top", func(o *VendorOptions) { o.Design.Top = "top; exit" }, "top module"},
		{"parameter", func(o *VendorOptions) { o.Design.Parameters = map[string]int{"A=1 -x": 1} }, "parameter name"},
		{"clock port", func(o *VendorOptions) { o.ClockPort = "clk[0]" }, "clock port"},
		{"part", func(o *VendorOptions) { o.Part = "xcvu9p [exit]" }, "part"},
		{"no clock", func(o *VendorOptions) { o.ClockMHz = 0 }, "positive"},
		{"negative seed", func(o *VendorOptions) { o.Seed = -1 }, "seed"},
	} {
		for _, flow := range []string{"vivado", "quartus"} {
			o := vivadoOptions(t, 1)
			if flow == "quartus" {
				o = quartusOptions(t, 1)
			}
			tc.change(&o)
			var err error
			if flow == "vivado" {
				_, err = VivadoScript(o)
			} else {
				_, err = QuartusScript(o)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), flow+":") {
				t.Errorf("%s, %s: error %v; want one with %q", tc.name, flow, err, tc.want)
			}
		}
	}
}

func TestVendorPhases(t *testing.T) {
	var got []record.Phase
	var out strings.Builder
	w := newVendorPhases(&out, func(p record.Phase) { got = append(got, p) }, record.PhaseSynth, quartusPhase)
	input := "Info: Running Quartus Prime Shell\n" +
		"Info: Running Quartus Prime Analysis & Synthesis\n" + // the current phase
		"fpgactl-phase: place\n" +
		"Info: Running Quartus Prime Fitter\n" + // place again: ignored
		"Info (170193): Fitter routing opera" // split across writes
	w.Write([]byte(input))
	w.Write([]byte("tions beginning\nInfo: Running Quartus Prime Assembler\n" +
		"Info: Running Quartus Prime TimeQuest Timing Analyzer\n" + // backwards: ignored
		"fpgactl-phase: nonsense\n"))
	if want := []record.Phase{"synth", "place", "route", "bitstream"}; !reflect.DeepEqual(got, want) {
		t.Errorf("phases %v, want %v", got, want)
	}
	if !strings.HasSuffix(out.String(), "fpgactl-phase: nonsense\n") {
		t.Errorf("output not passed on: %q", out.String())
	}

	got = nil
	w = newVendorPhases(nil, func(p record.Phase) { got = append(got, p) }, record.PhaseSynth, vivadoPhase)
	w.Write([]byte("Command: synth_design -top t -part p\nStarting synth_design\nCommand: opt_design\n" +
		"Command: place_design -directive Explore\nCommand: route_design -directive Explore\n" +
		"INFO: [Route 35-16] Router Completed Successfully\nCommand: report_timing_summary -file x\n" +
		"Command: report_utilization -file y\nCommand: write_bitstream -force b.bit\n"))
	if want := []record.Phase{"synth", "place", "route", "timing", "bitstream"}; !reflect.DeepEqual(got, want) {
		t.Errorf("vivado phases %v, want %v", got, want)
	}
}

// useStandIns puts the stand-in vivado and quartus_sh of
// testdata/vendor/bin first on PATH. They stand in for the real tools,
// which cannot run here: they check their arguments and the generated Tcl,
// print the tools' characteristic log lines and copy real-format reports
// from build/report/testdata (see the scripts).
func useStandIns(t *testing.T) {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("testdata", "vendor", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	fixtures, err := filepath.Abs(filepath.Join("..", "report", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FPGACTL_STANDIN_FIXTURES", fixtures)
	t.Setenv("FPGACTL_STANDIN_FAIL", "")
}

func recordVendorPhases(o *VendorOptions) *[]record.Phase {
	var got []record.Phase
	o.Phase = func(p record.Phase) { got = append(got, p) }
	return &got
}

var vendorPhaseOrder = []record.Phase{"synth", "place", "route", "timing", "bitstream"}

func TestRunVivado(t *testing.T) {
	useStandIns(t)
	for _, tc := range []struct {
		seed    int
		fixture string
		met     bool
	}{
		{1, "timing-met.rpt", true},   // Explore/Explore
		{0, "timing-fail.rpt", false}, // Default/Default: the stand-in fails timing
	} {
		o := vivadoOptions(t, tc.seed)
		phases := recordVendorPhases(&o)
		var log strings.Builder
		o.Log = &log
		res, err := RunVivado(context.Background(), o)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", tc.seed, err, log.String())
		}
		want, err := report.ParseVivadoTiming(filepath.Join("..", "report", "testdata", "vivado", tc.fixture))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.Timing, want) || res.Timing.Met != tc.met {
			t.Errorf("seed %d: timing %+v, want %+v", tc.seed, res.Timing, want)
		}
		if res.Utilization.LUTs.Name != "CLB LUTs" || res.Utilization.LUTs.Used == 0 {
			t.Errorf("seed %d: utilization %+v", tc.seed, res.Utilization.LUTs)
		}
		if !reflect.DeepEqual(*phases, vendorPhaseOrder) {
			t.Errorf("seed %d: phases %v, want %v", tc.seed, *phases, vendorPhaseOrder)
		}
		p, r := VivadoStrategy(tc.seed)
		bit, err := os.ReadFile(res.Bitstream)
		if err != nil || !strings.Contains(string(bit), "place "+p+" route "+r) {
			t.Errorf("seed %d: bitstream %q, %v; want one built with %s/%s", tc.seed, bit, err, p, r)
		}
		vlog, err := os.ReadFile(res.Log)
		if err != nil || !strings.Contains(string(vlog), "Command: place_design -directive "+p) ||
			!strings.Contains(log.String(), "Command: route_design -directive "+r) {
			t.Errorf("seed %d: log %s (%v) or streamed output lacks the directives:\n%s", tc.seed, res.Log, err, log.String())
		}
		if dir, _ := filepath.Abs(o.Dir); len(res.Reports) != 2 || filepath.Dir(res.Reports[0]) != dir {
			t.Errorf("seed %d: reports %v", tc.seed, res.Reports)
		}
	}

	// A failing run is an error that names the log; the phases stop where
	// it failed.
	t.Setenv("FPGACTL_STANDIN_FAIL", "route")
	o := vivadoOptions(t, 3)
	phases := recordVendorPhases(&o)
	res, err := RunVivado(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), res.Log) || !strings.Contains(err.Error(), "status 1") || !strings.Contains(err.Error(), "seed 3") {
		t.Errorf("failing vivado: %v; want an error naming %s", err, res.Log)
	}
	if want := vendorPhaseOrder[:3]; !reflect.DeepEqual(*phases, want) {
		t.Errorf("failing vivado: phases %v, want %v", *phases, want)
	}
}

func TestRunQuartus(t *testing.T) {
	useStandIns(t)
	for _, tc := range []struct {
		seed    int
		fixture string
		met     bool
	}{
		{7, "filter10g", true},       // the stand-in meets timing on odd seeds
		{2, "filter10g-fail", false}, // and fails on even ones
	} {
		o := quartusOptions(t, tc.seed)
		phases := recordVendorPhases(&o)
		var log strings.Builder
		o.Log = &log
		res, err := RunQuartus(context.Background(), o)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", tc.seed, err, log.String())
		}
		fx := filepath.Join("..", "report", "testdata", "quartus", tc.fixture)
		want, err := report.ParseQuartusTiming(report.QuartusFiles{Summary: fx + ".sta.summary", Report: fx + ".sta.rpt"})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.Timing, want) || res.Timing.Met != tc.met {
			t.Errorf("seed %d: timing %+v, want %+v", tc.seed, res.Timing, want)
		}
		if res.Utilization.LUTs.Name != "Logic utilization (in ALMs)" || res.Utilization.LUTs.Used != 21345 {
			t.Errorf("seed %d: utilization %+v", tc.seed, res.Utilization.LUTs)
		}
		if !reflect.DeepEqual(*phases, vendorPhaseOrder) {
			t.Errorf("seed %d: phases %v, want %v", tc.seed, *phases, vendorPhaseOrder)
		}
		dir, _ := filepath.Abs(o.Dir)
		if want := filepath.Join(dir, "output_files", "pf_filter_pins.sof"); res.Bitstream != want {
			t.Errorf("seed %d: bitstream %s, want %s", tc.seed, res.Bitstream, want)
		}
		bit, err := os.ReadFile(res.Bitstream)
		if err != nil || !strings.Contains(string(bit), "seed "+strconv.Itoa(tc.seed)) {
			t.Errorf("seed %d: bitstream %q, %v; want one built with the seed", tc.seed, bit, err)
		}
		qlog, err := os.ReadFile(res.Log)
		if err != nil || !strings.Contains(string(qlog), "Running Quartus Prime Fitter") || string(qlog) != log.String() {
			t.Errorf("seed %d: log %s (%v) is not the streamed output", tc.seed, res.Log, err)
		}
	}

	t.Setenv("FPGACTL_STANDIN_FAIL", "fit")
	o := quartusOptions(t, 1)
	phases := recordVendorPhases(&o)
	res, err := RunQuartus(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), res.Log) || !strings.Contains(err.Error(), "status 3") {
		t.Errorf("failing quartus_sh: %v; want an error naming %s", err, res.Log)
	}
	if want := vendorPhaseOrder[:3]; !reflect.DeepEqual(*phases, want) {
		t.Errorf("failing quartus_sh: phases %v, want %v", *phases, want)
	}
	if qlog, _ := os.ReadFile(res.Log); !strings.Contains(string(qlog), "stand-in failure in fit") {
		t.Errorf("log %s lacks the failure:\n%s", res.Log, qlog)
	}
}

func TestVendorToolMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, tc := range []struct {
		tool string
		run  func(context.Context, VendorOptions) (VendorResult, error)
		o    VendorOptions
	}{
		{"vivado", RunVivado, vivadoOptions(t, 1)},
		{"quartus_sh", RunQuartus, quartusOptions(t, 1)},
	} {
		phases := recordVendorPhases(&tc.o)
		_, err := tc.run(context.Background(), tc.o)
		if err == nil || !errors.Is(err, exec.ErrNotFound) {
			t.Fatalf("%s: error %v; want exec.ErrNotFound", tc.tool, err)
		}
		for _, want := range []string{tc.tool + " (", "not installed", "runner", "build.tcl"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q lacks %q", tc.tool, err, want)
			}
		}
		if len(*phases) != 0 {
			t.Errorf("%s: phases %v without a run", tc.tool, *phases)
		}
		// The script is left for a run by hand.
		if _, err := os.Stat(filepath.Join(tc.o.Dir, "build.tcl")); err != nil {
			t.Errorf("%s: %v", tc.tool, err)
		}
	}
}

// Executable names the tool when it is not on PATH.
func TestVendorExecutable(t *testing.T) {
	useStandIns(t)
	t.Setenv("PATH", strings.SplitN(os.Getenv("PATH"), string(os.PathListSeparator), 2)[1])
	o := vivadoOptions(t, 1)
	if _, err := RunVivado(context.Background(), o); !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("stand-in still on PATH: %v", err)
	}
	o.Executable, _ = filepath.Abs(filepath.Join("testdata", "vendor", "bin", "vivado"))
	if res, err := RunVivado(context.Background(), o); err != nil || !res.Timing.Met {
		t.Errorf("with Executable: %+v, %v", res.Timing, err)
	}
}
