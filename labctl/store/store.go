// Package store is the lab reservation service's state and logic: users and
// their token hashes, reservations with leases and a wait queue, on-board test
// results and the audit log, in one SQLite database in WAL mode.
//
// Every state change and its audit rows are one BEGIN IMMEDIATE transaction,
// committed with synchronous=FULL, so a kill -9 at any moment loses nothing
// that was answered, and a partial unique index on the granted reservation of
// each board makes a second holder impossible even if the logic above it
// were wrong. Writes of this process go through one connection in turn;
// reads use a pool of their own and see a consistent snapshot.
package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/fpgactl/fpgactl/labctl/inventory"
)

// SchemaVersion is the database schema this code reads and writes (PRAGMA
// user_version). Open creates it in a new database and migrates older ones.
const SchemaVersion = 1

// migrations[v] brings a database from schema v to v+1.
var migrations = [][]string{
	0: {
		`CREATE TABLE users (
			name         TEXT PRIMARY KEY,
			token_sha256 TEXT NOT NULL UNIQUE,
			admin        INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
			created_at   INTEGER NOT NULL
		)`,
		`CREATE TABLE reservations (
			id          INTEGER PRIMARY KEY AUTOINCREMENT,
			username    TEXT NOT NULL REFERENCES users(name),
			board       TEXT NOT NULL DEFAULT '',
			tag         TEXT NOT NULL DEFAULT '',
			status      TEXT NOT NULL CHECK (status IN ('queued', 'granted', 'released', 'expired', 'kicked', 'cancelled')),
			comment     TEXT NOT NULL DEFAULT '',
			priority    INTEGER NOT NULL DEFAULT 0,
			ttl_seconds INTEGER NOT NULL,
			created_at  INTEGER NOT NULL,
			granted_at  INTEGER,
			expires_at  INTEGER,
			ended_at    INTEGER,
			CHECK (status <> 'granted' OR (board <> '' AND granted_at IS NOT NULL AND expires_at IS NOT NULL))
		)`,
		// The database itself refuses a second holder of a board.
		`CREATE UNIQUE INDEX reservations_one_holder ON reservations (board) WHERE status = 'granted'`,
		`CREATE INDEX reservations_active ON reservations (status, priority DESC, id) WHERE status IN ('queued', 'granted')`,
		`CREATE TABLE results (
			id               INTEGER PRIMARY KEY AUTOINCREMENT,
			board            TEXT NOT NULL,
			username         TEXT NOT NULL,
			reservation      INTEGER NOT NULL REFERENCES reservations(id),
			passed           INTEGER NOT NULL,
			frames           INTEGER NOT NULL,
			mismatches       INTEGER NOT NULL,
			summary          TEXT NOT NULL,
			bitstream_sha256 TEXT NOT NULL,
			report           TEXT,
			finished_at      INTEGER NOT NULL
		)`,
		`CREATE INDEX results_board ON results (board, id)`,
		`CREATE TABLE audit (
			id          INTEGER PRIMARY KEY AUTOINCREMENT,
			at          INTEGER NOT NULL,
			action      TEXT NOT NULL,
			username    TEXT NOT NULL,
			board       TEXT NOT NULL DEFAULT '',
			reservation INTEGER NOT NULL DEFAULT 0,
			detail      TEXT NOT NULL DEFAULT ''
		)`,
		`CREATE INDEX audit_board ON audit (board, id)`,
	},
}

// Store is an open lab database plus the current board inventory.
type Store struct {
	path string
	wdb  *sql.DB // one connection, every transaction BEGIN IMMEDIATE
	rdb  *sql.DB // readers
	wmu  sync.Mutex
	inv  atomic.Pointer[inventory.Inventory]
	// removed are boards dropped from the inventory while held, as they were.
	removed sync.Map // name -> inventory.Board

	chmu    sync.Mutex
	changed chan struct{}

	// Now is the clock (tests may replace it before use); times are stored
	// in milliseconds.
	Now func() time.Time
}

