// Package proc runs the external tools fpgactl drives (Verilator, its
// compiler, yosys, iverilog) so that cancelling fpgactl stops them and
// everything they started.
package proc

import (
	"context"
	"errors"
	"io"
	"os/exec"
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
	runCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(runCtx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// Negative pid: the whole process group.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
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
