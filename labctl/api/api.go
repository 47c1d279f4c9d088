// Package api holds the wire types of the lab reservation service's HTTP API
// (docs/lab-api.md). Times are RFC 3339 UTC; optional times are pointers so an
// unset time is omitted instead of being sent as the zero time.
package api

import (
	"encoding/json"
	"time"
)

// Reservation statuses.
const (
	StatusQueued    = "queued"
	StatusGranted   = "granted"
	StatusReleased  = "released"
	StatusExpired   = "expired"
	StatusKicked    = "kicked"
	StatusCancelled = "cancelled"
)

// Audit actions.
const (
	ActionQueue   = "queue"
	ActionGrant   = "grant"
	ActionRenew   = "renew"
	ActionRelease = "release"
	ActionExpire  = "expire"
	ActionKick    = "kick"
	ActionCancel  = "cancel"
	ActionResult  = "result"
	ActionReload  = "reload"
)

// Limits of request values.
const (
	DefaultTTLSeconds = 3600
	MaxTTLSeconds     = 86400
	MinPriority       = -100
	MaxPriority       = 100
	// MaxWait is the longest long-poll of GET /api/v1/reservations/{id}?wait=.
	MaxWait = 60 * time.Second
)

// Board is one lab board with its current holder, queue length and last
// on-board test.
type Board struct {
	Name       string    `json:"name"`
	Part       string    `json:"part"`
	Speed      string    `json:"speed"`
	LabHost    string    `json:"lab_host"`
	SSHAddress string    `json:"ssh_address"`
	SSHUser    string    `json:"ssh_user,omitempty"`
	IfaceIn    string    `json:"iface_in"`
	IfaceOut   string    `json:"iface_out"`
	Control    string    `json:"control"`
	Program    string    `json:"program"`
	Tags       []string  `json:"tags"`
	Holder     *Holder   `json:"holder"`
	Queue      int       `json:"queue"`
	LastTest   *LastTest `json:"last_test"`
	// Removed is true for a board no longer in the inventory file that is
	// still held; new reservations cannot name it.
	Removed bool `json:"removed,omitempty"`
}

// Holder is who holds a board now.
type Holder struct {
	Reservation int64     `json:"reservation"`
	User        string    `json:"user"`
	Comment     string    `json:"comment"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// LastTest is the newest on-board test result of a board.
type LastTest struct {
	ID              int64     `json:"id"`
	User            string    `json:"user"`
	Passed          bool      `json:"passed"`
	Frames          int64     `json:"frames"`
	Mismatches      int64     `json:"mismatches"`
	Summary         string    `json:"summary"`
	BitstreamSHA256 string    `json:"bitstream_sha256"`
	FinishedAt      time.Time `json:"finished_at"`
}

// Reservation is a request for a board: queued, granted (a lease until
// ExpiresAt) or ended (released, expired, kicked, cancelled).
type Reservation struct {
	ID         int64      `json:"id"`
	User       string     `json:"user"`
	Board      string     `json:"board"`
	Tag        string     `json:"tag"`
	Status     string     `json:"status"`
	Comment    string     `json:"comment"`
	Priority   int        `json:"priority"`
	TTLSeconds int        `json:"ttl_seconds"`
	CreatedAt  time.Time  `json:"created_at"`
	GrantedAt  *time.Time `json:"granted_at,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	// Position is the 1-based place in the queue of a queued reservation, 0 otherwise.
	Position int `json:"position"`
}

// Active reports whether the reservation is queued or granted.
func (r Reservation) Active() bool { return r.Status == StatusQueued || r.Status == StatusGranted }

// ReserveRequest is the body of POST /api/v1/reservations. Exactly one of
// Board and Tag. Nil TTLSeconds means the default (3600).
type ReserveRequest struct {
	Board      string `json:"board,omitempty"`
	Tag        string `json:"tag,omitempty"`
	TTLSeconds *int   `json:"ttl_seconds,omitempty"`
	Comment    string `json:"comment,omitempty"`
	Priority   int    `json:"priority,omitempty"`
	Wait       bool   `json:"wait,omitempty"`
}

// TTL returns a pointer to seconds, for ReserveRequest.TTLSeconds.
func TTL(d time.Duration) *int { s := int(d / time.Second); return &s }

// RenewRequest is the body of POST /api/v1/reservations/{id}/renew. Nil
// TTLSeconds means the default (3600).
type RenewRequest struct {
	TTLSeconds *int `json:"ttl_seconds,omitempty"`
}

// Result is an on-board test result: the body of POST
// /api/v1/boards/{name}/results and an element of GET .../results.
type Result struct {
	ID              int64           `json:"id,omitempty"`
	Board           string          `json:"board,omitempty"`
	User            string          `json:"user,omitempty"`
	Reservation     int64           `json:"reservation"`
	Passed          bool            `json:"passed"`
	Frames          int64           `json:"frames"`
	Mismatches      int64           `json:"mismatches"`
	Summary         string          `json:"summary"`
	BitstreamSHA256 string          `json:"bitstream_sha256"`
	Report          json.RawMessage `json:"report,omitempty"`
	FinishedAt      *time.Time      `json:"finished_at,omitempty"`
}

// IDResponse is the answer of POST /api/v1/boards/{name}/results.
type IDResponse struct {
	ID int64 `json:"id"`
}

// ReloadResponse is the answer of POST /api/v1/admin/reload.
type ReloadResponse struct {
	Boards int `json:"boards"`
}

// AuditEvent is one line of the audit log.
type AuditEvent struct {
	ID          int64     `json:"id"`
	At          time.Time `json:"at"`
	Action      string    `json:"action"`
	User        string    `json:"user"`
	Board       string    `json:"board"`
	Reservation int64     `json:"reservation"`
	Detail      string    `json:"detail"`
}

// ErrorBody is the body of every 4xx/5xx answer.
type ErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// User is the answer of GET /api/v1/me: who the token belongs to.
type User struct {
	Name  string `json:"name"`
	Admin bool   `json:"admin"`
}
