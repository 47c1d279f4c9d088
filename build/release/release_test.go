package release_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/build/openstack/osdouble"
	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/build/release"
	"github.com/fpgactl/fpgactl/build/release/releasetest"
	"github.com/fpgactl/fpgactl/build/store"
	"github.com/fpgactl/fpgactl/internal/results"
	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/client"
	"github.com/fpgactl/fpgactl/labctl/server"
	labstore "github.com/fpgactl/fpgactl/labctl/store"
)

func hexsum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func tagOptions(t *testing.T, f *releasetest.Fixture, st store.Store) release.TagOptions {
	t.Helper()
	key, err := release.LoadPrivateKey(f.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return release.TagOptions{Settings: f.Settings, Store: st, Key: key, Version: "v1.2.3", BuildID: f.BuildID,
		Now: func() time.Time { return time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) }}
}

func localStore(t *testing.T, f *releasetest.Fixture) store.Store {
	st, err := store.NewLocal(f.Settings.Abs(f.Settings.Store.Path))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func pub(t *testing.T, f *releasetest.Fixture) ed25519.PublicKey {
	p, err := release.LoadPublicKey(f.PubFile)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A release of a tested build: the manifest has the build, timing, tests
// and artifacts; the signature verifies in Go and with openssl; the
// annotated tag is at the build's commit (not HEAD, which moved on).
func TestTag(t *testing.T) {
	f := releasetest.New(t, releasetest.Options{})
	// HEAD moves on after the build: the tag must still name the build's commit.
	os.WriteFile(filepath.Join(f.Root, "later.txt"), []byte("later"), 0o644)
	releasetest.Git(t, f.Root, "add", ".")
	releasetest.Git(t, f.Root, "commit", "-q", "-m", "later")

	st := localStore(t, f)
	o := tagOptions(t, f, st)
	var progress bytes.Buffer
	o.Progress = &progress
	o.Message = "First 10G release"
	got, err := release.Tag(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(f.Root, "work", "store", "releases", "v1.2.3")
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(filepath.Join(dir, "manifest.json.sig"))
	if !ed25519.Verify(pub(t, f), data, sig) || len(sig) != 64 {
		t.Fatalf("Go: signature (%d bytes) does not verify", len(sig))
	}
	// The exact field names, read generically as the Ansible role does.
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil || !bytes.HasSuffix(data, []byte("}\n")) || !bytes.Contains(data, []byte("\n  \"schema\"")) {
		t.Fatalf("manifest not indented JSON with a trailing newline: %v\n%s", err, data)
	}
	build := m["build"].(map[string]any)
	timing := m["timing"].(map[string]any)
	tests := m["tests"].(map[string]any)
	fn := tests["functional"].(map[string]any)
	signer := m["signer"].(map[string]any)
	arts := m["artifacts"].([]any)
	bit := arts[0].(map[string]any)
	for _, c := range []struct {
		field string
		got   any
		want  any
	}{
		{"schema", m["schema"], "fpgactl.release/v1"},
		{"version", m["version"], "v1.2.3"},
		{"created", m["created"], "2026-11-24T10:00:00Z"},
		{"commit", m["commit"], f.Commit},
		{"build.id", build["id"], f.BuildID},
		{"build.target", build["target"], "ecp5-ci"},
		{"build.design", build["design"], "pf_filter"},
		{"build.flow", build["flow"], "open"},
		{"build.device", build["device"], "LFE5U-25F-6BG256C"},
		{"build.width", build["width"], 64.0},
		{"build.seed", build["seed"], 2.0},
		{"build.parameters.NUM_RULES", build["parameters"].(map[string]any)["NUM_RULES"], 16.0},
		{"build.rtl_hash", build["rtl_hash"], releasetest.RTLHash},
		{"build.runner", build["runner"], "local"},
		{"timing.met", timing["met"], true},
		{"timing.clock_mhz", timing["clock_mhz"], 156.25},
		{"timing.fmax_mhz", timing["fmax_mhz"], 163.2},
		{"timing.wns_ns", timing["wns_ns"], 0.272},
		{"tests.functional.passed", fn["passed"], 26.0},
		{"tests.functional.frames", fn["frames"], 50412.0},
		{"tests.functional.commit", fn["commit"], f.Commit},
		{"tests.board", tests["board"], nil},
		{"signer.algorithm", signer["algorithm"], "ed25519"},
		{"signer.key_id", signer["key_id"], release.KeyID(pub(t, f))},
		{"artifacts[0].name", bit["name"], "artifacts/pf_filter.bit"},
		{"artifacts[0].kind", bit["kind"], "bitstream"},
		{"artifacts[0].size", bit["size"], float64(len(f.Bitstream))},
		{"artifacts[0].sha256", bit["sha256"], hexsum(f.Bitstream)},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
		}
	}
	if _, ok := timing["tns_ns"]; !ok {
		t.Error("timing.tns_ns missing")
	}
	if len(arts) != 4 || arts[1].(map[string]any)["kind"] != "report" || arts[2].(map[string]any)["kind"] != "log" {
		t.Errorf("artifacts: %v", arts)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "artifacts", "pf_filter.bit")); !bytes.Equal(b, f.Bitstream) {
		t.Error("stored bitstream differs")
	}

	// OpenSSL 3 verifies the raw signature with the PEM public key.
	out, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", f.PubFile, "-rawin",
		"-in", filepath.Join(dir, "manifest.json"), "-sigfile", filepath.Join(dir, "manifest.json.sig")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
	// ... and refuses a changed manifest.
	bad := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(bad, bytes.Replace(data, []byte(`"met": true`), []byte(`"met": false`), 1), 0o644)
	if out, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", f.PubFile, "-rawin",
		"-in", bad, "-sigfile", filepath.Join(dir, "manifest.json.sig")).CombinedOutput(); err == nil {
		t.Errorf("openssl verified a changed manifest:\n%s", out)
	}

	// An annotated tag at the build's commit with the hashes in its message.
	if typ := releasetest.Git(t, f.Root, "cat-file", "-t", "v1.2.3"); typ != "tag" {
		t.Errorf("git cat-file -t v1.2.3 = %s, want tag", typ)
	}
	if c := releasetest.Git(t, f.Root, "rev-parse", "v1.2.3^{commit}"); c != f.Commit {
		t.Errorf("tag at %s, want the build's commit %s", c, f.Commit)
	}
	msg := releasetest.Git(t, f.Root, "tag", "-l", "--format=%(contents)", "v1.2.3")
	for _, want := range []string{"First 10G release", "target: ecp5-ci", "seed: 2", "met=true", hexsum(data), hexsum(f.Bitstream)} {
		if !strings.Contains(msg, want) {
			t.Errorf("tag message lacks %q:\n%s", want, msg)
		}
	}
	if got.ManifestSHA256 != hexsum(data) || got.GitTag != "v1.2.3" || len(got.Objects) != 6 {
		t.Errorf("result %+v", got)
	}
	// Progress names the uploads; the manifest goes last.
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if !strings.Contains(lines[0], "uploading artifacts/pf_filter.bit") || !strings.Contains(lines[len(lines)-2], "manifest.json") {
		t.Errorf("progress:\n%s", progress.String())
	}
	keyPEM, _ := os.ReadFile(f.KeyFile)
	if strings.Contains(progress.String(), string(keyPEM[30:60])) {
		t.Error("key material in progress output")
	}

	v, err := release.Verify(t.Context(), st, release.Prefix("v1.2.3"), "v1.2.3", pub(t, f))
	if err != nil || !v.OK || v.Artifacts != 4 {
		t.Fatalf("verify: %v %+v", err, v)
	}

	// The same version again: refused by the store.
	if _, err := release.Tag(t.Context(), o); err == nil || !strings.Contains(err.Error(), "already exists in directory") {
		t.Errorf("second tag: %v", err)
	}
	// Only the git tag exists: refused too.
	os.RemoveAll(dir)
	if _, err := release.Tag(t.Context(), o); err == nil || !strings.Contains(err.Error(), "git tag v1.2.3 already exists") {
		t.Errorf("tag with an existing git tag: %v", err)
	}
	// List and Show.
	o.Version, o.Now = "v1.3.0-rc.1", nil
	if _, err := release.Tag(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	l, err := release.List(t.Context(), st)
	if err != nil || len(l) != 1 || l[0].Version != "v1.3.0-rc.1" {
		t.Errorf("list: %v %v", l, err)
	}
}

// Every refusal of the gate, each with what to do.
func TestTagRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fix   releasetest.Options
		opts  func(*release.TagOptions)
		setup func(*testing.T, *releasetest.Fixture)
		want  []string
	}{
		{name: "bad version", opts: func(o *release.TagOptions) { o.Version = "1.2" }, want: []string{"vMAJOR.MINOR.PATCH"}},
		{name: "build not found", opts: func(o *release.TagOptions) { o.BuildID = "20200101-000000-abcd" }, want: []string{"not found", "fpgactl build list"}},
		{name: "build running", fix: releasetest.Options{Edit: func(b *record.Build) { b.Status = record.StatusRunning }}, want: []string{"is running, not done"}},
		{name: "several targets", fix: releasetest.Options{Edit: func(b *record.Build) { b.Targets = append(b.Targets, "ecp5-big") }}, want: []string{"choose one with --target"}},
		{name: "unknown seed", opts: func(o *release.TagOptions) { o.Seed = 7 }, want: []string{"no seed 7"}},
		{name: "no bitstream", fix: releasetest.Options{Edit: func(b *record.Build) { b.Seed("ecp5-ci", 2).Bitstream = "" }}, want: []string{"seed 2 has no bitstream", "--seed N"}},
		{name: "failed timing", opts: func(o *release.TagOptions) { o.Seed = 1 }, want: []string{"seed 1 failed timing", "WNS -26.3", "--allow-failed-timing"}},
		{name: "dirty", fix: releasetest.Options{Edit: func(b *record.Build) { b.Dirty = true }}, want: []string{"uncommitted changes", "rebuild"}},
		{name: "no commit", fix: releasetest.Options{Edit: func(b *record.Build) { b.Commit = "" }}, want: []string{"no commit recorded"}},
		{name: "no inputs", fix: releasetest.Options{Edit: func(b *record.Build) { b.Inputs = nil }}, want: []string{"older fpgactl", "rebuild"}},
		{name: "no functional results", fix: releasetest.Options{NoResults: true},
			want: []string{"design pf_filter at 64 bits on RTL " + releasetest.RTLHash, "fpgactl ci", "fpgactl test functional --width 64"}},
		{name: "functional failed", fix: releasetest.Options{Results: func(r *results.Record) { r.Failed = 2 }},
			want: []string{"did not pass (26 passed, 2 failed", "fpgactl test functional --width 64"}},
		{name: "key missing", opts: func(o *release.TagOptions) { o.Key = nil }, want: []string{"fpgactl release keygen"}},
		{name: "existing git tag", setup: func(t *testing.T, f *releasetest.Fixture) { releasetest.Git(t, f.Root, "tag", "v1.2.3") },
			want: []string{"git tag v1.2.3 already exists"}},
		{name: "board required without lab", fix: releasetest.Options{Extra: "release: {require_board: true}\n"}, want: []string{"lab.url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := releasetest.New(t, tc.fix)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			st := localStore(t, f)
			o := tagOptions(t, f, st)
			if tc.opts != nil {
				tc.opts(&o)
			}
			_, err := release.Tag(t.Context(), o)
			if err == nil {
				t.Fatal("tagged")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if l, _ := st.List(t.Context(), ""); len(l) != 0 {
				t.Errorf("a refused release stored %v", l)
			}
			if out := releasetest.Git(t, f.Root, "tag", "-l", "v1.2.3"); out != "" && tc.setup == nil {
				t.Errorf("a refused release made a git tag")
			}
		})
	}
}

