package project

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `
work_dir: .work
designs:
  - name: pf_filter
    top: pf_filter
    rtl: [hdl/rtl/*.sv]
    testbenches: hdl/tb/*_tb.sv
    widths: [64, 512]
    parameters:
      NUM_RULES: 64
    unit_flags: ["-MAKEFLAGS", "OPT_FAST=-O1"]
targets:
  - name: ecp5
    flow: open
    device: LFE5U-85F
    clock_mhz: 156.25
    width: 64
    parameters: {NUM_RULES: 8}
runners:
  local: {jobs: 4}
  ssh:
    - address: build1:22
      dir: /scratch/fpga
      tools: {nextpnr: nextpnr-ecp5, ecppack: ecppack}
  openstack: {cloud: mycloud, flavor: c8.32g, image: debian-12-fpga, network: auto, security_groups: [build, ssh], boot_timeout: 5m, jobs: 8}
lab: {url: "http://lab:8470"}
`

func TestParseGood(t *testing.T) {
	s, err := Parse("dir/fpgactl.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Designs) != 1 || s.Designs[0].Top != "pf_filter" || s.Designs[0].Parameters["NUM_RULES"] != 64 {
		t.Errorf("designs = %+v", s.Designs)
	}
	if got := s.Designs[0].Testbenches; len(got) != 1 || got[0] != "hdl/tb/*_tb.sv" {
		t.Errorf("testbenches = %v", got)
	}
	if len(s.Designs[0].Widths) != 2 || s.Designs[0].Widths[1] != 512 {
		t.Errorf("widths = %v", s.Designs[0].Widths)
	}
	if got := s.Designs[0].UnitFlags; len(got) != 2 || got[1] != "OPT_FAST=-O1" {
		t.Errorf("unit_flags = %v", got)
	}
	if s.Targets[0].Design != "pf_filter" || s.Targets[0].ClockMHz != 156.25 {
		t.Errorf("target = %+v", s.Targets[0])
	}
	if s.Runners.Local.Jobs != 4 || s.Runners.SSH[0].Name != "build1:22" || s.Runners.OpenStack.Cloud != "mycloud" ||
		s.Targets[0].Parameters["NUM_RULES"] != 8 || s.Runners.SSH[0].Tools.Pack != "ecppack" || s.Runners.SSH[0].Dir != "/scratch/fpga" ||
		s.Runners.OpenStack.BootTimeout != 5*time.Minute || len(s.Runners.OpenStack.SecurityGroups) != 2 || s.Runners.OpenStack.Jobs != 8 {
		t.Errorf("runners = %+v", s.Runners)
	}
	if s.Store.Path != ".work/store" {
		t.Errorf("store default = %q", s.Store.Path)
	}
	if !strings.HasSuffix(s.Root, "dir") {
		t.Errorf("root = %q", s.Root)
	}
}

func TestRepoSettingsLoad(t *testing.T) {
	p, err := Find(".")
	if err != nil {
		t.Skip("no fpgactl.yaml above the package directory")
	}
	if _, err := Load(p); err != nil {
		t.Fatalf("the repository's own settings do not load: %v", err)
	}
}

