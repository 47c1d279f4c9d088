package flow

// The vendor flows (vivado.go, quartus.go) share what is here: the options
// and result of one seed, checks of what goes into the generated Tcl, Tcl
// quoting, the clock period, running the tool and following its phases.
//
// A vendor flow writes a Tcl script (and a clock constraint file) into the
// seed's directory and runs the vendor's own executable on it. The tools are
// native programs, not sandboxed like the YoWASP open flow, so every path in
// the generated files is absolute.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/build/report"
)

// VendorOptions are one seed of a vendor flow.
type VendorOptions struct {
	Design Design
	// Part is the device: a Xilinx part such as xcvu9p-flga2104-2L-e, or an
	// Intel one such as 5SGXEA7N2F45C2.
	Part string
	// Family is the Quartus device family (FAMILY assignment). Empty means
	// derived from Part (5SG…/5SE… is "Stratix V"). Vivado does not use it.
	Family string
	// ClockMHz is the target frequency of ClockPort.
	ClockMHz float64
	// ClockPort is the top-level port the clock constraint is put on;
	// empty means "clk". The clock is named after the port.
	ClockPort string
	// Seed is Quartus's fitter SEED; for Vivado, which has no
	// place-and-route seed, it picks the directives (VivadoStrategy).
	Seed int
	// Constraints are more constraint files, read after the generated clock
	// constraint: XDC for Vivado; SDC (.sdc) or assignment Tcl (.tcl, .qsf,
	// sourced into the project) for Quartus. Pin locations and I/O standards
	// go here.
	Constraints []string
	// Dir receives the script, the constraint file, the log, the reports,
	// the checkpoint or project and the bitstream. It is created if needed.
	Dir string
	// Executable overrides the tool: default "vivado" or "quartus_sh",
	// looked up in PATH.
	Executable string
	// Phase is called, never concurrently, as the run enters each phase:
	// synth, place, route, timing and bitstream, each at most once and in
	// that order (a phase the tool's output does not show is left out).
	Phase func(record.Phase)
	// Log receives the tool's output as it runs.
	Log io.Writer
}

// VendorResult is what a vendor run produced. The paths are set even when
// the run fails, for the files a failed run did write.
type VendorResult struct {
	Timing      report.Timing
	Utilization report.Utilization
	// Reports are the report files the figures come from.
	Reports []string
	// Log is the tool's log file.
	Log       string
	Bitstream string
}

// phaseMarker starts the lines the generated scripts print (puts) as they
// enter each phase, so that phases do not depend only on the wording of a
// tool's messages.
const phaseMarker = "fpgactl-phase: "

