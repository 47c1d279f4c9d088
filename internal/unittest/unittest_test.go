package unittest

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/junit"
)

func write(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseTestbench(t *testing.T) {
	dir := t.TempDir()
	p := write(t, filepath.Join(dir, "x_tb.sv"), "// fpgactl-test: widths=512\n//fpgactl-vectors: a, b\n// fpgactl-timeout: 7\nmodule x_tb #(parameter DATA_WIDTH = 8); endmodule\n")
	tb, err := ParseTestbench(p, []int{64, 512})
	if err != nil {
		t.Fatal(err)
	}
	if tb.Name != "x_tb" || len(tb.Widths) != 1 || tb.Widths[0] != 512 || tb.Timeout != 7*time.Second || strings.Join(tb.Vectors, ",") != "a,b" {
		t.Errorf("parsed %+v", tb)
	}
	var names []string
	for _, c := range tb.Cases(nil) {
		names = append(names, c.Name())
	}
	if got := strings.Join(names, " "); got != "x_tb/w512/a x_tb/w512/b" {
		t.Errorf("cases = %s", got)
	}
	if cs := tb.Cases([]int{64}); len(cs) != 0 {
		t.Errorf("width filter kept %v", cs)
	}

	p = write(t, filepath.Join(dir, "y_tb.sv"), "module y_tb #(parameter DATA_WIDTH = 8); endmodule\n")
	tb, _ = ParseTestbench(p, []int{64, 512})
	if len(tb.Widths) != 2 || tb.WidthsFromFile {
		t.Errorf("default widths not applied: %+v", tb)
	}
	p = write(t, filepath.Join(dir, "z_tb.sv"), "// fpgactl-test: widths=none\nmodule z_tb; endmodule\n")
	tb, _ = ParseTestbench(p, []int{64})
	if cs := tb.Cases([]int{512}); len(cs) != 1 || cs[0].Name() != "z_tb" {
		t.Errorf("widths=none cases = %v", cs)
	}

	for text, want := range map[string]string{
		"// fpgactl-test: widths=64,abc\n":                     `x_tb.sv:1: fpgactl-test: width "abc"`,
		"\n// fpgactl-test: depth=3\n":                         `x_tb.sv:2: fpgactl-test: unknown setting "depth=3"`,
		"// fpgactl-timeout: soon\n":                           `fpgactl-timeout: "soon" is not a positive number`,
		"// fpgactl-vectors: a b\n":                            `fpgactl-vectors: "a b" is not a vector set name`,
		"// fpgactl-test: widths=64\nmodule x_tb; endmodule\n": "has no DATA_WIDTH parameter",
	} {
		p := write(t, filepath.Join(dir, "x_tb.sv"), text)
		if _, err := ParseTestbench(p, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", text, err, want)
		}
	}
}

// fakeVectors writes meta.hex holding the data width, which the passing testbench checks.
type fakeVectors struct{ calls int }

func (f *fakeVectors) Names() []string { return []string{"setA"} }
func (f *fakeVectors) Write(name string, p VectorParams, dir string) error {
	f.calls++
	return os.WriteFile(filepath.Join(dir, "meta.hex"), []byte(fmt.Sprintf("%08x\n%08x\n", p.DataWidth, p.NumRules)), 0o644)
}

const passTB = `// fpgactl-test: widths=64
// fpgactl-vectors: setA
module pass_tb #(parameter int DATA_WIDTH = 8) ();
  logic [31:0] meta [0:1];
  string dir, wave;
  initial begin
    if ($value$plusargs("trace=%s", wave)) begin $dumpfile(wave); $dumpvars(0, pass_tb); end
    if (!$value$plusargs("vectors=%s", dir)) $fatal(1, "no +vectors");
    $readmemh({dir, "/meta.hex"}, meta);
    #10;
    if (meta[0] != DATA_WIDTH || meta[1] != 4) $fatal(1, "meta %0d %0d", meta[0], meta[1]);
    $display("PASS pass_tb width %0d", DATA_WIDTH);
    $finish;
  end
  include_me inc();
endmodule
`

const failTB = `// fpgactl-test: widths=none
module fail_tb;
  string wave;
  logic [7:0] count = 0;
  always #1 count = count + 1;
  initial begin
    if ($value$plusargs("trace=%s", wave)) begin $dumpfile(wave); $dumpvars(0, fail_tb); end
    #20;
    $display("ERROR: expected 0, got %0d", count);
    $fatal(1, "fail_tb failed");
  end
endmodule
`

const hangTB = `// fpgactl-test: widths=none
// fpgactl-timeout: 2
module hang_tb;
  initial begin
    $display("waiting forever");
    forever #10;
  end
endmodule
`

const brokenTB = `// fpgactl-test: widths=none
module broken_tb;
  initial begin
    this is not verilog
  end
endmodule
`

const rtl = `module include_me; endmodule
`

func TestRunWithVerilator(t *testing.T) {
	if _, err := exec.LookPath("verilator"); err != nil {
		t.Skip("verilator not installed; run scripts/install-deps.sh")
	}
	if testing.Short() {
		t.Skip("builds with verilator take about a minute")
	}
	dir := t.TempDir()
	rtlFile := write(t, filepath.Join(dir, "rtl", "include_me.sv"), rtl)
	var tbs []string
	for name, text := range map[string]string{"pass_tb": passTB, "fail_tb": failTB, "hang_tb": hangTB, "broken_tb": brokenTB} {
		tbs = append(tbs, write(t, filepath.Join(dir, "tb", name+".sv"), text))
	}
	vec := &fakeVectors{}
	var progress bytes.Buffer
	opts := Options{
		Designs: []Design{{Name: "d", RTL: []string{rtlFile}, Include: []string{filepath.Join(dir, "rtl")},
			Testbenches: tbs, Widths: []int{64, 512}, Parameters: map[string]int{"NUM_RULES": 4}}},
		WorkDir:   filepath.Join(dir, ".fpgactl"),
		Jobs:      2,
		KeepGoing: true,
		Vectors:   vec,
		Progress:  &progress,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("progress:\n%s", progress.String())
	if res.Passed != 1 || res.Failed != 3 || res.CachedBuilds != 0 || res.Builds != 3 {
		t.Fatalf("first run: %s", res.Summary())
	}
	byName := map[string]CaseResult{}
	for _, c := range res.Tests {
		byName[c.Name] = c
	}
	if c := byName["pass_tb/w64/setA"]; c.Status != StatusPass || c.Wave != "" {
		t.Errorf("pass case: %+v", c)
	}
	fail := byName["fail_tb"]
	if fail.Status != StatusFail || !strings.Contains(fail.Tail, "expected 0, got") {
		t.Errorf("fail case: %+v", fail)
	}
	if st, err := os.Stat(fail.Wave); err != nil || st.Size() == 0 {
		t.Errorf("no waveform kept for the failure: %q %v", fail.Wave, err)
	}
	if !strings.Contains(progress.String(), "wave: "+fail.Wave) {
		t.Errorf("wave path not printed")
	}
	if c := byName["hang_tb"]; c.Status != StatusTimeout || c.Seconds > 30 {
		t.Errorf("hang case: %+v", c)
	}
	if c := byName["broken_tb"]; c.Status != StatusBuildError || !strings.Contains(c.Tail, "broken_tb.sv") {
		t.Errorf("broken case: %+v", c)
	}

	// JUnit: suite per testbench, failure text from the output, wave in system-out.
	var buf bytes.Buffer
	if err := res.JUnit().Encode(&buf); err != nil {
		t.Fatal(err)
	}
	var doc junit.Suites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 4 || doc.Failures != 2 || doc.Errors != 1 || len(doc.Suites) != 4 {
		t.Errorf("junit counts: tests=%d failures=%d errors=%d suites=%d", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites))
	}
	if !strings.Contains(buf.String(), "wave: "+fail.Wave) || !strings.Contains(buf.String(), "expected 0, got") {
		t.Errorf("junit lacks the wave or the failure output:\n%s", buf.String())
	}

	// Second run, nothing changed: every successful build is cached.
	progress.Reset()
	opts.Run = regexp.MustCompile(`^(pass|fail)_tb`)
	res, err = Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.CachedBuilds != 2 || res.Builds != 0 || len(res.Tests) != 2 || res.Passed != 1 {
		t.Fatalf("second run: %s\n%s", res.Summary(), progress.String())
	}
	if !strings.Contains(progress.String(), "cached") {
		t.Errorf("progress does not say cached:\n%s", progress.String())
	}
	if vec.calls != 2 {
		t.Errorf("vector writer called %d times, want once per run", vec.calls)
	}

	// Editing a source invalidates the cache of every build that reads it.
	write(t, rtlFile, rtl+"// changed\n")
	opts.Run = regexp.MustCompile(`^pass_tb`)
	res, err = Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.CachedBuilds != 0 || res.Builds != 1 || res.Passed != 1 {
		t.Fatalf("after edit: %s", res.Summary())
	}
	if old, _ := filepath.Glob(filepath.Join(opts.WorkDir, "unit", "build", "pass_tb-w64-*")); len(old) != 1 {
		t.Errorf("stale builds not pruned: %v", old)
	}
}

func TestRunNothingToDo(t *testing.T) {
	res, err := Run(context.Background(), Options{WorkDir: t.TempDir()})
	if err != nil || len(res.Tests) != 0 || !res.OK() {
		t.Fatalf("empty run: %+v %v", res, err)
	}
}
