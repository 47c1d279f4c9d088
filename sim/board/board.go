// Package board is the simulated board: the whole pf_filter compiled by
// Verilator into a process (board.cpp) that exchanges frames, timestamps and
// AXI4-Lite accesses with Go over a batched binary protocol on its stdin and
// stdout (protocol.go). Builds are cached by a content hash of the sources,
// parameters, board.cpp and Verilator's version (internal/verilate).
//
// The board keeps its own clock: one cycle per bus beat at the width's clock
// (ClockHz), and drives the filter's time_ns from it. Frames are put on the
// bus at the cycle their time falls on (or as soon as the bus is free), and
// the board reports the time each frame's first beat was taken, which is the
// time the policer used; so the golden model predicts policing exactly.
package board

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"github.com/fpgactl/fpgactl/internal/atomicfile"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fpgactl/fpgactl/internal/verilate"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

//go:embed csrc/board.cpp
var boardCPP []byte

// Top is the filter's top module, which the board wraps.
const Top = "pf_filter"

// ClockHz is the bus clock of a data width: 64 bits at 156.25 MHz carry 10G
// Ethernet; wider buses run at 322.265625 MHz, the 100G MAC clock (512 bits).
func ClockHz(width int) uint64 {
	if width <= 64 {
		return 156_250_000
	}
	return 322_265_625
}

// BuildOptions say what to build.
type BuildOptions struct {
	RTL        []string       // the design's sources
	Include    []string       // include directories
	Parameters map[string]int // top-level parameters other than DATA_WIDTH (NUM_RULES, ...)
	Width      int            // DATA_WIDTH
	// WorkDir is the project's work directory; builds go to WorkDir/board.
	WorkDir   string
	Verilator string
	// Log receives Verilator's output (nil: discarded).
	Log io.Writer
}

// Build returns the board executable for opts, building it when no build
// with the same content hash exists.
func Build(ctx context.Context, opts BuildOptions) (bin string, cached bool, err error) {
	if opts.Width <= 0 {
		return "", false, errors.New("board: Width is not set")
	}
	dir := filepath.Join(opts.WorkDir, "board")
	src := filepath.Join(dir, "src", "board.cpp")
	if err := writeIfChanged(src, boardCPP); err != nil {
		return "", false, fmt.Errorf("writing board source: %w", err)
	}
	flags := []string{
		"--cc", "--exe", "--build", "-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert",
		"-Wno-fatal", "-Wno-lint", "-Wno-style", "-j", "1",
		// The generated model is compiled with -O2 instead of Verilator's -Os:
		// the board spends all its time in eval().
		"-MAKEFLAGS", "OPT_FAST=-O2 OPT_SLOW=-O1 OPT_GLOBAL=-O2",
		"-CFLAGS", fmt.Sprintf("-std=c++17 -DPFSB_DATA_WIDTH=%d", opts.Width),
		fmt.Sprintf("-GDATA_WIDTH=%d", opts.Width),
	}
	names := make([]string, 0, len(opts.Parameters))
	for k := range opts.Parameters {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		flags = append(flags, fmt.Sprintf("-G%s=%d", k, opts.Parameters[k]))
	}
	for _, inc := range opts.Include {
		flags = append(flags, "-I"+inc)
	}
	flags = append(flags, opts.RTL...)
	flags = append(flags, src)
	files := append(append([]string{}, opts.RTL...), src)
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	b := &verilate.Builder{Verilator: opts.Verilator, Dir: filepath.Join(dir, "build")}
	spec := verilate.Spec{Name: fmt.Sprintf("%s-w%d", Top, opts.Width), Top: Top, Flags: flags, Files: files, IncludeDirs: opts.Include}
	return b.Build(ctx, spec, log)
}

func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o644)
}

// Board is a running simulated board. Its methods are not for concurrent
// use, except Close.
type Board struct {
	hello  Hello
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	enc    encoder
	r      *bufio.Reader
	stderr *tailBuffer
	token  uint64

	closeOnce sync.Once
	closeErr  error
	// broken is set once the process is unusable (killed, protocol error).
	broken error
}

// StartOptions configure Start.
type StartOptions struct {
	// ClockHz is the board's clock (default ClockHz of the build's width,
	// told by the board itself).
	ClockHz uint64
	// Width is the build's DATA_WIDTH; used for the default clock.
	Width int
}

// Start runs the board executable bin.
func Start(ctx context.Context, bin string, opts StartOptions) (*Board, error) {
	hz := opts.ClockHz
	if hz == 0 {
		if opts.Width == 0 {
			return nil, errors.New("board: set StartOptions.ClockHz or Width")
		}
		hz = ClockHz(opts.Width)
	}
	cmd := exec.Command(bin, "--clock-hz", fmt.Sprint(hz))
	// A board busy simulating reads no stdin and would not notice its
	// harness dying; the kernel stops it instead.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting simulated board %s: %w", bin, err)
	}
	b := &Board{cmd: cmd, stdin: stdin, r: bufio.NewReaderSize(stdout, 1<<20), stderr: stderr}
	b.enc.w = bufio.NewWriterSize(stdin, 1<<20)
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	defer stop()
	hello, err := readHello(b.r)
	if err != nil {
		b.Close()
		return nil, b.explain(err)
	}
	b.hello = hello
	return b, nil
}

