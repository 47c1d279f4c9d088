// Package regsrv gives other processes register access to a device one
// process holds: a simulated board bridged to veth interfaces serves its
// registers on a Unix socket, and the harness (or an operator's fpgactl)
// loads rules and reads counters through it while traffic flows on the
// interfaces.
//
// # Wire format
//
// JSON lines: the client writes one request object per line, the server
// answers each with one response object per line, in order. A line is at
// most 1024 bytes.
//
//	{"id":1,"op":"write","addr":16,"data":305419896,"timeout_ms":2000}
//	{"id":1}
//	{"id":2,"op":"read","addr":16}
//	{"id":2,"value":305419896}
//	{"id":3,"op":"write","addr":4096,"data":1}
//	{"id":3,"error":"register write 0x01000 = 0x00000001 answered SLVERR"}
//
// id is echoed so a client can tell a response from a stale one; addr, data
// and value are unsigned 32-bit numbers; timeout_ms (optional) bounds the
// register access on the server, so a client's deadline holds there too.
// A request that is not one well-formed object of this shape gets
// {"id":0,"error":"malformed request: ..."} and the connection is closed;
// the server keeps serving everyone else.
//
// JSON rather than binary because register traffic is a few hundred
// accesses per rule load, and a line can be typed by hand (socat) to poke a
// board.
package regsrv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/tests/harness/target"
)

// MaxLine is the longest request or response line, newline included.
const MaxLine = 1024

// maxTimeout caps timeout_ms, so a huge value cannot overflow a Duration.
const maxTimeout = 24 * time.Hour

type request struct {
	ID        uint64  `json:"id"`
	Op        string  `json:"op"`
	Addr      *uint32 `json:"addr"`
	Data      *uint32 `json:"data,omitempty"`
	TimeoutMS int64   `json:"timeout_ms,omitempty"`
}

type response struct {
	ID    uint64  `json:"id"`
	Value *uint32 `json:"value,omitempty"`
	Error string  `json:"error,omitempty"`
}

// Serve answers register requests from clients accepted on l until ctx
// ends, then closes l and every connection and returns nil once all are
// done. Calls to regs are made one at a time, so regs need not be safe for
// concurrent use; clients are served concurrently otherwise.
func Serve(ctx context.Context, l net.Listener, regs target.Regs) error {
	s := &server{regs: regs, sem: make(chan struct{}, 1), conns: map[net.Conn]struct{}{}}
	shutdown := func() {
		l.Close()
		s.closeAll()
	}
	stop := context.AfterFunc(ctx, shutdown)
	defer stop()
	for {
		c, err := l.Accept()
		if err != nil {
			shutdown()
			s.wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accepting register clients on %s: %w", l.Addr(), err)
		}
		if !s.track(c) {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.handle(ctx, c)
		}()
	}
}

type server struct {
	regs target.Regs
	// sem serializes register access; a channel so waiting for it obeys
	// the request's deadline.
	sem chan struct{}
	wg  sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (s *server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
}

func (s *server) handle(ctx context.Context, c net.Conn) {
	r := bufio.NewReaderSize(c, MaxLine)
	w := bufio.NewWriter(c)
	for {
		line, err := readLine(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				// A line too long or cut short: say so, then hang up.
				writeResponse(w, response{Error: "malformed request: " + err.Error()})
			}
			return
		}
		req, err := parseRequest(line)
		if err != nil {
			writeResponse(w, response{Error: "malformed request: " + err.Error()})
			return
		}
		if writeResponse(w, s.do(ctx, req)) != nil {
			return
		}
	}
}

func (s *server) do(ctx context.Context, req request) response {
	if req.TimeoutMS > 0 {
		var cancel context.CancelFunc
		ms := min(req.TimeoutMS, int64(maxTimeout/time.Millisecond))
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	resp := response{ID: req.ID}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		resp.Error = fmt.Sprintf("register %s 0x%05x: waited for other clients' accesses: %v", req.Op, *req.Addr, ctx.Err())
		return resp
	}
	switch req.Op {
	case "write":
		if err := s.regs.WriteReg(ctx, *req.Addr, *req.Data); err != nil {
			resp.Error = err.Error()
		}
	case "read":
		v, err := s.regs.ReadReg(ctx, *req.Addr)
		if err != nil {
			resp.Error = err.Error()
		} else {
			resp.Value = &v
		}
	}
	return resp
}

// readLine returns one line without its newline. A line longer than
// MaxLine, or one the peer cut off with EOF, is an error.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case err == nil:
		return line[:len(line)-1], nil
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("line longer than %d bytes", MaxLine)
	case errors.Is(err, io.EOF) && len(line) > 0:
		return nil, errors.New("line not terminated by a newline")
	}
	return nil, err
}

func parseRequest(line []byte) (request, error) {
	var req request
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	if err := d.Decode(&req); err != nil {
		return req, err
	}
	if d.More() {
		return req, errors.New("more than one JSON value on the line")
	}
	if req.Addr == nil {
		return req, errors.New(`"addr" is missing`)
	}
	switch req.Op {
	case "write":
		if req.Data == nil {
			return req, errors.New(`"data" is missing from a write`)
		}
	case "read":
		if req.Data != nil {
			return req, errors.New(`a read has no "data"`)
		}
	default:
		return req, fmt.Errorf(`"op" is %q; want "read" or "write"`, req.Op)
	}
	if req.TimeoutMS < 0 {
		return req, errors.New(`"timeout_ms" is negative`)
	}
	return req, nil
}

