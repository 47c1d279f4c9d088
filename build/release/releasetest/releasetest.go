// Package releasetest builds what release tests need, for real: a git
// repository with a commit, fpgactl.yaml, a finished build record made
// through record.Store with a bitstream and reports on disk, a functional
// results record saved through internal/results, and a signing key pair.
package releasetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/build/release"
	"github.com/fpgactl/fpgactl/internal/gitinfo"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/results"
)

// ProjectYAML is the fixture's fpgactl.yaml; more settings can be appended.
const ProjectYAML = `work_dir: work
designs:
  - name: pf_filter
    top: pf_filter
    rtl: [rtl/*.sv]
    widths: [64]
targets:
  - {name: ecp5-ci, design: pf_filter, flow: open, device: LFE5U-25F-6BG256C, clock_mhz: 156.25, width: 64}
  - {name: ecp5-big, design: pf_filter, flow: open, device: LFE5U-85F-6BG381C, clock_mhz: 156.25, width: 64}
`

// RTLHash is the hash the fixture's build and results name.
const RTLHash = "5f1c0ffee5f1c0ffee5f1c0ffee5f1c0ffee5f1c0ffee5f1c0ffee5f1c0ffee0"

// Fixture is one project with one finished build.
type Fixture struct {
	Root, SettingsFile string
	Settings           *project.Settings
	Commit             string
	BuildID            string
	Bitstream          []byte
	KeyFile, PubFile   string
}

// Git runs git in dir and returns its trimmed output.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Options change the fixture's build before it is recorded.
type Options struct {
	// Edit changes the finished build record.
	Edit func(*record.Build)
	// NoResults skips the functional results record; Results edits it.
	NoResults bool
	Results   func(*results.Record)
	// Extra is appended to fpgactl.yaml.
	Extra string
}

// New makes the fixture. The build (targets ecp5-ci with seeds 1-2; seed 2
// is best, met timing; seed 1 failed timing) is at the repository's commit.
func New(t testing.TB, o Options) *Fixture {
	t.Helper()
	ctx := context.Background()
	f := &Fixture{Root: t.TempDir()}
	Git(t, f.Root, "init", "-q", "-b", "main")
	Git(t, f.Root, "config", "user.name", "Release Tester")
	Git(t, f.Root, "config", "user.email", "release@example.com")
	os.MkdirAll(filepath.Join(f.Root, "rtl"), 0o755)
	os.WriteFile(filepath.Join(f.Root, "rtl", "pf_filter.sv"), []byte("module pf_filter; endmodule\n"), 0o644)
	os.WriteFile(filepath.Join(f.Root, ".gitignore"), []byte("work/\n"), 0o644)
	f.SettingsFile = filepath.Join(f.Root, "fpgactl.yaml")
	if err := os.WriteFile(f.SettingsFile, []byte(ProjectYAML+o.Extra), 0o644); err != nil {
		t.Fatal(err)
	}
	Git(t, f.Root, "add", ".")
	Git(t, f.Root, "commit", "-q", "-m", "filter")
	s, err := project.Load(f.SettingsFile)
	if err != nil {
		t.Fatal(err)
	}
	f.Settings = s
	head := gitinfo.Read(ctx, f.Root)
	f.Commit = head.Commit

	rs := &record.Store{Dir: filepath.Join(s.WorkPath(), "builds")}
	b := &record.Build{Targets: []string{"ecp5-ci"}, Seeds: []int{1, 2}, Runner: "local", Commit: head.Commit, Dirty: head.Dirty,
		Inputs: map[string]record.TargetInput{"ecp5-ci": {Design: "pf_filter", RTLHash: RTLHash, Device: "LFE5U-25F-6BG256C",
			Flow: "open", Width: 64, ClockMHz: 156.25, Parameters: map[string]int{"NUM_RULES": 16}}}}
	id, err := rs.Create(b)
	if err != nil {
		t.Fatal(err)
	}
	f.BuildID = id
	f.Bitstream = []byte("\xff\x00\x00\xffECP5 bitstream of pf_filter seed 2\x00\x01\x02")
	seedDir := filepath.Join(rs.Path(id), "ecp5-ci", "seed-2")
	os.MkdirAll(seedDir, 0o755)
	write := func(name string, data []byte) string {
		p := filepath.Join(seedDir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bit := write("bitstream.bit", f.Bitstream)
	rep := write("report.json", []byte(`{"fmax": {"clk": {"achieved": 163.2}}}`+"\n"))
	pnr := write("pnr.log", []byte("Info: Max frequency for clock 'clk': 163.20 MHz\n"))
	flog := write("flow.log", []byte("synth ok\nplace ok\nroute ok\n"))
	num := func(v float64) *float64 { return &v }
	err = rs.Update(ctx, id, func(b *record.Build) error {
		now := time.Now().UTC()
		for i := range b.Results {
			r := &b.Results[i]
			r.TargetMHz, r.FinishedAt = 156.25, now
			if r.Seed == 2 {
				r.Status, r.Met, r.WNSns, r.TNSns, r.FmaxMHz = record.SeedMet, true, num(0.272), num(0), num(163.2)
				r.Bitstream, r.Reports, r.Log = bit, []string{rep, pnr}, flog
			} else {
				r.Status, r.Met, r.WNSns, r.TNSns, r.FmaxMHz = record.SeedFailedTiming, false, num(-26.3), nil, num(30.26)
				r.Bitstream = write("../seed-1.bit", []byte("seed one bits"))
			}
		}
		b.Status, b.FinishedAt = record.StatusDone, now
		if o.Edit != nil {
			o.Edit(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !o.NoResults {
		r := results.Record{Kind: results.KindFunctional, Head: gitinfo.Read(ctx, f.Root), Time: time.Now().UTC(),
			Design: "pf_filter", Width: 64, RTLHash: RTLHash, Passed: 26, Frames: 50412, By: "fpgactl test functional"}
		if o.Results != nil {
			o.Results(&r)
		}
		if err := results.Save(s.WorkPath(), r); err != nil {
			t.Fatal(err)
		}
	}
	keys := t.TempDir()
	f.KeyFile, f.PubFile = filepath.Join(keys, "release-key"), filepath.Join(keys, "release.pub")
	if _, err := release.GenerateKeys(f.KeyFile, f.PubFile, false); err != nil {
		t.Fatal(err)
	}
	return f
}
