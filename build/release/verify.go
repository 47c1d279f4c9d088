package release

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/fpgactl/fpgactl/build/store"
	"github.com/fpgactl/fpgactl/internal/atomicfile"
	"github.com/fpgactl/fpgactl/internal/contenthash"
)

// Problem kinds that Verify reports.
const (
	ProblemMissing   = "missing"   // a file of the release is not there
	ProblemSignature = "signature" // the signature does not verify
	ProblemKey       = "key"       // signed by another key than the one given
	ProblemManifest  = "manifest"  // manifest.json cannot be read or is not for this version
	ProblemSize      = "size"      // an artifact's size differs
	ProblemSHA256    = "sha256"    // an artifact's content differs
	ProblemExtra     = "extra"     // a file the manifest does not list
)

// Problem is one difference between a release and its manifest.
type Problem struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"` // relative to the release (manifest.json, artifacts/x.bit)
	Message string `json:"message"`
}

// Verified is what Verify found.
type Verified struct {
	Version   string    `json:"version"`
	From      string    `json:"from"`
	KeyID     string    `json:"key_id"` // of the public key checked with
	OK        bool      `json:"ok"`
	Problems  []Problem `json:"problems"`
	Manifest  *Manifest `json:"manifest,omitempty"`
	Artifacts int       `json:"artifacts_checked"`
}

// Err is nil when the release verified, else an error listing every problem.
func (v *Verified) Err() error {
	if v.OK {
		return nil
	}
	lines := make([]string, len(v.Problems))
	for i, p := range v.Problems {
		lines[i] = "  " + p.Message
	}
	return fmt.Errorf("release %s in %s does not verify:\n%s", v.Version, v.From, strings.Join(lines, "\n"))
}

// Verify checks release version in st under prefix (Prefix(version) for a
// store, "" for a directory that `release fetch` wrote): the signature of
// manifest.json with pub, then every artifact's size and SHA-256, then that
// nothing else is there. Every difference is reported, not only the first.
// The error is for failures to read, not for differences.
func Verify(ctx context.Context, st store.Store, prefix, version string, pub ed25519.PublicKey) (*Verified, error) {
	v := &Verified{Version: version, From: st.String(), KeyID: KeyID(pub), Problems: []Problem{}}
	add := func(kind, name, format string, args ...any) {
		v.Problems = append(v.Problems, Problem{Kind: kind, Name: name, Message: name + ": " + fmt.Sprintf(format, args...)})
	}
	data, err := readAll(ctx, st, prefix+ManifestFile)
	if errors.Is(err, fs.ErrNotExist) {
		add(ProblemMissing, ManifestFile, "missing: %s has no release %s", st, version)
		return v, nil
	} else if err != nil {
		return nil, err
	}
	sig, err := readAll(ctx, st, prefix+SignatureFile)
	if errors.Is(err, fs.ErrNotExist) {
		add(ProblemMissing, SignatureFile, "missing: the release is unsigned or incomplete")
	} else if err != nil {
		return nil, err
	}
	m, perr := ParseManifest(data)
	if sig != nil {
		switch {
		case len(sig) != ed25519.SignatureSize:
			add(ProblemSignature, SignatureFile, "signature invalid: %d bytes, an ed25519 signature is %d", len(sig), ed25519.SignatureSize)
		case !ed25519.Verify(pub, data, sig):
			if m != nil && m.Signer.KeyID != v.KeyID {
				add(ProblemKey, SignatureFile, "signature invalid: the manifest was signed by key %s, the public key given is %s; verify with the release's public key", m.Signer.KeyID, v.KeyID)
			} else {
				add(ProblemSignature, SignatureFile, "signature invalid: manifest.json or manifest.json.sig was changed after signing (key %s)", v.KeyID)
			}
		case m != nil && m.Signer.KeyID != v.KeyID:
			add(ProblemKey, ManifestFile, "signer.key_id is %s but the signature is by key %s", m.Signer.KeyID, v.KeyID)
		}
	}
	if perr != nil {
		add(ProblemManifest, ManifestFile, "%v", perr)
		return v.done(), nil
	}
	v.Manifest = m
	if m.Version != version {
		add(ProblemManifest, ManifestFile, "is the manifest of %s, not %s", m.Version, version)
	}

	listed := map[string]bool{ManifestFile: true, SignatureFile: true}
	for _, a := range m.Artifacts {
		listed[a.Name] = true
		size, sum, err := hashObject(ctx, st, prefix+a.Name)
		if errors.Is(err, fs.ErrNotExist) {
			add(ProblemMissing, a.Name, "missing (%s, %d bytes, sha256 %s)", a.Kind, a.Size, a.SHA256)
			continue
		} else if err != nil {
			return nil, err
		}
		v.Artifacts++
		if size != a.Size {
			add(ProblemSize, a.Name, "size differs: %d bytes, the manifest says %d", size, a.Size)
		}
		if sum != a.SHA256 {
			add(ProblemSHA256, a.Name, "sha256 differs: %s, the manifest says %s", sum, a.SHA256)
		}
	}
	all, err := st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	for _, o := range all {
		if name := strings.TrimPrefix(o.Name, prefix); !listed[name] {
			add(ProblemExtra, name, "extra file not in the manifest (%d bytes)", o.Size)
		}
	}
	return v.done(), nil
}

