package boardcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/fpgactl/fpgactl/internal/atomicfile"
	"github.com/fpgactl/fpgactl/internal/flock"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/regsrv"
	"github.com/fpgactl/fpgactl/tests/harness/replay"
	"github.com/spf13/cobra"
)

// DefaultStateDir holds the emulated boards' PID files, logs, sockets and
// running "bitstreams" on a lab host.
const DefaultStateDir = "/run/fpgactl"

// ProgramOptions of `fpgactl board program`.
type ProgramOptions struct {
	Factory   *cmdutil.Factory
	Board     string
	Bitstream string
	// Control is the register socket (default <state-dir>/<board>.sock).
	Control string
	// In and Out are the interfaces the board bridges (default: those of
	// the board's previous programming).
	In, Out string
	Netns   string
	// Width must match the bitstream's when set.
	Width    int
	StateDir string
	// Timeout bounds the wait for the board's registers to answer.
	Timeout time.Duration
	// Executable is the fpgactl that runs `board sim` (default: this one).
	Executable string
}

// ProgramState is <state-dir>/<board>.json, what was programmed last; also
// what `board program --output json` prints.
type ProgramState struct {
	Board string `json:"board"`
	// Bitstream is the copy the board runs; Source the file given.
	Bitstream    string        `json:"bitstream"`
	Source       string        `json:"source"`
	SHA256       string        `json:"sha256"`
	PID          int           `json:"pid"`
	Control      string        `json:"control"`
	In           string        `json:"in"`
	Out          string        `json:"out"`
	Netns        string        `json:"netns,omitempty"`
	Log          string        `json:"log"`
	Device       replay.Device `json:"device"`
	ProgrammedAt time.Time     `json:"programmed_at"`
	Seconds      float64       `json:"seconds"`
}

var boardNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// NewCmdProgram builds `fpgactl board program`.
func NewCmdProgram(f *cmdutil.Factory, runF func(context.Context, *ProgramOptions) error) *cobra.Command {
	opts := &ProgramOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "program --board NAME --bitstream FILE [--control SOCKET] [--in IFACE --out IFACE]",
		Short: "Program an emulated lab board: (re)start its simulated board from a bitstream",
		Long: `The programming command of an emulated lab board, run on the lab host (the
inventory's program: line, through SSH). The "bitstream" of the emulated lab
is a simulated board's executable ('fpgactl board build --out FILE').

program stops the board process previously started for --board (its PID
file is in --state-dir), copies the bitstream next to it, starts 'fpgactl
board sim --binary' on it detached (own session, output appended to
<state-dir>/<board>.log), waits until the board's register socket answers
and the filter identifies itself (ID, CONFIG, GEOMETRY registers), and
exits 0. Re-programming replaces the running board. Errors say which of
these failed, with the end of the board's log.

--in, --out, --control and --netns default to those of the board's previous
programming (<state-dir>/<board>.json); --control otherwise to
<state-dir>/<board>.sock.`,
		Example: `  fpgactl board program --board b10g-1 --bitstream board-w64.bin --in b0 --out b1
  fpgactl board program --board b10g-1 --bitstream /tmp/run/board.bin --control /run/fpgactl/b10g-1.sock`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !boardNameRe.MatchString(opts.Board) {
				return cmdutil.FlagErrorf("--board %q: give the board's name (letters, digits, '.', '_', '-')", opts.Board)
			}
			if opts.Bitstream == "" {
				return cmdutil.FlagErrorf("--bitstream is required")
			}
			if (opts.In == "") != (opts.Out == "") {
				return cmdutil.FlagErrorf("give both --in and --out, or neither (then the previous programming's are used)")
			}
			if opts.In != "" && opts.In == opts.Out {
				return cmdutil.FlagErrorf("--in and --out are the same interface %q", opts.In)
			}
			if opts.Width != 0 {
				if err := cmdutil.ValidateWidths([]int{opts.Width}); err != nil {
					return err
				}
			}
			if opts.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			st, err := Program(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if f.JSON() {
				return cmdutil.PrintJSON(f.IO.Out, st)
			}
			d := st.Device
			fmt.Fprintf(f.IO.Out, "%s programmed in %.1fs: DATA_WIDTH %d, %d rules, MAX_FRAME_BYTES %d; %s -> %s, registers on %s, pid %d, log %s\n",
				st.Board, st.Seconds, d.DataWidth, d.NumRules, d.MaxFrameBytes, st.In, st.Out, st.Control, st.PID, st.Log)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Board, "board", "", "the board's name (names its PID file, log and default socket)")
	fl.StringVar(&opts.Bitstream, "bitstream", "", "the simulated board executable to program (from 'fpgactl board build')")
	fl.StringVar(&opts.Control, "control", "", "Unix socket of the board's register access (default <state-dir>/<board>.sock)")
	fl.StringVar(&opts.In, "in", "", "interface the board takes frames from")
	fl.StringVar(&opts.Out, "out", "", "interface the board sends passed frames on")
	fl.StringVar(&opts.Netns, "netns", "", "network namespace holding both interfaces (default: this process's)")
	fl.IntVar(&opts.Width, "width", 0, "expected data width of the bitstream: 64 or 512 (default: whatever it is)")
	fl.StringVar(&opts.StateDir, "state-dir", DefaultStateDir, "directory of the boards' PID files, logs and running bitstreams")
	fl.DurationVar(&opts.Timeout, "timeout", time.Minute, "how long to wait for the board's registers to answer")
	return cmd
}

