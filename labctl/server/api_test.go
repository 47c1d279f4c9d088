package server

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/client"
)

func decodeErr(t *testing.T, body string) api.ErrorBody {
	t.Helper()
	var e api.ErrorBody
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Fatalf("error body %q is not {\"error\": ...}: %v", body, err)
	}
	return e
}

// failing sends requests that must fail with status (and field), and checks
// that none of them changed the database.
type failCase struct {
	name, method, path, user, body string
	status                         int
	field, msg                     string
}

func runFailing(t *testing.T, l *lab, cases []failCase) {
	t.Helper()
	for _, tc := range cases {
		before := l.dump()
		tok := l.tok[tc.user]
		if tc.user == "-wrong-" {
			tok = "fpl_not-a-token"
		}
		status, body := l.do(tc.method, tc.path, tok, tc.body)
		if status != tc.status {
			t.Errorf("%s: %s %s → %d %s, want %d", tc.name, tc.method, tc.path, status, body, tc.status)
			continue
		}
		e := decodeErr(t, body)
		if e.Field != tc.field || !strings.Contains(e.Error, tc.msg) {
			t.Errorf("%s: error %+v, want field %q and a message containing %q", tc.name, e, tc.field, tc.msg)
		}
		if after := l.dump(); after != before {
			t.Errorf("%s: the failed request changed the database:\nbefore:\n%s\nafter:\n%s", tc.name, before, after)
		}
	}
}

