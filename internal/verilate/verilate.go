// Package verilate builds Verilator models into executables, cached by a
// content hash of everything a build reads: Verilator's version, the flags,
// and the contents of the sources and of the headers in the include
// directories. A build whose hash is already on disk is not redone, and a
// build is published atomically, so concurrent and interrupted runs never
// see half a build. The unit runner and the simulated board both use it.
package verilate

import (
	"context"
	"fmt"
	"github.com/fpgactl/fpgactl/internal/contenthash"
	"github.com/fpgactl/fpgactl/internal/flock"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/fpgactl/fpgactl/internal/proc"
)

// Spec is one build.
type Spec struct {
	// Name names the build directory (<Dir>/<Name>-<hash>); older builds of
	// the same Name are removed when a new one is published.
	Name string
	// Top is the --top-module; the executable is V<Top>.
	Top string
	// Flags are Verilator's arguments except --Mdir and --top-module,
	// sources included (Verilator reads them from the command line).
	Flags []string
	// Files are hashed by content: every source the flags name, C++ included.
	Files []string
	// IncludeDirs are searched for headers (*.sv, *.svh, *.vh, *.v, *.h),
	// which are hashed too.
	IncludeDirs []string
}

// Builder builds Specs under Dir.
type Builder struct {
	// Verilator is the executable (default "verilator").
	Verilator string
	// Dir holds the builds.
	Dir string

	versionOnce sync.Once
	version     string
	versionErr  error
}

// Version returns `verilator --version`, asked once per Builder.
func (b *Builder) Version(ctx context.Context) (string, error) {
	b.versionOnce.Do(func() {
		out, err := exec.CommandContext(ctx, b.verilator(), "--version").CombinedOutput()
		if err != nil {
			b.versionErr = fmt.Errorf("running %s --version failed (%v); install Verilator 5 with scripts/install-deps.sh or check `fpgactl doctor`", b.verilator(), err)
			return
		}
		b.version = strings.TrimSpace(string(out))
	})
	return b.version, b.versionErr
}

func (b *Builder) verilator() string {
	if b.Verilator == "" {
		return "verilator"
	}
	return b.Verilator
}

// Hash is the content hash that names the build of s.
func (b *Builder) Hash(ctx context.Context, s Spec) (string, error) {
	version, err := b.Version(ctx)
	if err != nil {
		return "", err
	}
	h := contenthash.New()
	h.Printf("verilator=%s\ntop=%s\n", version, s.Top)
	for _, f := range s.Flags {
		h.Printf("flag=%s\n", f)
	}
	if err := h.Files(contenthash.WithIncludes(s.Files, s.IncludeDirs), nil); err != nil {
		return "", err
	}
	return h.Sum(), nil
}

// Build returns the executable of s, building it unless a build with the
// same hash exists (cached is then true). Verilator's output goes to log.
func (b *Builder) Build(ctx context.Context, s Spec, log io.Writer) (bin string, cached bool, err error) {
	hash, err := b.Hash(ctx, s)
	if err != nil {
		return "", false, err
	}
	dir := filepath.Join(b.Dir, s.Name+"-"+hash)
	bin = filepath.Join(dir, "V"+s.Top)
	if st, err := os.Stat(bin); err == nil && st.Mode()&0o111 != 0 {
		return bin, true, nil
	}
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		return "", false, fmt.Errorf("creating build directory: %w", err)
	}
	// One build of a hash at a time, across processes (test packages build
	// the same boards in parallel): the second waits and finds it cached,
	// and never replaces a build another process is about to run.
	unlock, err := flock.Lock(ctx, filepath.Join(b.Dir, "."+s.Name+"-"+hash+".lock"))
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if st, err := os.Stat(bin); err == nil && st.Mode()&0o111 != 0 {
		return bin, true, nil
	}
	tmp, err := os.MkdirTemp(b.Dir, ".tmp-"+s.Name+"-")
	if err != nil {
		return "", false, err
	}
	defer os.RemoveAll(tmp)
	args := append(slices.Clone(s.Flags), "--top-module", s.Top, "--Mdir", tmp)
	fmt.Fprintf(log, "$ %s %s\n", b.verilator(), strings.Join(args, " "))
	code, _, err := proc.Run(ctx, b.verilator(), args, tmp, buildEnv(), log, 0)
	if err != nil {
		return "", false, fmt.Errorf("could not start verilator: %w", err)
	}
	if ctx.Err() != nil {
		return "", false, ctx.Err()
	}
	if code != 0 {
		return "", false, fmt.Errorf("verilator exited with status %d", code)
	}
	if _, err := os.Stat(filepath.Join(tmp, "V"+s.Top)); err != nil {
		return "", false, fmt.Errorf("verilator succeeded but produced no V%s executable", s.Top)
	}
	// Publish atomically, then drop older builds of the same name.
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", false, fmt.Errorf("keeping build: %w", err)
	}
	old, _ := filepath.Glob(filepath.Join(b.Dir, s.Name+"-*"))
	for _, o := range old {
		if o != dir && len(filepath.Base(o)) == len(s.Name)+1+len(hash) {
			os.RemoveAll(o)
		}
	}
	return bin, false, nil
}

// buildEnv is the environment of a Verilator build: when ccache is installed
// and the user has not chosen an OBJCACHE, the generated C++ is compiled
// through ccache, so an unchanged model rebuilds in seconds even in a fresh
// checkout (CI clones anew each run; ccache's store lives in $HOME).
func buildEnv() []string {
	env := os.Environ()
	if _, set := os.LookupEnv("OBJCACHE"); set {
		return env
	}
	if _, err := exec.LookPath("ccache"); err != nil {
		return env
	}
	return append(env, "OBJCACHE=ccache")
}