// --allow-failed-timing releases a seed that failed timing and says so.
func TestTagAllowFailedTiming(t *testing.T) {
	f := releasetest.New(t, releasetest.Options{})
	o := tagOptions(t, f, localStore(t, f))
	o.Seed, o.AllowFailedTiming, o.NoGitTag = 1, true, true
	got, err := release.Tag(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got.Manifest.Timing.Met || *got.Manifest.Timing.WNSns != -26.3 || got.Manifest.Timing.TNSns != nil || got.GitTag != "" {
		t.Errorf("manifest timing %+v, git tag %q", got.Manifest.Timing, got.GitTag)
	}
	if out := releasetest.Git(t, f.Root, "tag", "-l"); out != "" {
		t.Errorf("--no-git-tag made tags: %s", out)
	}
}

// Each kind of tampering is found and named, in a fetched directory (as
// the deploy role sees it) and in the store itself.
func TestVerifyTampering(t *testing.T) {
	f := releasetest.New(t, releasetest.Options{})
	st := localStore(t, f)
	if _, err := release.Tag(t.Context(), tagOptions(t, f, st)); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.pub")
	if _, err := release.GenerateKeys(filepath.Join(t.TempDir(), "k"), other, false); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dir string)
		pubKey string
		want   []string
	}{
		{"intact", func(*testing.T, string) {}, "", nil},
		{"bitstream byte flipped", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "artifacts", "pf_filter.bit")
			b, _ := os.ReadFile(p)
			b[5] ^= 1
			os.WriteFile(p, b, 0o644)
		}, "", []string{"artifacts/pf_filter.bit: sha256 differs", hexsum(f.Bitstream)}},
		{"bitstream truncated", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "artifacts", "pf_filter.bit"), f.Bitstream[:10], 0o644)
		}, "", []string{"artifacts/pf_filter.bit: size differs: 10 bytes"}},
		{"manifest edited", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "manifest.json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte(`"seed": 2`), []byte(`"seed": 3`), 1), 0o644)
		}, "", []string{"manifest.json.sig: signature invalid: manifest.json or manifest.json.sig was changed"}},
		{"signature replaced", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "manifest.json.sig"), bytes.Repeat([]byte{7}, 64), 0o644)
		}, "", []string{"signature invalid"}},
		{"signature truncated", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "manifest.json.sig"), []byte("short"), 0o644)
		}, "", []string{"5 bytes, an ed25519 signature is 64"}},
		{"signature removed", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "manifest.json.sig")) }, "",
			[]string{"manifest.json.sig: missing"}},
		{"artifact removed", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "artifacts", "flow.log")) }, "",
			[]string{"artifacts/flow.log: missing"}},
		{"extra file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "artifacts", "backdoor.bit"), []byte("x"), 0o644)
		}, "", []string{"artifacts/backdoor.bit: extra file not in the manifest"}},
		{"wrong public key", func(*testing.T, string) {}, other,
			[]string{"signed by key " + release.KeyID(pub(t, f)), "the public key given is"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "v1.2.3")
			if _, err := release.Fetch(t.Context(), st, "v1.2.3", dir, nil); err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, dir)
			key := pub(t, f)
			if tc.pubKey != "" {
				var err error
				if key, err = release.LoadPublicKey(tc.pubKey); err != nil {
					t.Fatal(err)
				}
			}
			ds, _ := store.NewLocal(dir)
			v, err := release.Verify(t.Context(), ds, "", "v1.2.3", key)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if !v.OK {
					t.Fatalf("intact release: %v", v.Err())
				}
				return
			}
			if v.OK || v.Err() == nil {
				t.Fatal("verified")
			}
			for _, w := range tc.want {
				if !strings.Contains(v.Err().Error(), w) {
					t.Errorf("%v\nlacks %q", v.Err(), w)
				}
			}
		})
	}
	// Tampering in the store itself.
	p := filepath.Join(f.Root, "work", "store", "releases", "v1.2.3", "artifacts", "report.json")
	os.WriteFile(p, []byte("{}"), 0o644)
	v, err := release.Verify(t.Context(), st, release.Prefix("v1.2.3"), "v1.2.3", pub(t, f))
	if err != nil || v.OK || len(v.Problems) != 2 || v.Problems[0].Kind != release.ProblemSize || v.Problems[1].Kind != release.ProblemSHA256 {
		t.Errorf("store tampering: %v %+v", err, v)
	}
}

