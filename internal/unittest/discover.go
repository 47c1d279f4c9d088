// Package unittest discovers SystemVerilog unit testbenches, builds each once per
// data width with Verilator (cached by content hash), runs the cases in parallel,
// keeps a waveform for every failure and reports results (text, JSON, JUnit).
//
// A testbench is a file named *_tb.sv whose module has the file's base name. Its
// first lines may carry metadata comments:
//
//	// fpgactl-test: widths=64,512      (or widths=none: built once, no DATA_WIDTH)
//	// fpgactl-vectors: basic,vlan      (vector sets written for it; one case per set)
//	// fpgactl-timeout: 300             (seconds per run)
//
// A run passes when the simulator exits 0 and printed a line starting with PASS.
// The testbench gets +vectors=DIR when it uses vector sets and +trace=FILE.fst
// when fpgactl re-runs a failure to keep its waveform.
package unittest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// metaLines is how many lines at the top of a testbench are searched for metadata.
const metaLines = 40

// Testbench is one discovered testbench file.
type Testbench struct {
	Name   string // module name (file base name without .sv)
	Path   string
	Design string
	// Widths to build at; empty with NoWidth set means "built once, no DATA_WIDTH".
	Widths  []int
	NoWidth bool
	// WidthsFromFile is true when the file's metadata chose the widths.
	WidthsFromFile bool
	Vectors        []string
	Timeout        time.Duration
}

var (
	metaRe    = regexp.MustCompile(`^\s*//\s*fpgactl-(test|vectors|timeout)\s*:\s*(.*?)\s*$`)
	setNameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	moduleRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)
)

// ParseTestbench reads a testbench's metadata. defaultWidths applies when the
// file does not say.
func ParseTestbench(path string, defaultWidths []int) (Testbench, error) {
	tb := Testbench{Path: path, Name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))}
	if !moduleRe.MatchString(tb.Name) {
		return tb, fmt.Errorf("%s: the file name must be the testbench module name (letters, digits, _)", path)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return tb, err
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; n <= metaLines && sc.Scan(); n++ {
		m := metaRe.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		where := fmt.Sprintf("%s:%d", path, n)
		switch m[1] {
		case "test":
			for _, kv := range strings.Fields(m[2]) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k != "widths" {
					return tb, fmt.Errorf("%s: fpgactl-test: unknown setting %q (allowed: widths=64,512 or widths=none)", where, kv)
				}
				tb.WidthsFromFile = true
				if v == "none" {
					tb.NoWidth = true
					continue
				}
				for _, s := range strings.Split(v, ",") {
					w, err := strconv.Atoi(strings.TrimSpace(s))
					if err != nil || w <= 0 {
						return tb, fmt.Errorf("%s: fpgactl-test: width %q is not a positive integer (write widths=64,512 or widths=none)", where, s)
					}
					if !slices.Contains(tb.Widths, w) {
						tb.Widths = append(tb.Widths, w)
					}
				}
			}
		case "vectors":
			for _, s := range strings.Split(m[2], ",") {
				s = strings.TrimSpace(s)
				if !setNameRe.MatchString(s) {
					return tb, fmt.Errorf("%s: fpgactl-vectors: %q is not a vector set name (comma-separated names)", where, s)
				}
				if !slices.Contains(tb.Vectors, s) {
					tb.Vectors = append(tb.Vectors, s)
				}
			}
		case "timeout":
			secs, err := strconv.Atoi(m[2])
			if err != nil || secs <= 0 {
				return tb, fmt.Errorf("%s: fpgactl-timeout: %q is not a positive number of seconds", where, m[2])
			}
			tb.Timeout = time.Duration(secs) * time.Second
		}
	}
	if err := sc.Err(); err != nil {
		return tb, fmt.Errorf("reading %s: %w", path, err)
	}
	if tb.NoWidth && len(tb.Widths) > 0 {
		return tb, fmt.Errorf("%s: fpgactl-test: widths=none cannot be combined with widths", path)
	}
	if !tb.NoWidth && len(tb.Widths) == 0 {
		tb.Widths = slices.Clone(defaultWidths)
	}
	if !tb.NoWidth && !bytes.Contains(src, []byte("DATA_WIDTH")) {
		return tb, fmt.Errorf("%s: the testbench has no DATA_WIDTH parameter, so it cannot be built per width; add `// fpgactl-test: widths=none` to its first lines or give it `parameter int DATA_WIDTH`", path)
	}
	return tb, nil
}

// Case is one run: a testbench at one width with one vector set (or none).
type Case struct {
	TB      *Testbench
	Width   int // 0 when the testbench has no width
	Vectors string
}

// Name is the case's display name: tb/w64/set.
func (c Case) Name() string {
	parts := []string{c.TB.Name}
	if c.Width > 0 {
		parts = append(parts, fmt.Sprintf("w%d", c.Width))
	}
	if c.Vectors != "" {
		parts = append(parts, c.Vectors)
	}
	return strings.Join(parts, "/")
}

// FileName is Name made safe for a file name.
func (c Case) FileName() string { return strings.ReplaceAll(c.Name(), "/", "-") }

// BuildWidths are the DATA_WIDTH values the testbench is built at, keeping
// widths in widthFilter (all when empty); 0 stands for "no DATA_WIDTH".
func (tb *Testbench) BuildWidths(widthFilter []int) []int {
	if tb.NoWidth {
		return []int{0}
	}
	var out []int
	for _, w := range tb.Widths {
		if len(widthFilter) == 0 || slices.Contains(widthFilter, w) {
			out = append(out, w)
		}
	}
	return out
}

// Cases expands a testbench into cases, keeping widths in widthFilter (all when empty).
func (tb *Testbench) Cases(widthFilter []int) []Case {
	var out []Case
	for _, w := range tb.BuildWidths(widthFilter) {
		if len(tb.Vectors) == 0 {
			out = append(out, Case{TB: tb, Width: w})
			continue
		}
		for _, v := range tb.Vectors {
			out = append(out, Case{TB: tb, Width: w, Vectors: v})
		}
	}
	return out
}
