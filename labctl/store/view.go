package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/inventory"
)

// Limits of list answers.
const (
	DefaultResults = 20
	DefaultAudit   = 100
	MaxList        = 1000
	MaxReport      = 512 << 10
)

// Boards returns every board of the inventory (file order), then boards
// removed from it that are still held, each with holder, queue length and
// last test result.
func (s *Store) Boards(ctx context.Context) ([]api.Board, error) {
	inv := s.inv.Load()
	var out []api.Board
	err := s.read(ctx, func(tx *sql.Tx) error {
		held, err := queryRes(ctx, tx, `WHERE status = 'granted'`)
		if err != nil {
			return err
		}
		holders := map[string]api.Reservation{}
		for _, r := range held {
			holders[r.Board] = r
		}
		q, err := queued(ctx, tx)
		if err != nil {
			return err
		}
		last, err := lastTests(ctx, tx)
		if err != nil {
			return err
		}
		view := func(b inventory.Board, removed bool) api.Board {
			a := BoardInfo(b)
			a.Removed = removed
			if h, ok := holders[b.Name]; ok {
				a.Holder = &api.Holder{Reservation: h.ID, User: h.User, Comment: h.Comment, ExpiresAt: *h.ExpiresAt}
			}
			for _, r := range q {
				for _, m := range matches(r, inv) {
					if m == b.Name {
						a.Queue++
					}
				}
			}
			if t, ok := last[b.Name]; ok {
				a.LastTest = &t
			}
			return a
		}
		out = []api.Board{}
		if inv != nil {
			for _, b := range inv.Boards {
				out = append(out, view(b, false))
			}
		}
		for _, r := range held {
			if _, ok := inv.Board(r.Board); ok {
				continue
			}
			b := inventory.Board{Name: r.Board, Tags: []string{}}
			if v, ok := s.removed.Load(r.Board); ok {
				b = v.(inventory.Board)
			}
			out = append(out, view(b, true))
		}
		return nil
	})
	return out, err
}

// BoardInfo is the inventory part of a board's API view.
func BoardInfo(b inventory.Board) api.Board {
	tags := b.Tags
	if tags == nil {
		tags = []string{}
	}
	return api.Board{Name: b.Name, Part: b.Part, Speed: b.Speed, LabHost: b.LabHost, SSHAddress: b.SSHAddress,
		SSHUser: b.SSHUser, IfaceIn: b.IfaceIn, IfaceOut: b.IfaceOut, Control: b.Control, Program: b.Program, Tags: tags}
}

// Board returns one board (404 if it is neither in the inventory nor held).
func (s *Store) Board(ctx context.Context, name string) (api.Board, error) {
	bs, err := s.Boards(ctx)
	if err != nil {
		return api.Board{}, err
	}
	for _, b := range bs {
		if b.Name == name {
			return b, nil
		}
	}
	return api.Board{}, s.noBoard(name)
}

func (s *Store) noBoard(name string) error {
	names := ""
	if inv := s.inv.Load(); inv != nil {
		names = fmt.Sprint(inv.Names())
	}
	return errorf(StatusNotFound, "board", "no board %q (boards: %s)", name, names)
}

func lastTests(ctx context.Context, tx *sql.Tx) (map[string]api.LastTest, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, board, username, passed, frames, mismatches, summary, bitstream_sha256, finished_at
		FROM results WHERE id IN (SELECT max(id) FROM results GROUP BY board)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]api.LastTest{}
	for rows.Next() {
		var t api.LastTest
		var board string
		var at int64
		if err := rows.Scan(&t.ID, &board, &t.User, &t.Passed, &t.Frames, &t.Mismatches, &t.Summary, &t.BitstreamSHA256, &at); err != nil {
			return nil, err
		}
		t.FinishedAt = fromMS(at)
		out[board] = t
	}
	return out, rows.Err()
}

var sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)