var (
	tclIdent     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	vendorPartRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// vendorInputs are the checked options, with absolute paths.
type vendorInputs struct {
	dir, top, part, clockPort string
	sources, include          []string
	constraints               []string
	params                    []string // sorted names
	values                    map[string]int
	periodNS                  string
}

// check validates o for a generated script: names that are put into Tcl
// unquoted must be plain identifiers or part numbers, paths must be
// quotable, and the clock must be a real frequency.
func (o VendorOptions) check(tool string) (vendorInputs, error) {
	in := vendorInputs{top: o.Design.Top, part: o.Part, clockPort: o.ClockPort, values: o.Design.Parameters}
	if in.clockPort == "" {
		in.clockPort = "clk"
	}
	if !tclIdent.MatchString(in.top) {
		return in, fmt.Errorf("%s: top module %q is not a plain identifier", tool, in.top)
	}
	if !tclIdent.MatchString(in.clockPort) {
		return in, fmt.Errorf("%s: clock port %q is not a plain identifier", tool, in.clockPort)
	}
	if !vendorPartRE.MatchString(in.part) {
		return in, fmt.Errorf("%s: part %q is not a part number", tool, in.part)
	}
	if o.Seed < 0 {
		return in, fmt.Errorf("%s: seed %d: seeds are 0 or more", tool, o.Seed)
	}
	if len(o.Design.Sources) == 0 {
		return in, fmt.Errorf("%s: the design has no source files", tool)
	}
	period, err := clockPeriodNS(o.ClockMHz)
	if err != nil {
		return in, fmt.Errorf("%s: %w", tool, err)
	}
	in.periodNS = period
	for name := range o.Design.Parameters {
		if !tclIdent.MatchString(name) {
			return in, fmt.Errorf("%s: parameter name %q is not a plain identifier", tool, name)
		}
		in.params = append(in.params, name)
	}
	sort.Strings(in.params)
	if o.Dir == "" {
		return in, fmt.Errorf("%s: no directory for the run", tool)
	}
	if in.dir, err = tclPath(o.Dir); err != nil {
		return in, fmt.Errorf("%s: run directory: %w", tool, err)
	}
	for _, list := range []struct {
		what string
		from []string
		to   *[]string
	}{
		{"source", o.Design.Sources, &in.sources},
		{"include directory", o.Design.Include, &in.include},
		{"constraint file", o.Constraints, &in.constraints},
	} {
		for _, p := range list.from {
			abs, err := tclPath(p)
			if err != nil {
				return in, fmt.Errorf("%s: %s: %w", tool, list.what, err)
			}
			*list.to = append(*list.to, abs)
		}
	}
	return in, nil
}

// tclPath makes path absolute and checks that it can be put into Tcl
// between braces: inside braces Tcl substitutes nothing ($, [ and spaces are
// literal), but a brace or backslash could end or change the word, and a
// newline would also end a line of the .qsf Quartus writes. Such paths are
// refused rather than escaped.
func tclPath(path string) (string, error) {
	if path == "" {
		return "", errors.New("empty path")
	}
	if i := strings.IndexAny(path, "{}\\\n\r\x00"); i >= 0 {
		return "", fmt.Errorf("path %q has %q, which fpgactl does not put into a Tcl script; rename or move it", path, path[i])
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return abs, nil
}

// tclBrace quotes a checked string (tclPath) as one Tcl word.
func tclBrace(s string) string { return "{" + s + "}" }

// tclList is a Tcl command substitution giving a list of the checked
// strings. Tools such as read_verilog take a list of files, so a lone
// "{/a b/c.sv}" would be split at the space; "[list {/a b/c.sv}]" is a list
// of one file.
func tclList(items []string) string {
	var b strings.Builder
	b.WriteString("[list")
	for _, s := range items {
		b.WriteString(" ")
		b.WriteString(tclBrace(s))
	}
	b.WriteString("]")
	return b.String()
}

// clockPeriodNS is the clock period for create_clock, in ns rounded to the
// picosecond, which is the resolution both tools report in: 322.265625 MHz
// is 3.103 ns, 156.25 MHz 6.4 ns.
func clockPeriodNS(mhz float64) (string, error) {
	if math.IsNaN(mhz) || math.IsInf(mhz, 0) || mhz <= 0 {
		return "", fmt.Errorf("clock of %g MHz: the target frequency must be a positive number", mhz)
	}
	p := math.Round(1e6/mhz) / 1000
	if p <= 0 {
		return "", fmt.Errorf("clock of %g MHz: the period is below a picosecond", mhz)
	}
	return strconv.FormatFloat(p, 'f', -1, 64), nil
}

// clockConstraint is the create_clock line, the same in XDC and SDC.
func (in vendorInputs) clockConstraint() string {
	return fmt.Sprintf("create_clock -name %s -period %s [get_ports {%s}]\n", in.clockPort, in.periodNS, in.clockPort)
}

// vendorTool resolves the executable; a missing one says where vendor
// targets run. The error wraps exec.ErrNotFound.
func vendorTool(o VendorOptions, def, product string) (string, error) {
	exe := o.Executable
	if exe == "" {
		exe = def
	}
	path, err := exec.LookPath(exe)
	if err != nil {
		return "", fmt.Errorf("%s (%s) is not installed on this machine (%w): vendor targets run on a machine or runner where %s is installed, e.g. --runner ssh to a build host that has it", exe, product, err, product)
	}
	return path, nil
}

// runVendor runs a vendor tool in dir as run runs the open flow's tools (a
// cancelled ctx kills the tool and everything it started); a failure names
// the log.
func runVendor(ctx context.Context, exe string, args []string, dir string, w io.Writer, log string) error {
	err := run(ctx, exe, args, dir, w)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("%w (log: %s)", err, log)
	}
	return err
}

// writeVendorFiles writes name → content into dir, creating dir.
func writeVendorFiles(dir string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkVendorBitstream reports a tool that exited 0 without writing a bitstream.
func checkVendorBitstream(path, log string) error {
	st, err := os.Stat(path)
	if err != nil || st.Size() == 0 {
		return fmt.Errorf("the tool finished without writing the bitstream %s (log: %s)", path, log)
	}
	return nil
}

// newVendorPhases follows a vendor tool's output: a phase marker the
// generated script prints, or a line of the tool's own (detect), starts a
// later phase. on(start) is called at once.
func newVendorPhases(next io.Writer, on func(record.Phase), start record.Phase, detect func(string) record.Phase) *phaseWriter {
	if on == nil {
		on = func(record.Phase) {}
	}
	on(start)
	return &phaseWriter{next: next, on: on, phase: start, detect: func(_ record.Phase, line string) record.Phase {
		line = strings.TrimSpace(line)
		if p := markerPhase(line); p != "" {
			return p
		}
		return detect(line)
	}}
}

// markerPhase reads a phase marker line ("fpgactl-phase: place"), also
// after a prefix such as the "Info: " of Quartus's post_message.
func markerPhase(line string) record.Phase {
	_, after, ok := strings.Cut(line, phaseMarker)
	if !ok {
		return ""
	}
	p := record.Phase(strings.TrimSpace(after))
	if phaseRank[p] == 0 {
		return ""
	}
	return p
}

// phaseMarkerLine is the Tcl that prints the marker of phase p.
func phaseMarkerLine(p record.Phase) string {
	return fmt.Sprintf("puts \"%s%s\"\n", phaseMarker, p)
}
