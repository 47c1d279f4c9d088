package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/store"
)

// jsonFields lists the JSON names of the fields of the struct v points to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.st.Boards(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "error", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "boards": len(s.st.Inventory().Boards)})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.User{Name: u.Name, Admin: u.Admin})
	return nil
}

func (s *Server) boards(w http.ResponseWriter, r *http.Request, _ store.User) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	bs, err := s.st.Boards(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bs)
	return nil
}

func (s *Server) board(w http.ResponseWriter, r *http.Request, _ store.User) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	b, err := s.st.Board(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

// resultRequest is the body of POST /api/v1/boards/{name}/results: the
// fields of api.Result a client sends.
type resultRequest struct {
	Reservation     int64           `json:"reservation"`
	Passed          bool            `json:"passed"`
	Frames          int64           `json:"frames"`
	Mismatches      int64           `json:"mismatches"`
	Summary         string          `json:"summary"`
	BitstreamSHA256 string          `json:"bitstream_sha256"`
	Report          json.RawMessage `json:"report"`
}

func (s *Server) postResult(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	var req resultRequest
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	id, err := s.st.AddResult(r.Context(), u, r.PathValue("name"), api.Result{Reservation: req.Reservation, Passed: req.Passed,
		Frames: req.Frames, Mismatches: req.Mismatches, Summary: req.Summary, BitstreamSHA256: req.BitstreamSHA256, Report: req.Report})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, api.IDResponse{ID: id})
	return nil
}

func (s *Server) results(w http.ResponseWriter, r *http.Request, _ store.User) error {
	if err := checkQuery(r, "limit"); err != nil {
		return err
	}
	n, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	if n, err = store.ListLimit(n, store.DefaultResults); err != nil {
		return err
	}
	rs, err := s.st.Results(r.Context(), r.PathValue("name"), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rs)
	return nil
}

func (s *Server) reserve(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	var req api.ReserveRequest
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	res, err := s.st.Reserve(r.Context(), u, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/reservations/%d", res.ID))
	writeJSON(w, http.StatusCreated, res)
	return nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := checkQuery(r, "all", "mine"); err != nil {
		return err
	}
	all, err := queryBool(r, "all")
	if err != nil {
		return err
	}
	mine, err := queryBool(r, "mine")
	if err != nil {
		return err
	}
	user := ""
	if mine {
		user = u.Name
	}
	rs, err := s.st.List(r.Context(), user, all)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rs)
	return nil
}

func queryBool(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, badRequest(name, "%s=%q: use 1 or 0", name, v)
	}
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, _ store.User) error {
	if err := checkQuery(r, "wait"); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil {
			secs, aerr := parseSeconds(v)
			if aerr != nil {
				return badRequest("wait", "wait=%q is not a duration (example: wait=30s)", v)
			}
			wait = secs
		}
		if wait < 0 || wait > api.MaxWait {
			return badRequest("wait", "wait=%s is out of range: use 0s..%s", v, api.MaxWait)
		}
	}
	res, err := s.st.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if res.Status == api.StatusQueued && wait > 0 {
		// Hold the answer until the status changes or the wait ends; only
		// the status is read on each change, the whole answer once at the end.
		deadline := time.NewTimer(wait)
		defer deadline.Stop()
	poll:
		for {
			changed := s.st.Changed()
			st, err := s.st.Status(r.Context(), id)
			if err != nil {
				return err
			}
			if st != api.StatusQueued {
				break
			}
			select {
			case <-changed:
			case <-deadline.C:
				break poll
			case <-s.closing:
				break poll
			case <-r.Context().Done():
				return r.Context().Err()
			}
		}
		if res, err = s.st.Get(r.Context(), id); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func parseSeconds(v string) (time.Duration, error) {
	var n int
	if _, err := fmt.Sscanf(v, "%d", &n); err != nil || fmt.Sprint(n) != v {
		return 0, fmt.Errorf("not seconds")
	}
	return time.Duration(n) * time.Second, nil
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req api.RenewRequest
	if err := decode(w, r, &req, true); err != nil {
		return err
	}
	res, err := s.st.Renew(r.Context(), u, id, req.TTLSeconds)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) release(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := checkQuery(r, "reason"); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	res, err := s.st.Release(r.Context(), u, id, r.URL.Query().Get("reason"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, _ store.User) error {
	if err := checkQuery(r, "limit", "board"); err != nil {
		return err
	}
	n, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	if n, err = store.ListLimit(n, store.DefaultAudit); err != nil {
		return err
	}
	es, err := s.st.Audit(r.Context(), r.URL.Query().Get("board"), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, es)
	return nil
}

func (s *Server) adminReload(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	if !u.Admin {
		return &store.Error{Status: http.StatusForbidden, Msg: "reloading the inventory needs a lab admin's token ('fpgactl lab user add NAME --admin')"}
	}
	if err := decode(w, r, &struct{}{}, true); err != nil {
		return err
	}
	n, err := s.Reload(r.Context(), u.Name)
	if err != nil {
		if _, ok := err.(*store.Error); !ok {
			return &reqError{status: http.StatusInternalServerError, field: "inventory", msg: "the inventory file has errors, the current inventory stays in effect: " + err.Error()}
		}
		return err
	}
	writeJSON(w, http.StatusOK, api.ReloadResponse{Boards: n})
	return nil
}
