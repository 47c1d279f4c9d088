package labcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/client"
)

const boards = `boards:
  - {name: b10g-1, part: LFE5U-85F, speed: 10G, lab_host: lab1, ssh_address: "10.0.0.1:22", iface_in: b0, iface_out: b1, control: /run/b1.sock, program: "p {bitstream}", tags: [10G, ecp5]}
  - {name: b10g-2, part: LFE5U-85F, speed: 10G, lab_host: lab1, ssh_address: "10.0.0.1:22", iface_in: b2, iface_out: b3, control: /run/b2.sock, program: "p {bitstream}", tags: [10G, ecp5]}
  - {name: b100g-1, part: XCVU9P, speed: 100G, lab_host: lab2, ssh_address: "10.0.0.2:22", iface_in: c0, iface_out: c1, control: /run/c1.sock, program: "p {bitstream}", tags: [100G]}
  - {name: b100g-2, part: XCVU9P, speed: 100G, lab_host: lab2, ssh_address: "10.0.0.2:22", iface_in: c2, iface_out: c3, control: /run/c2.sock, program: "p {bitstream}", tags: [100G]}
`

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type env struct {
	t      *testing.T
	dir    string
	db     string
	inv    string
	url    string
	tokens map[string]string
}

// run runs `fpgactl lab ARGS` as user (its token in the environment, never
// in a file) and returns stdout, stderr and the error.
func (e *env) run(user string, args ...string) (string, string, error) {
	e.t.Helper()
	out, errOut := &syncBuf{}, &syncBuf{}
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut}, OutputFormat: "text",
		ProjectFile: filepath.Join(e.dir, "fpgactl.yaml")}
	cmd := newCmdLab(&Conn{Factory: f, TokenFile: filepath.Join(e.dir, "no-token-file"), Getenv: func(k string) string {
		if k == client.TokenEnv {
			return e.tokens[user]
		}
		return ""
	}})
	cmd.PersistentFlags().StringVarP(&f.OutputFormat, "output", "o", "text", "")
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// startService runs `lab serve` in this process on a free port.
func startService(t *testing.T, users ...string) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), tokens: map[string]string{}}
	e.db = filepath.Join(e.dir, "lab.db")
	e.inv = filepath.Join(e.dir, "boards.yaml")
	os.WriteFile(e.inv, []byte(boards), 0o644)
	for _, u := range users {
		name, admin := strings.CutSuffix(u, "!")
		args := []string{"user", "add", name, "--db", e.db}
		if admin {
			args = append(args, "--admin")
		}
		out, errOut, err := e.run("", args...)
		if err != nil || !strings.HasPrefix(out, "fpl_") || !strings.Contains(errOut, "shown only once") {
			t.Fatalf("user add %s: %v %q %q", name, err, out, errOut)
		}
		e.tokens[name] = strings.TrimSpace(out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &syncBuf{}
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{Out: logs, ErrOut: logs}, OutputFormat: "text"}
	go func() {
		done <- RunServe(ctx, &ServeOptions{Factory: f, Inventory: e.inv, DB: e.db, Listen: "127.0.0.1:0", Ready: func(a string) { ready <- a }})
	}()
	select {
	case a := <-ready:
		e.url = "http://" + a
	case err := <-done:
		t.Fatalf("lab serve: %v\n%s", err, logs.String())
	}
	os.WriteFile(filepath.Join(e.dir, "fpgactl.yaml"), []byte("designs:\n  - {name: d, top: d, rtl: [a.sv], widths: [64]}\nlab:\n  url: "+e.url+"\n"), 0o644)
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("lab serve stopped with %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("lab serve did not stop")
		}
		for _, tok := range e.tokens {
			if strings.Contains(logs.String(), tok) {
				t.Error("a token is in the service's log")
			}
		}
	})
	return e
}

