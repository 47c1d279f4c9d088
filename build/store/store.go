// Package store keeps build artifacts and releases: files by name
// ("releases/v1.2.3/manifest.json") in a local directory or an OpenStack
// Swift container, with the same names in both. Every upload is checked
// against the size and SHA-256 the caller expects, so a store never holds a
// file that differs from what was meant to be stored.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/fpgactl/fpgactl/internal/project"
)

// Object describes a stored file.
type Object struct {
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256,omitempty"` // hex; empty when the store does not know it without reading
	Modified time.Time `json:"modified,omitzero"`
}

// Store is an artifact store. Names are slash-separated relative paths
// (see CheckName). Missing files give errors wrapping fs.ErrNotExist.
type Store interface {
	// Put stores what r yields as name, replacing an earlier file, after
	// checking that it is size bytes with SHA-256 sha256 (hex). When it is
	// not, nothing is stored and the error says both sizes or hashes.
	Put(ctx context.Context, name string, r io.Reader, size int64, sha256 string) error
	// Get opens a stored file; close it when done.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// Stat describes a stored file.
	Stat(ctx context.Context, name string) (Object, error)
	// List describes every file whose name starts with prefix, by name.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Delete removes a file.
	Delete(ctx context.Context, name string) error
	// String says where the store is, for messages.
	String() string
}

// CheckName refuses names that are not plain relative paths: empty, absolute,
// with empty, "." or ".." elements, backslashes or control characters. Both
// stores use the same rule, so a release that fits one fits the other and
// no name reaches outside a Local store's directory.
func CheckName(name string) error {
	bad := func(why string) error { return fmt.Errorf("store: object name %q %s", name, why) }
	switch {
	case name == "":
		return bad("is empty")
	case len(name) > 1024:
		return bad("is longer than 1024 bytes")
	case strings.HasPrefix(name, "/"):
		return bad("is absolute; use a relative name such as releases/v1.2.3/manifest.json")
	case strings.ContainsAny(name, "\\"):
		return bad("contains a backslash")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return bad("contains a control character")
		}
	}
	for _, el := range strings.Split(name, "/") {
		if el == "" || el == "." || el == ".." {
			return bad("has an empty, \".\" or \"..\" element")
		}
	}
	if path.Clean(name) != name {
		return bad("is not clean")
	}
	return nil
}

// ErrMismatch is wrapped by Put when the content is not what the caller said.
var ErrMismatch = errors.New("content differs from what was expected")

func mismatch(name string, wantSize, gotSize int64, wantSHA, gotSHA string) error {
	if wantSize != gotSize {
		return fmt.Errorf("store: %s: %w: %d bytes read, %d expected", name, ErrMismatch, gotSize, wantSize)
	}
	return fmt.Errorf("store: %s: %w: sha256 %s, expected %s", name, ErrMismatch, gotSHA, wantSHA)
}

func notExist(name, where string) error {
	return fmt.Errorf("store: %s: not in %s: %w", name, where, fs.ErrNotExist)
}

// Open returns the project's store: Swift when store.swift is set, else the
// directory store.path.
func Open(ctx context.Context, s *project.Settings) (Store, error) {
	if sw := s.Store.Swift; sw != nil {
		return OpenSwift(ctx, SwiftOptions{Cloud: sw.Cloud, Container: sw.Container})
	}
	return NewLocal(s.Abs(s.Store.Path))
}