func TestAuth(t *testing.T) {
	l := newLab(t, "ana")
	for _, path := range []string{"/api/v1/boards", "/api/v1/reservations", "/api/v1/audit", "/api/v1/me"} {
		status, body := l.do("GET", path, "", "")
		if status != 401 || !strings.Contains(decodeErr(t, body).Error, "no token") {
			t.Errorf("GET %s without token: %d %s", path, status, body)
		}
	}
	runFailing(t, l, []failCase{
		{"no token", "POST", "/api/v1/reservations", "", `{"board":"b10g-1"}`, 401, "", "no token"},
		{"wrong token", "POST", "/api/v1/reservations", "-wrong-", `{"board":"b10g-1"}`, 401, "", "unknown token"},
		{"wrong token renew", "POST", "/api/v1/reservations/1/renew", "-wrong-", `{}`, 401, "", "unknown token"},
		{"wrong token delete", "DELETE", "/api/v1/reservations/1", "-wrong-", ``, 401, "", "unknown token"},
	})
	req, _ := http.NewRequest("GET", l.hs.URL+"/api/v1/boards", nil)
	req.Header.Set("Authorization", "Basic "+l.tok["ana"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("Basic auth: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	// The client turns a 401 into an error that says how to get a token, without the token.
	_, err = client.New(l.hs.URL, "fpl_secret-wrong").Boards(context.Background())
	if !client.IsStatus(err, 401) || !strings.Contains(err.Error(), "lab user add") || strings.Contains(err.Error(), "secret-wrong") {
		t.Errorf("client 401 error: %v", err)
	}
	me, err := l.client("ana").Me(context.Background())
	if err != nil || me.Name != "ana" || me.Admin {
		t.Errorf("me: %+v %v", me, err)
	}
}

func TestPublicEndpoints(t *testing.T) {
	l := newLab(t)
	status, body := l.do("GET", "/healthz", "", "")
	if status != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("healthz: %d %s", status, body)
	}
	status, body = l.do("GET", "/", "", "")
	if status != 200 || !strings.Contains(body, "<table") || !strings.Contains(body, "b100g-2") {
		t.Errorf("page: %d %.200s", status, body)
	}
	status, body = l.do("PUT", "/api/v1/boards", "", "")
	if status != 405 || !strings.Contains(decodeErr(t, body).Error, "GET") {
		t.Errorf("PUT boards: %d %s", status, body)
	}
	status, body = l.do("GET", "/api/v2/boards", "", "")
	if status != 404 || !strings.Contains(decodeErr(t, body).Error, "no such endpoint") {
		t.Errorf("unknown endpoint: %d %s", status, body)
	}
}

func TestBoardsEndpoints(t *testing.T) {
	l := newLab(t, "ana")
	ctx := context.Background()
	c := l.client("ana")
	bs, err := c.Boards(ctx)
	if err != nil || len(bs) != 4 {
		t.Fatalf("boards: %v %v", bs, err)
	}
	b := bs[2]
	if b.Name != "b100g-1" || b.Speed != "100G" || b.LabHost != "lab2" || b.SSHAddress != "10.77.2.2:22" || b.IfaceIn != "c0" ||
		b.Control != "/run/fpgactl/b100g-1.sock" || !strings.Contains(b.Program, "{bitstream}") || strings.Join(b.Tags, ",") != "100G,ultrascale" ||
		b.Holder != nil || b.Queue != 0 || b.LastTest != nil {
		t.Errorf("board %+v", b)
	}
	// null holder and last_test are on the wire, as the contract shows.
	_, body := l.do("GET", "/api/v1/boards/b10g-1", l.tok["ana"], "")
	if !strings.Contains(body, `"holder": null`) || !strings.Contains(body, `"last_test": null`) {
		t.Errorf("board JSON: %s", body)
	}
	if _, err := c.Board(ctx, "b10g-9"); !client.IsStatus(err, 404) || !strings.Contains(err.Error(), "b10g-1") {
		t.Errorf("unknown board: %v", err)
	}
	runFailing(t, l, []failCase{
		{"unknown board", "GET", "/api/v1/boards/nope", "ana", "", 404, "board", "no board \"nope\""},
		{"unknown query", "GET", "/api/v1/boards?x=1", "ana", "", 400, "x", "unknown query parameter"},
	})
}

func TestReserveEndpoint(t *testing.T) {
	l := newLab(t, "ana", "bo")
	runFailing(t, l, []failCase{
		{"malformed JSON", "POST", "/api/v1/reservations", "ana", `{"board": "b10g-1"`, 400, "", "malformed JSON"},
		{"syntax error", "POST", "/api/v1/reservations", "ana", `{"board": b10g-1}`, 400, "", "malformed JSON at byte"},
		{"not an object", "POST", "/api/v1/reservations", "ana", `[1]`, 400, "", "must be a JSON object"},
		{"empty body", "POST", "/api/v1/reservations", "ana", ``, 400, "", "empty request body"},
		{"trailing data", "POST", "/api/v1/reservations", "ana", `{"board": "b10g-1"} {}`, 400, "", "extra data"},
		{"unknown field", "POST", "/api/v1/reservations", "ana", `{"board": "b10g-1", "lease": 5}`, 400, "lease", `unknown field "lease" (allowed: board, tag, ttl_seconds`},
		{"ttl zero", "POST", "/api/v1/reservations", "ana", `{"board": "b10g-1", "ttl_seconds": 0}`, 400, "ttl_seconds", "1..86400"},
		{"ttl too long", "POST", "/api/v1/reservations", "ana", `{"board": "b10g-1", "ttl_seconds": 86401}`, 400, "ttl_seconds", "out of range"},
		{"ttl string", "POST", "/api/v1/reservations", "ana", `{"board": "b10g-1", "ttl_seconds": "1h"}`, 400, "ttl_seconds", "must be a number"},
		{"ttl fraction", "POST", "/api/v1/reservations", "ana", `{"board": "b10g-1", "ttl_seconds": 1.5}`, 400, "ttl_seconds", "must be a number"},
		{"priority", "POST", "/api/v1/reservations", "ana", `{"board": "b10g-1", "priority": 1000}`, 400, "priority", "-100..100"},
		{"wait type", "POST", "/api/v1/reservations", "ana", `{"board": "b10g-1", "wait": "yes"}`, 400, "wait", "true or false"},
		{"neither", "POST", "/api/v1/reservations", "ana", `{"comment": "x"}`, 400, "board", "exactly one of board, tag"},
		{"both", "POST", "/api/v1/reservations", "ana", `{"board": "b10g-1", "tag": "10G"}`, 400, "tag", "not both"},
		{"unknown board", "POST", "/api/v1/reservations", "ana", `{"board": "b10g-7"}`, 404, "board", `no board "b10g-7"`},
		{"unknown tag", "POST", "/api/v1/reservations", "ana", `{"tag": "25G"}`, 404, "tag", `no board has tag "25G"`},
		{"too large", "POST", "/api/v1/reservations", "ana", `{"comment": "` + strings.Repeat("x", MaxBody) + `"}`, 413, "", "larger than"},
		{"query", "POST", "/api/v1/reservations?wait=1", "ana", `{"board": "b10g-1"}`, 400, "wait", "unknown query parameter"},
	})
	status, body := l.do("POST", "/api/v1/reservations", l.tok["ana"], `{"board": "b10g-1", "ttl_seconds": 600, "comment": "seed 3 on board", "priority": 0, "wait": true}`)
	var r api.Reservation
	if status != 201 || json.Unmarshal([]byte(body), &r) != nil || r.Status != "granted" || r.User != "ana" || r.TTLSeconds != 600 ||
		r.ExpiresAt == nil || r.ExpiresAt.Sub(*r.GrantedAt) != 600*time.Second || r.Comment != "seed 3 on board" {
		t.Fatalf("reserve: %d %s", status, body)
	}
	if !strings.Contains(body, `"created_at": "20`) || !strings.Contains(body, `Z"`) {
		t.Errorf("times are not RFC 3339 UTC: %s", body)
	}
	runFailing(t, l, []failCase{
		{"busy, no wait", "POST", "/api/v1/reservations", "bo", `{"board": "b10g-1"}`, 409, "wait", "held by ana"},
	})
	status, body = l.do("POST", "/api/v1/reservations", l.tok["bo"], `{"board": "b10g-1", "wait": true}`)
	if status != 201 || !strings.Contains(body, `"status": "queued"`) || !strings.Contains(body, `"position": 1`) {
		t.Errorf("queue: %d %s", status, body)
	}
	// Default ttl.
	status, body = l.do("POST", "/api/v1/reservations", l.tok["bo"], `{"tag": "100G"}`)
	if status != 201 || !strings.Contains(body, `"ttl_seconds": 3600`) || !strings.Contains(body, `"board": "b100g-1"`) {
		t.Errorf("tag reserve: %d %s", status, body)
	}
}

func TestReservationEndpoints(t *testing.T) {
	l := newLab(t, "ana", "bo", "root!")
	ctx := context.Background()
	ana, bo, root := l.client("ana"), l.client("bo"), l.client("root")
	a, err := ana.Reserve(ctx, api.ReserveRequest{Board: "b10g-1", TTLSeconds: api.TTL(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	q, err := bo.Reserve(ctx, api.ReserveRequest{Board: "b10g-1", Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	id := func(n int64) string { return "/api/v1/reservations/" + itoa(n) }
	runFailing(t, l, []failCase{
		{"get unknown", "GET", id(999), "ana", "", 404, "id", "no reservation 999"},
		{"get bad id", "GET", "/api/v1/reservations/abc", "ana", "", 404, "id", "positive integers"},
		{"bad wait", "GET", id(q.ID) + "?wait=soon", "ana", "", 400, "wait", "not a duration"},
		{"long wait", "GET", id(q.ID) + "?wait=61s", "ana", "", 400, "wait", "out of range"},
		{"bad all", "GET", "/api/v1/reservations?all=maybe", "ana", "", 400, "all", "use 1 or 0"},
		{"renew other's", "POST", id(a.ID) + "/renew", "bo", `{"ttl_seconds": 60}`, 403, "id", "only its holder"},
		{"renew queued", "POST", id(q.ID) + "/renew", "bo", `{"ttl_seconds": 60}`, 409, "id", "not granted"},
		{"renew unknown", "POST", id(999) + "/renew", "ana", `{}`, 404, "id", "no reservation"},
		{"renew bad ttl", "POST", id(a.ID) + "/renew", "ana", `{"ttl_seconds": -5}`, 400, "ttl_seconds", "out of range"},
		{"renew unknown field", "POST", id(a.ID) + "/renew", "ana", `{"ttl": 5}`, 400, "ttl", "unknown field"},
		{"renew malformed", "POST", id(a.ID) + "/renew", "ana", `{"ttl_seconds": `, 400, "", "malformed JSON"},
		{"release other's", "DELETE", id(a.ID), "bo", "", 403, "id", "only its holder or a lab admin"},
		{"release unknown", "DELETE", id(999), "bo", "", 404, "id", "no reservation"},
		{"release bad query", "DELETE", id(a.ID) + "?why=x", "ana", "", 400, "why", "allowed: reason"},
	})
	// Get and list.
	g, err := bo.Get(ctx, q.ID)
	if err != nil || g.Status != api.StatusQueued || g.Position != 1 {
		t.Fatalf("get: %+v %v", g, err)
	}
	all, err := bo.Reservations(ctx, false)
	if err != nil || len(all) != 2 {
		t.Fatalf("list: %v %v", all, err)
	}
	mine, err := bo.Mine(ctx, false)
	if err != nil || len(mine) != 1 || mine[0].ID != q.ID {
		t.Fatalf("mine: %v %v", mine, err)
	}
	// Long poll: held for the wait while queued...
	start := time.Now()
	status, body := l.do("GET", id(q.ID)+"?wait=1s", l.tok["bo"], "")
	if el := time.Since(start); status != 200 || !strings.Contains(body, `"queued"`) || el < 900*time.Millisecond || el > 3*time.Second {
		t.Errorf("long poll while queued: %d after %s", status, el)
	}
	// ...and answered as soon as it is granted.
	go func() {
		time.Sleep(300 * time.Millisecond)
		ana.Renew(ctx, a.ID, 2*time.Minute)
		time.Sleep(200 * time.Millisecond)
		ana.Release(ctx, a.ID)
	}()
	start = time.Now()
	status, body = l.do("GET", id(q.ID)+"?wait=30s", l.tok["bo"], "")
	if el := time.Since(start); status != 200 || !strings.Contains(body, `"granted"`) || el > 5*time.Second {
		t.Errorf("long poll until granted: %d %s after %s", status, body, el)
	}
	// Renew by the holder, default ttl with an empty body.
	status, body = l.do("POST", id(q.ID)+"/renew", l.tok["bo"], "")
	if status != 200 || !strings.Contains(body, `"ttl_seconds": 3600`) {
		t.Errorf("renew with empty body: %d %s", status, body)
	}
	// Ended reservations: 409 on renew and release.
	runFailing(t, l, []failCase{
		{"renew released", "POST", id(a.ID) + "/renew", "ana", `{}`, 409, "id", "not granted"},
		{"release released", "DELETE", id(a.ID), "ana", "", 409, "id", "already ended"},
	})
	// Admin kick with a reason.
	k, err := root.Kick(ctx, q.ID, "lab maintenance")
	if err != nil || k.Status != api.StatusKicked {
		t.Fatalf("kick: %+v %v", k, err)
	}
	ended, err := bo.Reservations(ctx, true)
	if err != nil || len(ended) != 2 || ended[0].ID != q.ID || ended[0].Status != api.StatusKicked {
		t.Fatalf("all=1 newest first: %+v %v", ended, err)
	}
	ev, err := ana.Audit(ctx, "b10g-1", 1)
	if err != nil || len(ev) != 1 || ev[0].Action != "kick" || !strings.Contains(ev[0].Detail, "lab maintenance") || ev[0].User != "root" {
		t.Errorf("audit of the kick: %+v %v", ev, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestResultsAndAuditEndpoints(t *testing.T) {
	l := newLab(t, "ana", "bo")
	ctx := context.Background()
	ana := l.client("ana")
	a, err := ana.Reserve(ctx, api.ReserveRequest{Board: "b100g-2", Comment: "on-board test"})
	if err != nil {
		t.Fatal(err)
	}
	sha := strings.Repeat("0123456789abcdef", 4)
	body := func(extra string) string {
		return `{"reservation": ` + itoa(a.ID) + `, "passed": true, "frames": 3000, "mismatches": 0, "summary": "3000/3000 frames, PASSED", "bitstream_sha256": "` + sha + `", "report": {"scenario": "imix"}` + extra + `}`
	}
	runFailing(t, l, []failCase{
		{"result unknown field", "POST", "/api/v1/boards/b100g-2/results", "ana", body(`, "id": 3`), 400, "id", "unknown field"},
		{"result malformed", "POST", "/api/v1/boards/b100g-2/results", "ana", `{"reservation": `, 400, "", "malformed"},
		{"result not holder", "POST", "/api/v1/boards/b100g-2/results", "bo", body(""), 403, "reservation", "only the holder"},
		{"result other board", "POST", "/api/v1/boards/b100g-1/results", "ana", body(""), 409, "reservation", "does not hold b100g-1"},
		{"result unknown board", "POST", "/api/v1/boards/nope/results", "ana", body(""), 404, "board", "no board"},
		{"result bad sha", "POST", "/api/v1/boards/b100g-2/results", "ana", strings.Replace(body(""), sha, "xyz", 1), 400, "bitstream_sha256", "hex"},
		{"result negative", "POST", "/api/v1/boards/b100g-2/results", "ana", strings.Replace(body(""), `"frames": 3000`, `"frames": -1`, 1), 400, "frames", "0 or more"},
		{"results bad limit", "GET", "/api/v1/boards/b100g-2/results?limit=-1", "ana", "", 400, "limit", "out of range"},
		{"results limit NaN", "GET", "/api/v1/boards/b100g-2/results?limit=x", "ana", "", 400, "limit", "not an integer"},
		{"results unknown board", "GET", "/api/v1/boards/nope/results", "ana", "", 404, "board", "no board"},
		{"audit bad limit", "GET", "/api/v1/audit?limit=100000", "ana", "", 400, "limit", "out of range"},
	})
	status, resp := l.do("POST", "/api/v1/boards/b100g-2/results", l.tok["ana"], body(""))
	if status != 201 || strings.TrimSpace(resp) != "{\n  \"id\": 1\n}" {
		t.Fatalf("post result: %d %s", status, resp)
	}
	id2, err := ana.PostResult(ctx, "b100g-2", api.Result{Reservation: a.ID, Passed: false, Frames: 10, Mismatches: 2, Summary: "2 mismatches",
		ID: 77, User: "mallory", Board: "b10g-1"}) // service-set fields are not sent
	if err != nil || id2 != 2 {
		t.Fatalf("client post result: %d %v", id2, err)
	}
	rs, err := ana.Results(ctx, "b100g-2", 0)
	if err != nil || len(rs) != 2 || rs[0].ID != 2 || rs[0].User != "ana" || rs[0].Board != "b100g-2" || rs[1].Frames != 3000 ||
		!strings.Contains(string(rs[1].Report), "imix") || rs[1].FinishedAt == nil {
		t.Fatalf("results: %+v %v", rs, err)
	}
	if rs, _ := ana.Results(ctx, "b100g-2", 1); len(rs) != 1 {
		t.Errorf("limit=1 gave %d", len(rs))
	}
	b, _ := ana.Board(ctx, "b100g-2")
	if b.LastTest == nil || b.LastTest.ID != 2 || b.LastTest.Passed || b.Holder == nil || b.Holder.Comment != "on-board test" {
		t.Errorf("board view: %+v", b)
	}
	ev, err := ana.Audit(ctx, "", 0)
	if err != nil || len(ev) != 3 || ev[0].Action != "result" || ev[2].Action != "grant" || ev[2].Reservation != a.ID {
		t.Errorf("audit: %+v %v", ev, err)
	}
	if ev, _ := ana.Audit(ctx, "b10g-1", 0); len(ev) != 0 {
		t.Errorf("audit of b10g-1: %+v", ev)
	}
}

func TestReload(t *testing.T) {
	l := newLab(t, "ana", "root!")
	ctx := context.Background()
	runFailing(t, l, []failCase{
		{"reload not admin", "POST", "/api/v1/admin/reload", "ana", "", 403, "", "admin"},
		{"reload body", "POST", "/api/v1/admin/reload", "root", `{"x": 1}`, 400, "x", "unknown field"},
	})
	n, err := l.client("root").Reload(ctx)
	if err != nil || n != 4 {
		t.Fatalf("reload: %d %v", n, err)
	}
	// A broken file: 500 naming file:line, and the boards stay.
	os.WriteFile(l.invPath, []byte(strings.Replace(fourBoards, "speed: 100G", "speed: 40G", 1)), 0o644)
	status, body := l.do("POST", "/api/v1/admin/reload", l.tok["root"], "")
	if e := decodeErr(t, body); status != 500 || !strings.Contains(e.Error, "boards.yaml:4: boards[2].speed") || !strings.Contains(e.Error, "stays") {
		t.Errorf("broken reload: %d %s", status, body)
	}
	if bs, _ := l.client("ana").Boards(ctx); len(bs) != 4 {
		t.Errorf("boards after a broken reload: %d", len(bs))
	}
	// The file changes: the service notices by itself.
	os.WriteFile(l.invPath, []byte(strings.Join(strings.Split(fourBoards, "\n")[:3], "\n")+"\n"), 0o644)
	deadline := time.Now().Add(5 * time.Second)
	for {
		bs, _ := l.client("ana").Boards(ctx)
		if len(bs) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the changed inventory file was not reloaded: %d boards", len(bs))
		}
		time.Sleep(50 * time.Millisecond)
	}
	ev, _ := l.client("ana").Audit(ctx, "", 1)
	if len(ev) != 1 || ev[0].Action != "reload" || ev[0].User != SystemUser || !strings.Contains(ev[0].Detail, "removed b100g-1, b100g-2") {
		t.Errorf("audit of the reload: %+v", ev)
	}
	// SIGHUP path.
	os.WriteFile(l.invPath, []byte(fourBoards), 0o644)
	l.srv.RequestReload()
	time.Sleep(300 * time.Millisecond)
	if bs, _ := l.client("ana").Boards(ctx); len(bs) != 4 {
		t.Errorf("boards after RequestReload: %d", len(bs))
	}
}