// Tag and verify with the Swift store, through the real gophercloud client
// on the OpenStack double; then content replaced behind the client's back
// is found.
func TestTagVerifySwift(t *testing.T) {
	c := osdouble.StartForTest(t, "objects", osdouble.Options{})

	f := releasetest.New(t, releasetest.Options{Extra: "store:\n  swift: {cloud: objects, container: fpga-releases}\n"})
	st, err := store.Open(t.Context(), f.Settings)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := release.Tag(t.Context(), tagOptions(t, f, st)); err != nil {
		t.Fatal(err)
	}
	var names []string
	var order []string
	for _, r := range c.Requests() {
		if r.Route == osdouble.RoutePutObject {
			order = append(order, r.Path[strings.LastIndex(r.Path, "/")+1:])
		}
	}
	for _, o := range c.Objects() {
		names = append(names, o.Container+"/"+o.Name)
	}
	want := "fpga-releases/releases/v1.2.3/manifest.json"
	if !strings.Contains(strings.Join(names, " "), want) || len(names) != 6 {
		t.Errorf("objects %v", names)
	}
	if len(order) != 6 || order[4] != "manifest.json.sig" || order[5] != "manifest.json" {
		t.Errorf("upload order %v: the signature and then the manifest must come last", order)
	}
	v, err := release.Verify(t.Context(), st, release.Prefix("v1.2.3"), "v1.2.3", pub(t, f))
	if err != nil || !v.OK {
		t.Fatalf("verify: %v %v", err, v.Err())
	}
	c.PutObject("fpga-releases", "releases/v1.2.3/artifacts/pf_filter.bit", []byte("evil bits"))
	c.DeleteObject("fpga-releases", "releases/v1.2.3/artifacts/pnr.log")
	v, err = release.Verify(t.Context(), st, release.Prefix("v1.2.3"), "v1.2.3", pub(t, f))
	if err != nil || v.OK || !strings.Contains(v.Err().Error(), "artifacts/pf_filter.bit: size differs") ||
		!strings.Contains(v.Err().Error(), "artifacts/pnr.log: missing") {
		t.Errorf("tampered Swift release: %v %v", err, v.Err())
	}
}

