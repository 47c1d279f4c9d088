package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/labctl/api"
)

const secret = "fpl_very-secret-token"

func TestErrors(t *testing.T) {
	var gotAuth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth.Store(r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/api/v1/reservations":
			w.WriteHeader(400)
			w.Write([]byte(`{"error": "ttl_seconds 0 is out of range: use 1..86400", "field": "ttl_seconds"}`))
		case "/api/v1/boards":
			w.WriteHeader(502)
			w.Write([]byte("<html>Bad Gateway</html>"))
		case "/api/v1/audit":
			w.Write([]byte("not json"))
		default:
			w.WriteHeader(403)
			w.Write([]byte(`{"error": "reservation 3 is ana's"}`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := New(srv.URL+"/", secret)
	_, err := c.Reserve(ctx, api.ReserveRequest{Board: "b", TTLSeconds: api.TTL(0)})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Field != "ttl_seconds" || !strings.Contains(err.Error(), "1..86400") {
		t.Errorf("400: %#v", err)
	}
	if gotAuth.Load() != "Bearer "+secret {
		t.Errorf("Authorization header %q", gotAuth.Load())
	}
	_, err = c.Boards(ctx)
	if !IsStatus(err, 502) || !strings.Contains(err.Error(), "Bad Gateway") || !strings.Contains(err.Error(), "try again") {
		t.Errorf("502: %v", err)
	}
	_, err = c.Audit(ctx, "", 0)
	if err == nil || !strings.Contains(err.Error(), "not the expected JSON") {
		t.Errorf("bad JSON: %v", err)
	}
	_, err = c.Release(ctx, 3)
	if !IsStatus(err, 403) || !strings.Contains(err.Error(), "only the holder") {
		t.Errorf("403: %v", err)
	}
	for _, e := range []error{err} {
		if strings.Contains(e.Error(), secret) {
			t.Errorf("the token is in an error: %v", e)
		}
	}
}

func TestNetworkErrorNamesURL(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	c := New("http://"+addr, secret)
	_, err := c.Boards(context.Background())
	if err == nil || !strings.Contains(err.Error(), "http://"+addr) || !strings.Contains(err.Error(), "lab serve") || strings.Contains(err.Error(), secret) {
		t.Errorf("network error: %v", err)
	}
	for _, bad := range []string{"", "lab:8470", "ftp://x", "http://"} {
		if _, err := New(bad, secret).Boards(context.Background()); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("URL %q: %v", bad, err)
		}
	}
}

func TestWaitPolls(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("wait") != "1s" || r.URL.Path != "/api/v1/reservations/7" {
			t.Errorf("request %s", r.URL)
		}
		k := n.Add(1)
		switch {
		case k < 3:
			w.Write([]byte(`{"id": 7, "status": "queued", "position": ` + string(rune('0'+4-k)) + `}`))
		default:
			w.Write([]byte(`{"id": 7, "status": "granted", "board": "b1"}`))
		}
	}))
	defer srv.Close()
	c := New(srv.URL, secret)
	c.WaitPoll = time.Second
	var seen []int
	c.OnWait = func(r api.Reservation) { seen = append(seen, r.Position) }
	r, err := c.Wait(context.Background(), 7)
	if err != nil || r.Status != "granted" || len(seen) != 2 || seen[0] != 3 || seen[1] != 2 {
		t.Errorf("wait: %+v %v, progress %v", r, err, seen)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Wait(ctx, 7); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
}

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "lab-token")
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	_, err := LoadToken(getenv, file)
	if err == nil || !strings.Contains(err.Error(), "lab user add") || !strings.Contains(err.Error(), TokenEnv) {
		t.Errorf("no token: %v", err)
	}
	os.WriteFile(file, []byte(secret+"\n"), 0o644)
	if _, err := LoadToken(getenv, file); err == nil || !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), secret) {
		t.Errorf("readable token file: %v", err)
	}
	os.Chmod(file, 0o600)
	if tok, err := LoadToken(getenv, file); err != nil || tok != secret {
		t.Errorf("token file: %q %v", tok, err)
	}
	env[TokenEnv] = " fpl_from-env "
	if tok, err := LoadToken(getenv, file); err != nil || tok != "fpl_from-env" {
		t.Errorf("env wins: %q %v", tok, err)
	}
	t.Setenv("XDG_CONFIG_HOME", dir)
	if TokenFile() != filepath.Join(dir, "fpgactl", "lab-token") {
		t.Errorf("TokenFile %s", TokenFile())
	}
}
