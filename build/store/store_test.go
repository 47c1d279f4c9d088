package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/build/openstack/osdouble"
	"github.com/fpgactl/fpgactl/build/store"
	"github.com/fpgactl/fpgactl/internal/project"
)

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func put(t *testing.T, st store.Store, name, data string) {
	t.Helper()
	if err := st.Put(t.Context(), name, strings.NewReader(data), int64(len(data)), sum([]byte(data))); err != nil {
		t.Fatalf("Put %s: %v", name, err)
	}
}

func read(t *testing.T, st store.Store, name string) string {
	t.Helper()
	rc, err := st.Get(t.Context(), name)
	if err != nil {
		t.Fatalf("Get %s: %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// conformance is what every Store must do.
func conformance(t *testing.T, st store.Store) {
	ctx := t.Context()
	if l, err := st.List(ctx, ""); err != nil || len(l) != 0 {
		t.Fatalf("empty store lists %v %v", l, err)
	}
	if _, err := st.Get(ctx, "releases/v1/manifest.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get of a missing file: %v", err)
	}
	put(t, st, "releases/v1.0.0/artifacts/pf_filter.bit", "bits")
	put(t, st, "releases/v1.0.0/manifest.json", "{}\n")
	put(t, st, "releases/v1.0.1/manifest.json", "{}\n\n")
	put(t, st, "releases/v1.0.0/manifest.json", "{ }\n") // replaces

	if got := read(t, st, "releases/v1.0.0/manifest.json"); got != "{ }\n" {
		t.Errorf("replaced file reads %q", got)
	}
	o, err := st.Stat(ctx, "releases/v1.0.0/artifacts/pf_filter.bit")
	if err != nil || o.Size != 4 || o.SHA256 != sum([]byte("bits")) {
		t.Errorf("Stat: %+v %v", o, err)
	}
	l, err := st.List(ctx, "releases/v1.0.0/")
	var names []string
	for _, o := range l {
		names = append(names, o.Name)
	}
	if err != nil || !slices.Equal(names, []string{"releases/v1.0.0/artifacts/pf_filter.bit", "releases/v1.0.0/manifest.json"}) {
		t.Errorf("List: %v %v", names, err)
	}

	// Wrong size or hash: refused, nothing stored or replaced.
	err = st.Put(ctx, "releases/v1.0.0/manifest.json", strings.NewReader("evil"), 4, sum([]byte("good")))
	if !errors.Is(err, store.ErrMismatch) || !strings.Contains(err.Error(), sum([]byte("evil"))) {
		t.Errorf("Put with a wrong sha256: %v", err)
	}
	err = st.Put(ctx, "new", strings.NewReader("abc"), 5, sum([]byte("abc")))
	if !errors.Is(err, store.ErrMismatch) || !strings.Contains(err.Error(), "3 bytes read, 5 expected") {
		t.Errorf("Put with a wrong size: %v", err)
	}
	if got := read(t, st, "releases/v1.0.0/manifest.json"); got != "{ }\n" {
		t.Errorf("after a refused Put the file reads %q", got)
	}
	if _, err := st.Stat(ctx, "new"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused Put stored a file: %v", err)
	}

	for _, bad := range []string{"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", `a\b`, "a\nb"} {
		if err := st.Put(ctx, bad, strings.NewReader(""), 0, sum(nil)); err == nil {
			t.Errorf("Put(%q) accepted", bad)
		}
		if _, err := st.Get(ctx, bad); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Get(%q): %v, want a name error", bad, err)
		}
	}

	if err := st.Delete(ctx, "releases/v1.0.1/manifest.json"); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, "releases/v1.0.1/manifest.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Delete: %v", err)
	}
	if l, _ := st.List(ctx, "releases/v1.0.1/"); len(l) != 0 {
		t.Errorf("deleted file still listed: %v", l)
	}
}

func TestLocal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	conformance(t, st)
	// Temp files of an interrupted write are not listed.
	os.WriteFile(filepath.Join(dir, "releases", ".x.tmp-123"), []byte("x"), 0o644)
	if l, _ := st.List(t.Context(), ""); slices.ContainsFunc(l, func(o store.Object) bool { return strings.Contains(o.Name, "tmp-") }) {
		t.Errorf("temp file listed: %v", l)
	}
}

// A symbolic link inside the directory cannot take reads or writes out of it.
func TestLocalSymlinkEscape(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644)
	os.Symlink(outside, filepath.Join(dir, "releases"))
	st, _ := store.NewLocal(dir)
	if _, err := st.Get(t.Context(), "releases/secret"); err == nil {
		t.Error("read through a symlink out of the store")
	}
	if err := st.Put(t.Context(), "releases/x", strings.NewReader("x"), 1, sum([]byte("x"))); err == nil {
		t.Error("wrote through a symlink out of the store")
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Error("file written outside the store")
	}
}

func swiftCloud(t *testing.T) *osdouble.Cloud {
	t.Helper()
	c := osdouble.StartForTest(t, "objects", osdouble.Options{})
	return c
}

// The same behaviour from Swift, through the real gophercloud client on the
// OpenStack double; the container is created by the first Put, and every
// upload carries its MD5 as ETag and its SHA-256 as metadata.
func TestSwift(t *testing.T) {
	c := swiftCloud(t)
	st, err := store.OpenSwift(t.Context(), store.SwiftOptions{Cloud: "objects", Container: "releases"})
	if err != nil {
		t.Fatal(err)
	}
	conformance(t, st)
	for _, o := range c.Objects() {
		if o.Container != "releases" || o.Meta["Sha256"] != sum(o.Data) {
			t.Errorf("object %s/%s meta %v", o.Container, o.Name, o.Meta)
		}
	}
	var withETag int
	for _, r := range c.Requests() {
		if r.Route == osdouble.RoutePutObject && r.Status == 201 {
			withETag++
		}
	}
	if withETag != 4 {
		t.Errorf("%d uploads stored, want 4", withETag)
	}
}

// Open picks Swift when store.swift is set, else the directory.
func TestOpen(t *testing.T) {
	swiftCloud(t)
	dir := t.TempDir()
	s := &project.Settings{Root: dir, Store: project.Store{Path: "st"}}
	st, err := store.Open(t.Context(), s)
	if l, ok := st.(*store.Local); err != nil || !ok || l.Dir != filepath.Join(dir, "st") {
		t.Errorf("local: %v %v", st, err)
	}
	s.Store.Swift = &project.Swift{Cloud: "objects", Container: "c"}
	st, err = store.Open(t.Context(), s)
	if _, ok := st.(*store.Swift); err != nil || !ok || !strings.Contains(st.String(), "Swift container c") {
		t.Errorf("swift: %v %v", st, err)
	}
	s.Store.Swift = &project.Swift{Cloud: "nope", Container: "c"}
	if _, err := store.Open(context.Background(), s); err == nil || !strings.Contains(err.Error(), "store.swift.cloud") {
		t.Errorf("unknown cloud: %v", err)
	}
}
