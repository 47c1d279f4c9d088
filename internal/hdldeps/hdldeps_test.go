package hdldeps

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func write(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClosure(t *testing.T) {
	dir := t.TempDir()
	inc := t.TempDir()
	pkg := write(t, dir, "pkg.sv", "package pf_pkg;\n  localparam int W = 8;\nendpackage\n")
	leaf := write(t, dir, "leaf.sv", "module leaf (input logic a);\n  import pf_pkg::*;\nendmodule\n")
	mid := write(t, dir, "mid.sv", "`include \"defs.vh\"\nmodule mid;\n  leaf #(.X(1)) u_leaf (.a(1'b0));\nendmodule\n")
	defs := write(t, inc, "defs.vh", "`define MID_WIDTH 4\n")
	// Mentions in comments and strings are not dependencies.
	other := write(t, dir, "other.sv", "module other;\n  // mid u();\n  /* leaf x(); */\n  initial $display(\"mid\");\nendmodule\n")
	macroUser := write(t, dir, "macro_user.sv", "module macro_user;\n  localparam int N = `MID_WIDTH;\nendmodule\n")
	tb := write(t, dir, "mid_tb.sv", "module mid_tb;\n  mid dut();\nendmodule\n")
	files := []string{pkg, leaf, mid, other, macroUser, tb}

	ix, err := New(files, []string{inc})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		root string
		want []string
	}{
		{tb, []string{defs, leaf, mid, tb, pkg}},
		{leaf, []string{leaf, pkg}},
		{other, []string{other}},
		// A macro defined in an include file: the user depends on the definer.
		{macroUser, []string{defs, macroUser}},
	}
	for _, c := range cases {
		got, err := ix.Closure(c.root)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("Closure(%s):\n got  %v\n want %v", filepath.Base(c.root), got, want)
		}
	}
}

func TestScanDefinitions(t *testing.T) {
	f := Scan("x.sv", []byte("module automatic m1 #(parameter A=1) (); endmodule\ninterface axis_if; endinterface\nclass virtual_c; endclass\n`define FOO(x) x\n"))
	for _, want := range []string{"m1", "axis_if", "virtual_c", "`FOO"} {
		if !slices.Contains(f.Defines, want) {
			t.Errorf("Defines %v lacks %s", f.Defines, want)
		}
	}
	if f.Mentions["m1"] {
		t.Error("a file's own definitions must not count as mentions")
	}
}

// The repository's own sources: every testbench's closure holds its DUT's
// file, and a leaf module's closure does not hold the top.
func TestRepositoryTestbenches(t *testing.T) {
	root := filepath.Join("..", "..")
	rtl, _ := filepath.Glob(filepath.Join(root, "hdl", "rtl", "*.sv"))
	tbs, _ := filepath.Glob(filepath.Join(root, "hdl", "tb", "*_tb.sv"))
	if len(rtl) == 0 || len(tbs) == 0 {
		t.Fatal("no repository HDL found")
	}
	ix, err := New(append(rtl, tbs...), []string{filepath.Join(root, "hdl", "rtl")})
	if err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(root, "hdl", "tb", "pf_filter_tb.sv")
	got, err := ix.Closure(top)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, filepath.Join(root, "hdl", "rtl", "pf_filter.sv")) {
		t.Errorf("pf_filter_tb closure %v lacks pf_filter.sv", got)
	}
	leafs := ix.Definer("pf_parser")
	if len(leafs) != 1 {
		t.Fatalf("pf_parser defined by %v", leafs)
	}
	got, _ = ix.Closure(leafs[0])
	if slices.Contains(got, filepath.Join(root, "hdl", "rtl", "pf_filter.sv")) {
		t.Errorf("pf_parser's closure %v holds the top", got)
	}
}
