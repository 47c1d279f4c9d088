package regsrv

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	slvErrAddr = 0x01000 // writes answered SLVERR, with the address in the message
	decErrAddr = 0x02000 // writes answered DECERR, message without the address
	slowAddr   = 0x03000 // reads block until their context ends
)

// memRegs is a register file in a map, standing in for a device; it fails
// the test if the server ever calls it concurrently.
type memRegs struct {
	t        *testing.T
	mu       sync.Mutex
	regs     map[uint32]uint32
	inFlight atomic.Int32
}

func (m *memRegs) enter() func() {
	if m.inFlight.Add(1) != 1 {
		m.t.Error("regs called concurrently")
	}
	return func() { m.inFlight.Add(-1) }
}

func (m *memRegs) WriteReg(ctx context.Context, addr, data uint32) error {
	defer m.enter()()
	switch addr {
	case slvErrAddr:
		return fmt.Errorf("register write 0x%05x = 0x%08x answered SLVERR (hdl/SPEC.md §6)", addr, data)
	case decErrAddr:
		return errors.New("answered DECERR")
	}
	m.mu.Lock()
	m.regs[addr] = data
	m.mu.Unlock()
	return nil
}

func (m *memRegs) ReadReg(ctx context.Context, addr uint32) (uint32, error) {
	defer m.enter()()
	if addr == slowAddr {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.regs[addr], nil
}

// startServer serves a fresh memRegs on a new socket; it stops when the
// test ends and checks that Serve returned nil.
func startServer(t *testing.T) (path string, stop func()) {
	t.Helper()
	// Not t.TempDir: a Unix socket path must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "regsrv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path = filepath.Join(dir, "regs.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, &memRegs{t: t, regs: map[uint32]uint32{}}) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Serve did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return path, stop
}

func dial(t *testing.T, path string) *Client {
	t.Helper()
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestReadWrite(t *testing.T) {
	path, _ := startServer(t)
	c := dial(t, path)
	ctx := context.Background()
	if err := c.WriteReg(ctx, 0x10, 0xdeadbeef); err != nil {
		t.Fatal(err)
	}
	if v, err := c.ReadReg(ctx, 0x10); err != nil || v != 0xdeadbeef {
		t.Fatalf("ReadReg = %#x, %v; want 0xdeadbeef", v, err)
	}
	if v, err := c.ReadReg(ctx, 0x14); err != nil || v != 0 {
		t.Fatalf("ReadReg of an unwritten register = %#x, %v; want 0", v, err)
	}
}

func TestDeviceErrorsNameTheAddress(t *testing.T) {
	path, _ := startServer(t)
	c := dial(t, path)
	ctx := context.Background()

	err := c.WriteReg(ctx, slvErrAddr, 1)
	var re *RemoteError
	if !errors.As(err, &re) || re.Addr != slvErrAddr || re.Op != "write" {
		t.Fatalf("SLVERR write: err = %#v, want a *RemoteError for 0x%05x", err, slvErrAddr)
	}
	if msg := err.Error(); strings.Count(msg, "0x01000") != 1 || !strings.Contains(msg, "SLVERR") || !strings.Contains(msg, path) {
		t.Errorf("SLVERR write: %q, want the address once, SLVERR and the socket", msg)
	}

	err = c.WriteReg(ctx, decErrAddr, 2)
	if err == nil || !strings.Contains(err.Error(), "register write 0x02000 = 0x00000002") || !strings.Contains(err.Error(), "DECERR") {
		t.Errorf("DECERR write: %v, want the address, data and DECERR", err)
	}

	// A device error leaves the connection usable.
	if err := c.WriteReg(ctx, 0x20, 5); err != nil {
		t.Errorf("write after a device error: %v", err)
	}
}

// rawExchange sends one line on a fresh connection and returns the
// response line and whether the server then closed the connection.
func rawExchange(t *testing.T, path, line string) (response, bool) {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, line); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(line, "\n") {
		conn.(*net.UnixConn).CloseWrite()
	}
	r := bufio.NewReader(conn)
	got, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("%q: reading the response: %v", line, err)
	}
	var resp response
	if err := json.Unmarshal(got, &resp); err != nil {
		t.Fatalf("%q: response %q: %v", line, got, err)
	}
	// A server closing with our excess bytes unread resets the connection;
	// one that keeps it open sends nothing more, so the read times out.
	conn.SetDeadline(time.Now().Add(200 * time.Millisecond))
	_, err = r.ReadByte()
	return resp, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

func TestMalformedRequests(t *testing.T) {
	path, _ := startServer(t)
	for _, line := range []string{
		"garbage\n",
		"{}\n",
		`{"op":"read"}` + "\n",
		`{"op":"erase","addr":1}` + "\n",
		`{"op":"write","addr":1}` + "\n",
		`{"op":"read","addr":1,"data":2}` + "\n",
		`{"op":"read","addr":-1}` + "\n",
		`{"op":"read","addr":4294967296}` + "\n",
		`{"op":"read","addr":1,"colour":"red"}` + "\n",
		`{"op":"read","addr":1}{"op":"read","addr":2}` + "\n",
		`{"op":"read","addr":1,"timeout_ms":-5}` + "\n",
		`{"op":"read","addr":1,"pad":"` + strings.Repeat("x", MaxLine) + `"}` + "\n",
	} {
		resp, closed := rawExchange(t, path, line)
		if !strings.HasPrefix(resp.Error, "malformed request: ") || resp.Value != nil {
			t.Errorf("%.60q: response %+v, want a malformed-request error", line, resp)
		}
		if !closed {
			t.Errorf("%.60q: connection left open", line)
		}
	}
	// A request cut off by the client's end of stream is malformed too.
	resp, closed := rawExchange(t, path, `{"op":"read","addr":1}`)
	if !strings.Contains(resp.Error, "newline") || !closed {
		t.Errorf("unterminated line: %+v, closed %v", resp, closed)
	}
	// A well-formed request by hand, and the server is still serving.
	resp, closed = rawExchange(t, path, `{"id":7,"op":"read","addr":16}`+"\n")
	if resp.ID != 7 || resp.Error != "" || resp.Value == nil || closed {
		t.Errorf("good request after bad ones: %+v, closed %v", resp, closed)
	}
	c := dial(t, path)
	if err := c.WriteReg(context.Background(), 1, 1); err != nil {
		t.Errorf("client after malformed requests: %v", err)
	}
}

func TestConcurrentClients(t *testing.T) {
	path, _ := startServer(t)
	const clients, ops = 8, 200
	var wg sync.WaitGroup
	for k := range clients {
		c := dial(t, path)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := range ops {
				addr, data := uint32(0x100000|k<<12|i<<2), uint32(k*1_000_000+i)
				if err := c.WriteReg(ctx, addr, data); err != nil {
					t.Errorf("client %d: %v", k, err)
					return
				}
				if v, err := c.ReadReg(ctx, addr); err != nil || v != data {
					t.Errorf("client %d: ReadReg(%#x) = %d, %v; want %d", k, addr, v, err, data)
					return
				}
			}
		}()
	}
	// One Client shared by several goroutines is fine too.
	shared := dial(t, path)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ops {
				addr := uint32(0x80000 | g<<8 | i)
				if err := shared.WriteReg(context.Background(), addr, uint32(i)); err != nil {
					t.Errorf("shared client: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestClientDeadline(t *testing.T) {
	path, _ := startServer(t)
	c := dial(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ReadReg(ctx, slowAddr)
	if err == nil || !strings.Contains(err.Error(), "0x03000") {
		t.Fatalf("slow read: err = %v, want one naming the address", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("slow read returned after %v", d)
	}
	// Either the server's copy of the deadline (timeout_ms) answered first,
	// and the connection is still good, or the client gave up first, and
	// later calls say to redial.
	var re *RemoteError
	err2 := c.WriteReg(context.Background(), 1, 1)
	if errors.As(err, &re) {
		if err2 != nil {
			t.Errorf("the server answered the timed-out read, yet the next call failed: %v", err2)
		}
	} else if err2 == nil || !strings.Contains(err2.Error(), "Dial again") {
		t.Errorf("call after a cancelled one: %v", err2)
	}
	// timeout_ms ended the access on the server too, so others get through.
	other := dial(t, path)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	if err := other.WriteReg(ctx2, 1, 1); err != nil {
		t.Errorf("other client after the slow read: %v", err)
	}
}

func TestServeStops(t *testing.T) {
	path, stop := startServer(t)
	c := dial(t, path)
	if err := c.WriteReg(context.Background(), 1, 1); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := c.WriteReg(context.Background(), 1, 2); err == nil {
		t.Error("write after the server stopped succeeded")
	}
	if _, err := Dial(context.Background(), path); err == nil {
		t.Error("Dial after the server stopped succeeded")
	}
}

func TestDialMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.sock")
	_, err := Dial(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "running") {
		t.Errorf("Dial of a missing socket: %v", err)
	}
}

func TestCloseDuringCall(t *testing.T) {
	path, _ := startServer(t)
	c := dial(t, path)
	done := make(chan error, 1)
	go func() {
		_, err := c.ReadReg(context.Background(), slowAddr) // no deadline
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("call in progress succeeded after Close")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not end the call in progress")
	}
}