// Hello is what the board said about itself.
func (b *Board) Hello() Hello { return b.hello }

// explain adds what the board printed on stderr to err.
func (b *Board) explain(err error) error {
	if tail := strings.TrimSpace(b.stderr.String()); tail != "" {
		return fmt.Errorf("%w; simulated board stderr:\n%s", err, tail)
	}
	return err
}

// guard kills the board when ctx ends during an exchange; the board is then
// unusable, since the protocol stream is cut mid-way.
func (b *Board) guard(ctx context.Context) (stop func() bool, err error) {
	if b.broken != nil {
		return nil, b.broken
	}
	return context.AfterFunc(ctx, func() { b.cmd.Process.Kill() }), nil
}

func (b *Board) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = b.explain(errors.New("simulated board exited"))
	}
	b.broken = fmt.Errorf("simulated board is unusable after an earlier error: %w", err)
	return err
}

// next reads one reply, turning ERROR into an error.
func (b *Board) next() (reply, error) {
	rp, err := readReply(b.r)
	if err != nil {
		return rp, err
	}
	if rp.kind == repError {
		return rp, b.explain(fmt.Errorf("simulated board: %s", rp.text))
	}
	return rp, nil
}

// WriteReg does one AXI4-Lite write; a SLVERR or DECERR answer is an error.
func (b *Board) WriteReg(ctx context.Context, addr, data uint32) error {
	return b.WriteRegs(ctx, []rules.RegWrite{{Addr: addr, Data: data}})
}

// WriteRegs does the writes in order in one exchange (a whole rule table in
// one round trip).
func (b *Board) WriteRegs(ctx context.Context, writes []rules.RegWrite) error {
	stop, err := b.guard(ctx)
	if err != nil {
		return err
	}
	defer stop()
	for _, w := range writes {
		b.enc.write(w.Addr, w.Data)
	}
	if err := b.enc.w.Flush(); err != nil {
		return b.fail(ctx, err)
	}
	var first error
	for _, w := range writes {
		rp, err := b.next()
		if err != nil {
			return b.fail(ctx, err)
		}
		if rp.kind != repWrite || rp.addr != w.Addr {
			return b.fail(ctx, fmt.Errorf("simulated board answered 0x%02x to the write of 0x%05x", rp.kind, w.Addr))
		}
		if rp.resp != 0 && first == nil {
			first = fmt.Errorf("register write 0x%05x = 0x%08x answered %s (hdl/SPEC.md §6)", w.Addr, w.Data, respName(rp.resp))
		}
	}
	return first
}

