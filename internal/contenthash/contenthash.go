// Package contenthash names build results by what they were made from: the
// caches of Verilator builds, synthesis netlists and Chisel elaboration all
// hash their inputs the same way.
package contenthash

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// HDLPatterns are the files of an include directory that count as sources.
var HDLPatterns = []string{"*.sv", "*.svh", "*.vh", "*.v", "*.h"}

// Hash accumulates inputs; Sum names them.
type Hash struct{ h hash.Hash }

// New starts a hash.
func New() *Hash { return &Hash{h: sha256.New()} }

// Printf adds a setting (a tool version, a flag, a script).
func (h *Hash) Printf(format string, args ...any) { fmt.Fprintf(h.h, format, args...) }

// Files adds each file's name (as name gives it; nil keeps the path), size
// and contents, in sorted order, each once.
func (h *Hash) Files(files []string, name func(string) string) error {
	files = slices.Clone(files)
	sort.Strings(files)
	for _, f := range slices.Compact(files) {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("reading source %s: %w", f, err)
		}
		n := f
		if name != nil {
			n = name(f)
		}
		fmt.Fprintf(h.h, "file=%s %d\n", n, len(data))
		h.h.Write(data)
	}
	return nil
}

// Sum is the first 16 hex digits of the hash: a directory name.
func (h *Hash) Sum() string { return hex.EncodeToString(h.h.Sum(nil))[:16] }

// WithIncludes is files plus the HDL files (HDLPatterns) of the include
// directories.
func WithIncludes(files, includeDirs []string) []string {
	out := slices.Clone(files)
	for _, inc := range includeDirs {
		for _, pat := range HDLPatterns {
			m, _ := filepath.Glob(filepath.Join(inc, pat))
			out = append(out, m...)
		}
	}
	return out
}

// ReaderSHA256 reads r to its end and returns how many bytes it gave and
// their SHA-256 in hex: what manifests, uploads and lab results call a
// file's hash.
func ReaderSHA256(r io.Reader) (size int64, sum string, err error) {
	h := sha256.New()
	size, err = io.Copy(h, r)
	return size, hex.EncodeToString(h.Sum(nil)), err
}

// FileSHA256 is ReaderSHA256 of the file at path.
func FileSHA256(path string) (size int64, sum string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	size, sum, err = ReaderSHA256(f)
	if err != nil {
		return size, "", fmt.Errorf("reading %s: %w", path, err)
	}
	return size, sum, nil
}
