// Package hdldeps finds which HDL files a testbench or top module reads, so
// that a cache can key a result on exactly those files: a change to one
// module then reruns only what depends on it.
//
// It is a scanner, not a parser, and errs on the side of too many files: a
// file depends on another when, outside comments and strings, it mentions a
// name the other defines (module, interface, package, program, primitive,
// class or macro), or includes it. A dependency it cannot see would let a
// cached result survive a change that matters, so the rules are kept simple
// enough to check by eye.
package hdldeps

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"

	"github.com/fpgactl/fpgactl/internal/contenthash"
)

// File is what one source file defines and mentions.
type File struct {
	Path     string
	Defines  []string // design units and macros
	Mentions map[string]bool
	Includes []string // `include names as written
}

// Index knows every scanned file and who defines what.
type Index struct {
	files      map[string]*File
	definedBy  map[string][]string // name → files
	includeDir []string
}

var (
	// Comments, then strings; include names are taken before strings go.
	lineComment  = regexp.MustCompile(`//[^\n]*`)
	blockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	stringLit    = regexp.MustCompile(`"(?:[^"\\\n]|\\.)*"`)
	includeRe    = regexp.MustCompile("`include\\s*\"([^\"\\n]+)\"")
	unitRe       = regexp.MustCompile(`\b(?:module|macromodule|interface|package|program|primitive|class)\s+(?:(?:automatic|static|virtual)\s+)*([A-Za-z_][A-Za-z0-9_$]*)`)
	defineRe     = regexp.MustCompile("`define\\s+([A-Za-z_][A-Za-z0-9_$]*)")
	identRe      = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_$]*`)
	macroUseRe   = regexp.MustCompile("`([A-Za-z_][A-Za-z0-9_$]*)")
)

// Scan parses one source.
func Scan(path string, src []byte) *File {
	text := blockComment.ReplaceAll(src, []byte(" "))
	text = lineComment.ReplaceAll(text, nil)
	f := &File{Path: path, Mentions: map[string]bool{}}
	for _, m := range includeRe.FindAllSubmatch(text, -1) {
		f.Includes = append(f.Includes, string(m[1]))
	}
	text = stringLit.ReplaceAll(text, []byte(`""`))
	for _, m := range unitRe.FindAllSubmatch(text, -1) {
		f.Defines = append(f.Defines, string(m[1]))
	}
	for _, m := range defineRe.FindAllSubmatch(text, -1) {
		f.Defines = append(f.Defines, "`"+string(m[1]))
	}
	for _, id := range identRe.FindAll(text, -1) {
		f.Mentions[string(id)] = true
	}
	// Macro uses: `NAME (a define's own name is skipped below).
	for _, m := range macroUseRe.FindAllSubmatch(text, -1) {
		f.Mentions["`"+string(m[1])] = true
	}
	for _, d := range f.Defines {
		delete(f.Mentions, d)
	}
	return f
}

// New reads and scans files (absolute paths) and the HDL files of
// includeDirs (contenthash.HDLPatterns), which also resolve `include names
// that are not next to the including file.
func New(files, includeDirs []string) (*Index, error) {
	ix := &Index{files: map[string]*File{}, definedBy: map[string][]string{}, includeDir: includeDirs}
	files = contenthash.WithIncludes(files, includeDirs)
	sort.Strings(files)
	for _, p := range slices.Compact(files) {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading HDL source: %w", err)
		}
		f := Scan(p, src)
		ix.files[p] = f
		for _, d := range f.Defines {
			ix.definedBy[d] = append(ix.definedBy[d], p)
		}
	}
	return ix, nil
}

// Closure returns roots and every file they depend on, directly or not,
// sorted. Include files are found next to the including file or in the
// include directories; one that exists but was not scanned is added (and
// scanned) too.
func (ix *Index) Closure(roots ...string) ([]string, error) {
	seen := map[string]bool{}
	queue := slices.Clone(roots)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		f, ok := ix.files[p]
		if !ok {
			src, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("reading HDL source: %w", err)
			}
			f = Scan(p, src)
			ix.files[p] = f
		}
		for name := range f.Mentions {
			queue = append(queue, ix.definedBy[name]...)
		}
		for _, inc := range f.Includes {
			if q := ix.resolve(p, inc); q != "" {
				queue = append(queue, q)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

func (ix *Index) resolve(from, name string) string {
	if filepath.IsAbs(name) {
		return existing(name)
	}
	if p := existing(filepath.Join(filepath.Dir(from), name)); p != "" {
		return p
	}
	for _, d := range ix.includeDir {
		if p := existing(filepath.Join(d, name)); p != "" {
			return p
		}
	}
	return ""
}

func existing(p string) string {
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return filepath.Clean(p)
	}
	return ""
}

// Definer returns the files that define name (a module, package, ...).
func (ix *Index) Definer(name string) []string { return ix.definedBy[name] }