// boardFiles are the files of one board in the state directory.
type boardFiles struct{ pid, state, log, bitstream, lock, sock string }

func filesOf(dir, name string) boardFiles {
	p := func(ext string) string { return filepath.Join(dir, name+ext) }
	return boardFiles{p(".pid"), p(".json"), p(".log"), p(".bitstream"), p(".lock"), p(".sock")}
}

// Program (re)programs an emulated board; see NewCmdProgram.
func Program(ctx context.Context, opts *ProgramOptions) (*ProgramState, error) {
	start := time.Now()
	if opts.StateDir == "" {
		opts.StateDir = DefaultStateDir
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	exe := opts.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding this fpgactl to run the board with: %w", err)
		}
	}
	dir, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	files := filesOf(dir, opts.Board)

	// One programming of a board at a time.
	unlock, err := flock.Lock(ctx, files.lock)
	if err != nil {
		return nil, fmt.Errorf("waiting for another programming of %s to finish: %w", opts.Board, err)
	}
	defer unlock()

	st := &ProgramState{Board: opts.Board, Source: opts.Bitstream, Control: opts.Control, In: opts.In, Out: opts.Out,
		Netns: opts.Netns, Log: files.log, Bitstream: files.bitstream}
	var prev ProgramState
	if data, err := os.ReadFile(files.state); err == nil {
		_ = json.Unmarshal(data, &prev)
	}
	if st.In == "" {
		if prev.In == "" {
			return nil, fmt.Errorf("board %s: give --in and --out (the interfaces it bridges); there is no earlier programming in %s to take them from", opts.Board, dir)
		}
		st.In, st.Out = prev.In, prev.Out
		if st.Netns == "" {
			st.Netns = prev.Netns
		}
	}
	if st.Control == "" {
		st.Control = prev.Control
	}
	if st.Control == "" {
		st.Control = files.sock
	}
	if st.Control, err = filepath.Abs(st.Control); err != nil {
		return nil, err
	}
	if src, err := os.Stat(opts.Bitstream); err != nil {
		return nil, fmt.Errorf("bitstream: %w", err)
	} else if !src.Mode().IsRegular() {
		return nil, fmt.Errorf("bitstream %s is not a regular file", opts.Bitstream)
	}

	// The running board goes first: its executable is about to be replaced.
	if err := stopBoard(files); err != nil {
		return nil, fmt.Errorf("stopping the board previously programmed on %s: %w", opts.Board, err)
	}
	if st.SHA256, _, err = copyExecutable(opts.Bitstream, files.bitstream); err != nil {
		return nil, fmt.Errorf("installing the bitstream: %w", err)
	}
	os.Remove(st.Control) // a socket left by a killed board

	logf, err := os.OpenFile(files.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("board log: %w", err)
	}
	defer logf.Close()
	logStart, _ := logf.Seek(0, io.SeekEnd)
	fmt.Fprintf(logf, "=== %s: programming %s (sha256 %s) from %s\n", time.Now().UTC().Format(time.RFC3339), opts.Board, st.SHA256, opts.Bitstream)
	args := []string{"board", "sim", "--binary", files.bitstream, "--in", st.In, "--out", st.Out, "--control", st.Control}
	if st.Netns != "" {
		args = append(args, "--netns", st.Netns)
	}
	if opts.Width != 0 {
		args = append(args, "--width", strconv.Itoa(opts.Width))
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf // a file: nothing ties the board to this process
	// Its own session: it outlives this command and the SSH session that
	// ran it, and a signal to this command's process group misses it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the board (%s %s): %w", exe, strings.Join(args, " "), err)
	}
	st.PID = cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := os.WriteFile(files.pid, []byte(strconv.Itoa(st.PID)+"\n"), 0o644); err != nil {
		killGroup(st.PID)
		return nil, err
	}
	dev, err := waitRegisters(ctx, st.Control, opts.Timeout, exited)
	if err != nil {
		killGroup(st.PID)
		os.Remove(files.pid)
		return nil, fmt.Errorf("board %s did not come up: %w%s", opts.Board, err, logTail(files.log, logStart))
	}
	st.Device = dev
	st.ProgrammedAt = time.Now().UTC()
	st.Seconds = time.Since(start).Seconds()
	data, _ := json.MarshalIndent(st, "", "  ")
	if err := atomicfile.WriteFile(files.state, append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	return st, nil
}

