package pipeline_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/build/run"
	"github.com/fpgactl/fpgactl/internal/pipeline"
	"github.com/fpgactl/fpgactl/internal/pipeline/pipelinetest"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/syncbuf"
)

func runPipeline(t *testing.T, settings string, mod func(*pipeline.Options)) *pipeline.Summary {
	t.Helper()
	s, err := project.Load(settings)
	if err != nil {
		t.Fatal(err)
	}
	exe := pipelinetest.Fpgactl(t)
	hash, err := pipeline.ExecutableHash(exe)
	if err != nil {
		t.Fatal(err)
	}
	var progress syncbuf.Buffer
	o := pipeline.Options{Settings: s, Exe: exe, ToolHash: hash, Progress: &progress, Jobs: 2}
	if mod != nil {
		mod(&o)
	}
	sum, err := pipeline.Run(context.Background(), o)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	t.Logf("run %s: %s in %.1fs, %d cached, %d run\n%s", sum.ID, sum.Status, sum.Seconds, sum.Cached, sum.Ran, progress.String())
	for name, it := range items(sum) {
		if it.Status != pipeline.StatusPassed {
			t.Logf("%s: %s: %s", name, it.Status, it.Message)
		}
	}
	return sum
}

// items maps "step item" to the item.
func items(sum *pipeline.Summary) map[string]pipeline.Item {
	out := map[string]pipeline.Item{}
	for _, st := range sum.Steps {
		for _, it := range st.Items {
			out[st.Name+" "+it.Name] = it
		}
	}
	return out
}

func step(t *testing.T, sum *pipeline.Summary, name string) *pipeline.Step {
	t.Helper()
	for _, st := range sum.Steps {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no step %s in %+v", name, sum.Steps)
	return nil
}

// A cold run runs everything; a rerun takes everything from the cache; a
// change to one module reruns the lint and only the unit case whose
// testbench reaches it; a failure is reported, written to JUnit and
// Markdown, and not cached.
func TestCachingFollowsWhatEachItemReads(t *testing.T) {
	settings := pipelinetest.Project(t)
	root := filepath.Dir(settings)

	cold := runPipeline(t, settings, nil)
	if !cold.OK() || cold.Cached != 0 || cold.Ran == 0 {
		t.Fatalf("cold run: %+v", cold)
	}
	unit := step(t, cold, "unit")
	if len(unit.Items) != 2 || unit.Ran != 2 {
		t.Fatalf("unit step: %+v", unit)
	}
	if step(t, cold, "lint/w64").Ran == 0 {
		t.Fatal("lint ran nothing")
	}

	warm := runPipeline(t, settings, nil)
	if !warm.OK() || warm.Ran != 0 || warm.Cached != warm.Items || warm.Items != cold.Items {
		t.Fatalf("rerun with nothing changed: %d run, %d cached of %d: %+v", warm.Ran, warm.Cached, warm.Items, warm.Steps)
	}

	// The same behaviour, other text: tiny_b's file changed.
	pipelinetest.Write(t, filepath.Join(root, "rtl", "tiny_b.sv"), strings.Replace(pipelinetest.Leaf("tiny_b", 2), "a + 8'd2", "8'd2 + a", 1))
	changed := runPipeline(t, settings, nil)
	it := items(changed)
	if !changed.OK() || it["unit tiny_a_tb"].Cached != true || it["unit tiny_b_tb"].Cached != false {
		t.Fatalf("after changing tiny_b: %+v", it)
	}
	if st := step(t, changed, "lint/w64"); st.Ran == 0 {
		t.Errorf("lint reads every file but was cached: %+v", st)
	}

	// A wrong module: its testbench fails, the other stays cached.
	pipelinetest.Write(t, filepath.Join(root, "rtl", "tiny_b.sv"), pipelinetest.Leaf("tiny_b", 3))
	bad := runPipeline(t, settings, nil)
	it = items(bad)
	if bad.OK() || bad.Status != pipeline.StatusFailed || it["unit tiny_b_tb"].Status != pipeline.StatusFailed || !it["unit tiny_a_tb"].Cached {
		t.Fatalf("after breaking tiny_b: %s %+v", bad.Status, it)
	}
	if !strings.Contains(it["unit tiny_b_tb"].Message, "fail") {
		t.Errorf("failure message: %q", it["unit tiny_b_tb"].Message)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	data, err := os.ReadFile(bad.JUnit)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(data, &doc); err != nil || doc.Failures != 1 || doc.Tests != bad.Items {
		t.Errorf("JUnit %+v (%v):\n%s", doc, err, data)
	}
	md, _ := os.ReadFile(bad.Markdown)
	if !bytes.Contains(md, []byte("fpgactl ci failed")) || !bytes.Contains(md, []byte("`tiny_b_tb` failed")) {
		t.Errorf("Markdown:\n%s", md)
	}
	// Failures are not cached: the rerun runs the case again.
	again := runPipeline(t, settings, nil)
	if it := items(again)["unit tiny_b_tb"]; it.Cached || it.Status != pipeline.StatusFailed {
		t.Errorf("a failed case came from the cache: %+v", it)
	}

	// --no-cache runs every item.
	pipelinetest.Write(t, filepath.Join(root, "rtl", "tiny_b.sv"), pipelinetest.Leaf("tiny_b", 2))
	all := runPipeline(t, settings, func(o *pipeline.Options) { o.NoCache = true })
	if !all.OK() || all.Cached != 0 {
		t.Errorf("--no-cache: %+v", all)
	}
	if _, err := os.Readlink(filepath.Join(root, "work", "ci", "latest")); err != nil {
		t.Errorf("latest link: %v", err)
	}
}

// With a shard runner the unit cases run as command jobs (here the local
// runner: a fresh directory with the packed inputs, fpgactl uploaded), and
// their reports come back into the same summary.
func TestShards(t *testing.T) {
	settings := pipelinetest.Project(t)
	sum := runPipeline(t, settings, func(o *pipeline.Options) {
		o.Shard, o.Shards = run.Local{}, 2
	})
	if !sum.OK() || step(t, sum, "unit").Ran != 2 || sum.Shard != "local" {
		t.Fatalf("sharded run: %+v", step(t, sum, "unit"))
	}
	for _, shard := range []string{"unit-1", "unit-2"} {
		if _, err := os.Stat(filepath.Join(sum.Dir, "shards", shard, "report.json")); err != nil {
			t.Errorf("shard %s report: %v", shard, err)
		}
	}
	// The shards' results are cached like local ones.
	again := runPipeline(t, settings, nil)
	if again.Ran != 0 {
		t.Errorf("after the sharded run: %d items ran", again.Ran)
	}
}

func TestExecutableHashIgnoresStamps(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o755)
		return p
	}
	a := write("a", "code\x00v1.2.3-abcdef\x00commit0123456789\x002026-11-23T10:00:00Z\x00more code")
	b := write("b", "code\x00v1.2.4-fedcba\x00commit9876543210\x002026-11-24T11:00:00Z\x00more code")
	c := write("c", "other code\x00v1.2.3-abcdef\x00commit0123456789\x002026-11-23T10:00:00Z\x00more code")
	ha, _ := pipeline.ExecutableHash(a, "v1.2.3-abcdef", "commit0123456789", "2026-11-23T10:00:00Z")
	hb, _ := pipeline.ExecutableHash(b, "v1.2.4-fedcba", "commit9876543210", "2026-11-24T11:00:00Z")
	hc, _ := pipeline.ExecutableHash(c, "v1.2.3-abcdef", "commit0123456789", "2026-11-23T10:00:00Z")
	if ha != hb {
		t.Errorf("same code, other stamps: %s vs %s", ha, hb)
	}
	if ha == hc {
		t.Error("other code, same hash")
	}
}

