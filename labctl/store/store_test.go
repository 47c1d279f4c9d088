package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/inventory"
)

const testInventory = `boards:
  - {name: b10g-1, part: LFE5U-85F, speed: 10G, lab_host: lab1, ssh_address: "10.0.0.1:22", iface_in: b0, iface_out: b1, control: /run/b1.sock, program: "prog {bitstream}", tags: [10G, ecp5]}
  - {name: b10g-2, part: LFE5U-85F, speed: 10G, lab_host: lab1, ssh_address: "10.0.0.1:22", iface_in: b2, iface_out: b3, control: /run/b2.sock, program: "prog {bitstream}", tags: [10G, ecp5]}
  - {name: b100g-1, part: XCVU9P, speed: 100G, lab_host: lab2, ssh_address: "10.0.0.2:22", iface_in: b0, iface_out: b1, control: /run/c1.sock, program: "prog {bitstream}", tags: [100G]}
`

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func open(t *testing.T) (*Store, *clock, map[string]User) {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "lab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	st.Now = clk.Now
	inv, err := inventory.Parse("boards.yaml", []byte(testInventory))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetInventory(ctx, inv, ""); err != nil {
		t.Fatal(err)
	}
	users := map[string]User{}
	for _, name := range []string{"ana", "bo", "cy", "di"} {
		if _, err := st.AddUser(ctx, name, false); err != nil {
			t.Fatal(err)
		}
		users[name] = User{Name: name}
	}
	if _, err := st.AddUser(ctx, "root", true); err != nil {
		t.Fatal(err)
	}
	users["root"] = User{Name: "root", Admin: true}
	return st, clk, users
}

func ttl(n int) *int { return &n }

func mustReserve(t *testing.T, st *Store, u User, req api.ReserveRequest) api.Reservation {
	t.Helper()
	r, err := st.Reserve(context.Background(), u, req)
	if err != nil {
		t.Fatalf("reserve %+v by %s: %v", req, u.Name, err)
	}
	return r
}

func wantStatus(t *testing.T, err error, status int, field string) {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) || se.Status != status || (field != "" && se.Field != field) {
		t.Fatalf("error %v (%#v), want status %d field %q", err, se, status, field)
	}
}

