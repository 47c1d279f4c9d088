package pipeline

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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