const oneBoard = `boards:
  - {name: b10g-1, part: LFE5U-25F-6BG256C, speed: 10G, lab_host: lab1, ssh_address: "127.0.0.1:22", iface_in: b0, iface_out: b1, control: /run/b.sock, program: "true {bitstream}", tags: [10G]}
  - {name: b10g-2, part: LFE5U-25F-6BG256C, speed: 10G, lab_host: lab1, ssh_address: "127.0.0.1:22", iface_in: b2, iface_out: b3, control: /run/c.sock, program: "true {bitstream}", tags: [10G]}
`

// startLab runs the real lab service in-process and returns a client.
func startLab(t *testing.T) *client.Client {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	inv := filepath.Join(dir, "boards.yaml")
	os.WriteFile(inv, []byte(oneBoard), 0o644)
	st, err := labstore.Open(ctx, filepath.Join(dir, "lab.db"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := st.AddUser(ctx, "ana", false)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, st, inv, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { srv.Run(runCtx); close(done) }()
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.StartShutdown(); hs.Close(); cancel(); <-done; st.Close() })
	return client.New(hs.URL, tok)
}

func postResult(t *testing.T, lab *client.Client, board string, passed bool, sum string) int64 {
	t.Helper()
	res, err := lab.Reserve(t.Context(), api.ReserveRequest{Board: board})
	if err != nil {
		t.Fatal(err)
	}
	id, err := lab.PostResult(t.Context(), board, api.Result{Reservation: res.ID, Passed: passed, Frames: 3000, BitstreamSHA256: sum})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Release(t.Context(), res.ID); err != nil {
		t.Fatal(err)
	}
	return id
}