// AddResult records an on-board test result of board by the holder of
// reservation r.Reservation, which must be granted on that board.
func (s *Store) AddResult(ctx context.Context, user User, board string, r api.Result) (int64, error) {
	switch {
	case r.Reservation <= 0:
		return 0, errorf(StatusBadRequest, "reservation", "reservation must be the id of your granted reservation of %s", board)
	case r.Frames < 0:
		return 0, errorf(StatusBadRequest, "frames", "frames must be 0 or more")
	case r.Mismatches < 0:
		return 0, errorf(StatusBadRequest, "mismatches", "mismatches must be 0 or more")
	case !utf8.ValidString(r.Summary) || utf8.RuneCountInString(r.Summary) > MaxComment:
		return 0, errorf(StatusBadRequest, "summary", "summary must be valid UTF-8 of at most %d characters", MaxComment)
	case r.BitstreamSHA256 != "" && !sha256Re.MatchString(r.BitstreamSHA256):
		return 0, errorf(StatusBadRequest, "bitstream_sha256", "bitstream_sha256 must be 64 lower-case hex digits")
	case len(r.Report) > MaxReport:
		return 0, errorf(StatusBadRequest, "report", "report is %d bytes; at most %d", len(r.Report), MaxReport)
	}
	var report any
	if len(r.Report) > 0 && string(r.Report) != "null" {
		report = string(r.Report)
		if !json.Valid(r.Report) {
			return 0, errorf(StatusBadRequest, "report", "report is not valid JSON")
		}
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
		known := false
		if _, ok := s.inv.Load().Board(board); ok {
			known = true
		}
		res, err := getRes(ctx, tx, r.Reservation)
		if err != nil {
			if !known {
				return s.noBoard(board)
			}
			var se *Error
			if errors.As(err, &se) {
				se.Field = "reservation"
			}
			return err
		}
		if !known && !(res.Status == api.StatusGranted && res.Board == board) {
			return s.noBoard(board)
		}
		if res.User != user.Name {
			return errorf(StatusForbidden, "reservation", "reservation %d is %s's; only the holder of %s can post its results", r.Reservation, res.User, board)
		}
		if res.Status != api.StatusGranted || res.Board != board {
			return errorf(StatusConflict, "reservation", "reservation %d does not hold %s now (status %s, board %q); reserve the board first", r.Reservation, board, res.Status, res.Board)
		}
		x, err := tx.ExecContext(ctx, `INSERT INTO results (board, username, reservation, passed, frames, mismatches, summary, bitstream_sha256, report, finished_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, board, user.Name, r.Reservation, r.Passed, r.Frames, r.Mismatches, r.Summary, r.BitstreamSHA256, report, ms(now))
		if err != nil {
			return err
		}
		if id, err = x.LastInsertId(); err != nil {
			return err
		}
		verdict := "FAILED"
		if r.Passed {
			verdict = "PASSED"
		}
		detail := fmt.Sprintf("result %d %s: %s", id, verdict, r.Summary)
		return audit(ctx, tx, now, api.ActionResult, user.Name, board, r.Reservation, detail)
	})
	return id, err
}

// ListLimit checks a limit query value: 0 means def; at most MaxList.
func ListLimit(limit, def int) (int, error) {
	if limit == 0 {
		return def, nil
	}
	if limit < 0 || limit > MaxList {
		return 0, errorf(StatusBadRequest, "limit", "limit %d is out of range: use 1..%d", limit, MaxList)
	}
	return limit, nil
}

// Results returns a board's test results, newest first.
func (s *Store) Results(ctx context.Context, board string, limit int) ([]api.Result, error) {
	out := []api.Result{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		if _, ok := s.inv.Load().Board(board); !ok {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM reservations WHERE board = ? AND status = 'granted'`, board).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM results WHERE board = ?`, board).Scan(&n); err != nil {
					return err
				}
			}
			if n == 0 {
				return s.noBoard(board)
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, board, username, reservation, passed, frames, mismatches, summary, bitstream_sha256, report, finished_at
			FROM results WHERE board = ? ORDER BY id DESC LIMIT ?`, board, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r api.Result
			var report sql.NullString
			var at int64
			if err := rows.Scan(&r.ID, &r.Board, &r.User, &r.Reservation, &r.Passed, &r.Frames, &r.Mismatches, &r.Summary, &r.BitstreamSHA256, &report, &at); err != nil {
				return err
			}
			if report.Valid {
				r.Report = json.RawMessage(report.String)
			}
			t := fromMS(at)
			r.FinishedAt = &t
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

// Audit returns audit events, newest first (board "" = all boards).
func (s *Store) Audit(ctx context.Context, board string, limit int) ([]api.AuditEvent, error) {
	out := []api.AuditEvent{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		where, args := "", []any{}
		if board != "" {
			where, args = `WHERE board = ?`, append(args, board)
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, at, action, username, board, reservation, detail FROM audit `+where+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e api.AuditEvent
			var at int64
			if err := rows.Scan(&e.ID, &at, &e.Action, &e.User, &e.Board, &e.Reservation, &e.Detail); err != nil {
				return err
			}
			e.At = fromMS(at)
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}