func TestParseBad(t *testing.T) {
	base := "designs:\n  - name: d\n    top: d\n    rtl: [a.sv]\n    widths: [64]\n"
	cases := []struct{ name, yaml, want string }{
		{"unknown top key", base + "colour: red\n", "f.yaml:6: colour: unknown key (allowed here: ci, designs, lab, release, runners, store, targets, work_dir)"},
		{"unknown design key", "designs:\n  - name: d\n    topp: d\n", "f.yaml:3: designs[0].topp: unknown key"},
		{"bad width", "designs:\n  - name: d\n    top: d\n    rtl: [a.sv]\n    widths: [64, 128]\n", "f.yaml:5: designs[0].widths[1]: width 128 is not supported (use 64, 512)"},
		{"width not int", "designs:\n  - name: d\n    top: d\n    rtl: [a.sv]\n    widths: [wide]\n", `designs[0].widths[0]: expected an integer, found the value "wide"`},
		{"missing top", "designs:\n  - name: d\n    rtl: [a.sv]\n    widths: [64]\n", "f.yaml:2: designs[0].top: required"},
		{"no designs", "lab: {url: http://x}\n", "designs: at least one design"},
		{"bad flow", base + "targets:\n  - {name: t, flow: ise, device: x, clock_mhz: 100, width: 64}\n", "f.yaml:7: targets[0].flow: unknown flow \"ise\" (use one of: open, vivado, quartus)"},
		{"target width", base + "targets:\n  - {name: t, flow: open, device: x, clock_mhz: 100, width: 512}\n", "targets[0].width: design \"d\" is not built at width 512"},
		{"target design", base + "targets:\n  - {name: t, design: e, flow: open, device: x, clock_mhz: 100, width: 64}\n", `targets[0].design: no design named "e"`},
		{"bad clock", base + "targets:\n  - {name: t, flow: open, device: x, clock_mhz: -3, width: 64}\n", "targets[0].clock_mhz"},
		{"bad url", base + "lab:\n  url: ftp://x\n", "f.yaml:7: lab.url: \"ftp://x\" is not an http(s) URL"},
		{"bad jobs", base + "runners:\n  local:\n    jobs: -1\n", "f.yaml:8: runners.local.jobs: jobs must be between"},
		{"dup key", base + "lab: {}\nlab: {}\n", "f.yaml:7: lab: key given twice"},
		{"param data width", "designs:\n  - name: d\n    top: d\n    rtl: [a.sv]\n    widths: [64]\n    parameters: {DATA_WIDTH: 8}\n", "designs[0].parameters.DATA_WIDTH: DATA_WIDTH is set by widths:"},
		{"target param width", base + "targets:\n  - {name: t, flow: open, device: x, clock_mhz: 100, width: 64, parameters: {DATA_WIDTH: 8}}\n", "targets[0].parameters.DATA_WIDTH: DATA_WIDTH is set by width:"},
		{"openstack network", base + "runners:\n  openstack: {flavor: f, image: i}\n", "runners.openstack.network: required (a network ID, or auto)"},
		{"boot timeout", base + "runners:\n  openstack: {flavor: f, image: i, network: auto, boot_timeout: soon}\n", `runners.openstack.boot_timeout: "soon" is not a positive duration`},
		{"param negative", "designs:\n  - name: d\n    top: d\n    rtl: [a.sv]\n    widths: [64]\n    parameters: {N: 0}\n", "designs[0].parameters.N: must be a positive integer"},
		{"dup design", base + "  - name: d\n    top: d\n    rtl: [a.sv]\n    widths: [64]\n", `f.yaml:6: designs[1].name: design "d" is defined twice`},
		{"syntax", "designs: [\n", "f.yaml: not valid YAML"},
		{"swift container", base + "store:\n  swift: {cloud: c}\n", "f.yaml:7: store.swift.container: required"},
		{"require_board", base + "release:\n  require_board: yes please\n", `f.yaml:7: release.require_board: expected true or false`},
		{"ci target", base + "ci:\n  build: {target: nope}\n", `f.yaml:7: ci.build.target: no target named "nope"`},
		{"ci seeds", base + "targets:\n  - {name: t, flow: open, device: x, clock_mhz: 100, width: 64}\nci:\n  build: {target: t, seeds: 3-1}\n", "f.yaml:9: ci.build.seeds:"},
		{"ci runner", base + "targets:\n  - {name: t, flow: open, device: x, clock_mhz: 100, width: 64}\nci:\n  build: {target: t, runner: cloud}\n", `ci.build.runner: "cloud" is not a runner`},
		{"ci board alone", base + "ci:\n  board: {tag: 10G, rules: r.yaml, profile: imix}\n", "ci.board: needs ci.build"},
		{"ci board traffic", base + "targets:\n  - {name: t, flow: open, device: x, clock_mhz: 100, width: 64}\nci:\n  build: {target: t}\n  board: {tag: 10G, rules: r.yaml}\n", "ci.board: give exactly one of profile: or pcap:"},
		{"empty", "", "file is empty"},
		{"designs not list", "designs: 3\n", "f.yaml:1: designs: expected a list"},
		{"chisel no project", base + "    chisel:\n      - modules: [m]\n", "f.yaml:7: designs[0].chisel[0].project: required"},
		{"chisel no modules", base + "    chisel:\n      - project: c\n", "designs[0].chisel[0].modules: required"},
		{"chisel values", base + "    chisel:\n      - {project: c, modules: [m], parameters: {N: 4}}\n", "designs[0].chisel[0].parameters.N: expected a list"},
		{"chisel dup value", base + "    chisel:\n      - {project: c, modules: [m], parameters: {N: [4, 4]}}\n", "designs[0].chisel[0].parameters.N[1]: 4 listed twice"},
		{"chisel key", base + "    chisel:\n      - {project: c, modules: [m], main: X}\n", "designs[0].chisel[0].main: unknown key"},
		{"design param not generated", base + "    parameters: {N: 3}\n    chisel:\n      - {project: c, modules: [m], parameters: {N: [1, 4]}}\n",
			"designs[0].parameters.N: N=3 has no Chisel module: c generates m for 1, 4 only; add 3 to chisel[0].parameters.N of design \"d\""},
		{"target param not generated", base + "    chisel:\n      - {project: c, modules: [m], parameters: {N: [1, 4]}}\ntargets:\n  - {name: t, flow: open, device: x, clock_mhz: 100, width: 64, parameters: {N: 2}}\n",
			"targets[0].parameters.N: N=2 has no Chisel module"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error\n  %v\nwant it to contain\n  %v", err, c.want)
			}
		})
	}
}

