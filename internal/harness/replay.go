package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fpgactl/fpgactl/internal/junit"
	"github.com/fpgactl/fpgactl/internal/progress"
	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/compare"
	"github.com/fpgactl/fpgactl/tests/harness/pcapio"
	"github.com/fpgactl/fpgactl/tests/harness/profile"
	"github.com/fpgactl/fpgactl/tests/harness/replay"
	"github.com/fpgactl/fpgactl/tests/harness/target"
)

// ReplayOptions describe one ad-hoc replay (`fpgactl replay`).
type ReplayOptions struct {
	Env *Env
	// Target is "sim" or "iface:IN,OUT".
	Target string
	// Width of the simulated board (default: the design's first width).
	Width int
	// Rules is the rules file.
	Rules string
	// Exactly one of Pcap and Profile.
	Pcap    string
	Profile string
	// Pace keeps the frames' gaps on an iface target.
	Pace bool
	// Backpressure is the fraction of cycles the simulated board holds
	// m_axis_tready low.
	Backpressure float64
	// Iface options: the network namespace of the interfaces and the
	// register-access socket of the device behind them (optional).
	Netns   string
	Control string
	// OutDir receives report.json, diff.txt, mismatches.pcap and junit.xml.
	OutDir string
	// Progress shows a progress line (nil: none).
	Progress io.Writer
}

// ReplayResult is a finished replay.
type ReplayResult struct {
	Target  string
	Result  *replay.Result
	Files   Artifacts
	Skipped int // frames the target could not send (MAC errors on an interface)
}

// Artifacts are the files a checked run leaves.
type Artifacts struct {
	Dir          string `json:"dir"`
	Diff         string `json:"diff"`
	MismatchPcap string `json:"mismatch_pcap,omitempty"`
	JUnit        string `json:"junit,omitempty"`
}

// LoadTraffic reads a capture or generates a profile (exactly one is set).
func LoadTraffic(pcapPath, profileSpec string) ([]target.Frame, error) {
	switch {
	case pcapPath != "" && profileSpec != "":
		return nil, errors.New("give --pcap or --profile, not both")
	case pcapPath != "":
		frames, err := pcapio.ReadFile(pcapPath, pcapio.ReadOptions{})
		if err != nil {
			return nil, err
		}
		if len(frames) == 0 {
			return nil, fmt.Errorf("%s: the capture holds no frames", pcapPath)
		}
		return target.FromCapture(frames), nil
	case profileSpec != "":
		opts, err := profile.ParseProfile(profileSpec)
		if err != nil {
			return nil, err
		}
		frames, err := profile.Generate(opts)
		if err != nil {
			return nil, err
		}
		return target.FromProfile(frames), nil
	}
	return nil, errors.New("give the traffic: --pcap FILE or --profile SPEC")
}

// LoadTable parses and compiles a rules file for numRules slots.
func LoadTable(path string, numRules int) (*rules.Table, error) {
	rs, err := rules.ParseFile(path)
	if err != nil {
		return nil, err
	}
	return rs.Compile(numRules)
}

// Replay runs one ad-hoc replay and writes its artifacts.
func Replay(ctx context.Context, opts ReplayOptions) (*ReplayResult, error) {
	frames, err := LoadTraffic(opts.Pcap, opts.Profile)
	if err != nil {
		return nil, err
	}
	tgt, err := opts.Env.OpenTarget(ctx, TargetOptions{Spec: opts.Target, Width: opts.Width, Netns: opts.Netns, Control: opts.Control, Backpressure: opts.Backpressure})
	if err != nil {
		return nil, err
	}
	defer tgt.Close()
	numRules := rules.DefaultNumRules
	if n, err := opts.Env.NumRules(); err == nil { // an iface target needs no design
		numRules = n
	}
	table, err := LoadTable(opts.Rules, numRules)
	if err != nil {
		return nil, err
	}
	bar := progress.New(opts.Progress, "replay "+tgt.Name())
	res, err := replay.Run(ctx, replay.Options{
		Target: tgt, Phases: []replay.Phase{{Table: table, Frames: frames}},
		Pace: opts.Pace, Progress: bar.Update,
	})
	bar.Done()
	if err != nil {
		return nil, err
	}
	out := &ReplayResult{Target: tgt.Name(), Result: res}
	for _, c := range res.Captures {
		for _, s := range c.Skipped {
			if s {
				out.Skipped++
			}
		}
	}
	name := "replay " + filepath.Base(opts.Rules)
	out.Files, err = WriteArtifacts(opts.OutDir, name, res.Report)
	return out, err
}

// WriteArtifacts writes diff.txt, junit.xml and, when frames mismatched,
// mismatches.pcap into dir.
func WriteArtifacts(dir, suite string, rep *compare.Report) (Artifacts, error) {
	a := Artifacts{Dir: dir, Diff: filepath.Join(dir, "diff.txt"), JUnit: filepath.Join(dir, "junit.xml")}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return a, err
	}
	var b strings.Builder
	compare.WriteDiff(&b, rep)
	if err := os.WriteFile(a.Diff, []byte(b.String()), 0o644); err != nil {
		return a, err
	}
	if len(rep.Mismatches) > 0 {
		a.MismatchPcap = filepath.Join(dir, "mismatches.pcap")
		if err := compare.WriteMismatchPcap(a.MismatchPcap, rep); err != nil {
			return a, err
		}
	}
	suites := &junit.Suites{Name: "fpgactl replay", Suites: []junit.Suite{compare.JUnitSuite(suite, rep)}}
	suites.Finish()
	return a, suites.WriteFile(a.JUnit)
}
