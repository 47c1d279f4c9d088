package tools

import (
	"context"
	"errors"
	"testing"
)

func fakeFinder(paths map[string]string, outputs map[string]string) *Finder {
	return &Finder{
		LookPath: func(name string) (string, error) {
			if p, ok := paths[name]; ok {
				return p, nil
			}
			return "", errors.New("not found")
		},
		Output: func(_ context.Context, path string, _ ...string) ([]byte, error) {
			return []byte(outputs[path]), nil
		},
	}
}

func TestCheck(t *testing.T) {
	f := fakeFinder(
		map[string]string{"verilator": "/bin/verilator", "go": "/bin/go"},
		map[string]string{"/bin/verilator": "Verilator 4.038 2020-07-11\n", "/bin/go": "go version go1.26.0 linux/amd64\n"},
	)
	v, _ := Lookup("verilator")
	s := f.Check(context.Background(), v)
	if !s.Found || s.OK || s.Version != "Verilator 4.038 2020-07-11" {
		t.Errorf("old verilator: %+v", s)
	}
	g, _ := Lookup("go")
	if s := f.Check(context.Background(), g); !s.OK {
		t.Errorf("go 1.26 should be OK: %+v", s)
	}
	y, _ := Lookup("yosys")
	s = f.Check(context.Background(), y)
	if s.Found || s.OK || s.Install == "" {
		t.Errorf("missing yosys: %+v", s)
	}
	if _, err := f.Require(context.Background(), "yosys"); err == nil {
		t.Error("Require of a missing tool should fail")
	}
}

func TestVersions(t *testing.T) {
	if got := ParseVersionLine("\nIcarus Verilog version 11.0 (stable) ()\nCopyright"); got != "Icarus Verilog version 11.0 (stable) ()" {
		t.Errorf("ParseVersionLine = %q", got)
	}
	if got := ParseVersionLine("\x1b[1mApache Maven 3.8.7\x1b[m\n"); got != "Apache Maven 3.8.7" {
		t.Errorf("ANSI not stripped: %q", got)
	}
	for _, c := range []struct {
		a, b string
		want int
	}{{"5.006", "5.0", 1}, {"4.228", "5.0", -1}, {"1.26.0", "1.22", 1}, {"5.0", "5", 0}} {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%s,%s) = %d", c.a, c.b, got)
		}
	}
}
