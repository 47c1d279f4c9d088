package server

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/client"
	"github.com/fpgactl/fpgactl/labctl/inventory"
)

const concurrentUsers = 100

func hundredUsers() []string {
	us := make([]string, concurrentUsers)
	for i := range us {
		us[i] = fmt.Sprintf("u%03d", i)
	}
	return us
}

// noTwoHolders checks the database: at most one granted reservation per board.
func noTwoHolders(t *testing.T, dbPath string) {
	t.Helper()
	if n := dbInt(t, dbPath, `SELECT count(*) FROM (SELECT board FROM reservations WHERE status = 'granted' GROUP BY board HAVING count(*) > 1)`); n != 0 {
		t.Errorf("%d boards have two holders in the database", n)
	}
}

// 100 users ask for 4 boards at the same moment without waiting: exactly 4
// are granted, 96 get 409 and leave no trace.
func TestConcurrentReserveNoWait(t *testing.T) {
	users := hundredUsers()
	l := newLab(t, users...)
	ctx := context.Background()
	var granted, conflicts, other atomic.Int32
	holders := make([]string, len(users))
	start := make(chan struct{})
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, u := range users {
		wg.Go(func() {
			<-start
			r, err := l.client(u).Reserve(ctx, api.ReserveRequest{Board: boardNames[i%4], Comment: u})
			switch {
			case err == nil && r.Status == api.StatusGranted:
				granted.Add(1)
				holders[i] = r.Board
			case client.IsStatus(err, 409):
				conflicts.Add(1)
			default:
				other.Add(1)
				t.Errorf("%s: %+v %v", u, r, err)
			}
		})
	}
	close(start)
	wg.Wait()
	t.Logf("%d concurrent reserve calls in %s", len(users), time.Since(t0).Round(time.Millisecond))
	if granted.Load() != 4 || conflicts.Load() != 96 || other.Load() != 0 {
		t.Fatalf("granted %d, 409 %d, other %d; want 4, 96, 0", granted.Load(), conflicts.Load(), other.Load())
	}
	var got []string
	for _, h := range holders {
		if h != "" {
			got = append(got, h)
		}
	}
	slices.Sort(got)
	if want := slices.Sorted(slices.Values(boardNames)); !slices.Equal(got, want) {
		t.Errorf("granted boards %v, want each of %v once", got, want)
	}
	noTwoHolders(t, l.dbPath)
	if n := dbInt(t, l.dbPath, `SELECT count(*) FROM reservations`); n != 4 {
		t.Errorf("%d reservation rows, want 4 (refused requests must leave nothing)", n)
	}
	if n := dbInt(t, l.dbPath, `SELECT count(DISTINCT board) FROM reservations WHERE status = 'granted'`); n != 4 {
		t.Errorf("%d distinct held boards, want 4", n)
	}
	if n := dbInt(t, l.dbPath, `SELECT count(*) FROM audit WHERE action = 'grant'`); n != 4 {
		t.Errorf("%d grant audit rows, want 4", n)
	}
}

// expectedNext is the test's own model of the queue: the first queued
// reservation (priority desc, then id) that can take board.
func expectedNext(queue []api.Reservation, board string, inv *inventory.Inventory) (api.Reservation, bool) {
	slices.SortStableFunc(queue, func(a, b api.Reservation) int {
		if a.Priority != b.Priority {
			return b.Priority - a.Priority
		}
		return int(a.ID - b.ID)
	})
	b, _ := inv.Board(board)
	for _, r := range queue {
		if r.Board == board || (r.Tag != "" && b.HasTag(r.Tag)) {
			return r, true
		}
	}
	return api.Reservation{}, false
}

