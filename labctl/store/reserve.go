package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/inventory"
)

// MaxComment is the longest comment, in characters.
const MaxComment = 500

// Inventory returns the boards reservations can name now.
func (s *Store) Inventory() *inventory.Inventory { return s.inv.Load() }

// SetInventory makes inv the boards reservations can name, records a reload
// audit event by user (when user is not ""), and grants waiters a new board
// matches, all in one transaction. Boards removed while held stay held until
// released; queued reservations naming them stay queued.
func (s *Store) SetInventory(ctx context.Context, inv *inventory.Inventory, user string) error {
	return s.writeThen(ctx, func(tx *sql.Tx, now time.Time) error {
		old := s.inv.Load()
		held, err := heldBoards(ctx, tx)
		if err != nil {
			return err
		}
		if old != nil {
			for _, b := range old.Boards {
				if _, still := inv.Board(b.Name); !still && held[b.Name] != 0 {
					s.removed.Store(b.Name, b)
				}
			}
		}
		for _, b := range inv.Boards {
			s.removed.Delete(b.Name)
		}
		if user != "" {
			var added, dropped []string
			for _, b := range inv.Boards {
				if _, ok := old.Board(b.Name); !ok {
					added = append(added, b.Name)
				}
			}
			if old != nil {
				for _, b := range old.Boards {
					if _, ok := inv.Board(b.Name); !ok {
						dropped = append(dropped, b.Name)
					}
				}
			}
			detail := fmt.Sprintf("%d boards from %s", len(inv.Boards), inv.File)
			if len(added) > 0 {
				detail += "; added " + strings.Join(added, ", ")
			}
			if len(dropped) > 0 {
				detail += "; removed " + strings.Join(dropped, ", ")
			}
			if err := audit(ctx, tx, now, api.ActionReload, user, "", 0, detail); err != nil {
				return err
			}
		}
		// Readers see the new boards once the grants and the audit row are
		// committed with them.
		return s.scheduleWith(ctx, tx, now, inv)
	}, func() { s.inv.Store(inv) })
}

const resCols = `id, username, board, tag, status, comment, priority, ttl_seconds, created_at, granted_at, expires_at, ended_at`

type scanner interface{ Scan(...any) error }

func scanRes(sc scanner) (api.Reservation, error) {
	var r api.Reservation
	var created int64
	var granted, expires, ended sql.NullInt64
	err := sc.Scan(&r.ID, &r.User, &r.Board, &r.Tag, &r.Status, &r.Comment, &r.Priority, &r.TTLSeconds, &created, &granted, &expires, &ended)
	if err != nil {
		return r, err
	}
	r.CreatedAt = fromMS(created)
	r.GrantedAt, r.ExpiresAt, r.EndedAt = optTime(granted), optTime(expires), optTime(ended)
	return r, nil
}

func optTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func queryRes(ctx context.Context, q querier, where string, args ...any) ([]api.Reservation, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+resCols+` FROM reservations `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []api.Reservation
	for rows.Next() {
		r, err := scanRes(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func getRes(ctx context.Context, q querier, id int64) (api.Reservation, error) {
	r, err := scanRes(q.QueryRowContext(ctx, `SELECT `+resCols+` FROM reservations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, errorf(StatusNotFound, "id", "no reservation %d", id)
	}
	return r, err
}

// queueOrder is the order waiters are served in: priority, then age.
const queueOrder = `ORDER BY priority DESC, id ASC`

func queued(ctx context.Context, q querier) ([]api.Reservation, error) {
	return queryRes(ctx, q, `WHERE status = 'queued' `+queueOrder)
}

// heldBoards maps each held board to its reservation.
func heldBoards(ctx context.Context, q querier) (map[string]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT board, id FROM reservations WHERE status = 'granted'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var b string
		var id int64
		if err := rows.Scan(&b, &id); err != nil {
			return nil, err
		}
		out[b] = id
	}
	return out, rows.Err()
}

// matches lists the inventory boards a queued reservation can take, in
// inventory order. A reservation naming a board not in the inventory
// (removed) matches that name only, so it is counted in its queue.
func matches(r api.Reservation, inv *inventory.Inventory) []string {
	if r.Tag == "" {
		return []string{r.Board}
	}
	var out []string
	if inv != nil {
		for _, b := range inv.Boards {
			if b.HasTag(r.Tag) {
				out = append(out, b.Name)
			}
		}
	}
	return out
}

func overlap(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// positions sets Position of each queued reservation of rs: 1 + the waiters
// ahead of it (queue order) that could take one of the same boards.
func positions(q []api.Reservation, inv *inventory.Inventory) map[int64]int {
	m := make([][]string, len(q))
	for i, r := range q {
		m[i] = matches(r, inv)
	}
	out := map[int64]int{}
	for i, r := range q {
		n := 1
		for j := 0; j < i; j++ {
			if overlap(m[i], m[j]) {
				n++
			}
		}
		out[r.ID] = n
	}
	return out
}

// schedule grants every free board to the first waiter (priority, then age)
// that can take it. Callers hold the write transaction.
func (s *Store) schedule(ctx context.Context, tx *sql.Tx, now time.Time) error {
	return s.scheduleWith(ctx, tx, now, s.inv.Load())
}

// scheduleWith is schedule on the boards of inv.
func (s *Store) scheduleWith(ctx context.Context, tx *sql.Tx, now time.Time, inv *inventory.Inventory) error {
	if inv == nil {
		return nil
	}
	held, err := heldBoards(ctx, tx)
	if err != nil {
		return err
	}
	free := map[string]bool{}
	for _, b := range inv.Boards {
		if held[b.Name] == 0 {
			free[b.Name] = true
		}
	}
	if len(free) == 0 {
		return nil
	}
	q, err := queued(ctx, tx)
	if err != nil {
		return err
	}
	for _, r := range q {
		for _, name := range matches(r, inv) {
			if !free[name] {
				continue
			}
			if _, ok := inv.Board(name); !ok {
				continue
			}
			if err := grant(ctx, tx, now, r, name, fmt.Sprintf("from the queue after %s", now.Sub(r.CreatedAt).Round(time.Second))); err != nil {
				return err
			}
			delete(free, name)
			break
		}
		if len(free) == 0 {
			break
		}
	}
	return nil
}

func grant(ctx context.Context, tx *sql.Tx, now time.Time, r api.Reservation, board, how string) error {
	exp := now.Add(time.Duration(r.TTLSeconds) * time.Second)
	res, err := tx.ExecContext(ctx, `UPDATE reservations SET status = 'granted', board = ?, granted_at = ?, expires_at = ?
		WHERE id = ? AND status = 'queued'`, board, ms(now), ms(exp), r.ID)
	if err != nil {
		return fmt.Errorf("grant %s to reservation %d: %w", board, r.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("grant %s to reservation %d: it is no longer queued", board, r.ID)
	}
	detail := fmt.Sprintf("%s until %s", how, exp.Format(time.RFC3339))
	if r.Tag != "" {
		detail += " (tag " + r.Tag + ")"
	}
	return audit(ctx, tx, now, api.ActionGrant, r.User, board, r.ID, detail)
}

func audit(ctx context.Context, tx *sql.Tx, now time.Time, action, user, board string, id int64, detail string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO audit (at, action, username, board, reservation, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		ms(now), action, user, board, id, detail)
	return err
}

// ValidTTL checks a ttl_seconds value (nil: the default).
func ValidTTL(ttl *int) (int, error) {
	if ttl == nil {
		return api.DefaultTTLSeconds, nil
	}
	if *ttl < 1 || *ttl > api.MaxTTLSeconds {
		return 0, errorf(StatusBadRequest, "ttl_seconds", "ttl_seconds %d is out of range: use 1..%d (default %d)", *ttl, api.MaxTTLSeconds, api.DefaultTTLSeconds)
	}
	return *ttl, nil
}

// Reserve grants a free board matching req to user at once, or queues the
// request (req.Wait), or fails with a 409 *Error and changes nothing.
func (s *Store) Reserve(ctx context.Context, user User, req api.ReserveRequest) (api.Reservation, error) {
	req.Board, req.Tag = strings.TrimSpace(req.Board), strings.TrimSpace(req.Tag)
	switch {
	case req.Board == "" && req.Tag == "":
		return api.Reservation{}, errorf(StatusBadRequest, "board", "name a board or a tag (exactly one of board, tag)")
	case req.Board != "" && req.Tag != "":
		return api.Reservation{}, errorf(StatusBadRequest, "tag", "give board or tag, not both")
	}
	ttl, err := ValidTTL(req.TTLSeconds)
	if err != nil {
		return api.Reservation{}, err
	}
	if req.Priority < api.MinPriority || req.Priority > api.MaxPriority {
		return api.Reservation{}, errorf(StatusBadRequest, "priority", "priority %d is out of range: use %d..%d (higher is served first)", req.Priority, api.MinPriority, api.MaxPriority)
	}
	if n := utf8.RuneCountInString(req.Comment); n > MaxComment || !utf8.ValidString(req.Comment) {
		return api.Reservation{}, errorf(StatusBadRequest, "comment", "comment must be valid UTF-8 of at most %d characters (got %d)", MaxComment, n)
	}
	var out api.Reservation
	err = s.write(ctx, func(tx *sql.Tx, now time.Time) error {
		inv := s.inv.Load()
		if inv == nil {
			return errorf(StatusConflict, "", "the service has no board inventory loaded")
		}
		if req.Board != "" {
			if _, ok := inv.Board(req.Board); !ok {
				return errorf(StatusNotFound, "board", "no board %q (boards: %s)", req.Board, strings.Join(inv.Names(), ", "))
			}
		} else if len(matches(api.Reservation{Tag: req.Tag}, inv)) == 0 {
			return errorf(StatusNotFound, "tag", "no board has tag %q (tags: %s)", req.Tag, strings.Join(inv.Tags(), ", "))
		}
		boardCol := req.Board
		res, err := tx.ExecContext(ctx, `INSERT INTO reservations (username, board, tag, status, comment, priority, ttl_seconds, created_at)
			VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)`, user.Name, boardCol, req.Tag, req.Comment, req.Priority, ttl, ms(now))
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		r, err := getRes(ctx, tx, id)
		if err != nil {
			return err
		}
		// A free matching board goes to this request at once; a queue
		// never waits for a free board (schedule runs after every change).
		held, err := heldBoards(ctx, tx)
		if err != nil {
			return err
		}
		for _, name := range matches(r, inv) {
			if held[name] == 0 {
				if err := grant(ctx, tx, now, r, name, "at once"); err != nil {
					return err
				}
				out, err = getRes(ctx, tx, id)
				return err
			}
		}
		if !req.Wait {
			what := "board " + req.Board
			if req.Tag != "" {
				what = "every board with tag " + req.Tag
			}
			msg := fmt.Sprintf("%s is busy", what)
			if req.Board != "" {
				if h, err := getRes(ctx, tx, held[req.Board]); err == nil {
					msg = fmt.Sprintf("board %s is held by %s until %s", req.Board, h.User, h.ExpiresAt.Format(time.RFC3339))
				}
			}
			return errorf(StatusConflict, "wait", "%s; send \"wait\": true to queue for it (fpgactl lab reserve --wait 10m)", msg)
		}
		if err := audit(ctx, tx, now, api.ActionQueue, user.Name, req.Board, id, queueDetail(r)); err != nil {
			return err
		}
		q, err := queued(ctx, tx)
		if err != nil {
			return err
		}
		out = r
		out.Position = positions(q, inv)[id]
		return nil
	})
	return out, err
}

func queueDetail(r api.Reservation) string {
	d := fmt.Sprintf("priority %d", r.Priority)
	if r.Tag != "" {
		d = "tag " + r.Tag + ", " + d
	}
	return d
}

// Get returns one reservation, with its queue position if queued.
func (s *Store) Get(ctx context.Context, id int64) (api.Reservation, error) {
	var r api.Reservation
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		if r, err = getRes(ctx, tx, id); err != nil {
			return err
		}
		if r.Status == api.StatusQueued {
			q, err := queued(ctx, tx)
			if err != nil {
				return err
			}
			r.Position = positions(q, s.inv.Load())[id]
		}
		return nil
	})
	return r, err
}

// Status returns just the status of a reservation (cheap: for long-polls).
func (s *Store) Status(ctx context.Context, id int64) (string, error) {
	var st string
	err := s.rdb.QueryRowContext(ctx, `SELECT status FROM reservations WHERE id = ?`, id).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errorf(StatusNotFound, "id", "no reservation %d", id)
	}
	return st, err
}

// List returns the queued and granted reservations in id order (user != "":
// only that user's); all adds ended ones and orders newest first, at most 200.
func (s *Store) List(ctx context.Context, user string, all bool) ([]api.Reservation, error) {
	out := []api.Reservation{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		where, args := `WHERE status IN ('queued', 'granted')`, []any{}
		if all {
			where = `WHERE 1`
		}
		if user != "" {
			where += ` AND username = ?`
			args = append(args, user)
		}
		if all {
			where += ` ORDER BY id DESC LIMIT 200`
		} else {
			where += ` ORDER BY id ASC`
		}
		rs, err := queryRes(ctx, tx, where, args...)
		if err != nil {
			return err
		}
		q, err := queued(ctx, tx)
		if err != nil {
			return err
		}
		pos := positions(q, s.inv.Load())
		for i := range rs {
			rs[i].Position = pos[rs[i].ID]
		}
		out = append(out, rs...)
		return nil
	})
	return out, err
}

// Queue returns the queued reservations in the order they are served.
func (s *Store) Queue(ctx context.Context) ([]api.Reservation, error) {
	var out []api.Reservation
	err := s.read(ctx, func(tx *sql.Tx) error {
		q, err := queued(ctx, tx)
		if err != nil {
			return err
		}
		pos := positions(q, s.inv.Load())
		for i := range q {
			q[i].Position = pos[q[i].ID]
		}
		out = q
		return nil
	})
	return out, err
}

// Renew sets a granted reservation's lease to now + ttl. Only its holder may.
func (s *Store) Renew(ctx context.Context, user User, id int64, ttl *int) (api.Reservation, error) {
	secs, err := ValidTTL(ttl)
	if err != nil {
		return api.Reservation{}, err
	}
	var out api.Reservation
	err = s.write(ctx, func(tx *sql.Tx, now time.Time) error {
		r, err := getRes(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.User != user.Name {
			return errorf(StatusForbidden, "id", "reservation %d is %s's; only its holder can renew it", id, r.User)
		}
		if r.Status != api.StatusGranted {
			return errorf(StatusConflict, "id", "reservation %d is %s, not granted; only a granted lease can be renewed", id, r.Status)
		}
		if !r.ExpiresAt.After(now) {
			return errorf(StatusConflict, "id", "reservation %d's lease ended at %s; reserve the board again", id, r.ExpiresAt.Format(time.RFC3339))
		}
		exp := now.Add(time.Duration(secs) * time.Second)
		if _, err := tx.ExecContext(ctx, `UPDATE reservations SET expires_at = ?, ttl_seconds = ? WHERE id = ?`, ms(exp), secs, id); err != nil {
			return err
		}
		if err := audit(ctx, tx, now, api.ActionRenew, user.Name, r.Board, id, "until "+exp.Format(time.RFC3339)); err != nil {
			return err
		}
		out, err = getRes(ctx, tx, id)
		return err
	})
	return out, err
}

// Release ends a reservation: granted → released, queued → cancelled. Another
// user's reservation may only be ended by an admin, and is then kicked
// (reason goes to the audit log). The board goes to the next waiter.
func (s *Store) Release(ctx context.Context, user User, id int64, reason string) (api.Reservation, error) {
	if n := utf8.RuneCountInString(reason); n > MaxComment {
		return api.Reservation{}, errorf(StatusBadRequest, "reason", "reason must be at most %d characters (got %d)", MaxComment, n)
	}
	var out api.Reservation
	err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
		r, err := getRes(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.User != user.Name && !user.Admin {
			return errorf(StatusForbidden, "id", "reservation %d is %s's; only its holder or a lab admin can end it", id, r.User)
		}
		if !r.Active() {
			return errorf(StatusConflict, "id", "reservation %d has already ended (%s)", id, r.Status)
		}
		status, action, detail := api.StatusReleased, api.ActionRelease, ""
		if r.Status == api.StatusQueued {
			status, action = api.StatusCancelled, api.ActionCancel
		}
		if r.User != user.Name {
			status, action = api.StatusKicked, api.ActionKick
			detail = fmt.Sprintf("%s's reservation (%s)", r.User, r.Status)
			if reason != "" {
				detail += ": " + reason
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE reservations SET status = ?, ended_at = ? WHERE id = ?`, status, ms(now), id); err != nil {
			return err
		}
		if err := audit(ctx, tx, now, action, user.Name, r.Board, id, detail); err != nil {
			return err
		}
		if err := s.schedule(ctx, tx, now); err != nil {
			return err
		}
		out, err = getRes(ctx, tx, id)
		return err
	})
	return out, err
}

// ExpireDue expires every lease whose time has come and hands the boards to
// waiters, in one transaction. It returns how many leases expired and when
// the next one ends (zero if none is granted).
func (s *Store) ExpireDue(ctx context.Context) (int, time.Time, error) {
	n := 0
	var next time.Time
	// Nothing to do is the common case: look before taking the write lock of the database.
	var due int
	err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM reservations WHERE status = 'granted' AND expires_at <= ?`, ms(s.now())).Scan(&due)
	if err != nil {
		return 0, next, err
	}
	if due > 0 {
		err = s.write(ctx, func(tx *sql.Tx, now time.Time) error {
			rs, err := queryRes(ctx, tx, `WHERE status = 'granted' AND expires_at <= ? ORDER BY expires_at, id`, ms(now))
			if err != nil {
				return err
			}
			for _, r := range rs {
				if _, err := tx.ExecContext(ctx, `UPDATE reservations SET status = 'expired', ended_at = ? WHERE id = ?`, ms(now), r.ID); err != nil {
					return err
				}
				if err := audit(ctx, tx, now, api.ActionExpire, r.User, r.Board, r.ID, "lease ended at "+r.ExpiresAt.Format(time.RFC3339)); err != nil {
					return err
				}
			}
			n = len(rs)
			return s.schedule(ctx, tx, now)
		})
		if err != nil {
			return 0, next, err
		}
	}
	var nextMS sql.NullInt64
	if err := s.rdb.QueryRowContext(ctx, `SELECT min(expires_at) FROM reservations WHERE status = 'granted'`).Scan(&nextMS); err != nil {
		return n, next, err
	}
	if nextMS.Valid {
		next = fromMS(nextMS.Int64)
	}
	return n, next, nil
}
