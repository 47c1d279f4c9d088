package pipeline

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/build/record"
)

// A run's shard servers are stale once its process is gone, and only then;
// runs of other work directories and other build IDs are never stale.
func TestShardRunStale(t *testing.T) {
	work := t.TempDir()
	live, dead := "20261123-190000-aaaa", "20261123-190000-bbbb"
	for _, id := range []string{live, dead} {
		os.MkdirAll(filepath.Join(work, "ci", "runs", id), 0o755)
	}
	if err := writeProcess(filepath.Join(work, "ci", "runs", live)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	p := record.CurrentProcess()
	p.PID = cmd.Process.Pid // exited and reaped
	data, _ := json.Marshal(p)
	os.WriteFile(filepath.Join(work, "ci", "runs", dead, processFile), data, 0o644)

	for id, want := range map[string]bool{
		"ci-" + live:                 false,
		"ci-" + dead:                 true,
		"ci-20261123-190000-cccc":    false, // not this work directory's
		dead:                         false, // a build ID, not a run's
		"ci-../../etc":               false,
		"ci-" + dead + "/../" + live: false,
	} {
		if got := ShardRunStale(work, id); got != want {
			t.Errorf("ShardRunStale(%q) = %v, want %v", id, got, want)
		}
	}
}

// Old finished runs go, the newest stay, and a run whose process is alive
// stays whatever its age.
func TestPruneRuns(t *testing.T) {
	work := t.TempDir()
	runs := filepath.Join(work, "ci", "runs")
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := record.CurrentProcess()
	dead.PID = cmd.Process.Pid
	deadJSON, _ := json.Marshal(dead)
	ids := []string{"20261120-100000-0001", "20261121-100000-0002", "20261122-100000-0003", "20261123-100000-0004", "20261123-110000-0005"}
	for i, id := range ids {
		d := filepath.Join(runs, id)
		os.MkdirAll(d, 0o755)
		if i == 0 {
			writeProcess(d) // the oldest is this (live) process
		} else {
			os.WriteFile(filepath.Join(d, processFile), deadJSON, 0o644)
		}
	}
	os.MkdirAll(filepath.Join(runs, "not-a-run"), 0o755)
	pruneRuns(runs, 2)
	var left []string
	entries, _ := os.ReadDir(runs)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{ids[0], ids[3], ids[4], "not-a-run"}
	if strings.Join(left, " ") != strings.Join(want, " ") {
		t.Errorf("left %v, want %v", left, want)
	}
}
