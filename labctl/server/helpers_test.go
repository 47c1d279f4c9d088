package server

import (
	"context"
	"database/sql"
	"github.com/fpgactl/fpgactl/internal/syncbuf"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/labctl/client"
	"github.com/fpgactl/fpgactl/labctl/store"
)

const fourBoards = `boards:
  - {name: b10g-1, part: LFE5U-85F-6BG381C, speed: 10G, lab_host: lab1, ssh_address: "10.77.1.2:22", iface_in: b0, iface_out: b1, control: /run/fpgactl/b10g-1.sock, program: "fpgactl board program --board b10g-1 --bitstream {bitstream}", tags: [10G, ecp5]}
  - {name: b10g-2, part: LFE5U-85F-6BG381C, speed: 10G, lab_host: lab1, ssh_address: "10.77.1.2:22", iface_in: b2, iface_out: b3, control: /run/fpgactl/b10g-2.sock, program: "fpgactl board program --board b10g-2 --bitstream {bitstream}", tags: [10G, ecp5]}
  - {name: b100g-1, part: XCVU9P-L2FLGA2104E, speed: 100G, lab_host: lab2, ssh_address: "10.77.2.2:22", iface_in: c0, iface_out: c1, control: /run/fpgactl/b100g-1.sock, program: "vivado -mode batch -source program.tcl -tclargs {bitstream}", tags: [100G, ultrascale]}
  - {name: b100g-2, part: XCVU9P-L2FLGA2104E, speed: 100G, lab_host: lab2, ssh_address: "10.77.2.2:22", iface_in: c2, iface_out: c3, control: /run/fpgactl/b100g-2.sock, program: "vivado -mode batch -source program.tcl -tclargs {bitstream}", tags: [100G, ultrascale]}
`

var boardNames = []string{"b10g-1", "b10g-2", "b100g-1", "b100g-2"}

// lab is a real service: a SQLite file, the background loop, an HTTP
// server on 127.0.0.1.
type lab struct {
	t       *testing.T
	dir     string
	invPath string
	dbPath  string
	st      *store.Store
	srv     *Server
	hs      *httptest.Server
	tok     map[string]string
	logs    *syncbuf.Buffer
	cancel  context.CancelFunc
	done    chan struct{}
}

// newLab starts a service with users (a name ending in "!" is an admin).
func newLab(t *testing.T, users ...string) *lab {
	t.Helper()
	ctx := context.Background()
	l := &lab{t: t, dir: t.TempDir(), tok: map[string]string{}, logs: &syncbuf.Buffer{}, done: make(chan struct{})}
	l.invPath = filepath.Join(l.dir, "boards.yaml")
	l.dbPath = filepath.Join(l.dir, "lab.db")
	if err := os.WriteFile(l.invPath, []byte(fourBoards), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, l.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	l.st = st
	for _, u := range users {
		name, admin := strings.CutSuffix(u, "!")
		tok, err := st.AddUser(ctx, name, admin)
		if err != nil {
			t.Fatal(err)
		}
		l.tok[name] = tok
	}
	log := slog.New(slog.NewTextHandler(l.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if l.srv, err = New(ctx, st, l.invPath, log); err != nil {
		t.Fatal(err)
	}
	l.srv.WatchEvery = 100 * time.Millisecond
	runCtx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	go func() { l.srv.Run(runCtx); close(l.done) }()
	l.hs = httptest.NewServer(l.srv)
	t.Cleanup(func() {
		l.srv.StartShutdown()
		l.hs.Close()
		cancel()
		<-l.done
		st.Close()
		for _, tok := range l.tok {
			if strings.Contains(l.logs.String(), tok) {
				t.Errorf("a token appears in the service's log")
			}
		}
	})
	return l
}

func (l *lab) client(user string) *client.Client {
	c := client.New(l.hs.URL, l.tok[user])
	c.WaitPoll = 5 * time.Second
	return c
}

// do sends a raw request; token "" sends no Authorization header.
func (l *lab) do(method, path, token, body string) (int, string) {
	l.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, l.hs.URL+path, rd)
	if err != nil {
		l.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// dump is every row of every table, read through a connection of its own.
func (l *lab) dump() string {
	l.t.Helper()
	return dumpDB(l.t, l.dbPath)
}

func dumpDB(t *testing.T, path string) string {
	t.Helper()
	d, err := store.DumpFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// dbInt runs one SQL query returning one integer on its own connection.
func dbInt(t *testing.T, path, q string, args ...any) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
