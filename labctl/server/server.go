// Package server is the lab reservation service: the HTTP API of
// docs/lab-api.md on top of labctl/store, the background loop that expires
// leases and reloads the inventory when its file changes, and the web page.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/inventory"
	"github.com/fpgactl/fpgactl/labctl/store"
)

// MaxBody is the largest request body accepted.
const MaxBody = 1 << 20

// SystemUser is the audit log's user for what the service does by itself
// (inventory reloads on SIGHUP or a file change).
const SystemUser = "system"

// Server is the lab service on one store and inventory file.
type Server struct {
	st      *store.Store
	invPath string
	log     *slog.Logger
	mux     *http.ServeMux

	// Tick is the longest time between two expiry checks (default 500 ms).
	Tick time.Duration
	// WatchEvery is how often the inventory file's mtime is checked (default 2 s).
	WatchEvery time.Duration

	reloadMu sync.Mutex
	fileSig  string // mtime and size of the inventory file last read (good or bad)

	reload  chan struct{}
	closing chan struct{}
	once    sync.Once
}

// New loads the inventory file, hands it to st and returns the service.
// log may be nil (no logging).
func New(ctx context.Context, st *store.Store, inventoryPath string, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{st: st, invPath: inventoryPath, log: log, Tick: 500 * time.Millisecond, WatchEvery: 2 * time.Second,
		reload: make(chan struct{}, 1), closing: make(chan struct{})}
	sig := fileSig(inventoryPath)
	inv, err := inventory.Load(inventoryPath)
	if err != nil {
		return nil, err
	}
	if err := st.SetInventory(ctx, inv, ""); err != nil {
		return nil, err
	}
	// Leases that ended while the service was down end now, before any
	// request is answered.
	if n, _, err := st.ExpireDue(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		log.Info("leases expired while the service was down", "count", n)
	}
	s.fileSig = sig
	s.routes()
	return s, nil
}

func fileSig(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "missing"
	}
	return fmt.Sprintf("%d/%d", st.ModTime().UnixNano(), st.Size())
}

// Reload re-reads the inventory file; on error the current inventory stays.
// user is recorded in the audit log.
func (s *Server) Reload(ctx context.Context, user string) (int, error) {
	return s.reloadFile(ctx, user, "admin request")
}

func (s *Server) reloadFile(ctx context.Context, user, why string) (int, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	sig := fileSig(s.invPath)
	s.fileSig = sig
	inv, err := inventory.Load(s.invPath)
	if err != nil {
		return 0, err
	}
	if err := s.st.SetInventory(ctx, inv, user); err != nil {
		return 0, err
	}
	s.log.Info("inventory reloaded", "file", s.invPath, "boards", len(inv.Boards), "by", user, "why", why)
	return len(inv.Boards), nil
}

// RequestReload makes the background loop reload the inventory (SIGHUP).
func (s *Server) RequestReload() {
	select {
	case s.reload <- struct{}{}:
	default:
	}
}

// StartShutdown ends the long-polls in progress (they answer with the
// current state) so http.Server.Shutdown does not wait for them.
func (s *Server) StartShutdown() { s.once.Do(func() { close(s.closing) }) }

// Run expires leases (and grants the boards to waiters) as they end, and
// reloads the inventory on RequestReload or when its file changes, until ctx
// is done.
func (s *Server) Run(ctx context.Context) error {
	lastWatch := time.Now()
	for {
		n, next, err := s.st.ExpireDue(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("expiring leases", "err", err)
		}
		if n > 0 {
			s.log.Info("leases expired", "count", n)
		}
		d := s.Tick
		if !next.IsZero() {
			if until := time.Until(next) + time.Millisecond; until < d {
				d = max(until, 5*time.Millisecond)
			}
		}
		if time.Since(lastWatch) >= s.WatchEvery {
			lastWatch = time.Now()
			s.reloadMu.Lock()
			changed := fileSig(s.invPath) != s.fileSig
			s.reloadMu.Unlock()
			if changed {
				s.doReload(ctx, "inventory file changed")
			}
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.reload:
			t.Stop()
			s.doReload(ctx, "SIGHUP or reload requested")
		case <-t.C:
		}
	}
}

func (s *Server) doReload(ctx context.Context, why string) {
	if _, err := s.reloadFile(ctx, SystemUser, why); err != nil {
		s.log.Error(why+"; the file has errors, the current inventory stays", "err", err)
	}
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /{$}", s.page)
	m.Handle("GET /api/v1/me", s.auth(s.me))
	m.Handle("GET /api/v1/boards", s.auth(s.boards))
	m.Handle("GET /api/v1/boards/{name}", s.auth(s.board))
	m.Handle("GET /api/v1/boards/{name}/results", s.auth(s.results))
	m.Handle("POST /api/v1/boards/{name}/results", s.auth(s.postResult))
	m.Handle("POST /api/v1/reservations", s.auth(s.reserve))
	m.Handle("GET /api/v1/reservations", s.auth(s.list))
	m.Handle("GET /api/v1/reservations/{id}", s.auth(s.get))
	m.Handle("POST /api/v1/reservations/{id}/renew", s.auth(s.renew))
	m.Handle("DELETE /api/v1/reservations/{id}", s.auth(s.release))
	m.Handle("GET /api/v1/audit", s.auth(s.audit))
	m.Handle("POST /api/v1/admin/reload", s.auth(s.adminReload))
	s.mux = m
}

