package pipeline

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/build/run"
	"github.com/fpgactl/fpgactl/internal/chisel"
	"github.com/fpgactl/fpgactl/internal/harness"
	"github.com/fpgactl/fpgactl/internal/proc"
	"github.com/fpgactl/fpgactl/tests/harness/scenario"
)

// cancelGrace is how long a step's fpgactl gets to clean up (release a lab
// board, mark a build cancelled) after an interrupt.
const cancelGrace = 20 * time.Second

// commandArgs completes a step's fpgactl arguments: JSON on stdout, and the
// pipeline's --jobs for the commands that take it.
func (p *pipe) commandArgs(args []string) []string {
	out := slices.Clone(args)
	if p.o.Jobs > 0 && slices.Contains([]string{"lint", "test", "build"}, args[0]) {
		out = append(out, "--jobs", fmt.Sprint(p.o.Jobs))
	}
	return append(out, "--output", "json")
}

// logPath is the step's log file: every command's stderr.
func (p *pipe) logPath(st *Step) string {
	return filepath.Join(p.dir, strings.ReplaceAll(st.Name, "/", "-")+".log")
}

// runFpgactl runs one fpgactl command here and decodes the JSON it prints.
// A non-zero exit with a report is a result (failed tests); without one it
// is an error quoting the end of the log.
func (p *pipe) runFpgactl(ctx context.Context, st *Step, args []string, out any) error {
	data, err := p.runLocal(ctx, st, args)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

func (p *pipe) runLocal(ctx context.Context, st *Step, args []string) ([]byte, error) {
	st.Log = p.logPath(st)
	logf, err := os.OpenFile(st.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	full := append(p.commandArgs(args), "--project", p.s.Path)
	fmt.Fprintf(logf, "$ fpgactl %s\n", strings.Join(full, " "))
	var stdout bytes.Buffer
	code, _, err := proc.Start(ctx, proc.Options{Name: p.o.Exe, Args: full, Dir: p.s.Root, Stdout: &stdout, Stderr: logf, Grace: cancelGrace})
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", p.o.Exe, err)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return reportOf(stdout.Bytes(), code, "fpgactl "+args[0], st.Log)
}

// reportOf checks that a command printed a JSON report.
func reportOf(stdout []byte, code int, what, logPath string) ([]byte, error) {
	trimmed := bytes.TrimSpace(stdout)
	if len(trimmed) == 0 || !json.Valid(trimmed) {
		return nil, fmt.Errorf("%s exited with status %d without a report; the end of %s:\n%s", what, code, logPath, tail(logPath, 15))
	}
	return trimmed, nil
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// runSharded runs the items named by names: here in one command, or spread
// over p.o.Shards jobs on the shard runner. argsFor makes a command line
// for a group of names; collect receives each command's JSON report.
func (p *pipe) runSharded(ctx context.Context, st *Step, names []string, argsFor func([]string) []string, collect func([]byte) error) error {
	if p.o.Shard == nil {
		data, err := p.runLocal(ctx, st, argsFor(names))
		if err != nil {
			return err
		}
		return collect(data)
	}
	n := min(p.o.Shards, len(names))
	groups := make([][]string, n)
	for i, name := range names {
		groups[i%n] = append(groups[i%n], name)
	}
	archive, err := p.shardArchive()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, err := p.runShard(ctx, st, i+1, archive, argsFor(g))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				err = collect(data)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("shard %d of %s: %w", i+1, st.Name, err))
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// runShard runs one command on the shard runner: the archive unpacked into
// a fresh directory there, fpgactl uploaded, the report fetched back.
func (p *pipe) runShard(ctx context.Context, st *Step, i int, archive string, args []string) ([]byte, error) {
	name := fmt.Sprintf("%s-%d", strings.ReplaceAll(st.Name, "/", "-"), i)
	local := filepath.Join(p.dir, "shards", name)
	if err := os.MkdirAll(local, 0o755); err != nil {
		return nil, err
	}
	quoted := make([]string, 0, len(args)+3)
	for _, a := range p.commandArgs(args) {
		quoted = append(quoted, shellQuote(a))
	}
	logPath := filepath.Join(local, "output.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	res, err := p.o.Shard.RunCommand(ctx, run.CommandJob{
		BuildID: ShardBuildPrefix + p.id, Name: name, Owner: p.o.Owner, Commit: p.head.Commit,
		Archive: archive, Executable: p.o.Exe,
		Command:  `"$FPGACTL" ` + strings.Join(quoted, " ") + " > report.json",
		Fetch:    []string{"report.json"},
		LocalDir: local, Log: logf,
		Instance: func(where string) { p.progress("%-16s shard %d on %s", st.Name, i, where) },
	})
	if err != nil {
		return nil, err
	}
	st.Log = filepath.Join(p.dir, "shards")
	data, _ := os.ReadFile(filepath.Join(local, "report.json"))
	return reportOf(data, res.ExitCode, fmt.Sprintf("fpgactl %s on %s", args[0], res.Where), logPath)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// shardArchive packs what the unit and functional steps read, relative to
// the project root: fpgactl.yaml, the designs' HDL, the Chisel projects and
// their generated output (so a shard host needs no Java), and the scenario
// suite with the rules and captures it names.
func (p *pipe) shardArchive() (string, error) {
	p.archiveOnce.Do(func() {
		p.archive = filepath.Join(p.dir, "shard-inputs.tar.gz")
		p.archiveErr = p.writeArchive(p.archive)
	})
	return p.archive, p.archiveErr
}

func (p *pipe) writeArchive(path string) error {
	files := []string{p.s.Path}
	for i := range p.s.Designs {
		d := &p.s.Designs[i]
		hdl, err := p.designFiles(d)
		if err != nil {
			return err
		}
		files = append(files, hdl...)
		for _, c := range d.Chisel {
			src, err := chisel.SourceFiles(p.s.Abs(c.Project))
			if err != nil {
				return err
			}
			files = append(files, src...)
		}
		for _, g := range d.Generated {
			// The whole generated directory: its manifest names the sources.
			entries, _ := os.ReadDir(filepath.Dir(g))
			for _, e := range entries {
				if e.Type().IsRegular() {
					files = append(files, filepath.Join(filepath.Dir(g), e.Name()))
				}
			}
		}
	}
	if scs, err := scenario.LoadDir(p.s.Abs(harness.ScenarioDir)); err == nil {
		for _, sc := range scs {
			files = append(files, scenarioFiles(sc)...)
		}
		readme := filepath.Join(p.s.Abs(harness.ScenarioDir), "README.md")
		if _, err := os.Stat(readme); err == nil {
			files = append(files, readme)
		}
	}
	slices.Sort(files)
	files = slices.Compact(files)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for _, name := range files {
		rel, err := filepath.Rel(p.s.Root, name)
		if err != nil || !filepath.IsLocal(rel) {
			f.Close()
			return fmt.Errorf("shard inputs: %s is outside the project root %s; shards get only the project's files", name, p.s.Root)
		}
		if err := addFile(tw, name, filepath.ToSlash(rel)); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := gz.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func addFile(tw *tar.Writer, name, rel string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: int64(st.Mode().Perm()), Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