func (v *Verified) done() *Verified {
	v.OK = len(v.Problems) == 0
	return v
}

func readAll(ctx context.Context, st store.Store, name string) ([]byte, error) {
	rc, err := st.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// Manifests and signatures are small; a huge one is not a manifest.
	data, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", name, st, err)
	}
	return data, nil
}

func hashObject(ctx context.Context, st store.Store, name string) (int64, string, error) {
	rc, err := st.Get(ctx, name)
	if err != nil {
		return 0, "", err
	}
	defer rc.Close()
	n, sum, err := contenthash.ReaderSHA256(rc)
	if err != nil {
		return 0, "", fmt.Errorf("reading %s from %s: %w", name, st, err)
	}
	return n, sum, nil
}

// ReadManifest returns a stored release's manifest (not verified).
func ReadManifest(ctx context.Context, st store.Store, version string) (*Manifest, []byte, error) {
	if err := CheckVersion(version); err != nil {
		return nil, nil, err
	}
	data, err := readAll(ctx, st, Prefix(version)+ManifestFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("no release %s in %s; 'fpgactl release list' shows the releases", version, st)
	} else if err != nil {
		return nil, nil, err
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, nil, fmt.Errorf("release %s in %s: %w", version, st, err)
	}
	return m, data, nil
}

// List returns the manifests of every complete release, newest first by
// creation time. A release whose manifest cannot be read is returned in
// the error, not hidden.
func List(ctx context.Context, st store.Store) ([]*Manifest, error) {
	objs, err := st.List(ctx, "releases/")
	if err != nil {
		return nil, err
	}
	var out []*Manifest
	var errs []error
	for _, o := range objs {
		version, rest, _ := strings.Cut(strings.TrimPrefix(o.Name, "releases/"), "/")
		if rest != ManifestFile || CheckVersion(version) != nil {
			continue
		}
		m, _, err := ReadManifest(ctx, st, version)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, errors.Join(errs...)
}

// Fetched is what Fetch wrote.
type Fetched struct {
	Version string   `json:"version"`
	Dir     string   `json:"dir"`
	Files   []string `json:"files"`
}

// Fetch downloads release version into dir: manifest.json,
// manifest.json.sig and artifacts/..., the layout Verify reads with prefix
// "". Each artifact is checked against the manifest's size and SHA-256 as
// it is written; the signature is for Verify to check.
func Fetch(ctx context.Context, st store.Store, version, dir string, progress io.Writer) (*Fetched, error) {
	m, data, err := ReadManifest(ctx, st, version)
	if err != nil {
		return nil, err
	}
	prefix := Prefix(version)
	sig, err := readAll(ctx, st, prefix+SignatureFile)
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", version, err)
	}
	out, err := store.NewLocal(dir)
	if err != nil {
		return nil, err
	}
	f := &Fetched{Version: version, Dir: out.Dir}
	for _, a := range m.Artifacts {
		if progress != nil {
			fmt.Fprintf(progress, "downloading %s (%s)\n", a.Name, humanSize(a.Size))
		}
		rc, err := st.Get(ctx, prefix+a.Name)
		if err != nil {
			return nil, fmt.Errorf("release %s: %w", version, err)
		}
		err = out.Put(ctx, a.Name, rc, a.Size, a.SHA256)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("release %s: %w", version, err)
		}
		f.Files = append(f.Files, filepath.Join(out.Dir, filepath.FromSlash(a.Name)))
	}
	for _, x := range []struct {
		name string
		data []byte
	}{{SignatureFile, sig}, {ManifestFile, data}} {
		p := filepath.Join(out.Dir, x.name)
		if err := os.MkdirAll(out.Dir, 0o755); err != nil {
			return nil, err
		}
		if err := atomicfile.WriteFile(p, x.data, 0o644); err != nil {
			return nil, err
		}
		f.Files = append(f.Files, p)
	}
	slices.Sort(f.Files)
	return f, nil
}
