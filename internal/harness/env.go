// Package harness connects the traffic harness (tests/harness) to a project:
// it builds and starts simulated boards from the project's settings and runs
// scenario suites, ad-hoc replays and differential fuzzing on them. The CLI
// commands (test functional, test fuzz, replay, bench) are thin over it.
package harness

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/internal/chisel"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/sim/board"
	"github.com/fpgactl/fpgactl/sim/rules"
)

// Env builds and starts simulated boards of the project's filter design.
type Env struct {
	Settings *project.Settings
	// Verilator is the executable; when empty, FindVerilator is asked the
	// first time a board is built (so targets without a board need none).
	Verilator     string
	FindVerilator func(context.Context) (string, error)
	// Progress receives one line per board build (nil: silent).
	Progress io.Writer

	mu     sync.Mutex
	builds map[int]string
}

// Source gives an Env its project and its Verilator; cmdutil.Factory is one.
type Source interface {
	Project() (*project.Settings, error)
	Verilator(ctx context.Context) (string, error)
}

// Load returns an Env on src's project, reporting board builds to progress.
func Load(src Source, progress io.Writer) (*Env, error) {
	s, err := src.Project()
	if err != nil {
		return nil, err
	}
	return &Env{Settings: s, FindVerilator: src.Verilator, Progress: progress}, nil
}

// Design is the project's design whose top is the filter the board wraps.
func (e *Env) Design() (*project.Design, error) {
	for i := range e.Settings.Designs {
		if d := &e.Settings.Designs[i]; d.Top == board.Top {
			return d, nil
		}
	}
	return nil, fmt.Errorf("%s: no design has top: %s; the simulated board wraps that module", e.Settings.Path, board.Top)
}

// Widths returns want, or the design's data widths when want is empty.
func (e *Env) Widths(want ...int) ([]int, error) {
	if len(want) > 0 {
		return want, nil
	}
	d, err := e.Design()
	if err != nil {
		return nil, err
	}
	return d.Widths, nil
}

// Width returns want, or the design's first data width when want is 0.
func (e *Env) Width(want int) (int, error) {
	if want != 0 {
		return want, nil
	}
	ws, err := e.Widths()
	if err != nil {
		return 0, err
	}
	return ws[0], nil
}

// NumRules is the design's NUM_RULES parameter (rule slots of the build).
func (e *Env) NumRules() (int, error) {
	d, err := e.Design()
	if err != nil {
		return 0, err
	}
	if n, ok := d.Parameters["NUM_RULES"]; ok {
		return n, nil
	}
	return rules.DefaultNumRules, nil
}

// BoardBinary builds (or finds cached) the board executable for a width.
func (e *Env) BoardBinary(ctx context.Context, width int) (string, error) {
	e.mu.Lock()
	if bin, ok := e.builds[width]; ok {
		e.mu.Unlock()
		return bin, nil
	}
	e.mu.Unlock()
	d, err := e.Design()
	if err != nil {
		return "", err
	}
	// Chisel sources first (cached by content hash; once per process).
	if _, err := chisel.Prepare(ctx, e.Settings, d, chisel.Options{Progress: e.Progress}); err != nil {
		return "", err
	}
	rtl, err := e.Settings.RTLFiles(d)
	if err != nil {
		return "", err
	}
	if len(rtl) == 0 {
		return "", fmt.Errorf("%s: design %s: rtl: matches no files", e.Settings.Path, d.Name)
	}
	logDir := filepath.Join(e.Settings.WorkPath(), "board", "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return "", err
	}
	logPath := filepath.Join(logDir, fmt.Sprintf("build-w%d.log", width))
	logf, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	e.mu.Lock()
	if e.Verilator == "" && e.FindVerilator != nil {
		if e.Verilator, err = e.FindVerilator(ctx); err != nil {
			e.mu.Unlock()
			return "", err
		}
	}
	e.mu.Unlock()
	start := time.Now()
	bin, cached, err := board.Build(ctx, board.BuildOptions{
		RTL: rtl, Include: e.Settings.IncludeDirs(d), Parameters: d.Parameters, Width: width,
		WorkDir: e.Settings.WorkPath(), Verilator: e.Verilator, Log: logf,
	})
	if err != nil {
		return "", fmt.Errorf("building the simulated board (w%d): %w; log: %s", width, err, logPath)
	}
	if e.Progress != nil {
		if cached {
			fmt.Fprintf(e.Progress, "board   w%-4d cached\n", width)
		} else {
			fmt.Fprintf(e.Progress, "board   w%-4d built in %.1fs\n", width, time.Since(start).Seconds())
		}
	}
	e.mu.Lock()
	if e.builds == nil {
		e.builds = map[int]string{}
	}
	e.builds[width] = bin
	e.mu.Unlock()
	return bin, nil
}

// StartBoard builds if needed and starts a simulated board.
func (e *Env) StartBoard(ctx context.Context, width int) (*board.Board, error) {
	bin, err := e.BoardBinary(ctx, width)
	if err != nil {
		return nil, err
	}
	return board.Start(ctx, bin, board.StartOptions{Width: width})
}

func defaultJobs() int { return runtime.NumCPU() }
