package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/tools"
)

func finder(present map[string]string) *tools.Finder {
	return &tools.Finder{
		LookPath: func(n string) (string, error) {
			if _, ok := present[n]; ok {
				return "/usr/bin/" + n, nil
			}
			return "", errors.New("no")
		},
		Output: func(_ context.Context, p string, _ ...string) ([]byte, error) {
			return []byte(present[strings.TrimPrefix(p, "/usr/bin/")]), nil
		},
	}
}

func TestDoctor(t *testing.T) {
	all := map[string]string{"go": "go version go1.26.0", "verilator": "Verilator 5.006", "iverilog": "Icarus Verilog version 11.0", "yosys": "Yosys 0.23"}
	var out bytes.Buffer
	opts := &Options{IO: &cmdutil.IOStreams{Out: &out}, Finder: finder(all), Tools: tools.Known}
	if err := Run(context.Background(), opts); err != nil {
		t.Fatalf("all required present: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "chromium") || !strings.Contains(out.String(), "missing (optional)") {
		t.Errorf("output:\n%s", out.String())
	}

	delete(all, "yosys")
	all["verilator"] = "Verilator 4.038"
	out.Reset()
	opts = &Options{IO: &cmdutil.IOStreams{Out: &out}, Finder: finder(all), Tools: tools.Known, JSON: true}
	if err := Run(context.Background(), opts); !errors.Is(err, cmdutil.SilentError) {
		t.Fatalf("missing yosys should fail, got %v", err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	bad := map[string]bool{}
	for _, s := range rep.Tools {
		if s.Required && !s.OK {
			bad[s.Name] = true
		}
	}
	if rep.OK || !bad["yosys"] || !bad["verilator"] || len(bad) != 2 {
		t.Errorf("report: ok=%v bad=%v", rep.OK, bad)
	}
}

// A project with Chisel sources makes java and mvn required.
func TestDoctorChiselProject(t *testing.T) {
	all := map[string]string{"go": "go version go1.26.0", "verilator": "Verilator 5.006", "iverilog": "Icarus Verilog version 11.0", "yosys": "Yosys 0.23"}
	project := func(chisel bool) func() (*project.Settings, error) {
		return func() (*project.Settings, error) {
			d := project.Design{Name: "d"}
			if chisel {
				d.Chisel = []project.Chisel{{Project: "hdl/chisel", Modules: []string{"m"}}}
			}
			return &project.Settings{Designs: []project.Design{d}}, nil
		}
	}
	var out bytes.Buffer
	opts := &Options{IO: &cmdutil.IOStreams{Out: &out}, Finder: finder(all), Tools: tools.Known, Project: project(false)}
	if err := Run(context.Background(), opts); err != nil {
		t.Fatalf("no Chisel: java and mvn are optional, got %v\n%s", err, out.String())
	}
	out.Reset()
	opts.Project = project(true)
	if err := Run(context.Background(), opts); !errors.Is(err, cmdutil.SilentError) {
		t.Fatalf("Chisel sources without java and mvn should fail, got %v", err)
	}
	for _, want := range []string{"java                 MISSING", "mvn                  MISSING", "apt-get install -y openjdk-17-jdk-headless", "apt-get install -y maven"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	all["java"] = `openjdk version "17.0.15" 2025-04-15`
	all["mvn"] = "Apache Maven 3.8.7"
	out.Reset()
	if err := Run(context.Background(), opts); err != nil {
		t.Fatalf("java and mvn present: %v\n%s", err, out.String())
	}
}
