package flock

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLockExcludesAndCancels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := Lock(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	// Another process cannot take it while it is held…
	if out, err := exec.Command("flock", "-n", path, "true").CombinedOutput(); err == nil {
		t.Fatalf("flock -n got the lock we hold: %s", out)
	}
	// …and a waiter in this process gives up with its context.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, path); err == nil || !strings.Contains(err.Error(), "waiting for the lock") {
		t.Errorf("second Lock: %v, want a wait that ends with the context", err)
	}
	unlock()
	if out, err := exec.Command("flock", "-n", path, "true").CombinedOutput(); err != nil {
		t.Errorf("lock still held after unlock: %v %s", err, out)
	}
	if _, err := Lock(t.Context(), filepath.Join(t.TempDir(), "no", "dir.lock")); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("lock in a missing directory: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
