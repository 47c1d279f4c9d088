package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/fpgactl/fpgactl/build/record"
)

// ShardBuildPrefix starts the build ID that cloud resources of a run's
// shards carry: ci-<run id>.
const ShardBuildPrefix = "ci-"

// processFile names the process that runs a pipeline, in its run directory,
// so that `fpgactl build reap` can tell a live run's shard servers from
// those a killed run left behind.
const processFile = "process.json"

func writeProcess(dir string) error {
	data, err := json.Marshal(record.CurrentProcess())
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, processFile), data, 0o644)
}

// ShardRunStale reports whether buildID names the shards of a pipeline run
// of this work directory (ci-<run id>) whose process is gone. Runs it does
// not know (another machine's) are not stale: their servers are left alone.
func ShardRunStale(workDir, buildID string) bool {
	id, ok := strings.CutPrefix(buildID, ShardBuildPrefix)
	if !ok || !record.ValidID(id) {
		return false
	}
	data, err := os.ReadFile(filepath.Join(workDir, "ci", "runs", id, processFile))
	if err != nil {
		return false
	}
	var p record.Process
	if json.Unmarshal(data, &p) != nil {
		return false
	}
	return !record.Alive(p)
}