// 100 users ask for 4 boards at once, willing to wait: 4 granted, 96
// queued; releases hand the boards on in priority/age order, never to two.
func TestConcurrentReserveWaitAndDrain(t *testing.T) {
	users := hundredUsers()
	l := newLab(t, users...)
	ctx := context.Background()
	inv := l.st.Inventory()
	res := make([]api.Reservation, len(users))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			<-start
			req := api.ReserveRequest{Board: boardNames[i%4], Wait: true, Priority: (i*37)%21 - 10, Comment: u}
			if i%5 == 0 { // some ask for any board of a speed
				req.Board, req.Tag = "", []string{"10G", "100G"}[i%2]
			}
			r, err := l.client(u).Reserve(ctx, req)
			if err != nil {
				t.Errorf("%s: %v", u, err)
			}
			res[i] = r
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	count := map[string]int{}
	for _, r := range res {
		count[r.Status]++
	}
	if count[api.StatusGranted] != 4 || count[api.StatusQueued] != 96 {
		t.Fatalf("statuses %v, want 4 granted and 96 queued", count)
	}
	noTwoHolders(t, l.dbPath)
	owner := map[int64]string{}
	for i, r := range res {
		owner[r.ID] = users[i]
	}

	// Sequential phase: release 40 holders one by one; each board must go to
	// exactly the reservation the test's own model of the queue predicts.
	admin := l.client(users[0])
	for step := 0; step < 40; step++ {
		bs, err := admin.Boards(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b := bs[step%4]
		if b.Holder == nil {
			t.Fatalf("step %d: %s has no holder while %d wait", step, b.Name, b.Queue)
		}
		queue, err := l.st.Queue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want, ok := expectedNext(queue, b.Name, inv)
		if _, err := l.client(b.Holder.User).Release(ctx, b.Holder.Reservation); err != nil {
			t.Fatal(err)
		}
		after, _ := admin.Board(ctx, b.Name)
		switch {
		case !ok && after.Holder != nil:
			t.Fatalf("step %d: nobody should get %s, %s did", step, b.Name, after.Holder.User)
		case ok && (after.Holder == nil || after.Holder.Reservation != want.ID):
			t.Fatalf("step %d: %s went to %+v, want reservation %d (priority %d)", step, b.Name, after.Holder, want.ID, want.Priority)
		}
		noTwoHolders(t, l.dbPath)
	}

	// Concurrent phase: every user waits (long poll) for its reservation and
	// releases it at once, all at the same time, while a watcher checks the
	// database for a second holder.
	stop := make(chan struct{})
	var twice atomic.Int32
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := dbInt(t, l.dbPath, `SELECT count(*) FROM (SELECT board FROM reservations WHERE status = 'granted' GROUP BY board HAVING count(*) > 1)`); n != 0 {
				twice.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var grantsSeen atomic.Int32
	for i, u := range users {
		wg.Go(func() {
			c := l.client(u)
			wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			r, err := c.Wait(wctx, res[i].ID)
			if err != nil {
				t.Errorf("%s waiting: %v", u, err)
				return
			}
			if r.Status == api.StatusGranted {
				grantsSeen.Add(1)
				if _, err := c.Release(ctx, r.ID); err != nil {
					t.Errorf("%s release: %v", u, err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	if twice.Load() != 0 {
		t.Errorf("a board had two holders %d times", twice.Load())
	}
	if n := dbInt(t, l.dbPath, `SELECT count(*) FROM reservations WHERE status = 'released'`); n != 100 {
		t.Errorf("%d reservations released, want all 100", n)
	}
	if n := dbInt(t, l.dbPath, `SELECT count(*) FROM audit WHERE action = 'grant'`); n != 100 {
		t.Errorf("%d grants in the audit log, want 100", n)
	}
	// Every grant in the log went to the best waiter for that board at the time:
	// replay the audit log against the model.
	checkGrantOrder(t, l, inv)
}

// checkGrantOrder replays the audit log: at each grant, the reservation
// granted must be the one the queue model picks for that board.
func checkGrantOrder(t *testing.T, l *lab, inv *inventory.Inventory) {
	t.Helper()
	ev, err := l.st.Audit(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(ev)
	all, _ := l.st.List(context.Background(), "", true)
	byID := map[int64]api.Reservation{}
	for _, r := range all {
		if r.Tag != "" {
			r.Board = "" // as it was while queued
		}
		byID[r.ID] = r
	}
	queued := map[int64]api.Reservation{}
	for _, e := range ev {
		switch e.Action {
		case api.ActionQueue:
			queued[e.Reservation] = byID[e.Reservation]
		case api.ActionGrant:
			if _, wasQueued := queued[e.Reservation]; wasQueued {
				q := make([]api.Reservation, 0, len(queued))
				for _, r := range queued {
					q = append(q, r)
				}
				want, _ := expectedNext(q, e.Board, inv)
				if want.ID != e.Reservation {
					t.Errorf("audit %d: %s granted to reservation %d, the queue says %d", e.ID, e.Board, e.Reservation, want.ID)
				}
				delete(queued, e.Reservation)
			}
		}
	}
}

// A 1 s lease runs out: the board is expired and handed to the waiter within
// about a second, and the audit log says expire then grant.
func TestLeaseExpiry(t *testing.T) {
	l := newLab(t, "ana", "bo")
	ctx := context.Background()
	a, err := l.client("ana").Reserve(ctx, api.ReserveRequest{Board: "b10g-2", TTLSeconds: api.TTL(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	q, err := l.client("bo").Reserve(ctx, api.ReserveRequest{Tag: "ecp5", Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if q.Status != api.StatusGranted { // b10g-1 is free: take it so bo must wait for b10g-2
		t.Fatalf("setup: %+v", q)
	}
	w, err := l.client("bo").Reserve(ctx, api.ReserveRequest{Board: "b10g-2", Wait: true})
	if err != nil || w.Status != api.StatusQueued {
		t.Fatalf("queue: %+v %v", w, err)
	}
	g, err := l.client("bo").Wait(ctx, w.ID)
	granted := time.Now()
	if err != nil || g.Status != api.StatusGranted || g.Board != "b10g-2" {
		t.Fatalf("wait: %+v %v", g, err)
	}
	late := granted.Sub(*a.ExpiresAt)
	t.Logf("granted %s after the lease ended", late.Round(time.Millisecond))
	if late < 0 || late > time.Second {
		t.Errorf("the waiter got the board %s after the lease ended, want within 1 s", late)
	}
	ra, _ := l.client("ana").Get(ctx, a.ID)
	if ra.Status != api.StatusExpired || ra.EndedAt == nil {
		t.Errorf("expired lease: %+v", ra)
	}
	ev, _ := l.client("ana").Audit(ctx, "b10g-2", 2)
	if len(ev) != 2 || ev[1].Action != "expire" || ev[1].User != "ana" || ev[0].Action != "grant" || ev[0].User != "bo" || ev[0].Reservation != w.ID {
		t.Errorf("audit of b10g-2, newest first: %+v", ev)
	}
}

// Tokens cannot act on other users' reservations; an admin can kick.
func TestOwnership(t *testing.T) {
	l := newLab(t, "ana", "bo", "root!")
	ctx := context.Background()
	a, _ := l.client("ana").Reserve(ctx, api.ReserveRequest{Board: "b100g-1"})
	q, _ := l.client("ana").Reserve(ctx, api.ReserveRequest{Board: "b100g-1", Wait: true})
	before := l.dump()
	for _, id := range []int64{a.ID, q.ID} {
		if _, err := l.client("bo").Renew(ctx, id, time.Hour); !client.IsStatus(err, 403) {
			t.Errorf("bo renews ana's %d: %v", id, err)
		}
		if _, err := l.client("bo").Release(ctx, id); !client.IsStatus(err, 403) {
			t.Errorf("bo releases ana's %d: %v", id, err)
		}
	}
	if _, err := l.client("root").Renew(ctx, a.ID, time.Hour); !client.IsStatus(err, 403) {
		t.Errorf("admin renews ana's lease: %v", err)
	}
	if l.dump() != before {
		t.Fatal("refused requests changed the database")
	}
	for _, id := range []int64{q.ID, a.ID} {
		r, err := l.client("root").Kick(ctx, id, "bench move")
		if err != nil || r.Status != api.StatusKicked {
			t.Fatalf("admin kick %d: %+v %v", id, r, err)
		}
	}
	if b, _ := l.client("bo").Board(ctx, "b100g-1"); b.Holder != nil || b.Queue != 0 {
		t.Errorf("board after kicks: %+v", b)
	}
	ev, _ := l.client("bo").Audit(ctx, "b100g-1", 2)
	if len(ev) != 2 || ev[0].Action != "kick" || ev[1].Action != "kick" || ev[0].User != "root" {
		t.Errorf("audit: %+v", ev)
	}
}
