package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/fpgactl/fpgactl/internal/atomicfile"
)

// cache keeps the results of passing items by the hash of what they read:
// <dir>/<kind>/<key>.json. Failures are never kept: a rerun with nothing
// changed runs a failed item again, as a flaky or fixed-elsewhere failure
// deserves.
type cache struct {
	dir string
	// off makes every lookup miss (--no-cache); results are still stored.
	off bool
}

func (c *cache) path(kind, key string) string { return filepath.Join(c.dir, kind, key+".json") }

// get fills v from the entry of kind and key, and reports whether it did.
func (c *cache) get(kind, key string, v any) bool {
	if c.off {
		return false
	}
	data, err := os.ReadFile(c.path(kind, key))
	if err != nil {
		return false
	}
	// An unreadable entry (a older format, a torn disk) is a miss.
	return json.Unmarshal(data, v) == nil
}

func (c *cache) put(kind, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	p := c.path(kind, key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, data, 0o644)
}