func writeResponse(w *bufio.Writer, resp response) error {
	b, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	// Long device errors are cut rather than breaking the client's reader.
	for msg := resp.Error; len(b)+1 > MaxLine && msg != ""; {
		msg = strings.ToValidUTF8(msg[:len(msg)-min(len(msg), len(b)+1-MaxLine+3)], "")
		resp.Error = msg + "..."
		if b, err = json.Marshal(resp); err != nil {
			return err
		}
	}
	w.Write(b)
	w.WriteByte('\n')
	return w.Flush()
}

// RemoteError is a register access the server answered with an error,
// such as a write the device answered SLVERR or DECERR.
type RemoteError struct {
	Op   string // "read" or "write"
	Addr uint32
	Data uint32 // for writes
	Path string // the server's socket
	Msg  string // the server's error
}

func (e *RemoteError) Error() string {
	// The device's own message usually names the address already.
	if strings.Contains(e.Msg, fmt.Sprintf("0x%05x", e.Addr)) {
		return fmt.Sprintf("%s (register server %s)", e.Msg, e.Path)
	}
	if e.Op == "write" {
		return fmt.Sprintf("register write 0x%05x = 0x%08x via %s: %s", e.Addr, e.Data, e.Path, e.Msg)
	}
	return fmt.Sprintf("register read 0x%05x via %s: %s", e.Addr, e.Path, e.Msg)
}

// Client is register access through a server started with Serve. It is
// safe for concurrent use; requests go one at a time. After an I/O error
// or a cancelled request the connection's state is unknown, so every later
// call fails: Dial again. Give calls a deadline: the server learns it
// (timeout_ms) and gives up too, whereas an access cancelled without one
// runs on the server until the device answers.
type Client struct {
	path string
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	id   uint64
	err  error // set once the connection is unusable
}

var _ target.Regs = (*Client)(nil)

// Dial connects to the register server listening on the Unix socket path.
func Dial(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connecting to the register server at %s: %w; is the device process running?", path, err)
	}
	return &Client{path: path, conn: conn, r: bufio.NewReaderSize(conn, MaxLine), w: bufio.NewWriter(conn)}, nil
}

// WriteReg writes data to the register at addr.
func (c *Client) WriteReg(ctx context.Context, addr, data uint32) error {
	_, err := c.roundTrip(ctx, request{Op: "write", Addr: &addr, Data: &data})
	return err
}

// ReadReg reads the register at addr.
func (c *Client) ReadReg(ctx context.Context, addr uint32) (uint32, error) {
	return c.roundTrip(ctx, request{Op: "read", Addr: &addr})
}

// Close closes the connection; a call in progress fails.
func (c *Client) Close() error {
	// Before taking the lock, which a call waiting on the server holds.
	err := c.conn.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = errors.New("client closed")
	}
	return err
}

func (c *Client) roundTrip(ctx context.Context, req request) (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	what := fmt.Sprintf("register %s 0x%05x via %s", req.Op, *req.Addr, c.path)
	if c.err != nil {
		return 0, fmt.Errorf("%s: connection unusable after an earlier error (%v); Dial again", what, c.err)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	c.id++
	req.ID = c.id
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		req.TimeoutMS = max(1, time.Until(deadline).Milliseconds())
	}
	c.conn.SetDeadline(deadline) // zero = none

	// Cancelling ctx interrupts the I/O below by moving the deadline to the past.
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.conn.SetDeadline(time.Unix(1, 0))
		close(interrupted)
	})
	resp, err := c.exchange(req)
	if !stop() {
		<-interrupted
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		c.err = err
		c.conn.Close()
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if resp.Error != "" {
		re := &RemoteError{Op: req.Op, Addr: *req.Addr, Path: c.path, Msg: resp.Error}
		if req.Data != nil {
			re.Data = *req.Data
		}
		return 0, re
	}
	if req.Op == "read" {
		if resp.Value == nil {
			c.err = errors.New("read response without a value")
			c.conn.Close()
			return 0, fmt.Errorf("%s: %w", what, c.err)
		}
		return *resp.Value, nil
	}
	return 0, nil
}

func (c *Client) exchange(req request) (response, error) {
	var resp response
	b, err := json.Marshal(req)
	if err != nil {
		return resp, err
	}
	c.w.Write(b)
	c.w.WriteByte('\n')
	if err := c.w.Flush(); err != nil {
		return resp, err
	}
	line, err := readLine(c.r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return resp, errors.New("server closed the connection")
		}
		return resp, err
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return resp, fmt.Errorf("bad response %q: %w", line, err)
	}
	if resp.ID != req.ID {
		// The server hung up on a request it could not parse (id 0).
		if resp.ID == 0 && resp.Error != "" {
			return resp, fmt.Errorf("server rejected the request: %s", resp.Error)
		}
		return resp, fmt.Errorf("response to request %d while waiting for %d", resp.ID, req.ID)
	}
	return resp, nil
}