// release.require_board against the real lab service: refused with no
// result, with a result of another bitstream, or with a failing one; a
// passing result of this bitstream on any board lets it through and is
// recorded in the manifest.
func TestRequireBoard(t *testing.T) {
	f := releasetest.New(t, releasetest.Options{Extra: "release: {require_board: true}\n"})
	lab := startLab(t)
	st := localStore(t, f)
	o := tagOptions(t, f, st)
	o.Lab, o.NoGitTag = lab, true
	sum := hexsum(f.Bitstream)

	if _, err := release.Tag(t.Context(), o); err == nil || !strings.Contains(err.Error(), "no passing on-board result for bitstream "+sum) ||
		!strings.Contains(err.Error(), "fpgactl board test") {
		t.Fatalf("no results: %v", err)
	}
	postResult(t, lab, "b10g-1", true, hexsum([]byte("another bitstream")))
	postResult(t, lab, "b10g-1", false, sum)
	if _, err := release.Tag(t.Context(), o); err == nil || !strings.Contains(err.Error(), "failed on-board tests on b10g-1") {
		t.Fatalf("failing result: %v", err)
	}
	id := postResult(t, lab, "b10g-2", true, sum)
	got, err := release.Tag(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if b := got.Manifest.Tests.Board; b == nil || b.Board != "b10g-2" || !b.Passed || b.ResultID != id || b.Frames != 3000 {
		t.Errorf("manifest tests.board = %+v", got.Manifest.Tests.Board)
	}
}

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	priv, pubf := filepath.Join(dir, "k"), filepath.Join(dir, "k.pub")
	p, err := release.GenerateKeys(priv, pubf, false)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(priv); st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v", st.Mode())
	}
	if _, err := release.GenerateKeys(priv, pubf, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("overwrite without --force: %v", err)
	}
	k, err := release.LoadPrivateKey(priv)
	if err != nil || !bytes.Equal(k.Public().(ed25519.PublicKey), p) {
		t.Fatalf("load: %v", err)
	}
	// openssl reads both files as ed25519 keys.
	if out, err := exec.Command("openssl", "pkey", "-in", priv, "-noout", "-text").CombinedOutput(); err != nil || !strings.Contains(string(out), "ED25519") {
		t.Errorf("openssl pkey: %v %s", err, out[:min(len(out), 60)])
	}
	os.Chmod(priv, 0o640)
	if _, err := release.LoadPrivateKey(priv); err == nil || !strings.Contains(err.Error(), "chmod 600 "+priv) {
		t.Errorf("group-readable key: %v", err)
	}
	if _, err := release.LoadPrivateKey(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "fpgactl release keygen") {
		t.Errorf("missing key: %v", err)
	}
	// A key openssl made is read too, and a non-ed25519 one is refused by name.
	ossl := filepath.Join(dir, "ossl")
	if out, err := exec.Command("openssl", "genpkey", "-algorithm", "ed25519", "-out", ossl).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	os.Chmod(ossl, 0o600)
	if _, err := release.LoadPrivateKey(ossl); err != nil {
		t.Errorf("openssl key: %v", err)
	}
	rsa := filepath.Join(dir, "rsa")
	exec.Command("openssl", "genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", rsa).Run()
	os.Chmod(rsa, 0o600)
	if _, err := release.LoadPrivateKey(rsa); err == nil || !strings.Contains(err.Error(), "not ed25519") {
		t.Errorf("EC key: %v", err)
	}
}
