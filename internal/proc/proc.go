// Package proc runs the external tools fpgactl drives (Verilator, its
// compiler, yosys, iverilog) so that cancelling fpgactl stops them and
// everything they started.
package proc

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Run runs name with args in dir, output to w. The process gets its own
// process group so that a timeout or a cancelled ctx kills it and everything it
// started (Verilator runs make and the compiler). timeout 0 means no limit.
// It returns the exit code, whether the timeout fired, and an error only when
// the program could not be started.
// env, when not nil, replaces the inherited environment.
func Run(ctx context.Context, name string, args []string, dir string, env []string, w io.Writer, timeout time.Duration) (code int, timedOut bool, err error) {
	return Start(ctx, Options{Name: name, Args: args, Dir: dir, Env: env, Stdout: w, Stderr: w, Timeout: timeout})
}

// Options of Start.
type Options struct {
	Name   string
	Args   []string
	Dir    string
	Env    []string // nil: inherited
	Stdout io.Writer
	Stderr io.Writer
	// Timeout bounds the run (0: none).
	Timeout time.Duration
	// Grace, when set, makes cancellation send SIGTERM to the process group
	// first and SIGKILL only after Grace: for a program that must clean up
	// (an fpgactl releasing a lab board). Zero kills at once.
	Grace time.Duration
}

// Start is Run with separate output streams and a grace period.
func Start(ctx context.Context, o Options) (code int, timedOut bool, err error) {
	runCtx := ctx
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(runCtx, o.Name, o.Args...)
	cmd.Dir = o.Dir
	cmd.Env = o.Env
	cmd.Stdout = o.Stdout
	cmd.Stderr = o.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The delayed kill must not outlive the process: its group ID could be
	// reused.
	var killMu sync.Mutex
	var kill *time.Timer
	cmd.Cancel = func() error {
		// Negative pid: the whole process group.
		if o.Grace <= 0 {
			return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		pgid := cmd.Process.Pid
		killMu.Lock()
		kill = time.AfterFunc(o.Grace, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
		killMu.Unlock()
		return syscall.Kill(-pgid, syscall.SIGTERM)
	}
	defer func() {
		killMu.Lock()
		if kill != nil {
			kill.Stop()
		}
		killMu.Unlock()
	}()
	cmd.WaitDelay = 5*time.Second + o.Grace
	if err := cmd.Start(); err != nil {
		return -1, false, err
	}
	werr := cmd.Wait()
	if runCtx.Err() != nil && ctx.Err() == nil {
		return -1, true, nil
	}
	if werr == nil {
		return 0, false, nil
	}
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			// Like a shell: 128 + signal ($fatal in Verilator ends with abort()).
			return 128 + int(ws.Signal()), false, nil
		}
		return ee.ExitCode(), false, nil
	}
	// I/O errors after the process ran (e.g. WaitDelay expired): report as a failure.
	return -1, false, nil
}
