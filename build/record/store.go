package record

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/fpgactl/fpgactl/internal/atomicfile"
	"github.com/fpgactl/fpgactl/internal/flock"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

const (
	recordFile = "build.json"
	lockFile   = "build.lock"
)

// idPattern is what Create makes: UTC creation time to the second, then 16
// random bits, e.g. 20261123-151500-ab12. IDs sort by time.
var idPattern = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$`)

// Store keeps build records under Dir, one directory per build.
type Store struct {
	// Dir holds the build directories. It is created on first use.
	Dir string
}

// Path is the directory of build id, where its record and artifacts live.
func (s *Store) Path(id string) string { return filepath.Join(s.Dir, id) }

// ValidID reports whether id has the form Create gives IDs. Everything that
// takes an ID checks it, so that an ID from the command line cannot name a
// path outside Dir.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// CheckID is ValidID as an error that says what a build ID looks like.
func CheckID(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("%q is not a build ID (they look like 20261123-151500-ab12); see fpgactl build list", id)
	}
	return nil
}

// Create writes a new record for b and returns its ID, also set in b.ID.
// Create fills in what the caller left empty: CreatedAt (now), Status
// (running), Process (this process), Version, and Results (every target ×
// seed, queued).
func (s *Store) Create(b *Build) (string, error) {
	if s.Dir == "" {
		return "", errors.New("record store has no directory; set Store.Dir")
	}
	if len(b.Targets) == 0 || len(b.Seeds) == 0 {
		return "", errors.New("a build needs at least one target and one seed")
	}
	now := time.Now().UTC()
	if b.CreatedAt.IsZero() {
		b.CreatedAt = now
	}
	b.UpdatedAt = now
	b.Version = recordVersion
	if b.Status == "" {
		b.Status = StatusRunning
	}
	if b.Process.PID == 0 {
		b.Process = CurrentProcess()
	}
	if len(b.Results) == 0 {
		for _, t := range b.Targets {
			for _, seed := range b.Seeds {
				b.Results = append(b.Results, SeedResult{Target: t, Seed: seed, Status: SeedQueued})
			}
		}
	}
	if err := b.validate(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return "", fmt.Errorf("create build store: %w", err)
	}
	// Mkdir reserves the ID: it fails if another build took the same second
	// and random suffix, and then we draw again.
	for range 16 {
		id, err := newID(b.CreatedAt)
		if err != nil {
			return "", err
		}
		dir := s.Path(id)
		if err := os.Mkdir(dir, 0o755); errors.Is(err, fs.ErrExist) {
			continue
		} else if err != nil {
			return "", fmt.Errorf("create build directory: %w", err)
		}
		b.ID = id
		if err := writeRecord(dir, b); err != nil {
			os.RemoveAll(dir)
			b.ID = ""
			return "", err
		}
		return id, nil
	}
	return "", fmt.Errorf("could not find a free build ID in %s; too many builds started in one second", s.Dir)
}

func newID(t time.Time) (string, error) {
	var r [2]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("build ID: %w", err)
	}
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(r[:]), nil
}

// Get reads build id. A missing record gives an error that wraps
// fs.ErrNotExist; a corrupt one an error naming the file.
func (s *Store) Get(id string) (*Build, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	return readRecord(filepath.Join(s.Path(id), recordFile), id)
}

func readRecord(path, id string) (*Build, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("build %s: no record at %s (see fpgactl build list): %w", id, path, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", id, err)
	}
	var b Build
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("build record %s is corrupt (%v); move that directory aside to drop the build", path, err)
	}
	if b.Version > recordVersion {
		return nil, fmt.Errorf("build record %s has format version %d, newer than this fpgactl reads (%d); use a newer fpgactl", path, b.Version, recordVersion)
	}
	if b.ID != id {
		return nil, fmt.Errorf("build record %s is corrupt: it says it is build %q; move that directory aside to drop the build", path, b.ID)
	}
	return &b, nil
}

// List returns every build, newest first. A record that cannot be read does
// not hide the others: List returns the readable ones together with an error
// naming each bad file.
func (s *Store) List() ([]*Build, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	var (
		builds []*Build
		errs   []error
	)
	for _, id := range ids {
		b, err := s.Get(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		builds = append(builds, b)
	}
	slices.SortStableFunc(builds, func(a, b *Build) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return builds, errors.Join(errs...)
}

// ids lists the build directories, greatest (newest) ID first.
func (s *Store) ids() ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list builds: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && ValidID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	return ids, nil
}

// Latest returns the build with the greatest ID, i.e. the one created last
// (to the second). If that record is unreadable Latest says so rather than
// quietly returning an older build.
func (s *Store) Latest() (*Build, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no builds in %s yet; start one with fpgactl build --target T --seeds 1-8: %w", s.Dir, fs.ErrNotExist)
	}
	return s.Get(ids[0])
}

// Update changes build id: under the build's exclusive lock it reads the
// current record, calls fn, and writes the result atomically. Two processes
// updating the same build (the build itself and `fpgactl build cancel`)
// are serialised, and each sees the other's changes. If fn returns an error
// nothing is written and Update returns that error. Waiting for the lock
// ends with ctx.
func (s *Store) Update(ctx context.Context, id string, fn func(*Build) error) error {
	if err := CheckID(id); err != nil {
		return err
	}
	dir := s.Path(id)
	unlock, err := lock(ctx, dir, id)
	if err != nil {
		return err
	}
	defer unlock()

	// Only the lock holder writes, so any temp file present now was left by
	// a writer that died before its rename.
	removeStaleTemps(dir)

	b, err := readRecord(filepath.Join(dir, recordFile), id)
	if err != nil {
		return err
	}
	if err := fn(b); err != nil {
		return err
	}
	if b.ID != id {
		return fmt.Errorf("build %s: an update may not change the build ID (to %q)", id, b.ID)
	}
	if err := b.validate(); err != nil {
		return fmt.Errorf("build %s: %w", id, err)
	}
	b.Version = recordVersion
	b.UpdatedAt = time.Now().UTC()
	return writeRecord(dir, b)
}

// UpdateSeed changes the result of one seed of one target (see Update).
func (s *Store) UpdateSeed(ctx context.Context, id, target string, seed int, fn func(*SeedResult)) error {
	return s.Update(ctx, id, func(b *Build) error {
		r := b.Seed(target, seed)
		if r == nil {
			return fmt.Errorf("build %s has no seed %d for target %q", id, seed, target)
		}
		fn(r)
		return nil
	})
}

// lock takes the exclusive flock on dir's lock file. flock conflicts between
// separate open file descriptions, so goroutines of one process exclude each
// other as well as other processes do; the kernel drops the lock when its
// holder dies, so a kill -9 never leaves a build locked.
func lock(ctx context.Context, dir, id string) (unlock func(), err error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("build %s: no such build in %s (see fpgactl build list): %w", id, filepath.Dir(dir), fs.ErrNotExist)
	}
	unlock, err = flock.Lock(ctx, filepath.Join(dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", id, err)
	}
	return unlock, nil
}

// writeRecord replaces dir/build.json with b atomically (atomicfile): a
// crash at any point leaves either the old record or the new one.
func writeRecord(dir string, b *Build) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return fmt.Errorf("build %s: encode record: %w", b.ID, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, recordFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("build %s: write record: %w", b.ID, err)
	}
	return nil
}

func removeStaleTemps(dir string) {
	stale, _ := filepath.Glob(atomicfile.TempPattern(filepath.Join(dir, recordFile)))
	for _, p := range stale {
		os.Remove(p)
	}
}