// stopBoard stops the board named in the PID file, if it still runs and is
// a board started by program (the PID may have been reused since).
func stopBoard(files boardFiles) error {
	data, err := os.ReadFile(files.pid)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		os.Remove(files.pid)
		return nil
	}
	if !isOurBoard(pid, files.bitstream) {
		os.Remove(files.pid)
		return nil
	}
	// The board sim leads its own process group (setsid); the simulation
	// process it runs is in it too.
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	if !waitGone(pid, 5*time.Second) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		if !waitGone(pid, 5*time.Second) {
			return fmt.Errorf("process %d did not exit after SIGKILL", pid)
		}
	}
	return os.Remove(files.pid)
}

// isOurBoard reports whether pid runs `board sim --binary <bitstream>`.
func isOurBoard(pid int, bitstream string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return bytes.Contains(cmdline, []byte("\x00board\x00sim\x00")) && bytes.Contains(cmdline, []byte("\x00--binary\x00"+bitstream+"\x00"))
}

// waitGone waits until pid has exited (or is a zombie nobody reaped yet).
func waitGone(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		if !alive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// waitRegisters polls the control socket until the filter identifies
// itself, the board process exits, or the time runs out.
func waitRegisters(ctx context.Context, control string, limit time.Duration, exited <-chan error) (replay.Device, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		select {
		case err := <-exited:
			if err == nil {
				err = errors.New("exit status 0")
			}
			return replay.Device{}, fmt.Errorf("the board process exited (%v) before its registers answered on %s", err, control)
		default:
		}
		dev, err := identify(ctx, control)
		if err == nil {
			return dev, nil
		}
		last = err
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return replay.Device{}, fmt.Errorf("no answer on %s within %s (last: %v)", control, limit, last)
			}
			return replay.Device{}, ctx.Err()
		case err := <-exited:
			if err == nil {
				err = errors.New("exit status 0")
			}
			return replay.Device{}, fmt.Errorf("the board process exited (%v) before its registers answered on %s", err, control)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// identify reads ID, CONFIG and GEOMETRY through the register socket.
func identify(ctx context.Context, control string) (replay.Device, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := regsrv.Dial(ctx, control)
	if err != nil {
		return replay.Device{}, err
	}
	defer c.Close()
	var v [3]uint32
	for i, a := range []uint32{rules.RegID, rules.RegConfig, rules.RegGeometry} {
		if v[i], err = c.ReadReg(ctx, a); err != nil {
			return replay.Device{}, err
		}
	}
	if v[0] != rules.IDValue {
		return replay.Device{}, fmt.Errorf("the ID register reads 0x%08x, not 0x%08x (PFLT): not the packet filter", v[0], rules.IDValue)
	}
	return replay.Device{DataWidth: int(v[1] & 0xFFFF), NumRules: int(v[1] >> 16),
		MaxFrameBytes: int(v[2] & 0xFFFF), Latency: int(v[2] >> 16)}, nil
}

// logTail returns the board log written since offset, for an error message.
func logTail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	data, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	s := strings.TrimSpace(string(data))
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	if s == "" {
		return "; board log " + path + " is empty"
	}
	return "; board log " + path + ":\n" + s
}
