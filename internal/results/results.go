// Package results keeps the verdict of test suites by exactly what they
// tested: the design's RTL (by content hash) at one data width. A build
// records the same hash of the RTL it synthesized, so `fpgactl release tag`
// can require that the functional suite passed on the very sources a
// bitstream was made from, whichever command ran the suite (`fpgactl ci`,
// `fpgactl test functional`) and whichever commit it was on.
//
// Records live in <work_dir>/results/<kind>/<design>-w<width>-<rtl hash>.json.
// A later run of the same suite on the same RTL replaces the record: the
// latest verdict counts, so a pass followed by a failure is a failure.
package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fpgactl/fpgactl/internal/atomicfile"
	"github.com/fpgactl/fpgactl/internal/contenthash"
	"github.com/fpgactl/fpgactl/internal/gitinfo"
	"github.com/fpgactl/fpgactl/internal/project"
)

// Kinds of suite.
const (
	KindFunctional = "functional"
	KindUnit       = "unit"
)

// Record is one complete run of a suite on one design's RTL at one width.
type Record struct {
	Kind    string `json:"kind"`
	Design  string `json:"design"`
	Width   int    `json:"width"`
	RTLHash string `json:"rtl_hash"`
	gitinfo.Head
	Passed     int       `json:"passed"`
	Failed     int       `json:"failed"`
	Frames     int       `json:"frames,omitempty"`
	Mismatches int       `json:"mismatches,omitempty"`
	Time       time.Time `json:"time"`
	// By names the command that ran the suite ("fpgactl ci", "fpgactl test functional").
	By string `json:"by,omitempty"`
}

// OK reports whether the suite ran something and nothing failed.
func (r *Record) OK() bool { return r.Passed > 0 && r.Failed == 0 }

// RTLHash names the design's RTL by content: its rtl files (with the
// generated Chisel output, so the design must have been elaborated) and the
// HDL files of its include directories, by path relative to the project
// root. Parameters are not part of it: a build of a target with other
// parameters is still a build of these sources.
func RTLHash(s *project.Settings, d *project.Design) (string, error) {
	rtl, err := s.RTLFiles(d)
	if err != nil {
		return "", err
	}
	h := contenthash.New()
	h.Printf("fpgactl-rtl 1\n")
	err = h.Files(contenthash.WithIncludes(rtl, s.IncludeDirs(d)), s.KeyName)
	if err != nil {
		return "", fmt.Errorf("design %s: %w", d.Name, err)
	}
	return h.Sum(), nil
}

// Dir is where records of kind are kept.
func Dir(workDir, kind string) string { return filepath.Join(workDir, "results", kind) }

func path(workDir, kind, design string, width int, rtlHash string) string {
	return filepath.Join(Dir(workDir, kind), fmt.Sprintf("%s-w%d-%s.json", design, width, rtlHash))
}

// Save writes r, replacing an earlier record of the same suite, design,
// width and RTL.
func Save(workDir string, r Record) error {
	if r.Kind == "" || r.Design == "" || r.RTLHash == "" || r.Width <= 0 {
		return fmt.Errorf("results: incomplete record (kind %q, design %q, width %d, rtl hash %q)", r.Kind, r.Design, r.Width, r.RTLHash)
	}
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	p := path(workDir, r.Kind, r.Design, r.Width, r.RTLHash)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, append(data, '\n'), 0o644)
}

// ErrNone is returned by Find when the suite never completed on that RTL.
var ErrNone = errors.New("no recorded run")

// Find returns the latest record of kind for design's RTL at width, or an
// error wrapping ErrNone.
func Find(workDir, kind, design string, width int, rtlHash string) (*Record, error) {
	p := path(workDir, kind, design, width, rtlHash)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s suite of design %s at %d bits on RTL %s: %w", kind, design, width, rtlHash, ErrNone)
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w (delete the file; the next run of the suite writes it again)", p, err)
	}
	return &r, nil
}
