package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fpgactl/fpgactl/internal/atomicfile"
	"github.com/fpgactl/fpgactl/internal/contenthash"
)

// Local is a store in a directory. Files are replaced atomically
// (internal/atomicfile), so a reader or a crash never sees half a file, and
// every access goes through an os.Root, so neither a name nor a symbolic
// link inside the directory reaches a file outside it.
type Local struct {
	Dir string
}

// NewLocal returns the store in dir (created on the first Put).
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("store: no directory; set store.path in fpgactl.yaml")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &Local{Dir: abs}, nil
}

func (l *Local) String() string { return "directory " + l.Dir }

// root opens the store's directory, creating it when create is set.
func (l *Local) root(create bool) (*os.Root, error) {
	if create {
		if err := os.MkdirAll(l.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	r, err := os.OpenRoot(l.Dir)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return r, nil
}

func (l *Local) Put(ctx context.Context, name string, r io.Reader, size int64, sum string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	root, err := l.root(true)
	if err != nil {
		return err
	}
	defer root.Close()
	if dir := path.Dir(name); dir != "." {
		// Through the root: a symbolic link leading out of Dir is refused
		// here, before atomicfile writes by path.
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("store: %s: %w", name, err)
		}
	}
	if fi, err := root.Lstat(name); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("store: %s in %s is a symbolic link; remove it", name, l.Dir)
	}
	return atomicfile.Write(filepath.Join(l.Dir, filepath.FromSlash(name)), 0o644, func(w io.Writer) error {
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), ctxReader{ctx, r})
		if err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); n != size || got != sum {
			return mismatch(name, size, n, sum, got)
		}
		return nil
	})
}

func (l *Local) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	root, err := l.root(false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notExist(name, l.String())
	} else if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notExist(name, l.String())
	} else if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("store: %s in %s is not a regular file", name, l.Dir)
	}
	return f, nil
}

func (l *Local) Stat(ctx context.Context, name string) (Object, error) {
	f, err := l.Get(ctx, name)
	if err != nil {
		return Object{}, err
	}
	defer f.Close()
	return describe(ctx, name, f.(*os.File))
}

func describe(ctx context.Context, name string, f *os.File) (Object, error) {
	fi, err := f.Stat()
	if err != nil {
		return Object{}, err
	}
	n, sum, err := contenthash.ReaderSHA256(ctxReader{ctx, f})
	if err != nil {
		return Object{}, fmt.Errorf("store: reading %s: %w", name, err)
	}
	return Object{Name: name, Size: n, SHA256: sum, Modified: fi.ModTime().UTC()}, nil
}

// List walks the directory. Temp files of writes under way (or of a writer
// that died) are not files of the store and are left out.
func (l *Local) List(ctx context.Context, prefix string) ([]Object, error) {
	root, err := l.root(false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	defer root.Close()
	var out []Object
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			// Skip directories that cannot hold a match.
			if p != "." && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		// Symbolic links and other special files are never written by Put.
		if !d.Type().IsRegular() || !strings.HasPrefix(p, prefix) || isTemp(path.Base(p)) {
			return nil
		}
		// Names, sizes and times only, as Swift's listing gives: hashing
		// every artifact to list releases would read the whole store.
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, Object{Name: p, Size: fi.Size(), Modified: fi.ModTime().UTC()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: listing %s: %w", l.Dir, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// isTemp reports whether base is an atomicfile temp file (".<name>.tmp-<random>").
func isTemp(base string) bool {
	return strings.HasPrefix(base, ".") && strings.Contains(base, ".tmp-")
}

func (l *Local) Delete(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	root, err := l.root(false)
	if errors.Is(err, fs.ErrNotExist) {
		return notExist(name, l.String())
	} else if err != nil {
		return err
	}
	defer root.Close()
	if err := root.Remove(name); errors.Is(err, fs.ErrNotExist) {
		return notExist(name, l.String())
	} else if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// ctxReader stops a long copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
