// Package pipelinetest gives tests of `fpgactl ci` a small project (two
// leaf modules, a top, one testbench per leaf) and a freshly built fpgactl.
package pipelinetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Settings is the small project's fpgactl.yaml.
const Settings = `designs:
  - name: tiny
    top: tiny_top
    rtl: [rtl/*.sv]
    testbenches: [tb/*_tb.sv]
    widths: [64]
work_dir: work
`

// Leaf is a leaf module whose output is its input plus add.
func Leaf(name string, add int) string {
	return "module " + name + " (input logic [7:0] a, output logic [7:0] y);\n  assign y = a + 8'd" + itoa(add) + ";\nendmodule\n"
}

// Testbench checks that leaf adds want.
func Testbench(leaf string, want int) string {
	return `// fpgactl-test: widths=none
module ` + leaf + `_tb;
  logic [7:0] a, y;
  ` + leaf + ` dut (.a(a), .y(y));
  initial begin
    a = 8'd10;
    #1;
    if (y != 8'd` + itoa(10+want) + `) begin
      $display("FAIL: y=%0d", y);
      $fatal(1);
    end
    $display("PASS");
    $finish;
  end
endmodule
`
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	s := ""
	for ; v > 0; v /= 10 {
		s = string(rune('0'+v%10)) + s
	}
	return s
}

// Project writes the small project into a new directory and returns the
// path of its fpgactl.yaml.
func Project(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"fpgactl.yaml":    Settings,
		"rtl/tiny_a.sv":   Leaf("tiny_a", 1),
		"rtl/tiny_b.sv":   Leaf("tiny_b", 2),
		"rtl/tiny_top.sv": "module tiny_top #(parameter int DATA_WIDTH = 64) (input logic [7:0] a, output logic [7:0] ya, output logic [7:0] yb, output logic [DATA_WIDTH-1:0] zero);\n  tiny_a u_a (.a(a), .y(ya));\n  tiny_b u_b (.a(a), .y(yb));\n  assign zero = '0;\nendmodule\n",
		"tb/tiny_a_tb.sv": Testbench("tiny_a", 1),
		"tb/tiny_b_tb.sv": Testbench("tiny_b", 2),
	}
	for name, content := range files {
		Write(t, filepath.Join(dir, name), content)
	}
	return filepath.Join(dir, "fpgactl.yaml")
}

// Write writes a file, creating its directory.
func Write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	buildOnce sync.Once
	exe       string
	buildErr  error
	buildOut  []byte
)

// Fpgactl builds ./cmd/fpgactl once per test binary and returns its path.
func Fpgactl(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..", "..")
		dir, err := os.MkdirTemp("", "fpgactl-ci-test-")
		if err != nil {
			buildErr = err
			return
		}
		exe = filepath.Join(dir, "fpgactl")
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-o", exe, "./cmd/fpgactl")
		cmd.Dir = root
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("building fpgactl: %v\n%s", buildErr, buildOut)
	}
	return exe
}