func TestFindUpward(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(sub); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Find without a file: %v", err)
	}
	want := filepath.Join(root, FileName)
	if err := os.WriteFile(want, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Find(sub)
	if err != nil || got != want {
		t.Fatalf("Find = %q, %v; want %q", got, err, want)
	}
}

func TestGlobAndIncludes(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "rtl"), 0o755)
	for _, f := range []string{"b.sv", "a.sv"} {
		os.WriteFile(filepath.Join(root, "rtl", f), nil, 0o644)
	}
	s := &Settings{Root: root}
	d := &Design{RTL: []string{"rtl/*.sv", "rtl/a.sv"}}
	files, err := s.RTLFiles(d)
	if err != nil || len(files) != 2 || filepath.Base(files[0]) != "a.sv" {
		t.Fatalf("RTLFiles = %v, %v", files, err)
	}
	if inc := s.IncludeDirs(d); len(inc) != 1 || inc[0] != filepath.Join(root, "rtl") {
		t.Errorf("IncludeDirs = %v", inc)
	}
}

func TestChiselSettings(t *testing.T) {
	yaml := `
designs:
  - name: d
    top: d
    rtl: [rtl/*.sv]
    widths: [64]
    parameters: {N: 4}
    tb_sources: ref/*.sv
    chisel:
      - project: hdl/chisel
        modules: [m1, m2]
        parameters: {N: [8, 1, 4]}
targets:
  - {name: t, flow: open, device: x, clock_mhz: 100, width: 64, parameters: {N: 1}}
`
	s, err := Parse(filepath.Join(t.TempDir(), "fpgactl.yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	d := &s.Designs[0]
	if len(d.Chisel) != 1 || d.Chisel[0].Project != "hdl/chisel" || len(d.Chisel[0].Modules) != 2 {
		t.Fatalf("chisel = %+v", d.Chisel)
	}
	if got := d.Chisel[0].Parameters["N"]; len(got) != 3 || got[0] != 1 || got[2] != 8 {
		t.Errorf("parameters not sorted: %v", got)
	}
	if len(d.TBSources) != 1 || d.TBSources[0] != "ref/*.sv" || !s.HasChisel() {
		t.Errorf("tb_sources = %v, HasChisel %v", d.TBSources, s.HasChisel())
	}
	// The RTL of a design with Chisel sources is incomplete until they are
	// elaborated: RTLFiles refuses rather than leaving the modules out.
	if _, err := s.RTLFiles(d); !errors.Is(err, ErrNotElaborated) {
		t.Fatalf("RTLFiles before elaboration: %v", err)
	}
	os.MkdirAll(filepath.Join(s.Root, "rtl"), 0o755)
	os.WriteFile(filepath.Join(s.Root, "rtl", "a.sv"), nil, 0o644)
	d.Generated = []string{"/gen/m1.sv", "/gen/m2.v"}
	files, err := s.RTLFiles(d)
	if err != nil || len(files) != 3 || files[1] != "/gen/m1.sv" {
		t.Errorf("RTLFiles = %v, %v", files, err)
	}
}
