package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/fpgactl/fpgactl/internal/flock"
)

// What the emulated lab needs from this module is built once per test
// binary into a temporary directory, which Main removes.
var (
	binMu  sync.Mutex
	binDir string
	built  = map[string]string{}
)

// Main runs a test package's tests and removes the fpgactl and bitstreams
// built for them; call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	binMu.Lock()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	binMu.Unlock()
	os.Exit(code)
}

// Fpgactl returns this module's fpgactl, built with `go build` the first
// time it is asked for.
func Fpgactl() (string, error) {
	binMu.Lock()
	defer binMu.Unlock()
	return buildLocked("fpgactl", func(out string) error {
		root, err := ModuleRoot()
		if err != nil {
			return err
		}
		gobin, err := goTool()
		if err != nil {
			return err
		}
		cmd := exec.Command(gobin, "build", "-o", out, "./cmd/fpgactl")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/fpgactl: %v\n%s", err, b)
		}
		return nil
	})
}

// Bitstream returns the emulated lab's bitstream of a data width: the
// simulated board executable `fpgactl board build` writes (the Verilator
// build itself is cached in the repository's work directory).
func Bitstream(ctx context.Context, width int) (string, error) {
	fpgactl, err := Fpgactl()
	if err != nil {
		return "", err
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	binMu.Lock()
	defer binMu.Unlock()
	return buildLocked("board-w"+strconv.Itoa(width)+".bin", func(out string) error {
		// One build at a time on this machine: the lab tests of another
		// package then find this one's build in the cache instead of
		// compiling the same board beside it.
		unlock, err := flock.Lock(ctx, buildLock)
		if err != nil {
			return err
		}
		defer unlock()
		// Twice: other test processes build the same board into the same
		// cache at the same time, and a build published in between can
		// replace the one just made.
		for range 2 {
			cmd := exec.CommandContext(ctx, fpgactl, "--project", filepath.Join(root, "fpgactl.yaml"), "board", "build",
				"--width", strconv.Itoa(width), "--out", out)
			b, cerr := cmd.CombinedOutput()
			if cerr == nil {
				return nil
			}
			err = fmt.Errorf("fpgactl board build --width %d: %v\n%s", width, cerr, b)
		}
		return err
	})
}

// buildLock serializes the board builds of concurrent test processes.
const buildLock = "/run/fpgactl-lab-build.lock"

// buildLocked returns binDir/name, making it with make the first time.
func buildLocked(name string, make func(out string) error) (string, error) {
	if p, ok := built[name]; ok {
		return p, nil
	}
	if binDir == "" {
		d, err := os.MkdirTemp("", "fpgactl-lab-bin-")
		if err != nil {
			return "", err
		}
		binDir = d
	}
	out := filepath.Join(binDir, name)
	if err := make(out); err != nil {
		return "", err
	}
	built[name] = out
	return out, nil
}

// ModuleRoot is the directory of this module's go.mod, found upward from
// the working directory (a test's is its package directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("lab: no go.mod above the working directory")
		}
		dir = parent
	}
}

func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("lab: the go command is not in PATH; it builds fpgactl for the emulated lab")
}
