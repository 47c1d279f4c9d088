package labcmd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/client"
	"github.com/fpgactl/fpgactl/labctl/store"
)

// childEnv makes the test binary run `fpgactl lab ARGS` (JSON list) instead
// of the tests: the service as a real process that can be killed.
const childEnv = "FPGACTL_LABCMD_TEST_CHILD"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		var a []string
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			panic(err)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		cmd := NewCmdLab(cmdutil.NewFactory(cmdutil.BuildInfo{}))
		cmd.SetArgs(a)
		if err := cmd.ExecuteContext(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *syncBuf
	done chan error
}

var urlRe = regexp.MustCompile(`url=(http://127\.0\.0\.1:[0-9]+)`)

// serveProcess starts `lab serve` as a child process and waits until it listens.
func serveProcess(t *testing.T, inv, db string) *proc {
	t.Helper()
	args, _ := json.Marshal([]string{"serve", "--inventory", inv, "--db", db, "--listen", "127.0.0.1:0"})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(args))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &syncBuf{}, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.logs.Write([]byte(sc.Text() + "\n"))
			if m := urlRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case p.url = <-found:
	case err := <-p.done:
		t.Fatalf("lab serve exited: %v\n%s", err, p.logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("lab serve did not start\n%s", p.logs.String())
	}
	return p
}

// snapshot is what must survive: every reservation as the API shows it,
// from 1 up to the highest id the service has handed out (read one by one:
// the list endpoint stops at 200).
func snapshot(t *testing.T, c *client.Client) map[int64]api.Reservation {
	t.Helper()
	ctx := context.Background()
	rs, err := c.Reservations(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]api.Reservation{}
	if len(rs) == 0 {
		return out
	}
	for id := int64(1); id <= rs[0].ID; id++ {
		r, err := c.Get(ctx, id)
		if err != nil {
			if client.IsStatus(err, 404) {
				continue
			}
			t.Fatal(err)
		}
		out[id] = r
	}
	return out
}

// kill -9 of the service at any moment loses nothing: reservations made
// before and during a burst of requests are all there after a restart on the
// same database, and a lease that ended while the service was dead is
// expired at restart and its board handed to the waiter.
func TestKillNineLosesNothing(t *testing.T) {
	dir := t.TempDir()
	inv, db := filepath.Join(dir, "boards.yaml"), filepath.Join(dir, "lab.db")
	os.WriteFile(inv, []byte(boards), 0o644)
	tokens := map[string]string{}
	func() {
		st, err := store.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for i := range 12 {
			name := fmt.Sprintf("u%d", i)
			if tokens[name], err = st.AddUser(context.Background(), name, false); err != nil {
				t.Fatal(err)
			}
		}
	}()
	cl := func(p *proc, u string) *client.Client { return client.New(p.url, tokens[u]) }
	t0 := time.Now()
	p := serveProcess(t, inv, db)
	ctx := context.Background()

	// Fixed state: holders, queues (board and tag), a short lease.
	type step struct {
		user string
		req  api.ReserveRequest
		want string
	}
	var fixed []api.Reservation
	for _, s := range []step{
		{"u0", api.ReserveRequest{Board: "b10g-1", Comment: "holder 1"}, "granted"},
		{"u1", api.ReserveRequest{Board: "b10g-1", Wait: true, Priority: 5}, "queued"},
		{"u2", api.ReserveRequest{Tag: "10G", Comment: "tag holder"}, "granted"},
		{"u3", api.ReserveRequest{Tag: "10G", Wait: true}, "queued"},
		{"u4", api.ReserveRequest{Board: "b10g-2", Wait: true, Priority: 9}, "queued"},
		{"u5", api.ReserveRequest{Board: "b100g-1", TTLSeconds: api.TTL(2 * time.Second)}, "granted"},
		{"u6", api.ReserveRequest{Board: "b100g-1", Wait: true, Comment: "gets it after the restart"}, "queued"},
	} {
		r, err := cl(p, s.user).Reserve(ctx, s.req)
		if err != nil || r.Status != s.want {
			t.Fatalf("%s %+v: %+v %v", s.user, s.req, r, err)
		}
		fixed = append(fixed, r)
	}
	before := snapshot(t, cl(p, "u0"))

	answered, inflight := burstAndKill(t, p, tokens, 400*time.Millisecond)
	// Dead for longer than the 2 s lease.
	time.Sleep(time.Until(fixed[5].ExpiresAt.Add(300 * time.Millisecond)))
	p2 := serveProcess(t, inv, db)
	after := snapshot(t, cl(p2, "u0"))

	// The fixed reservations: all there, unchanged, except the ended lease.
	for i, r := range fixed {
		got, ok := after[r.ID]
		if !ok {
			t.Errorf("reservation %d (%s) is gone after kill -9", r.ID, r.User)
			continue
		}
		want := before[r.ID]
		switch i {
		case 5:
			want.Status = api.StatusExpired
			want.EndedAt = got.EndedAt
		case 6:
			want.Status, want.Board, want.GrantedAt, want.ExpiresAt, want.Position = api.StatusGranted, "b100g-1", got.GrantedAt, got.ExpiresAt, 0
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("reservation %d after restart:\n got %+v\nwant %+v", r.ID, got, want)
		}
	}
	if after[fixed[5].ID].EndedAt == nil || after[fixed[5].ID].EndedAt.Before(*fixed[5].ExpiresAt) {
		t.Errorf("the 2 s lease: %+v", after[fixed[5].ID])
	}
	ev, _ := cl(p2, "u0").Audit(ctx, "b100g-1", 2)
	if len(ev) != 2 || ev[1].Action != "expire" || ev[1].Reservation != fixed[5].ID || ev[0].Action != "grant" || ev[0].Reservation != fixed[6].ID {
		t.Errorf("b100g-1 audit after restart (newest first): %+v", ev)
	}
	checkBurst(t, after, answered, inflight)
	// More rounds: kill -9 at other moments of the burst, restart, check.
	for round, at := range []time.Duration{150 * time.Millisecond, 650 * time.Millisecond} {
		answered, inflight := burstAndKill(t, p2, tokens, at)
		p2 = serveProcess(t, inv, db)
		after := snapshot(t, cl(p2, "u0"))
		t.Logf("round %d: %d reservations in all after the restart", round+2, len(after))
		checkBurst(t, after, answered, inflight)
		for _, r := range fixed[:5] {
			if fmt.Sprint(after[r.ID]) != fmt.Sprint(before[r.ID]) {
				t.Errorf("round %d: reservation %d changed:\n got %+v\nwant %+v", round+2, r.ID, after[r.ID], before[r.ID])
			}
		}
	}
	// The database is consistent (SQLite's own check).
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	// SIGHUP re-reads the inventory.
	os.WriteFile(inv, []byte(strings.Join(strings.Split(boards, "\n")[:3], "\n")+"\n"), 0o644)
	p2.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p2.logs.String(), "why=\"SIGHUP") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload after SIGHUP:\n%s", p2.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if bs, err := cl(p2, "u0").Boards(ctx); err != nil || len(bs) < 3 || bs[1].Removed || !bs[2].Removed || bs[2].Name != "b100g-1" {
		t.Errorf("boards after SIGHUP with b100g-* removed (b100g-1 is held, so it stays): %+v %v", bs, err)
	}
	// A graceful stop (SIGTERM) ends with status 0 even with a long-poll open.
	go cl(p2, "u1").Wait(ctx, fixed[1].ID)
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	p2.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p2.done; err != nil {
		t.Errorf("lab serve after SIGTERM: %v\n%s", err, p2.logs.String())
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("graceful stop took %s", el)
	}
	if !strings.Contains(p2.logs.String(), "stopped") {
		t.Errorf("no 'stopped' in the log:\n%s", p2.logs.String())
	}
	t.Logf("whole test %s", time.Since(t0).Round(time.Millisecond))
}

// burstAndKill runs reserve/release loops of 8 users against p and kills
// p with SIGKILL after d. It returns the last answered status of each
// reservation and those with an operation still in flight at the kill.
func burstAndKill(t *testing.T, p *proc, tokens map[string]string, d time.Duration) (map[int64]string, map[int64]bool) {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	answered := map[int64]string{} // last answered status per reservation
	inflight := map[int64]bool{}   // an operation on it was sent, no answer
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 4; i < 12; i++ {
		u := fmt.Sprintf("u%d", i)
		wg.Go(func() {
			c := client.New(p.url, tokens[u])
			rng := rand.New(rand.NewPCG(uint64(i), uint64(d)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				req := api.ReserveRequest{Board: []string{"b100g-2", "b10g-1", "b10g-2"}[rng.IntN(3)], Wait: true, Priority: -50}
				if rng.IntN(4) == 0 {
					req.Board, req.Tag = "", "10G"
				}
				r, err := c.Reserve(ctx, req)
				if err != nil {
					return // the service is gone
				}
				mu.Lock()
				answered[r.ID], inflight[r.ID] = r.Status, true
				mu.Unlock()
				r2, err := c.Release(ctx, r.ID)
				if err != nil {
					return // inflight stays: the release may or may not have committed
				}
				mu.Lock()
				answered[r.ID] = r2.Status
				delete(inflight, r.ID)
				mu.Unlock()
			}
		})
	}
	time.Sleep(d)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	close(stop)
	wg.Wait()
	t.Logf("SIGKILL after %s: %d answered burst reservations, %d with an operation in flight", d, len(answered), len(inflight))
	if len(answered) < 5 {
		t.Errorf("only %d burst reservations before the kill; the burst did not run", len(answered))
	}
	return answered, inflight
}

// checkBurst: every answered reservation is there with its answered status,
// or a later one an in-flight operation (or another user's release, for a
// queued one) explains; no board has two holders.
func checkBurst(t *testing.T, after map[int64]api.Reservation, answered map[int64]string, inflight map[int64]bool) {
	t.Helper()
	for id, status := range answered {
		got, ok := after[id]
		if !ok {
			t.Errorf("burst reservation %d (answered %s) is gone after kill -9", id, status)
			continue
		}
		if inflight[id] {
			continue
		}
		if got.Status != status && !(status == api.StatusQueued && got.Status == api.StatusGranted) {
			t.Errorf("burst reservation %d: answered %s, after restart %s", id, status, got.Status)
		}
	}
	held := map[string]int64{}
	for _, r := range after {
		if r.Status == api.StatusGranted {
			if other, dup := held[r.Board]; dup {
				t.Errorf("%s is held by %d and %d", r.Board, other, r.ID)
			}
			held[r.Board] = r.ID
		}
	}
}
