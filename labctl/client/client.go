// Package client is the Go client of the lab reservation service
// (docs/lab-api.md). Every method takes a context; answers that are not 2xx
// become *APIError, network failures an error naming the URL. The token is
// only ever sent in the Authorization header, never logged or put in errors.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fpgactl/fpgactl/labctl/api"
)

// Client talks to one lab service with one user's token.
type Client struct {
	base  *url.URL
	err   error // a bad base URL, reported by every call
	token string
	// HTTP is the http.Client used; its Timeout must be 0 or longer than
	// the long-poll (Wait uses ?wait=30s).
	HTTP *http.Client
	// WaitPoll is the long-poll asked of the server by Wait (default 30 s).
	WaitPoll time.Duration
	// OnWait, when set, is called by Wait with the reservation after each poll
	// that is still queued (for "queued at position N" progress).
	OnWait func(api.Reservation)
}

// New returns a client of the service at baseURL (e.g. http://lab:8470)
// authenticating with token.
func New(baseURL, token string) *Client {
	c := &Client{token: token, HTTP: &http.Client{}, WaitPoll: 30 * time.Second}
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(baseURL), "/"))
	switch {
	case baseURL == "":
		c.err = errors.New("no lab service URL: set lab.url in fpgactl.yaml or pass --url")
	case err != nil:
		c.err = fmt.Errorf("lab service URL %q: %v", baseURL, err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		c.err = fmt.Errorf("lab service URL %q must look like http://HOST:PORT", baseURL)
	}
	c.base = u
	return c
}

// APIError is an answer of the service that is not 2xx.
type APIError struct {
	Status  int
	Message string
	Field   string
	// Method and URL of the request (without the token, which is never in a URL).
	Method, URL string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("lab service: %s (HTTP %d)", msg, e.Status)
	switch e.Status {
	case http.StatusUnauthorized:
		s += "; check the token ($FPGACTL_LAB_TOKEN or ~/.config/fpgactl/lab-token): a lab admin creates one with 'fpgactl lab user add NAME'"
	case http.StatusForbidden:
		s += "; only the holder of the reservation (or a lab admin) may do this"
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		s += "; the service is busy or restarting, try again"
	}
	return s
}

// IsStatus reports whether err is an *APIError with the given HTTP status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// do sends a request with an optional JSON body and decodes a JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	if c.err != nil {
		return c.err
	}
	u := *c.base
	u.Path = c.base.Path + path
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request to %s: %w", u.String(), err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("lab service request %s %s: %w", method, u.String(), err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// *url.Error names the method and URL; the token is in a header only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("lab service at %s is not reachable (%s %s): %v; is 'fpgactl lab serve' running there, and is lab.url in fpgactl.yaml right?", c.base.String(), method, u.String(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("lab service %s %s: reading the answer: %v", method, u.String(), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &APIError{Status: resp.StatusCode, Method: method, URL: u.String()}
		var eb api.ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			ae.Message, ae.Field = eb.Error, eb.Field
		} else {
			ae.Message = strings.TrimSpace(string(data))
			if len(ae.Message) > 200 {
				ae.Message = ae.Message[:200] + "…"
			}
		}
		return ae
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("lab service %s %s: answer is not the expected JSON (%v); is %s a lab service?", method, u.String(), err, c.base.String())
	}
	return nil
}

// Boards lists every board with holder, queue length and last test.
func (c *Client) Boards(ctx context.Context) ([]api.Board, error) {
	var bs []api.Board
	err := c.do(ctx, http.MethodGet, "/api/v1/boards", nil, nil, &bs)
	return bs, err
}

// Board returns one board (a 404 *APIError if there is none of that name).
func (c *Client) Board(ctx context.Context, name string) (api.Board, error) {
	var b api.Board
	err := c.do(ctx, http.MethodGet, "/api/v1/boards/"+url.PathEscape(name), nil, nil, &b)
	return b, err
}

// Reserve asks for a board (or any board with a tag). The answer is granted,
// or queued when req.Wait is true; a busy board with Wait false is a 409 *APIError.
func (c *Client) Reserve(ctx context.Context, req api.ReserveRequest) (api.Reservation, error) {
	var r api.Reservation
	err := c.do(ctx, http.MethodPost, "/api/v1/reservations", nil, req, &r)
	return r, err
}

// Get returns one reservation.
func (c *Client) Get(ctx context.Context, id int64) (api.Reservation, error) {
	var r api.Reservation
	err := c.do(ctx, http.MethodGet, resPath(id), nil, nil, &r)
	return r, err
}

// Wait long-polls a reservation until it is no longer queued (granted or
// ended) or ctx is done (then it returns ctx.Err() and the last answer).
func (c *Client) Wait(ctx context.Context, id int64) (api.Reservation, error) {
	poll := c.WaitPoll
	if poll <= 0 || poll > api.MaxWait {
		poll = 30 * time.Second
	}
	q := url.Values{"wait": {poll.String()}}
	var last api.Reservation
	for {
		var r api.Reservation
		if err := c.do(ctx, http.MethodGet, resPath(id), q, nil, &r); err != nil {
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			return last, err
		}
		last = r
		if r.Status != api.StatusQueued {
			return r, nil
		}
		if c.OnWait != nil {
			c.OnWait(r)
		}
		if err := ctx.Err(); err != nil {
			return last, err
		}
	}
}

// Renew sets the lease of a granted reservation to now + ttl (0: the default, 1 h).
func (c *Client) Renew(ctx context.Context, id int64, ttl time.Duration) (api.Reservation, error) {
	var body api.RenewRequest
	if ttl != 0 {
		body.TTLSeconds = api.TTL(ttl)
	}
	var r api.Reservation
	err := c.do(ctx, http.MethodPost, resPath(id)+"/renew", nil, body, &r)
	return r, err
}

// Release ends a reservation: granted → released, queued → cancelled; an
// admin ending another user's reservation kicks it.
func (c *Client) Release(ctx context.Context, id int64) (api.Reservation, error) {
	return c.Kick(ctx, id, "")
}

// Kick is Release with a reason recorded in the audit log (for admins
// ending another user's reservation).
func (c *Client) Kick(ctx context.Context, id int64, reason string) (api.Reservation, error) {
	var q url.Values
	if reason != "" {
		q = url.Values{"reason": {reason}}
	}
	var r api.Reservation
	err := c.do(ctx, http.MethodDelete, resPath(id), q, nil, &r)
	return r, err
}

// Reservations lists the queued and granted reservations (all: also ended
// ones, newest first, at most 200).
func (c *Client) Reservations(ctx context.Context, all bool) ([]api.Reservation, error) {
	var q url.Values
	if all {
		q = url.Values{"all": {"1"}}
	}
	var rs []api.Reservation
	err := c.do(ctx, http.MethodGet, "/api/v1/reservations", q, nil, &rs)
	return rs, err
}

// Mine lists the caller's queued and granted reservations (all: also ended
// ones, newest first, at most 200).
func (c *Client) Mine(ctx context.Context, all bool) ([]api.Reservation, error) {
	q := url.Values{"mine": {"1"}}
	if all {
		q.Set("all", "1")
	}
	var rs []api.Reservation
	err := c.do(ctx, http.MethodGet, "/api/v1/reservations", q, nil, &rs)
	return rs, err
}

// Me returns the user the token belongs to.
func (c *Client) Me(ctx context.Context) (api.User, error) {
	var u api.User
	err := c.do(ctx, http.MethodGet, "/api/v1/me", nil, nil, &u)
	return u, err
}

// PostResult records an on-board test result; the caller must hold the
// board through r.Reservation. It returns the result's id. r.ID, r.Board,
// r.User and r.FinishedAt are set by the service and not sent.
func (c *Client) PostResult(ctx context.Context, board string, r api.Result) (int64, error) {
	r.ID, r.Board, r.User, r.FinishedAt = 0, "", "", nil
	var out api.IDResponse
	err := c.do(ctx, http.MethodPost, "/api/v1/boards/"+url.PathEscape(board)+"/results", nil, r, &out)
	return out.ID, err
}

// Results returns a board's test results, newest first (limit 0: the server's default, 20).
func (c *Client) Results(ctx context.Context, board string, limit int) ([]api.Result, error) {
	var rs []api.Result
	err := c.do(ctx, http.MethodGet, "/api/v1/boards/"+url.PathEscape(board)+"/results", limitQuery(limit, ""), nil, &rs)
	return rs, err
}

// Audit returns audit events, newest first, of one board ("" = all; limit 0:
// the server's default, 100).
func (c *Client) Audit(ctx context.Context, board string, limit int) ([]api.AuditEvent, error) {
	var es []api.AuditEvent
	err := c.do(ctx, http.MethodGet, "/api/v1/audit", limitQuery(limit, board), nil, &es)
	return es, err
}

// Reload makes the service re-read its inventory file (admin only) and
// returns the number of boards.
func (c *Client) Reload(ctx context.Context) (int, error) {
	var out api.ReloadResponse
	err := c.do(ctx, http.MethodPost, "/api/v1/admin/reload", nil, nil, &out)
	return out.Boards, err
}

func resPath(id int64) string { return "/api/v1/reservations/" + strconv.FormatInt(id, 10) }

func limitQuery(limit int, board string) url.Values {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if board != "" {
		q.Set("board", board)
	}
	return q
}
