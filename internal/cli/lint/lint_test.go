package lint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/project"
)

const settings = `designs:
  - name: top
    top: top
    rtl: [rtl/*.sv]
    testbenches: [tb/*_tb.sv]
    widths: [64, 512]
    parameters: {DEPTH: 4}
`

const goodRTL = `// A register stage: clean under verilator -Wall, iverilog and yosys.
module top #(
    parameter int DATA_WIDTH = 64,  // bus width
    parameter int DEPTH      = 2    // unused here except for a check
) (
    input  logic                  clk,
    input  logic [DATA_WIDTH-1:0] d,
    output logic [DATA_WIDTH-1:0] q
);
  initial if (DEPTH < 1) $fatal(1, "%m: DEPTH must be >= 1");
  always_ff @(posedge clk) q <= d;
endmodule
`

const badRTL = `module top #(parameter int DATA_WIDTH = 64, parameter int DEPTH = 2) (
    input  logic                  clk,
    input  logic [DATA_WIDTH-1:0] d,
    output logic [7:0]            q
);
  always_ff @(posedge clk) q <= d;
endmodule
`

const tb = `// fpgactl-test: widths=64
module top_tb #(parameter int DATA_WIDTH = 64);
  logic clk = 0;
  logic [DATA_WIDTH-1:0] d = 0, q;
  top #(.DATA_WIDTH(DATA_WIDTH)) dut (.clk(clk), .d(d), .q(q));
  initial begin #1 clk = 1; #1 $display("PASS"); $finish; end
endmodule
`

func setup(t *testing.T, rtl string) *project.Settings {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "rtl"), 0o755)
	os.MkdirAll(filepath.Join(dir, "tb"), 0o755)
	os.WriteFile(filepath.Join(dir, "rtl", "top.sv"), []byte(rtl), 0o644)
	os.WriteFile(filepath.Join(dir, "tb", "top_tb.sv"), []byte(tb), 0o644)
	path := filepath.Join(dir, "fpgactl.yaml")
	os.WriteFile(path, []byte(settings), 0o644)
	s, err := project.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPlanCommands(t *testing.T) {
	s := setup(t, goodRTL)
	var calls []string
	fake := func(_ context.Context, dir, name string, args ...string) (string, int, error) {
		calls = append(calls, name+" "+strings.Join(args, " "))
		if name == "yosys" && strings.Contains(strings.Join(args, " "), "DATA_WIDTH 512") {
			return "ERROR: something", 1, nil
		}
		return "", 0, nil
	}
	var out bytes.Buffer
	opts := &Options{IO: &cmdutil.IOStreams{Out: &out}, Project: func() (*project.Settings, error) { return s, nil }, Exec: fake, Jobs: 1, JSON: true}
	err := Run(context.Background(), opts)
	if !errors.Is(err, cmdutil.SilentError) {
		t.Fatalf("a failing check must fail the command: %v", err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Checks) != 7 || rep.Failed != 1 {
		t.Fatalf("checks=%d failed=%d", len(rep.Checks), rep.Failed)
	}
	all := strings.Join(calls, "\n")
	for _, want := range []string{
		"verilator --lint-only -Wall -Irtl --top-module top -GDATA_WIDTH=64 -GDEPTH=4 rtl/top.sv",
		"iverilog -g2012 -o /dev/null -s top -Ptop.DATA_WIDTH=512 -Ptop.DEPTH=4 -Irtl rtl/top.sv",
		"yosys -q -p read_verilog -sv -Irtl rtl/top.sv; hierarchy -check -top top -chparam DATA_WIDTH 64 -chparam DEPTH 4; proc",
		"verilator --lint-only --timing -Wall -Wno-fatal -Wno-BLKSEQ -Irtl --top-module top_tb -GDATA_WIDTH=64 rtl/top.sv tb/top_tb.sv",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing command %q in\n%s", want, all)
		}
	}
}

func TestRealTools(t *testing.T) {
	for _, tool := range []string{"verilator", "iverilog", "yosys"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	run := func(rtl string) (Report, error) {
		s := setup(t, rtl)
		var out bytes.Buffer
		opts := &Options{IO: &cmdutil.IOStreams{Out: &out}, Project: func() (*project.Settings, error) { return s, nil }, Exec: RealExec, Jobs: 2, Widths: []int{64}, JSON: true}
		err := Run(context.Background(), opts)
		var rep Report
		if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
			t.Fatalf("%v: %s", jerr, out.String())
		}
		return rep, err
	}
	rep, err := run(goodRTL)
	if err != nil {
		t.Fatalf("clean design failed lint: %+v", rep)
	}
	rep, err = run(badRTL)
	if err == nil {
		t.Fatal("width mismatch passed lint")
	}
	for _, c := range rep.Checks {
		if c.Check == "verilator" && (c.Status != "fail" || !strings.Contains(c.Output, "WIDTH")) {
			t.Errorf("verilator check: %+v", c)
		}
	}
}

// A design with Chisel sources: Run elaborates first and lints the generated
// files with the RTL; testbenches also get the tb_sources (reference models),
// which the design's checks never see.
func TestElaboratedAndTestbenchSources(t *testing.T) {
	s := setup(t, goodRTL)
	os.MkdirAll(filepath.Join(s.Root, "ref"), 0o755)
	os.WriteFile(filepath.Join(s.Root, "ref", "top_ref.sv"), []byte("module top_ref; endmodule\n"), 0o644)
	d := &s.Designs[0]
	d.TBSources = []string{"ref/*.sv"}
	d.Chisel = []project.Chisel{{Project: "hdl/chisel", Modules: []string{"blk"}}}
	gen := filepath.Join(s.Root, ".fpgactl", "chisel", "abc", "blk.sv")
	var calls []string
	fake := func(_ context.Context, dir, name string, args ...string) (string, int, error) {
		calls = append(calls, name+" "+strings.Join(args, " "))
		return "", 0, nil
	}
	opts := &Options{IO: &cmdutil.IOStreams{Out: &bytes.Buffer{}}, Project: func() (*project.Settings, error) { return s, nil }, Exec: fake, Jobs: 1, Widths: []int{64}}
	// Without elaboration the RTL is incomplete: refused, not linted.
	if err := Run(context.Background(), opts); !errors.Is(err, project.ErrNotElaborated) {
		t.Fatalf("not elaborated: %v", err)
	}
	elaborated := 0
	opts.Elaborate = func(_ context.Context, s *project.Settings, _ io.Writer) error {
		elaborated++
		s.Designs[0].Generated = []string{gen}
		return nil
	}
	if err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if elaborated != 1 {
		t.Errorf("elaborated %d times", elaborated)
	}
	for _, c := range calls {
		tbCheck := strings.Contains(c, "top_tb")
		if !strings.Contains(c, ".fpgactl/chisel/abc/blk.sv") {
			t.Errorf("generated file not linted: %s", c)
		}
		if strings.Contains(c, "ref/top_ref.sv") != tbCheck {
			t.Errorf("tb_sources must be in the testbench lint only: %s", c)
		}
	}
}
