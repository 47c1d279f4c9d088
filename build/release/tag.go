package release

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/build/store"
	"github.com/fpgactl/fpgactl/internal/contenthash"
	"github.com/fpgactl/fpgactl/internal/gitinfo"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/results"
	"github.com/fpgactl/fpgactl/labctl/api"
)

// Lab is what the gate asks the lab service (labctl/client.Client).
type Lab interface {
	Boards(ctx context.Context) ([]api.Board, error)
	Results(ctx context.Context, board string, limit int) ([]api.Result, error)
}

// labResultLimit is the most results the service returns per board.
const labResultLimit = 1000

// TagOptions say what to release.
type TagOptions struct {
	Settings *project.Settings
	Store    store.Store
	Key      ed25519.PrivateKey
	// Lab is asked for on-board results when release.require_board is set.
	Lab Lab

	Version string
	BuildID string
	// Target is required when the build has several targets.
	Target string
	// Seed 0 means the target's best seed.
	Seed              int
	AllowFailedTiming bool
	// Message is put first in the git tag's message.
	Message  string
	NoGitTag bool
	// Progress gets a line per step (nil: none).
	Progress io.Writer
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Tagged is what Tag did.
type Tagged struct {
	Version         string    `json:"version"`
	Store           string    `json:"store"`
	Objects         []string  `json:"objects"`
	ManifestSHA256  string    `json:"manifest_sha256"`
	BitstreamSHA256 string    `json:"bitstream_sha256"`
	GitTag          string    `json:"git_tag,omitempty"`
	Manifest        *Manifest `json:"manifest"`
}

// file is an artifact to upload from the build's directory.
type file struct {
	Artifact
	path string
}

// Tag checks the release gate, uploads the artifacts, the signature and
// then the manifest (so that a release is visible only once complete), and
// creates an annotated git tag at the build's commit.
func Tag(ctx context.Context, o TagOptions) (*Tagged, error) {
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	s := o.Settings
	if err := CheckVersion(o.Version); err != nil {
		return nil, err
	}
	if o.Key == nil {
		return nil, errors.New("no signing key; run 'fpgactl release keygen'")
	}

	// The build, its target and seed.
	if err := record.CheckID(o.BuildID); err != nil {
		return nil, err
	}
	builds := &record.Store{Dir: filepath.Join(s.WorkPath(), "builds")}
	b, err := builds.Get(o.BuildID)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("build %s not found in %s; 'fpgactl build list' shows the builds", o.BuildID, builds.Dir)
	} else if err != nil {
		return nil, err
	}
	if b.Status != record.StatusDone {
		return nil, fmt.Errorf("build %s is %s, not done; release a finished build ('fpgactl build show %s')", b.ID, b.Status, b.ID)
	}
	target := o.Target
	if target == "" {
		if len(b.Targets) != 1 {
			return nil, fmt.Errorf("build %s has targets %s; choose one with --target", b.ID, strings.Join(b.Targets, ", "))
		}
		target = b.Targets[0]
	} else if !slices.Contains(b.Targets, target) {
		return nil, fmt.Errorf("build %s has no target %q (it built %s)", b.ID, target, strings.Join(b.Targets, ", "))
	}
	var seed record.SeedResult
	if o.Seed == 0 {
		var ok bool
		if seed, ok = b.Best(target); !ok {
			return nil, fmt.Errorf("build %s target %s has no seed with a timing result; nothing to release", b.ID, target)
		}
	} else {
		r := b.Seed(target, o.Seed)
		if r == nil {
			return nil, fmt.Errorf("build %s target %s has no seed %d", b.ID, target, o.Seed)
		}
		if r.Status != record.SeedMet && r.Status != record.SeedFailedTiming {
			return nil, fmt.Errorf("build %s target %s seed %d is %s: no timing result, nothing to release", b.ID, target, o.Seed, r.Status)
		}
		seed = *r
	}
	if seed.Bitstream == "" {
		return nil, fmt.Errorf("build %s target %s seed %d has no bitstream; release another seed (--seed N) or rebuild", b.ID, target, seed.Seed)
	}
	if !seed.Met && !o.AllowFailedTiming {
		return nil, fmt.Errorf("build %s target %s seed %d failed timing (WNS %s ns, Fmax %s MHz for %g MHz); fix timing, or pass --allow-failed-timing to release it anyway (the manifest then says timing.met: false)",
			b.ID, target, seed.Seed, fmtNum(seed.WNSns), fmtNum(seed.FmaxMHz), seed.TargetMHz)
	}
	if b.Commit == "" {
		return nil, fmt.Errorf("build %s was not made in a git work tree (no commit recorded); commit, then rebuild", b.ID)
	}
	if b.Dirty {
		return nil, fmt.Errorf("build %s was made from a work tree with uncommitted changes to %s; commit them, then rebuild", b.ID, short(b.Commit))
	}
	in, ok := b.Inputs[target]
	if !ok || in.RTLHash == "" || in.Design == "" {
		return nil, fmt.Errorf("build %s does not record the inputs of target %s (made by an older fpgactl); rebuild it", b.ID, target)
	}

	// The functional suite on the very RTL the bitstream was made from.
	fr, err := results.Find(s.WorkPath(), results.KindFunctional, in.Design, in.Width, in.RTLHash)
	if errors.Is(err, results.ErrNone) {
		return nil, fmt.Errorf("no functional test results for design %s at %d bits on RTL %s (the sources of build %s); run 'fpgactl ci' or 'fpgactl test functional --width %d' on commit %s, then tag again",
			in.Design, in.Width, in.RTLHash, b.ID, in.Width, short(b.Commit))
	} else if err != nil {
		return nil, err
	}
	if !fr.OK() {
		return nil, fmt.Errorf("functional tests of design %s at %d bits on RTL %s did not pass (%d passed, %d failed, %s); fix them, run 'fpgactl ci' or 'fpgactl test functional --width %d' again, then tag",
			in.Design, in.Width, in.RTLHash, fr.Passed, fr.Failed, fr.Time.Format(time.RFC3339), in.Width)
	}

	// Artifacts, hashed once here; Put checks the same values while uploading.
	files, err := artifacts(s, in.Design, seed)
	if err != nil {
		return nil, err
	}
	bit := files[0]

	var board *Board
	if s.Release.RequireBoard {
		if o.Lab == nil {
			return nil, errors.New("release.require_board is set but no lab service is configured; set lab.url in fpgactl.yaml")
		}
		progress("asking the lab service for a passing on-board result of bitstream %s", bit.SHA256[:12])
		if board, err = boardResult(ctx, o.Lab, bit.SHA256); err != nil {
			return nil, err
		}
	}

	// The version must be new, in the store and in git.
	prefix := Prefix(o.Version)
	for _, n := range []string{ManifestFile, SignatureFile} {
		if _, err := o.Store.Stat(ctx, prefix+n); err == nil {
			return nil, fmt.Errorf("release %s already exists in %s; versions are never replaced, choose another", o.Version, o.Store)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if !o.NoGitTag {
		exists, err := gitinfo.TagExists(ctx, s.Root, o.Version)
		if err != nil {
			return nil, err
		}
		if exists {
			return nil, fmt.Errorf("git tag %s already exists; choose another version (or delete the tag if it is a mistake)", o.Version)
		}
		if !gitinfo.HasCommit(ctx, s.Root, b.Commit) {
			return nil, fmt.Errorf("build %s was made at commit %s, which the repository at %s does not have; fetch it, or pass --no-git-tag", b.ID, b.Commit, s.Root)
		}
	}

	m := &Manifest{
		Schema: Schema, Version: o.Version, Created: now().UTC().Truncate(time.Second), Commit: b.Commit,
		Build: Build{ID: b.ID, Target: target, Design: in.Design, Flow: in.Flow, Device: in.Device, Width: in.Width,
			Seed: seed.Seed, Parameters: in.Parameters, RTLHash: in.RTLHash, Runner: b.Runner},
		Timing: Timing{Met: seed.Met, ClockMHz: in.ClockMHz, FmaxMHz: seed.FmaxMHz, WNSns: seed.WNSns, TNSns: seed.TNSns},
		Tests: Tests{Functional: Functional{Passed: fr.Passed, Failed: fr.Failed, Frames: fr.Frames, Mismatches: fr.Mismatches,
			Widths: []int{in.Width}, Commit: fr.Commit, Time: fr.Time.UTC()}, Board: board},
		Signer: Signer{Algorithm: "ed25519", KeyID: KeyID(o.Key.Public().(ed25519.PublicKey))},
	}
	if m.Build.Parameters == nil {
		m.Build.Parameters = map[string]int{}
	}
	if m.Timing.ClockMHz == 0 {
		m.Timing.ClockMHz = seed.TargetMHz
	}
	if m.Build.Runner == "" {
		m.Build.Runner = "local"
	}
	for _, f := range files {
		m.Artifacts = append(m.Artifacts, f.Artifact)
	}
	data, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	sig := ed25519.Sign(o.Key, data)
	msum := sha256.Sum256(data)
	out := &Tagged{Version: o.Version, Store: o.Store.String(), ManifestSHA256: hex.EncodeToString(msum[:]),
		BitstreamSHA256: bit.SHA256, Manifest: m}

	// Upload: artifacts, signature, manifest last.
	for _, f := range files {
		progress("uploading %s (%s) to %s", f.Name, humanSize(f.Size), o.Store)
		if err := putFile(ctx, o.Store, prefix+f.Name, f); err != nil {
			return nil, fmt.Errorf("%w; release %s is not visible (no manifest stored); tag again to retry", err, o.Version)
		}
		out.Objects = append(out.Objects, prefix+f.Name)
	}
	for _, x := range []struct {
		name string
		data []byte
	}{{SignatureFile, sig}, {ManifestFile, data}} {
		progress("uploading %s", prefix+x.name)
		s := sha256.Sum256(x.data)
		if err := o.Store.Put(ctx, prefix+x.name, bytes.NewReader(x.data), int64(len(x.data)), hex.EncodeToString(s[:])); err != nil {
			return nil, fmt.Errorf("%w; release %s is not visible (no manifest stored); tag again to retry", err, o.Version)
		}
		out.Objects = append(out.Objects, prefix+x.name)
	}

	if !o.NoGitTag {
		msg := tagMessage(o.Message, m, out.ManifestSHA256)
		if err := gitinfo.CreateTag(ctx, s.Root, o.Version, b.Commit, msg); err != nil {
			return out, fmt.Errorf("release %s is stored in %s (manifest sha256 %s), but the git tag was not made: %w; make it with: git tag -a %s %s",
				o.Version, o.Store, out.ManifestSHA256, err, o.Version, b.Commit)
		}
		out.GitTag = o.Version
		progress("git tag %s at %s", o.Version, short(b.Commit))
	}
	return out, nil
}

// artifacts lists the seed's files: the bitstream first (named after the
// design), then its reports and log. Each is hashed now.
func artifacts(s *project.Settings, design string, seed record.SeedResult) ([]file, error) {
	type src struct{ path, kind, name string }
	srcs := []src{{s.Abs(seed.Bitstream), KindBitstream, design + path.Ext(seed.Bitstream)}}
	if srcs[0].name == design {
		srcs[0].name = design + ".bit"
	}
	for _, r := range seed.Reports {
		kind := KindReport
		if strings.HasSuffix(r, ".log") {
			kind = KindLog
		}
		srcs = append(srcs, src{s.Abs(r), kind, filepath.Base(r)})
	}
	if seed.Log != "" && !slices.ContainsFunc(srcs, func(x src) bool { return x.path == s.Abs(seed.Log) }) {
		srcs = append(srcs, src{s.Abs(seed.Log), KindLog, filepath.Base(seed.Log)})
	}
	var out []file
	used := map[string]bool{}
	for i, x := range srcs {
		name := ArtifactsDir + x.name
		for n := 2; used[name]; n++ { // two reports of one base name
			name = fmt.Sprintf("%s%d-%s", ArtifactsDir, n, x.name)
		}
		n, sum, err := contenthash.FileSHA256(x.path)
		if err != nil {
			if i > 0 && errors.Is(err, fs.ErrNotExist) {
				continue // a report that was cleaned up is not worth refusing the release
			}
			return nil, fmt.Errorf("bitstream of seed %d: %w; rebuild", seed.Seed, err)
		}
		if x.kind == KindBitstream && n == 0 {
			return nil, fmt.Errorf("bitstream %s is empty; rebuild", x.path)
		}
		used[name] = true
		out = append(out, file{Artifact{Name: name, Kind: x.kind, Size: n, SHA256: sum}, x.path})
	}
	return out, nil
}

func putFile(ctx context.Context, st store.Store, name string, f file) error {
	r, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer r.Close()
	// Put checks size and sha256 as it reads: a file changed since it was
	// hashed is refused rather than stored under the manifest's hash.
	return st.Put(ctx, name, r, f.Size, f.SHA256)
}

// boardResult finds a passing on-board result of the bitstream on any board.
func boardResult(ctx context.Context, lab Lab, sum string) (*Board, error) {
	boards, err := lab.Boards(ctx)
	if err != nil {
		return nil, fmt.Errorf("release.require_board: asking the lab service for boards: %w", err)
	}
	var failed []string
	for _, bd := range boards {
		rs, err := lab.Results(ctx, bd.Name, labResultLimit)
		if err != nil {
			return nil, fmt.Errorf("release.require_board: results of board %s: %w", bd.Name, err)
		}
		for _, r := range rs { // newest first: the latest verdict on the bitstream counts per board
			if r.BitstreamSHA256 != sum {
				continue
			}
			if r.Passed {
				return &Board{Board: bd.Name, Passed: true, Frames: r.Frames, Mismatches: r.Mismatches, ResultID: r.ID}, nil
			}
			failed = append(failed, fmt.Sprintf("%s (result %d)", bd.Name, r.ID))
			break
		}
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("release.require_board: bitstream %s failed on-board tests on %s and passed on no board; run 'fpgactl board test --bitstream ...' again after fixing it", sum, strings.Join(failed, ", "))
	}
	return nil, fmt.Errorf("release.require_board: no passing on-board result for bitstream %s in the lab service; run 'fpgactl board test (--board B | --tag T) --bitstream FILE ...' with this build's bitstream first", sum)
}

func tagMessage(user string, m *Manifest, manifestSHA string) string {
	var b strings.Builder
	if user = strings.TrimSpace(user); user != "" {
		b.WriteString(user + "\n\n")
	} else {
		fmt.Fprintf(&b, "fpgactl release %s\n\n", m.Version)
	}
	fmt.Fprintf(&b, "build: %s\ntarget: %s (%s, %s, %d bits)\nseed: %d\n", m.Build.ID, m.Build.Target, m.Build.Design, m.Build.Device, m.Build.Width, m.Build.Seed)
	fmt.Fprintf(&b, "timing: met=%v clock %g MHz, Fmax %s MHz, WNS %s ns, TNS %s ns\n", m.Timing.Met, m.Timing.ClockMHz, fmtNum(m.Timing.FmaxMHz), fmtNum(m.Timing.WNSns), fmtNum(m.Timing.TNSns))
	fmt.Fprintf(&b, "manifest.json sha256: %s\nbitstream sha256: %s\nsigned by ed25519 key %s\n", manifestSHA, m.Bitstream().SHA256, m.Signer.KeyID)
	keys := slices.Sorted(maps.Keys(m.Build.Parameters))
	if len(keys) > 0 {
		b.WriteString("parameters:")
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%d", k, m.Build.Parameters[k])
		}
		b.WriteString("\n")
	}
	return b.String()
}

func fmtNum(v *float64) string {
	if v == nil {
		return "unknown"
	}
	return fmt.Sprintf("%g", *v)
}

func short(commit string) string { return commit[:min(12, len(commit))] }

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