// Open opens (creating if needed) the database at path, sets WAL mode,
// synchronous=FULL and a busy timeout, and creates or migrates the schema.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("no database path: pass --db FILE")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("database path %q: '?' and '#' are not allowed in the file name", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if dir := filepath.Dir(abs); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("database %s: directory %s does not exist", path, dir)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	wq := url.Values{"_txlock": {"immediate"}}
	for k, v := range q {
		wq[k] = v
	}
	wq.Add("_pragma", "journal_mode(WAL)")
	s := &Store{path: abs, changed: make(chan struct{}), Now: time.Now}
	if s.wdb, err = sql.Open("sqlite", "file:"+abs+"?"+wq.Encode()); err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetConnMaxIdleTime(0)
	if err := s.migrate(ctx); err != nil {
		s.wdb.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	if s.rdb, err = sql.Open("sqlite", "file:"+abs+"?"+q.Encode()); err != nil {
		s.wdb.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	s.rdb.SetMaxOpenConns(8)
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	var mode string
	if err := s.wdb.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fmt.Errorf("not a usable SQLite database: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, not WAL (is the file on a filesystem without shared memory support?)", mode)
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v > SchemaVersion {
		return fmt.Errorf("schema version %d is newer than this fpgactl knows (%d); use a newer fpgactl", v, SchemaVersion)
	}
	if v == SchemaVersion {
		return nil
	}
	for ; v < SchemaVersion; v++ {
		for _, stmt := range migrations[v] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("schema migration %d→%d: %w", v, v+1, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, SchemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	err := s.wdb.Close()
	if s.rdb != nil {
		err = errors.Join(err, s.rdb.Close())
	}
	return err
}

// Changed returns a channel closed at the next committed state change.
func (s *Store) Changed() <-chan struct{} {
	s.chmu.Lock()
	defer s.chmu.Unlock()
	return s.changed
}

func (s *Store) notify() {
	s.chmu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.chmu.Unlock()
}

func (s *Store) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// write runs fn in one BEGIN IMMEDIATE transaction and commits it; an error
// from fn rolls everything back.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx, now time.Time) error) error {
	return s.writeThen(ctx, fn, nil)
}

// writeThen is write with committed, when not nil, run after the commit and
// before any other write: what readers see outside the database (the
// inventory) changes only once the change is durable.
func (s *Store) writeThen(ctx context.Context, fn func(tx *sql.Tx, now time.Time) error, committed func()) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("database %s: %w", s.path, err)
	}
	if err := fn(tx, s.now()); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("database %s: commit: %w", s.path, err)
	}
	if committed != nil {
		committed()
	}
	s.notify()
	return nil
}

// read runs fn in one read transaction (a consistent snapshot).
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("database %s: %w", s.path, err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// Error is a request the state does not allow. Status is the HTTP status it
// maps to (400, 401, 403, 404 or 409); Field names the request field at fault.
type Error struct {
	Status int
	Msg    string
	Field  string
}

func (e *Error) Error() string { return e.Msg }

func errorf(status int, field, format string, args ...any) *Error {
	return &Error{Status: status, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Status codes of Error.
const (
	StatusBadRequest   = 400
	StatusUnauthorized = 401
	StatusForbidden    = 403
	StatusNotFound     = 404
	StatusConflict     = 409
)

// User is an account of the lab service.
type User struct {
	Name  string `json:"name"`
	Admin bool   `json:"admin"`
}

var userRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,31}$`)

// TokenPrefix starts every token, so a leaked one is easy to recognize.
const TokenPrefix = "fpl_"

// HashToken is the stored form of a token: hex SHA-256.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// AddUser creates a user and returns its new token; only the token's
// SHA-256 is stored, so the token cannot be shown again.
func (s *Store) AddUser(ctx context.Context, name string, admin bool) (string, error) {
	if !userRe.MatchString(name) {
		return "", errorf(StatusBadRequest, "name", "user name %q: use a letter then letters, digits, '.', '_' or '-' (at most 32)", name)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(buf)
	err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errorf(StatusConflict, "name", "user %q already exists", name)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO users (name, token_sha256, admin, created_at) VALUES (?, ?, ?, ?)`,
			name, HashToken(token), admin, ms(now))
		return err
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// Users lists the users by name.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	var out []User
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT name, admin FROM users ORDER BY name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var u User
			if err := rows.Scan(&u.Name, &u.Admin); err != nil {
				return err
			}
			out = append(out, u)
		}
		return rows.Err()
	})
	return out, err
}

// Authenticate returns the user whose token this is (a 401 *Error if none).
func (s *Store) Authenticate(ctx context.Context, token string) (User, error) {
	if token == "" {
		return User{}, errorf(StatusUnauthorized, "", "no token: send Authorization: Bearer TOKEN")
	}
	var u User
	err := s.rdb.QueryRowContext(ctx, `SELECT name, admin FROM users WHERE token_sha256 = ?`, HashToken(token)).Scan(&u.Name, &u.Admin)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, errorf(StatusUnauthorized, "", "unknown token")
	}
	if err != nil {
		return User{}, fmt.Errorf("database %s: %w", s.path, err)
	}
	return u, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }
