package record

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func newBuild() *Build {
	return &Build{
		Commit:   "0123abc",
		Owner:    "alice",
		Targets:  []string{"ecp5-85k", "ice40-hx8k"},
		Seeds:    []int{1, 5, 9},
		Runner:   "local",
		StopWhen: StopFirstMet,
	}
}

func TestCreateGet(t *testing.T) {
	s := &Store{Dir: filepath.Join(t.TempDir(), "builds")} // not created yet
	b := newBuild()
	created := time.Date(2026, 11, 23, 15, 15, 0, 0, time.UTC)
	b.CreatedAt = created
	id, err := s.Create(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "20261123-151500-") || !ValidID(id) || b.ID != id {
		t.Fatalf("ID %q (b.ID %q): want 20261123-151500-xxxx", id, b.ID)
	}
	got, err := s.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusRunning || got.Commit != "0123abc" || got.Owner != "alice" || got.Runner != "local" ||
		got.StopWhen != StopFirstMet || !got.CreatedAt.Equal(created) || got.Process.PID != os.Getpid() {
		t.Fatalf("record read back differs: %+v", got)
	}
	if !slices.Equal(got.Seeds, []int{1, 5, 9}) || !slices.Equal(got.Targets, []string{"ecp5-85k", "ice40-hx8k"}) {
		t.Fatalf("targets/seeds: %v %v", got.Targets, got.Seeds)
	}
	// Every target × seed starts queued.
	want := []struct {
		target string
		seed   int
	}{{"ecp5-85k", 1}, {"ecp5-85k", 5}, {"ecp5-85k", 9}, {"ice40-hx8k", 1}, {"ice40-hx8k", 5}, {"ice40-hx8k", 9}}
	if len(got.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(got.Results), len(want))
	}
	for i, w := range want {
		r := got.Results[i]
		if r.Target != w.target || r.Seed != w.seed || r.Status != SeedQueued || r.WNSns != nil {
			t.Errorf("result %d = %+v, want %s seed %d queued", i, r, w.target, w.seed)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Path(id), "build.json")); err != nil {
		t.Fatalf("record file: %v", err)
	}
}

func TestCreateRefusesEmptyBuilds(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if _, err := s.Create(&Build{Seeds: []int{1}}); err == nil {
		t.Error("a build without targets must be refused")
	}
	if _, err := s.Create(&Build{Targets: []string{"x"}}); err == nil {
		t.Error("a build without seeds must be refused")
	}
	if _, err := (&Store{}).Create(newBuild()); err == nil {
		t.Error("a store without a directory must refuse to create")
	}
}

// The --output json field names are fixed by the issue; they are read here
// from the file as written, not through this package's own types.
func TestRecordJSONFieldNames(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	id, err := s.Create(newBuild())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = s.UpdateSeed(ctx, id, "ecp5-85k", 5, func(r *SeedResult) {
		r.Status = SeedFailedTiming
		r.WNSns = f(-0.25)
		r.FmaxMHz = f(98.5)
		r.TargetMHz = 100
		r.Bitstream = "ecp5-85k/seed5/top.bit"
		r.Log = "ecp5-85k/seed5/nextpnr.log"
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(s.Path(id), "build.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["id"] != id || doc["commit"] != "0123abc" || doc["stop_when"] != "first-met" || doc["status"] != "running" {
		t.Fatalf("top-level fields: %v", doc)
	}
	results := doc["results"].([]any)
	seed5 := results[1].(map[string]any)
	want := map[string]any{
		"target": "ecp5-85k", "seed": 5.0, "status": "failed-timing", "wns_ns": -0.25, "tns_ns": nil,
		"fmax_mhz": 98.5, "target_mhz": 100.0, "met": false,
		"bitstream": "ecp5-85k/seed5/top.bit", "log": "ecp5-85k/seed5/nextpnr.log",
	}
	for k, v := range want {
		got, present := seed5[k]
		if !present || got != v {
			t.Errorf("results[1][%q] = %v (present %v), want %v", k, got, present, v)
		}
	}
	queued := results[0].(map[string]any)
	for _, k := range []string{"wns_ns", "tns_ns", "fmax_mhz"} {
		if v, present := queued[k]; !present || v != nil {
			t.Errorf("queued seed: %q = %v (present %v), want null", k, v, present)
		}
	}
}

func TestUpdateSeesEarlierUpdatesAndKeepsOthers(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	id, err := s.Create(newBuild())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.UpdateSeed(ctx, id, "ice40-hx8k", 9, func(r *SeedResult) {
		r.Status, r.Phase, r.Instance = SeedRunning, PhasePlace, "srv-1234"
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSeed(ctx, id, "ecp5-85k", 1, func(r *SeedResult) {
		r.Status, r.Met, r.WNSns, r.TNSns = SeedMet, true, f(0.4), f(0)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, id, func(b *Build) error { b.Status = StatusCancelled; return nil }); err != nil {
		t.Fatal(err)
	}
	b, err := s.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != StatusCancelled {
		t.Errorf("status %q, want cancelled", b.Status)
	}
	r := b.Seed("ice40-hx8k", 9)
	if r.Status != SeedRunning || r.Phase != PhasePlace || r.Instance != "srv-1234" {
		t.Errorf("ice40 seed 9 = %+v", r)
	}
	r = b.Seed("ecp5-85k", 1)
	if r.Status != SeedMet || !r.Met || *r.WNSns != 0.4 || *r.TNSns != 0 {
		t.Errorf("ecp5 seed 1 = %+v", r)
	}
	if b.Seed("ecp5-85k", 5).Status != SeedQueued {
		t.Error("an untouched seed changed")
	}
}

func TestUpdateErrorWritesNothing(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	id, _ := s.Create(newBuild())
	path := filepath.Join(s.Path(id), "build.json")
	before, _ := os.ReadFile(path)
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, id, func(b *Build) error { b.Status = StatusFailed; return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the callback's error", err)
	}
	if err := s.UpdateSeed(ctx, id, "ecp5-85k", 2, func(*SeedResult) {}); err == nil || !strings.Contains(err.Error(), "no seed 2") {
		t.Fatalf("unknown seed: %v", err)
	}
	if err := s.Update(ctx, id, func(b *Build) error { b.ID = "20000101-000000-0000"; return nil }); err == nil {
		t.Fatal("changing the ID must be refused")
	}
	if err := s.UpdateSeed(ctx, id, "ecp5-85k", 1, func(r *SeedResult) { r.WNSns = f(math.NaN()) }); err == nil || !strings.Contains(err.Error(), "wns_ns is NaN") {
		t.Fatalf("a NaN slack must be refused with a clear error, got %v", err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Fatal("a refused update changed the record")
	}
}

func TestGetMissingAndCorrupt(t *testing.T) {
	s := &Store{Dir: t.TempDir()}

	_, err := s.Get("20261123-151500-ab12")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(s.Dir, "20261123-151500-ab12", "build.json")) {
		t.Fatalf("missing build: %v", err)
	}
	if err := s.Update(context.Background(), "20261123-151500-ab12", func(*Build) error { return nil }); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("updating a missing build: %v", err)
	}

	for _, bad := range []string{"../../etc", "latest", "20261123-151500-AB12", ""} {
		if _, err := s.Get(bad); err == nil || !strings.Contains(err.Error(), "not a build ID") {
			t.Errorf("Get(%q): %v", bad, err)
		}
	}

	id, _ := s.Create(newBuild())
	path := filepath.Join(s.Path(id), "build.json")
	os.WriteFile(path, []byte(`{"version":1,"id":"`+id+`","results":[{"seed":`), 0o644)
	if _, err := s.Get(id); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("truncated record: %v", err)
	}
	os.WriteFile(path, []byte(`{"version":1,"id":"20000101-000000-0000"}`), 0o644)
	if _, err := s.Get(id); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("record with another ID: %v", err)
	}
	os.WriteFile(path, []byte(`{"version":99,"id":"`+id+`"}`), 0o644)
	if _, err := s.Get(id); err == nil || !strings.Contains(err.Error(), "newer fpgactl") {
		t.Fatalf("record from a newer fpgactl: %v", err)
	}
	os.WriteFile(path, []byte(`{"version":1,"id":"`+id+`","stop_when":"whenever"}`), 0o644)
	if _, err := s.Get(id); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("record with a bad stop_when: %v", err)
	}
}

// A writer killed between writing its temp file and renaming it leaves the
// temp file behind; the record itself must be the previous one, and the next
// update must work (and clear the leftover).
func TestStrayTempFileFromACrashedWriter(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	id, _ := s.Create(newBuild())
	ctx := context.Background()
	if err := s.UpdateSeed(ctx, id, "ecp5-85k", 1, func(r *SeedResult) { r.Status = SeedRunning }); err != nil {
		t.Fatal(err)
	}
	dir := s.Path(id)
	// What the crashed writer left: a complete temp record and a torn one.
	stray1 := filepath.Join(dir, ".build.json.tmp-123456")
	stray2 := filepath.Join(dir, ".build.json.tmp-777")
	os.WriteFile(stray1, []byte(`{"version":1,"id":"`+id+`","status":"done","results":[]}`), 0o644)
	os.WriteFile(stray2, []byte(`{"version":1,"id":"`+id+`","sta`), 0o644)

	b, err := s.Get(id)
	if err != nil {
		t.Fatalf("Get after a crashed update: %v", err)
	}
	if b.Status != StatusRunning || b.Seed("ecp5-85k", 1).Status != SeedRunning {
		t.Fatalf("Get returned something other than the last complete record: %+v", b)
	}
	if err := s.UpdateSeed(ctx, id, "ecp5-85k", 1, func(r *SeedResult) { r.Status = SeedMet; r.Met = true }); err != nil {
		t.Fatalf("Update after a crashed update: %v", err)
	}
	b, err = s.Get(id)
	if err != nil || b.Seed("ecp5-85k", 1).Status != SeedMet || len(b.Results) != 6 {
		t.Fatalf("after the update: %v %+v", err, b)
	}
	for _, p := range []string{stray1, stray2} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stale temp file %s still there after an update", filepath.Base(p))
		}
	}
	if ms, _ := filepath.Glob(filepath.Join(dir, ".build.json.tmp-*")); len(ms) != 0 {
		t.Errorf("temp files left: %v", ms)
	}
}

func TestListAndLatest(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if bs, err := s.List(); err != nil || len(bs) != 0 {
		t.Fatalf("empty store: %v %v", bs, err)
	}
	if _, err := s.Latest(); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "fpgactl build --target") {
		t.Fatalf("Latest of an empty store: %v", err)
	}
	var ids []string
	for i, at := range []time.Time{
		time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 23, 17, 30, 0, 0, time.UTC),
	} {
		b := newBuild()
		b.CreatedAt = at
		b.Commit = []string{"c-first", "c-newest", "c-middle"}[i]
		id, err := s.Create(b)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	os.MkdirAll(filepath.Join(s.Dir, "not-a-build"), 0o755)
	os.WriteFile(filepath.Join(s.Dir, "README"), []byte("x"), 0o644)

	bs, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var commits []string
	for _, b := range bs {
		commits = append(commits, b.Commit)
	}
	if !slices.Equal(commits, []string{"c-newest", "c-middle", "c-first"}) {
		t.Fatalf("List order %v, want newest first", commits)
	}
	latest, err := s.Latest()
	if err != nil || latest.Commit != "c-newest" {
		t.Fatalf("Latest = %v, %v", latest, err)
	}

	// A corrupt record is reported by name, and does not hide the others.
	bad := filepath.Join(s.Path(ids[0]), "build.json")
	os.WriteFile(bad, []byte("{"), 0o644)
	bs, err = s.List()
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("List with a corrupt record: err %v", err)
	}
	if len(bs) != 2 {
		t.Fatalf("List with a corrupt record returned %d builds, want the 2 readable ones", len(bs))
	}
	// The newest being corrupt must not make Latest return an older build.
	os.WriteFile(filepath.Join(s.Path(ids[1]), "build.json"), []byte("not json"), 0o644)
	if b, err := s.Latest(); err == nil {
		t.Fatalf("Latest returned %s although the newest record is corrupt", b.Commit)
	}
}

func TestUpdateWaitsForTheLockAndHonoursCtx(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	id, _ := s.Create(newBuild())
	// Hold the lock the way another process would.
	lf, err := os.OpenFile(filepath.Join(s.Path(id), "build.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	err = s.Update(ctx, id, func(b *Build) error { b.Status = StatusDone; return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Update while locked: %v, want the ctx deadline", err)
	}

	done := make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), id, func(b *Build) error { b.Status = StatusDone; return nil })
	}()
	select {
	case err := <-done:
		t.Fatalf("Update finished while another holder had the lock: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	unix.Flock(int(lf.Fd()), unix.LOCK_UN)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Update did not proceed after the lock was released")
	}
	if b, _ := s.Get(id); b.Status != StatusDone {
		t.Fatalf("status %q after the update", b.Status)
	}
}
