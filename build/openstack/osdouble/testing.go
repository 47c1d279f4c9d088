package osdouble

import (
	"os"
	"path/filepath"
	"testing"
)

// StartForTest starts a double for the test (closed when it ends), writes a
// clouds.yaml whose one entry, cloud, logs in to it, and points
// OS_CLIENT_CONFIG_FILE at that file with OS_CLOUD unset: credentials reach
// fpgactl the way the openstack CLI reads them. Dir and Logf default to the
// test's temp directory and log.
func StartForTest(t testing.TB, cloud string, o Options) *Cloud {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	clouds := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(clouds, c.CloudsYAML(cloud), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	t.Setenv("OS_CLOUD", "")
	return c
}