// ReadReg does one AXI4-Lite read; a SLVERR or DECERR answer is an error.
func (b *Board) ReadReg(ctx context.Context, addr uint32) (uint32, error) {
	v, err := b.ReadRegs(ctx, []uint32{addr})
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// ReadRegs reads the addresses in order in one exchange.
func (b *Board) ReadRegs(ctx context.Context, addrs []uint32) ([]uint32, error) {
	stop, err := b.guard(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	for _, a := range addrs {
		b.enc.read(a)
	}
	if err := b.enc.w.Flush(); err != nil {
		return nil, b.fail(ctx, err)
	}
	out := make([]uint32, len(addrs))
	var first error
	for i, a := range addrs {
		rp, err := b.next()
		if err != nil {
			return nil, b.fail(ctx, err)
		}
		if rp.kind != repRead || rp.addr != a {
			return nil, b.fail(ctx, fmt.Errorf("simulated board answered 0x%02x to the read of 0x%05x", rp.kind, a))
		}
		if rp.resp != 0 && first == nil {
			first = fmt.Errorf("register read 0x%05x answered %s (hdl/SPEC.md §6)", a, respName(rp.resp))
		}
		out[i] = rp.data
	}
	return out, first
}

// Reset resets the whole design: rules, counters, token buckets, FIFO.
func (b *Board) Reset(ctx context.Context) error {
	stop, err := b.guard(ctx)
	if err != nil {
		return err
	}
	defer stop()
	b.enc.simple(reqReset)
	_, err = b.syncLocked(ctx, nil)
	return err
}

// SetBackpressure makes the board hold m_axis_tready low on a random fraction
// (0 ≤ f < 1) of cycles, reproducibly from seed.
func (b *Board) SetBackpressure(f float64, seed uint64) error {
	if !(f >= 0 && f < 1) { // also refuses NaN
		return fmt.Errorf("backpressure %g is outside [0, 1)", f)
	}
	if b.broken != nil {
		return b.broken
	}
	return b.enc.config(uint32(f*1e6), seed, false)
}

// syncLocked sends SYNC and reads replies until SYNCED, handing every other
// reply to on (nil: any other reply is a protocol error).
func (b *Board) syncLocked(ctx context.Context, on func(reply) error) (reply, error) {
	b.token++
	b.enc.sync(b.token)
	if err := b.enc.w.Flush(); err != nil {
		return reply{}, b.fail(ctx, err)
	}
	for {
		rp, err := b.next()
		if err != nil {
			return rp, b.fail(ctx, err)
		}
		if rp.kind == repSynced && rp.tag == b.token {
			return rp, nil
		}
		if on == nil {
			return rp, b.fail(ctx, fmt.Errorf("simulated board sent reply 0x%02x while syncing", rp.kind))
		}
		if err := on(rp); err != nil {
			return rp, b.fail(ctx, err)
		}
	}
}

// Replay puts frames on the bus at their times (relative to the first) and
// returns when every frame that will leave the filter has left.
func (b *Board) Replay(ctx context.Context, frames []target.Frame, opts target.ReplayOptions) (*target.Capture, error) {
	stop, err := b.guard(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	start := time.Now()
	capt := &target.Capture{SentTimeNS: make([]uint64, len(frames))}
	if len(frames) == 0 {
		return capt, nil
	}
	base := frames[0].TimeNS
	for i, f := range frames {
		if f.TimeNS < base {
			return nil, fmt.Errorf("frame %d is timed %d ns before the first frame; frame times must not go backwards", i, base-f.TimeNS)
		}
		if len(f.Data) == 0 || len(f.Data) > MaxFrameBytes {
			return nil, fmt.Errorf("frame %d is %d bytes; the simulated board takes 1..%d", i, len(f.Data), MaxFrameBytes)
		}
	}

	b.token++
	token := b.token
	writeErr := make(chan error, 1)
	go func() {
		b.enc.simple(reqBase)
		for i, f := range frames {
			if err := b.enc.frame(uint64(i), f.TimeNS-base, f.Data, f.MACError); err != nil {
				writeErr <- err
				return
			}
		}
		b.enc.sync(token)
		writeErr <- b.enc.w.Flush()
	}()

	sent := 0
	lastProgress := time.Now()
	for n := 0; ; n++ {
		rp, err := b.next()
		if err != nil {
			<-writeErr
			return nil, b.fail(ctx, err)
		}
		switch rp.kind {
		case repSent:
			if rp.tag >= uint64(len(frames)) {
				return nil, b.fail(ctx, fmt.Errorf("simulated board reported frame %d sent; only %d were given", rp.tag, len(frames)))
			}
			capt.SentTimeNS[rp.tag] = rp.timeNS
			sent++
		case repOut:
			capt.Received = append(capt.Received, target.Received{Data: rp.frame, TimeNS: rp.timeNS, MACError: rp.macError})
		case repSynced:
			if rp.tag != token {
				return nil, b.fail(ctx, fmt.Errorf("simulated board synced token %d, want %d", rp.tag, token))
			}
			if err := <-writeErr; err != nil {
				return nil, b.fail(ctx, err)
			}
			capt.Elapsed = time.Since(start)
			if opts.Progress != nil {
				opts.Progress(sent, len(capt.Received), len(frames))
			}
			return capt, nil
		default:
			return nil, b.fail(ctx, fmt.Errorf("simulated board sent reply 0x%02x during a replay", rp.kind))
		}
		if opts.Progress != nil && n&1023 == 0 && time.Since(lastProgress) > 100*time.Millisecond {
			lastProgress = time.Now()
			opts.Progress(sent, len(capt.Received), len(frames))
		}
	}
}

// Close stops the board.
func (b *Board) Close() error {
	b.closeOnce.Do(func() {
		if b.broken == nil {
			b.enc.simple(reqQuit)
			b.enc.w.Flush()
		}
		b.stdin.Close()
		done := make(chan error, 1)
		go func() { done <- b.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil && b.broken == nil {
				b.closeErr = b.explain(fmt.Errorf("simulated board exited: %w", err))
			}
		case <-time.After(5 * time.Second):
			b.cmd.Process.Kill()
			<-done
		}
	})
	return b.closeErr
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// Name names the board as a replay target, e.g. "sim/w64".
func (b *Board) Name() string { return fmt.Sprintf("sim/w%d", b.hello.DataWidth) }

// Caps: the board reports the times its policer used, and can send MAC errors.
func (b *Board) Caps() target.Caps { return target.Caps{ExactTime: true, MACError: true} }

// Regs is the board itself.
func (b *Board) Regs() target.Regs { return b }

var _ target.Target = (*Board)(nil)