// dump is every row of every table, for "a failed request changes nothing".
func dumpAll(t *testing.T, st *Store) string {
	t.Helper()
	d, err := st.Dump(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func actions(t *testing.T, st *Store) []string {
	t.Helper()
	es, err := st.Audit(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		out = append(out, e.Action+":"+e.User+":"+e.Board)
	}
	return out
}

func TestGrantQueueRelease(t *testing.T) {
	ctx := context.Background()
	st, _, u := open(t)
	a := mustReserve(t, st, u["ana"], api.ReserveRequest{Board: "b10g-1", Comment: "seed 3", TTLSeconds: ttl(600)})
	if a.Status != api.StatusGranted || a.Board != "b10g-1" || a.ExpiresAt == nil || a.ExpiresAt.Sub(*a.GrantedAt) != 600*time.Second || a.Position != 0 {
		t.Fatalf("first reservation %+v", a)
	}
	before := dumpAll(t, st)
	_, err := st.Reserve(ctx, u["bo"], api.ReserveRequest{Board: "b10g-1"})
	wantStatus(t, err, 409, "wait")
	if !strings.Contains(err.Error(), "held by ana") {
		t.Errorf("409 message %q does not say who holds it", err)
	}
	if after := dumpAll(t, st); after != before {
		t.Errorf("a refused reservation changed the database:\n%s\nvs\n%s", before, after)
	}
	// Queue: bo (prio 0), cy (prio 5), di (prio 0): cy is first, then bo, then di.
	b := mustReserve(t, st, u["bo"], api.ReserveRequest{Board: "b10g-1", Wait: true})
	c := mustReserve(t, st, u["cy"], api.ReserveRequest{Board: "b10g-1", Wait: true, Priority: 5})
	d := mustReserve(t, st, u["di"], api.ReserveRequest{Board: "b10g-1", Wait: true})
	if b.Status != api.StatusQueued || b.Position != 1 || c.Position != 1 || d.Position != 3 {
		t.Fatalf("queued positions at creation: bo %d, cy %d, di %d", b.Position, c.Position, d.Position)
	}
	if g, _ := st.Get(ctx, b.ID); g.Position != 2 {
		t.Errorf("bo after cy (priority 5) queued: position %d, want 2", g.Position)
	}
	boards, _ := st.Boards(ctx)
	if boards[0].Holder == nil || boards[0].Holder.User != "ana" || boards[0].Holder.Comment != "seed 3" || boards[0].Queue != 3 || boards[1].Queue != 0 {
		t.Errorf("board view %+v", boards[0])
	}
	// Release: cy, then bo, then di.
	for _, next := range []api.Reservation{c, b, d} {
		holder, _ := st.Boards(ctx)
		id := holder[0].Holder.Reservation
		owner := u[holder[0].Holder.User]
		r, err := st.Release(ctx, owner, id, "")
		if err != nil || r.Status != api.StatusReleased || r.EndedAt == nil {
			t.Fatalf("release %d: %+v %v", id, r, err)
		}
		g, _ := st.Get(ctx, next.ID)
		if g.Status != api.StatusGranted || g.Board != "b10g-1" {
			t.Fatalf("after releasing %d, %s's reservation is %s, want granted", id, next.User, g.Status)
		}
	}
	want := []string{"grant:ana:b10g-1", "queue:bo:b10g-1", "queue:cy:b10g-1", "queue:di:b10g-1",
		"release:ana:b10g-1", "grant:cy:b10g-1", "release:cy:b10g-1", "grant:bo:b10g-1", "release:bo:b10g-1", "grant:di:b10g-1"}
	if got := actions(t, st); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("audit\n got %v\nwant %v", got, want)
	}
}

func TestTagBindsToBoardAndPositionsOverlap(t *testing.T) {
	ctx := context.Background()
	st, _, u := open(t)
	r1 := mustReserve(t, st, u["ana"], api.ReserveRequest{Tag: "10G"})
	r2 := mustReserve(t, st, u["bo"], api.ReserveRequest{Tag: "ecp5"})
	if r1.Board != "b10g-1" || r2.Board != "b10g-2" || r1.Tag != "10G" {
		t.Fatalf("tag grants: %s %s", r1.Board, r2.Board)
	}
	// 10G boards are all busy; a 100G board is not matched by tag 10G.
	_, err := st.Reserve(ctx, u["cy"], api.ReserveRequest{Tag: "10G"})
	wantStatus(t, err, 409, "")
	q1 := mustReserve(t, st, u["cy"], api.ReserveRequest{Tag: "10G", Wait: true})
	q2 := mustReserve(t, st, u["di"], api.ReserveRequest{Board: "b10g-2", Wait: true})
	q3 := mustReserve(t, st, u["di"], api.ReserveRequest{Board: "b100g-1", Wait: false})
	if q1.Position != 1 || q2.Position != 2 || q3.Status != api.StatusGranted {
		t.Fatalf("positions %d %d, 100G %s", q1.Position, q2.Position, q3.Status)
	}
	if q1.Board != "" {
		t.Errorf("a queued tag reservation has board %q before it is granted", q1.Board)
	}
	// b10g-2 frees: cy (tag 10G, older) gets it, bound to b10g-2; di keeps waiting.
	if _, err := st.Release(ctx, u["bo"], r2.ID, ""); err != nil {
		t.Fatal(err)
	}
	g1, _ := st.Get(ctx, q1.ID)
	g2, _ := st.Get(ctx, q2.ID)
	if g1.Status != api.StatusGranted || g1.Board != "b10g-2" || g2.Status != api.StatusQueued || g2.Position != 1 {
		t.Fatalf("after release: cy %s on %q, di %s at %d", g1.Status, g1.Board, g2.Status, g2.Position)
	}
	// Unknown names.
	_, err = st.Reserve(ctx, u["cy"], api.ReserveRequest{Tag: "25G"})
	wantStatus(t, err, 404, "tag")
	_, err = st.Reserve(ctx, u["cy"], api.ReserveRequest{Board: "nope"})
	wantStatus(t, err, 404, "board")
}

func TestValidation(t *testing.T) {
	ctx := context.Background()
	st, _, u := open(t)
	before := dumpAll(t, st)
	for _, tc := range []struct {
		req   api.ReserveRequest
		field string
	}{
		{api.ReserveRequest{}, "board"},
		{api.ReserveRequest{Board: "b10g-1", Tag: "10G"}, "tag"},
		{api.ReserveRequest{Board: "b10g-1", TTLSeconds: ttl(0)}, "ttl_seconds"},
		{api.ReserveRequest{Board: "b10g-1", TTLSeconds: ttl(86401)}, "ttl_seconds"},
		{api.ReserveRequest{Board: "b10g-1", Priority: 101}, "priority"},
		{api.ReserveRequest{Board: "b10g-1", Priority: -101}, "priority"},
		{api.ReserveRequest{Board: "b10g-1", Comment: strings.Repeat("x", 501)}, "comment"},
	} {
		_, err := st.Reserve(ctx, u["ana"], tc.req)
		wantStatus(t, err, 400, tc.field)
	}
	if after := dumpAll(t, st); after != before {
		t.Errorf("invalid requests changed the database")
	}
	r := mustReserve(t, st, u["ana"], api.ReserveRequest{Board: "b10g-1", TTLSeconds: ttl(86400), Priority: 100})
	if r.TTLSeconds != 86400 {
		t.Errorf("ttl %d", r.TTLSeconds)
	}
}

func TestRenewReleasePermissions(t *testing.T) {
	ctx := context.Background()
	st, clk, u := open(t)
	a := mustReserve(t, st, u["ana"], api.ReserveRequest{Board: "b10g-1", TTLSeconds: ttl(60)})
	q := mustReserve(t, st, u["bo"], api.ReserveRequest{Board: "b10g-1", Wait: true})
	before := dumpAll(t, st)
	_, err := st.Renew(ctx, u["bo"], a.ID, nil)
	wantStatus(t, err, 403, "")
	_, err = st.Release(ctx, u["bo"], a.ID, "")
	wantStatus(t, err, 403, "")
	_, err = st.Renew(ctx, u["root"], a.ID, nil) // renew is the holder's only
	wantStatus(t, err, 403, "")
	_, err = st.Renew(ctx, u["bo"], q.ID, nil) // queued: not renewable
	wantStatus(t, err, 409, "")
	_, err = st.Renew(ctx, u["ana"], 999, nil)
	wantStatus(t, err, 404, "")
	_, err = st.Renew(ctx, u["ana"], a.ID, ttl(0))
	wantStatus(t, err, 400, "ttl_seconds")
	if dumpAll(t, st) != before {
		t.Fatal("refused renew/release changed the database")
	}
	clk.Add(30 * time.Second)
	r, err := st.Renew(ctx, u["ana"], a.ID, ttl(120))
	if err != nil || !r.ExpiresAt.Equal(clk.Now().Add(120*time.Second)) {
		t.Fatalf("renew: %v %v", r.ExpiresAt, err)
	}
	// Admin kicks: the holder's lease ends as kicked, bo gets the board.
	k, err := st.Release(ctx, u["root"], a.ID, "needed for release test")
	if err != nil || k.Status != api.StatusKicked {
		t.Fatalf("kick: %+v %v", k, err)
	}
	if g, _ := st.Get(ctx, q.ID); g.Status != api.StatusGranted {
		t.Fatalf("waiter after kick: %s", g.Status)
	}
	_, err = st.Release(ctx, u["ana"], a.ID, "")
	wantStatus(t, err, 409, "")
	es, _ := st.Audit(ctx, "b10g-1", 10)
	found := false
	for _, e := range es {
		if e.Action == api.ActionKick && e.User == "root" && strings.Contains(e.Detail, "needed for release test") && strings.Contains(e.Detail, "ana") {
			found = true
		}
	}
	if !found {
		t.Errorf("no kick with reason in the audit log: %+v", es)
	}
	// A queued reservation released by its owner is cancelled.
	c := mustReserve(t, st, u["cy"], api.ReserveRequest{Board: "b10g-1", Wait: true})
	if r, err := st.Release(ctx, u["cy"], c.ID, ""); err != nil || r.Status != api.StatusCancelled {
		t.Fatalf("cancel: %+v %v", r, err)
	}
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	st, clk, u := open(t)
	a := mustReserve(t, st, u["ana"], api.ReserveRequest{Board: "b100g-1", TTLSeconds: ttl(10)})
	b := mustReserve(t, st, u["bo"], api.ReserveRequest{Tag: "100G", Wait: true, TTLSeconds: ttl(20)})
	n, next, err := st.ExpireDue(ctx)
	if err != nil || n != 0 || !next.Equal(*a.ExpiresAt) {
		t.Fatalf("nothing due: %d %v %v", n, next, err)
	}
	clk.Add(9999 * time.Millisecond)
	if n, _, _ := st.ExpireDue(ctx); n != 0 {
		t.Fatal("expired early")
	}
	clk.Add(time.Millisecond)
	n, next, err = st.ExpireDue(ctx)
	if err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
	ga, _ := st.Get(ctx, a.ID)
	gb, _ := st.Get(ctx, b.ID)
	if ga.Status != api.StatusExpired || gb.Status != api.StatusGranted || gb.Board != "b100g-1" || !next.Equal(*gb.ExpiresAt) {
		t.Fatalf("after expiry: ana %s, bo %s on %s", ga.Status, gb.Status, gb.Board)
	}
	got := actions(t, st)
	if strings.Join(got[len(got)-2:], " ") != "expire:ana:b100g-1 grant:bo:b100g-1" {
		t.Errorf("audit %v", got)
	}
	// A lease that has run out cannot be renewed, even before the loop expires it.
	clk.Add(21 * time.Second)
	_, err = st.Renew(ctx, u["bo"], b.ID, nil)
	wantStatus(t, err, 409, "")
}

func TestResults(t *testing.T) {
	ctx := context.Background()
	st, _, u := open(t)
	a := mustReserve(t, st, u["ana"], api.ReserveRequest{Board: "b10g-1"})
	res := api.Result{Reservation: a.ID, Passed: true, Frames: 3000, Summary: "3000/3000 frames, PASSED",
		BitstreamSHA256: strings.Repeat("ab", 32), Report: []byte(`{"frames": 3000}`)}
	before := dumpAll(t, st)
	_, err := st.AddResult(ctx, u["bo"], "b10g-1", res)
	wantStatus(t, err, 403, "reservation")
	_, err = st.AddResult(ctx, u["ana"], "b10g-2", res)
	wantStatus(t, err, 409, "reservation")
	_, err = st.AddResult(ctx, u["ana"], "nope", res)
	wantStatus(t, err, 404, "board")
	bad := res
	bad.BitstreamSHA256 = "xyz"
	_, err = st.AddResult(ctx, u["ana"], "b10g-1", bad)
	wantStatus(t, err, 400, "bitstream_sha256")
	if dumpAll(t, st) != before {
		t.Fatal("refused results changed the database")
	}
	id, err := st.AddResult(ctx, u["ana"], "b10g-1", res)
	if err != nil || id != 1 {
		t.Fatalf("add result: %d %v", id, err)
	}
	bs, _ := st.Boards(ctx)
	if lt := bs[0].LastTest; lt == nil || !lt.Passed || lt.Frames != 3000 || lt.User != "ana" || bs[1].LastTest != nil {
		t.Fatalf("last test %+v", bs[0].LastTest)
	}
	rs, err := st.Results(ctx, "b10g-1", 20)
	if err != nil || len(rs) != 1 || string(rs[0].Report) != `{"frames": 3000}` {
		t.Fatalf("results %+v %v", rs, err)
	}
}

func TestInventoryReloadKeepsHeldBoard(t *testing.T) {
	ctx := context.Background()
	st, _, u := open(t)
	a := mustReserve(t, st, u["ana"], api.ReserveRequest{Board: "b100g-1"})
	q := mustReserve(t, st, u["bo"], api.ReserveRequest{Board: "b100g-1", Wait: true})
	smaller, err := inventory.Parse("boards.yaml", []byte(strings.Join(strings.Split(testInventory, "\n")[:3], "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetInventory(ctx, smaller, "root"); err != nil {
		t.Fatal(err)
	}
	bs, _ := st.Boards(ctx)
	if len(bs) != 3 || bs[2].Name != "b100g-1" || !bs[2].Removed || bs[2].Holder == nil || bs[2].Part != "XCVU9P" {
		t.Fatalf("boards after removing a held one: %+v", bs)
	}
	_, err = st.Reserve(ctx, u["cy"], api.ReserveRequest{Board: "b100g-1", Wait: true})
	wantStatus(t, err, 404, "board")
	if _, err := st.Release(ctx, u["ana"], a.ID, ""); err != nil {
		t.Fatal(err)
	}
	if g, _ := st.Get(ctx, q.ID); g.Status != api.StatusQueued {
		t.Fatalf("a removed board was granted: %s", g.Status)
	}
	// It comes back: the waiter gets it.
	full, _ := inventory.Parse("boards.yaml", []byte(testInventory))
	if err := st.SetInventory(ctx, full, "root"); err != nil {
		t.Fatal(err)
	}
	if g, _ := st.Get(ctx, q.ID); g.Status != api.StatusGranted {
		t.Fatalf("waiter after the board came back: %s", g.Status)
	}
	got := actions(t, st)
	if !strings.Contains(strings.Join(got, " "), "reload:root: release:ana:b100g-1 reload:root: grant:bo:b100g-1") {
		t.Errorf("audit %v", got)
	}
}

func TestSchemaAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lab.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := st.AddUser(ctx, "ana", true)
	if err != nil || !strings.HasPrefix(tok, TokenPrefix) {
		t.Fatal(err)
	}
	if _, err := st.AddUser(ctx, "ana", false); err == nil {
		t.Error("duplicate user accepted")
	}
	if _, err := st.AddUser(ctx, "bad name", false); err == nil {
		t.Error("bad user name accepted")
	}
	st.Close()
	st, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.Authenticate(ctx, tok)
	if err != nil || u.Name != "ana" || !u.Admin {
		t.Fatalf("authenticate after reopen: %+v %v", u, err)
	}
	if _, err := st.Authenticate(ctx, tok+"x"); err == nil {
		t.Error("wrong token accepted")
	}
	var mode string
	var ver int
	var stored string
	st.rdb.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	st.rdb.QueryRow(`PRAGMA user_version`).Scan(&ver)
	st.rdb.QueryRow(`SELECT token_sha256 FROM users`).Scan(&stored)
	if mode != "wal" || ver != SchemaVersion || stored != HashToken(tok) || strings.Contains(stored, tok) {
		t.Errorf("journal_mode %q, user_version %d, stored token %q", mode, ver, stored)
	}
	var sync int
	st.wdb.QueryRow(`PRAGMA synchronous`).Scan(&sync)
	if sync != 2 {
		t.Errorf("synchronous = %d, want 2 (FULL)", sync)
	}
	if _, err := st.wdb.Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("opening a newer schema: %v", err)
	}
	// The database itself refuses a second holder.
	db, _ := sql.Open("sqlite", path)
	defer db.Close()
	db.Exec(`PRAGMA user_version = 1`)
	_, err1 := db.Exec(`INSERT INTO reservations (username, board, status, ttl_seconds, created_at, granted_at, expires_at) VALUES ('ana', 'x', 'granted', 1, 1, 1, 2)`)
	_, err2 := db.Exec(`INSERT INTO reservations (username, board, status, ttl_seconds, created_at, granted_at, expires_at) VALUES ('ana', 'x', 'granted', 1, 1, 1, 2)`)
	if err1 != nil || err2 == nil {
		t.Errorf("second holder of one board: first %v, second %v (want a UNIQUE error)", err1, err2)
	}
}

// Two stores on one file (as two processes would be) reserving at once: the
// BEGIN IMMEDIATE transactions serialize, no request fails with "database
// is locked", and each board is granted once.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := context.Background()
	st1, _, u := open(t)
	st2, err := Open(ctx, st1.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	st2.Now = st1.Now
	st2.SetInventory(ctx, st1.Inventory(), "")
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted, conflicts := map[string]int{}, 0
	for i := range 60 {
		st := []*Store{st1, st2}[i%2]
		wg.Go(func() {
			r, err := st.Reserve(ctx, u[[]string{"ana", "bo", "cy", "di"}[i%4]], api.ReserveRequest{Tag: []string{"10G", "100G"}[i%2]})
			mu.Lock()
			defer mu.Unlock()
			var se *Error
			switch {
			case err == nil:
				granted[r.Board]++
			case errors.As(err, &se) && se.Status == 409:
				conflicts++
			default:
				t.Errorf("reserve %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if len(granted) != 3 || conflicts != 57 {
		t.Errorf("granted %v, %d conflicts; want each of 3 boards once and 57 conflicts", granted, conflicts)
	}
	for b, n := range granted {
		if n != 1 {
			t.Errorf("%s granted %d times", b, n)
		}
	}
	// Renewals read, then write: with deferred transactions two stores
	// would fail to upgrade their read locks ("database is locked").
	held, _ := st1.List(ctx, "", false)
	for i := range 60 {
		st := []*Store{st1, st2}[i%2]
		r := held[i%len(held)]
		wg.Go(func() {
			if _, err := st.Renew(ctx, u[r.User], r.ID, ttl(60+i)); err != nil {
				t.Errorf("renew %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := len(actions(t, st1)); n != 3+60 {
		t.Errorf("%d audit rows, want 63: %v", n, actions(t, st1))
	}
}