func TestFlags(t *testing.T) {
	e := &env{t: t, dir: t.TempDir(), tokens: map[string]string{}}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"reserve"}, "exactly one of --board NAME or --tag TAG"},
		{[]string{"reserve", "--board", "a", "--tag", "b"}, "exactly one"},
		{[]string{"reserve", "--board", "a", "--ttl", "0s"}, "--ttl"},
		{[]string{"reserve", "--board", "a", "--ttl", "25h"}, "--ttl"},
		{[]string{"reserve", "--board", "a", "--ttl", "1500ms"}, "whole seconds"},
		{[]string{"reserve", "--board", "a", "--wait", "-1s"}, "--wait"},
		{[]string{"reserve", "--board", "a", "--priority", "101"}, "--priority"},
		{[]string{"reserve", "--board", "a", "x"}, "takes no arguments"},
		{[]string{"renew"}, "takes 1 argument"},
		{[]string{"renew", "x"}, "not a reservation id"},
		{[]string{"renew", "3", "--ttl", "48h"}, "--ttl"},
		{[]string{"release", "0"}, "not a reservation id"},
		{[]string{"status", "1", "2"}, "at most one"},
		{[]string{"status", "1", "--all"}, "--all"},
		{[]string{"serve", "--db", "x"}, "--inventory FILE is required"},
		{[]string{"serve", "--inventory", "x"}, "--db FILE is required"},
		{[]string{"serve", "--inventory", "x", "--db", "y", "--listen", "8470"}, "--listen"},
		{[]string{"user", "add", "ana"}, "--db FILE is required"},
		{[]string{"user", "add"}, "takes 1 argument"},
	} {
		_, _, err := e.run("", tc.args...)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a flag error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestNoTokenNoURL(t *testing.T) {
	e := &env{t: t, dir: t.TempDir(), tokens: map[string]string{}}
	_, _, err := e.run("nobody", "list", "--url", "http://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "no lab token") || !strings.Contains(err.Error(), "lab user add") || !strings.Contains(err.Error(), client.TokenEnv) {
		t.Errorf("no token: %v", err)
	}
	e.tokens["x"] = "fpl_x"
	_, _, err = e.run("x", "list")
	if err == nil || !strings.Contains(err.Error(), "no lab service URL") || !strings.Contains(err.Error(), "--url") {
		t.Errorf("no URL: %v", err)
	}
	_, _, err = e.run("x", "list", "--url", "http://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "http://127.0.0.1:1") || strings.Contains(err.Error(), "fpl_x") {
		t.Errorf("unreachable service: %v", err)
	}
}

func TestCommandsAgainstService(t *testing.T) {
	e := startService(t, "ana", "bo", "root!")
	// The URL comes from fpgactl.yaml lab.url.
	out, _, err := e.run("ana", "reserve", "--board", "b10g-1", "--ttl", "30m", "--comment", "seed sweep")
	if err != nil || !strings.Contains(out, "reservation 1: b10g-1 granted to ana until") || !strings.Contains(out, "seed sweep") {
		t.Fatalf("reserve: %v %q", err, out)
	}
	_, _, err = e.run("bo", "reserve", "--board", "b10g-1")
	if !client.IsStatus(err, 409) || !strings.Contains(err.Error(), "held by ana") || !strings.Contains(err.Error(), "--wait") {
		t.Errorf("busy board: %v", err)
	}
	out, _, err = e.run("ana", "list")
	if err != nil || !strings.Contains(out, "BOARD") || !strings.Contains(out, "ana (#1)") || !strings.Contains(out, "b100g-2") {
		t.Errorf("list: %v\n%s", err, out)
	}
	out, _, err = e.run("ana", "list", "-o", "json")
	var bs []api.Board
	if err != nil || json.Unmarshal([]byte(out), &bs) != nil || len(bs) != 4 || bs[0].Holder == nil {
		t.Errorf("list json: %v %s", err, out)
	}

	// bo waits in the queue (progress on stderr) while ana releases.
	type result struct {
		out, errOut string
		err         error
	}
	done := make(chan result, 1)
	go func() {
		o, eo, err := e.run("bo", "reserve", "--board", "b10g-1", "--wait", "20s", "--priority", "3", "-o", "json")
		done <- result{o, eo, err}
	}()
	waitFor(t, func() bool {
		b, _ := client.New(e.url, e.tokens["ana"]).Board(context.Background(), "b10g-1")
		return b.Queue == 1
	})
	out, _, err = e.run("ana", "renew", "1", "--ttl", "2h")
	if err != nil || !strings.Contains(out, "granted") {
		t.Errorf("renew: %v %q", err, out)
	}
	out, _, err = e.run("bo", "release", "1")
	if !client.IsStatus(err, 403) {
		t.Errorf("bo releases ana's: %v", err)
	}
	out, _, err = e.run("ana", "release", "1")
	if err != nil || !strings.Contains(out, "released") {
		t.Errorf("release: %v %q", err, out)
	}
	r := <-done
	var got api.Reservation
	if r.err != nil || json.Unmarshal([]byte(r.out), &got) != nil || got.Status != "granted" || got.User != "bo" || got.Priority != 3 {
		t.Fatalf("waiting reserve: %v\nstdout %s\nstderr %s", r.err, r.out, r.errOut)
	}
	if !strings.Contains(r.errOut, "queued at position 1…") {
		t.Errorf("no progress on stderr: %q", r.errOut)
	}
	// status: mine, one, all.
	out, _, err = e.run("bo", "status")
	if err != nil || !strings.Contains(out, "reservation 2: b10g-1 granted to bo") || strings.Contains(out, "reservation 1") {
		t.Errorf("status: %v %q", err, out)
	}
	out, _, err = e.run("bo", "status", "1")
	if err != nil || !strings.Contains(out, "reservation 1: b10g-1 released at") {
		t.Errorf("status 1: %v %q", err, out)
	}
	out, _, err = e.run("ana", "status", "--all", "-o", "json")
	var mine []api.Reservation
	if err != nil || json.Unmarshal([]byte(out), &mine) != nil || len(mine) != 1 || mine[0].ID != 1 {
		t.Errorf("status --all: %v %s", err, out)
	}
	_, errOut, err := e.run("ana", "status")
	if err != nil || !strings.Contains(errOut, "no reservations") {
		t.Errorf("empty status: %v %q", err, errOut)
	}
	// A wait that runs out cancels the queued request.
	_, errOut, err = e.run("ana", "reserve", "--tag", "ecp5", "--wait", "300ms")
	if err != nil {
		t.Fatalf("ecp5 has a free board: %v", err)
	}
	_, errOut, err = e.run("ana", "reserve", "--board", "b10g-1", "--wait", "1s")
	if err == nil || !strings.Contains(err.Error(), "not granted within 1s and has been cancelled") {
		t.Errorf("wait timeout: %v %q", err, errOut)
	}
	out, _, _ = e.run("ana", "status", "4")
	if !strings.Contains(out, "cancelled") {
		t.Errorf("the timed-out request is not cancelled: %q", out)
	}
	// Admin kick with a reason.
	out, _, err = e.run("root", "release", "2", "--reason", "needed for a release")
	if err != nil || !strings.Contains(out, "kicked") {
		t.Errorf("kick: %v %q", err, out)
	}
	ev, _ := client.New(e.url, e.tokens["ana"]).Audit(context.Background(), "b10g-1", 1)
	if len(ev) != 1 || ev[0].Action != "kick" || !strings.Contains(ev[0].Detail, "needed for a release") {
		t.Errorf("audit: %+v", ev)
	}
	// user list shows names, never tokens.
	out, _, err = e.run("", "user", "list", "--db", e.db)
	if err != nil || !strings.Contains(out, "root  true") || strings.Contains(out, "fpl_") {
		t.Errorf("user list: %v %q", err, out)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