// Two links of fpgactl that differ only in their stamps, made as the
// Makefile makes them (the version padded to 64 characters), as two commits
// that change no Go code build it, hash the same; without the stamps
// blanked they would not.
func TestExecutableHashOfRealBuilds(t *testing.T) {
	dir := t.TempDir()
	pad := func(v string) string { return v + strings.Repeat("_", 64-len(v)) }
	build := func(name string, stamps []string) string {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
			"-ldflags", "-X main.version="+stamps[0]+" -X main.commit="+stamps[1]+" -X main.date="+stamps[2], "-o", out, "./cmd/fpgactl")
		cmd.Dir = filepath.Join("..", "..")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
		return out
	}
	// Outside a tag the version is the commit's abbreviation: one stamp is
	// part of another.
	sa := []string{pad("e90aeab"), "e90aeab82decd01237fa39710c2767a7e4d5f9c6", "2026-11-23T10:00:00Z"}
	sb := []string{pad("v1.2.0-14-g5ad4d7e-dirty"), "5ad4d7e1f0c2b3a4d5e6f708192a3b4c5d6e7f80", "2026-11-24T11:30:00Z"}
	ha, err := pipeline.ExecutableHash(build("a", sa), sa...)
	if err != nil {
		t.Fatal(err)
	}
	b := build("b", sb)
	hb, _ := pipeline.ExecutableHash(b, sb...)
	if ha != hb {
		t.Errorf("same sources, other stamps: %s vs %s", ha, hb)
	}
	if raw, _ := pipeline.ExecutableHash(b); raw == ha {
		t.Error("the stamps made no difference: the test proves nothing")
	}
	// What the binary reports is the version without its padding.
	out, err := exec.Command(b, "version").Output()
	if err != nil || !strings.Contains(string(out), "fpgactl v1.2.0-14-g5ad4d7e-dirty (commit") {
		t.Errorf("fpgactl version: %v %q", err, out)
	}
}