// ServeHTTP answers every request; unknown paths and methods get JSON errors.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: 200}
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// 404 or 405 from the mux: keep its status and Allow header, answer JSON.
		rec := &statusWriter{ResponseWriter: discard{h: http.Header{}}, status: 200}
		h.ServeHTTP(rec, r)
		if allow := rec.Header().Get("Allow"); allow != "" {
			sw.Header().Set("Allow", allow)
		}
		msg := fmt.Sprintf("no such endpoint %s %s (see docs/lab-api.md)", r.Method, r.URL.Path)
		if rec.status == http.StatusMethodNotAllowed {
			msg = fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, rec.Header().Get("Allow"))
		}
		writeError(sw, rec.status, "", msg)
	} else {
		s.mux.ServeHTTP(sw, r)
	}
	s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "user", sw.user, "duration", time.Since(start))
}

type statusWriter struct {
	http.ResponseWriter
	status int
	user   string
}

func (w *statusWriter) WriteHeader(code int)        { w.status = code; w.ResponseWriter.WriteHeader(code) }
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

type handler func(w http.ResponseWriter, r *http.Request, u store.User) error

// auth checks the bearer token and runs h with the user; errors h returns
// are written as JSON.
func (s *Server) auth(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := bearer(r)
		var u store.User
		if err == nil {
			u, err = s.st.Authenticate(r.Context(), tok)
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fpgactl-lab"`)
			s.fail(w, r, err)
			return
		}
		if sw, ok := w.(*statusWriter); ok {
			sw.user = u.Name
		}
		if err := h(w, r, u); err != nil {
			s.fail(w, r, err)
		}
	})
}

func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", &store.Error{Status: http.StatusUnauthorized, Msg: "no token: send Authorization: Bearer TOKEN (a lab admin creates tokens with 'fpgactl lab user add NAME')"}
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", &store.Error{Status: http.StatusUnauthorized, Msg: "the Authorization header must be 'Bearer TOKEN'"}
	}
	return strings.TrimSpace(tok), nil
}

// fail writes err: a *store.Error with its status, anything else as 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *store.Error
	if errors.As(err, &se) {
		writeError(w, se.Status, se.Field, se.Msg)
		return
	}
	var re *reqError
	if errors.As(err, &re) {
		writeError(w, re.status, re.field, re.msg)
		return
	}
	if r.Context().Err() != nil {
		return // the client went away
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "", "internal error: "+err.Error())
}

func writeError(w http.ResponseWriter, status int, field, msg string) {
	writeJSON(w, status, api.ErrorBody{Error: msg, Field: field})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// reqError is a bad request found by the HTTP layer.
type reqError struct {
	status int
	field  string
	msg    string
}

func (e *reqError) Error() string { return e.msg }

func badRequest(field, format string, args ...any) error {
	return &reqError{status: http.StatusBadRequest, field: field, msg: fmt.Sprintf(format, args...)}
}

// decode reads a JSON body into v strictly: one object, known fields only,
// at most MaxBody bytes. An empty body is allowed when emptyOK.
func decode(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) error {
	body := http.MaxBytesReader(w, r.Body, MaxBody)
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &reqError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body is larger than %d bytes", MaxBody)}
		}
		return badRequest("", "reading the request body: %v", err)
	}
	if strings.TrimSpace(string(data)) == "" {
		if emptyOK {
			return nil
		}
		return badRequest("", "empty request body: send a JSON object (see docs/lab-api.md)")
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, v)
	}
	if dec.More() {
		return badRequest("", "malformed JSON: extra data after the object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("", "malformed JSON: extra data after the object")
	}
	return nil
}

func jsonError(err error, v any) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest("", "malformed JSON at byte %d: %v", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &te):
		if te.Field == "" {
			return badRequest("", "the body must be a JSON object, not %s", te.Value)
		}
		return badRequest(te.Field, "%s must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return badRequest(f, "unknown field %q (allowed: %s)", f, strings.Join(jsonFields(v), ", "))
	}
	return badRequest("", "malformed JSON: %v", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "a number"
	case k == "bool":
		return "true or false"
	case k == "string":
		return "a string"
	}
	return "a " + k
}

// pathID parses the {id} of the path.
func pathID(r *http.Request) (int64, error) {
	v := r.PathValue("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, &reqError{status: http.StatusNotFound, field: "id", msg: fmt.Sprintf("no reservation %q: ids are positive integers", v)}
	}
	return id, nil
}

// queryInt parses an optional integer query parameter.
func queryInt(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, badRequest(name, "%s=%q is not an integer", name, v)
	}
	return n, nil
}

func checkQuery(r *http.Request, allowed ...string) error {
	for k := range r.URL.Query() {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return badRequest(k, "unknown query parameter %q (this endpoint takes none)", k)
			}
			return badRequest(k, "unknown query parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}
