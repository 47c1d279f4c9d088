package run

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Archives of command jobs: the job's archive going out, its Fetch entries
// coming back. Every runner unpacks with extractTar (or checks with
// checkArchive what a remote tar will unpack), so one set of rules keeps
// archive entries inside their directory:
//
//   - names are relative, with no ".." component (absolute names and
//     traversal are refused, not stripped);
//   - only regular files, directories and symbolic links;
//   - a symbolic link's target, resolved through the archive's other links,
//     stays inside the directory (absolute targets are refused);
//   - nothing is written through a link the archive made.
//
// Local extraction also goes through an os.Root, so that not even a
// directory's existing links can make a write land outside it.

// archiveError is an entry the rules refuse.
type archiveError struct {
	name, why string
}

func (e *archiveError) Error() string { return fmt.Sprintf("archive entry %q: %s", e.name, e.why) }

// maxLinkDepth bounds link resolution, as the kernel's ELOOP does.
const maxLinkDepth = 40

// entryRules checks entries as they come and the links among them at the end.
type entryRules struct {
	links map[string]string // cleaned entry name → link target
}

// check returns the cleaned name of an entry, or why it is refused.
func (r *entryRules) check(h *tar.Header) (string, error) {
	name, err := localName(h.Name)
	if err != nil {
		return "", err
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeDir:
	case tar.TypeSymlink:
		if h.Linkname == "" || path.IsAbs(h.Linkname) {
			return "", &archiveError{h.Name, fmt.Sprintf("link to %q leaves the directory", h.Linkname)}
		}
	default:
		return "", &archiveError{h.Name, fmt.Sprintf("type %q is not a file, directory or symbolic link", h.Typeflag)}
	}
	// Nothing through a link of the archive: a later entry "l/x" for a link
	// "l" would be written wherever l points.
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		if _, ok := r.links[p]; ok {
			return "", &archiveError{h.Name, fmt.Sprintf("is inside %q, a symbolic link of the archive", p)}
		}
	}
	if r.links == nil {
		r.links = map[string]string{}
	}
	if h.Typeflag == tar.TypeSymlink {
		r.links[name] = h.Linkname
	} else {
		delete(r.links, name)
	}
	return name, nil
}

// finish checks that every link, resolved through the others, stays inside
// the directory: a link to "." is harmless on its own, a link to "l/.."
// next to it is not.
func (r *entryRules) finish() error {
	for name, target := range r.links {
		// Not path.Join: cleaning "l/.." to "." is what a link l hides.
		if _, ok := r.resolve(path.Dir(name)+"/"+target, 0); !ok {
			return &archiveError{name, fmt.Sprintf("link to %q leaves the directory", target)}
		}
	}
	return nil
}

// resolve is where p (relative to the directory, uncleaned) leads with the
// archive's links followed, and whether that is inside the directory.
func (r *entryRules) resolve(p string, depth int) (string, bool) {
	if depth > maxLinkDepth {
		return "", false
	}
	var cur []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return "", false
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, c)
		if target, ok := r.links[strings.Join(cur, "/")]; ok {
			if path.IsAbs(target) {
				return "", false
			}
			dir := strings.Join(cur[:len(cur)-1], "/")
			to, ok := r.resolve(dir+"/"+target, depth+1)
			if !ok {
				return "", false
			}
			cur = nil
			if to != "" {
				cur = strings.Split(to, "/")
			}
		}
	}
	return strings.Join(cur, "/"), true
}

// localName is an entry's name cleaned ("" for the directory itself), or
// an error for an absolute name or one with a ".." component.
func localName(name string) (string, error) {
	if name == "" || path.IsAbs(name) || strings.HasPrefix(name, `\`) {
		return "", &archiveError{name, "absolute or empty name"}
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", &archiveError{name, `".." in the name`}
		}
	}
	name = path.Clean(name)
	if name == "." {
		return "", nil
	}
	return name, nil
}

// checkArchive reads a .tar.gz and checks every entry against the rules,
// for archives a remote tar unpacks.
func checkArchive(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	tr := tar.NewReader(zr)
	var rules entryRules
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
		if _, err := rules.check(h); err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
	}
	if err := rules.finish(); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	return nil
}

// extractArchive unpacks the local .tar.gz name into dir.
func extractArchive(name, dir string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := extractTarGz(bufio.NewReader(f), dir); err != nil {
		return fmt.Errorf("unpacking %s: %w", name, err)
	}
	return nil
}

// extractTarGz is extractTar of a gzip stream; an empty stream is an empty
// archive.
func extractTarGz(r *bufio.Reader, dir string) ([]string, error) {
	if _, err := r.Peek(1); err == io.EOF {
		return nil, nil
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	return extractTar(zr, dir)
}

// extractTar unpacks a tar stream into dir (created if missing) under the
// rules above, and returns the cleaned names of its entries. On an error
// what was unpacked so far stays: callers unpack into directories they
// remove, or report the error.
func extractTar(r io.Reader, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	var rules entryRules
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return names, err
		}
		name, err := rules.check(h)
		if err != nil {
			return names, err
		}
		if name == "" {
			continue // the directory itself
		}
		names = append(names, name)
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil && path.Dir(name) != "." {
			return names, err
		}
		// An entry replaces what is there, unless both are directories.
		if st, err := root.Lstat(name); err == nil && !(st.IsDir() && h.Typeflag == tar.TypeDir) {
			if err := root.RemoveAll(name); err != nil {
				return names, err
			}
		}
		perm := fs.FileMode(h.Mode) & 0o777
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(name, perm|0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return names, err
			}
		case tar.TypeSymlink:
			if err := root.Symlink(h.Linkname, name); err != nil {
				return names, err
			}
		case tar.TypeReg:
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm|0o600)
			if err != nil {
				return names, err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return names, err
			}
			if err := root.Chmod(name, perm|0o600); err != nil { // the umask took bits
				return names, err
			}
		}
	}
	return names, rules.finish()
}

// writeTar writes the entries of dir that exist (files, directories with
// everything in them, symbolic links as links) as a tar stream, and returns
// those it wrote. It is the local counterpart of the remote tar -c.
func writeTar(w io.Writer, dir string, entries []string) ([]string, error) {
	tw := tar.NewWriter(w)
	var found []string
	for _, e := range entries {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(e))); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		found = append(found, e)
		err := filepath.WalkDir(filepath.Join(dir, filepath.FromSlash(e)), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			link := ""
			if info.Mode()&fs.ModeSymlink != 0 {
				if link, err = os.Readlink(p); err != nil {
					return err
				}
			} else if !info.Mode().IsRegular() && !info.IsDir() {
				return nil // sockets, fifos: not results
			}
			h, err := tar.FileInfoHeader(info, link)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			h.Name = filepath.ToSlash(rel)
			h.Uname, h.Gname = "", ""
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if info.Mode().IsRegular() {
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				defer f.Close()
				if _, err := io.Copy(tw, f); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return found, err
		}
	}
	return found, tw.Close()
}

// fetchedEntries are the entries that names (an extracted archive's)
// contain, in the order of entries.
func fetchedEntries(entries, names []string) []string {
	var out []string
	for _, e := range entries {
		e = path.Clean(e)
		for _, n := range names {
			if n == e || strings.HasPrefix(n, e+"/") {
				out = append(out, e)
				break
			}
		}
	}
	return out
}
