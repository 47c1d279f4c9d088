// Package chisel elaborates the Chisel sources of a design into Verilog, so
// that lint, unit tests, the simulated board and builds read the generated
// files like any other RTL.
//
// A design's chisel: entry in fpgactl.yaml names a Maven project (a pom.xml
// directory) whose exec:java main class is the generator. fpgactl runs
//
//	mvn -B -q -f <project>/pom.xml -Dfpgactl.target=<work>/chisel/maven/<key> \
//	    compile exec:java -Dexec.args="<out dir> NAME=v1,v2 ..."
//
// and publishes <out dir> atomically as <work>/chisel/<hash>/, where the hash
// covers what the build reads (pom.xml, src/, .mvn/), the generator's
// arguments and the Java and Maven versions. When that directory
// exists nothing runs: no Maven, no JVM beyond the two version queries.
package chisel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/fpgactl/fpgactl/internal/atomicfile"
	"github.com/fpgactl/fpgactl/internal/contenthash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/internal/flock"
	"github.com/fpgactl/fpgactl/internal/proc"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/tools"
)

// protocol changes when what fpgactl passes to generators or how it lays out
// their output changes, so old outputs are not reused.
const protocol = "fpgactl-chisel 1"

// ManifestFile is written next to the generated files.
const ManifestFile = "manifest.json"

// Options of an elaboration.
type Options struct {
	// Finder locates java and mvn (nil: the real PATH).
	Finder *tools.Finder
	// Progress receives one line per Maven project: elaborated or cached
	// (nil: silent).
	Progress io.Writer
}

// Result is one elaborated Maven project.
type Result struct {
	Project string   `json:"project"` // as written in fpgactl.yaml
	Hash    string   `json:"hash"`
	Dir     string   `json:"dir"`
	Files   []string `json:"files"` // absolute paths of the generated .sv and .v files
	Cached  bool     `json:"cached"`
	Seconds float64  `json:"seconds"`
	Log     string   `json:"log,omitempty"`
}

// Manifest says what produced a generated directory.
type Manifest struct {
	Project    string           `json:"project"`
	Hash       string           `json:"hash"`
	Modules    []string         `json:"modules"`
	Parameters map[string][]int `json:"parameters"`
	Java       string           `json:"java"`
	Maven      string           `json:"maven"`
	Command    []string         `json:"command"`
	Files      []string         `json:"files"` // base names
	// Sources hashes what the output was made from without the toolchain
	// (sourcesHash): a machine without Java may use the output when its
	// sources hash the same.
	Sources string    `json:"sources,omitempty"`
	Seconds float64   `json:"seconds"`
	Created time.Time `json:"created"`
}

// prepMu serializes Prepare within the process (designs are shared by
// goroutines, e.g. board builds of two widths); flock serializes processes.
var prepMu sync.Mutex

// Prepare elaborates every chisel: project of d, unless this process already
// did, and sets d.Generated, which Settings.RTLFiles then includes.
func Prepare(ctx context.Context, s *project.Settings, d *project.Design, o Options) ([]Result, error) {
	prepMu.Lock()
	defer prepMu.Unlock()
	if len(d.Chisel) == 0 || d.Generated != nil {
		return nil, nil
	}
	var results []Result
	files := []string{}
	for _, c := range d.Chisel {
		r, err := Elaborate(ctx, s, c, o)
		if err != nil {
			return results, fmt.Errorf("design %s: %w", d.Name, err)
		}
		results = append(results, r)
		files = append(files, r.Files...)
	}
	d.Generated = files
	return results, nil
}

// PrepareAll runs Prepare on every design of s.
func PrepareAll(ctx context.Context, s *project.Settings, o Options) ([]Result, error) {
	var all []Result
	for i := range s.Designs {
		r, err := Prepare(ctx, s, &s.Designs[i], o)
		all = append(all, r...)
		if err != nil {
			return all, err
		}
	}
	return all, nil
}

// toolchain is what the hash knows of Java and Maven.
type toolchain struct {
	mvn   string // executable
	java  string // `java -version`, trimmed
	maven string // `mvn -v`: the Maven and "Java version" lines
}

func require(f *tools.Finder, name, project string) (string, error) {
	t, ok := tools.Lookup(name)
	if !ok {
		return "", fmt.Errorf("unknown tool %q", name)
	}
	p, found := f.Path(t)
	if !found {
		return "", fmt.Errorf("%s is not installed; the Chisel sources of %s need Java and Maven to elaborate. Install it with: %s (or run scripts/install-deps.sh; `fpgactl doctor` shows what is missing)", name, project, t.Install)
	}
	return p, nil
}

func findToolchain(ctx context.Context, f *tools.Finder, project string) (toolchain, error) {
	if f == nil {
		f = &tools.Finder{}
	}
	javaPath, err := require(f, "java", project)
	if err != nil {
		return toolchain{}, err
	}
	mvnPath, err := require(f, "mvn", project)
	if err != nil {
		return toolchain{}, err
	}
	tc := toolchain{mvn: mvnPath}
	var javaOut, mvnOut strings.Builder
	var javaErr, mvnErr error
	var javaCode, mvnCode int
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		javaCode, _, javaErr = proc.Run(ctx, javaPath, []string{"-version"}, "", nil, &javaOut, time.Minute)
	}()
	go func() {
		defer wg.Done()
		mvnCode, _, mvnErr = proc.Run(ctx, mvnPath, []string{"-v", "-B"}, "", nil, &mvnOut, time.Minute)
	}()
	wg.Wait()
	if javaErr != nil || javaCode != 0 {
		return tc, fmt.Errorf("%s -version failed (%v, status %d): %s; check the Java installation (`fpgactl doctor`)", javaPath, javaErr, javaCode, strings.TrimSpace(javaOut.String()))
	}
	if mvnErr != nil || mvnCode != 0 {
		return tc, fmt.Errorf("%s -v failed (%v, status %d): %s; check the Maven installation and JAVA_HOME (`fpgactl doctor`)", mvnPath, mvnErr, mvnCode, strings.TrimSpace(mvnOut.String()))
	}
	tc.java = strings.TrimSpace(javaOut.String())
	var keep []string
	for _, l := range strings.Split(mvnOut.String(), "\n") {
		l = strings.TrimSpace(stripANSI(l))
		// Not the OS line: a kernel update must not re-elaborate.
		if strings.HasPrefix(l, "Apache Maven") || strings.HasPrefix(l, "Java version:") {
			keep = append(keep, l)
		}
	}
	tc.maven = strings.Join(keep, "\n")
	return tc, nil
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < '@' || s[j] > '~') {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Key names a project's Maven build directory and logs.
func Key(c project.Chisel) string {
	k := strings.Trim(filepath.ToSlash(filepath.Clean(c.Project)), "/.")
	k = strings.NewReplacer("/", "_", "..", "up", " ", "_").Replace(k)
	if k == "" {
		k = "root"
	}
	return k
}

// GeneratorArgs are the generator's arguments after the output directory:
// NAME=v1,v2 for each parameter, by name.
func GeneratorArgs(c project.Chisel) []string {
	names := make([]string, 0, len(c.Parameters))
	for k := range c.Parameters {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []string
	for _, k := range names {
		vs := make([]string, len(c.Parameters[k]))
		for i, v := range c.Parameters[k] {
			vs[i] = fmt.Sprint(v)
		}
		out = append(out, k+"="+strings.Join(vs, ","))
	}
	return out
}

// SourceFiles are the files of the project the hash covers: what a Maven
// build of it reads, pom.xml, everything under src/ and .mvn/ (maven.config,
// jvm.config, extensions). A README or an editor's files next to them do not
// count; neither does Maven's target/.
func SourceFiles(dir string) ([]string, error) {
	files := []string{filepath.Join(dir, "pom.xml")}
	for _, sub := range []string{"src", ".mvn"} {
		root := filepath.Join(dir, sub)
		if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	return files, nil
}

// sourcesHash is hash without the toolchain.
func sourcesHash(dir string, c project.Chisel) (string, error) {
	return hash(dir, c, toolchain{java: "-", maven: "-"})
}

// noteSources adds Sources to a published output's manifest made before
// manifests had it (its hash matched, so its sources are these).
func noteSources(out, dir string, c project.Chisel) {
	path := filepath.Join(out, ManifestFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var m Manifest
	if json.Unmarshal(data, &m) != nil || m.Sources != "" {
		return
	}
	if m.Sources, err = sourcesHash(dir, c); err != nil {
		return
	}
	if data, err = json.MarshalIndent(m, "", "  "); err == nil {
		_ = atomicfile.WriteFile(path, append(data, '\n'), 0o644)
	}
}

// elaboratedElsewhere finds a published output of c's sources made with
// any toolchain.
func elaboratedElsewhere(s *project.Settings, c project.Chisel) (Result, error) {
	want, err := sourcesHash(s.Abs(c.Project), c)
	if err != nil {
		return Result{}, err
	}
	manifests, _ := filepath.Glob(filepath.Join(s.WorkPath(), "chisel", "*", ManifestFile))
	for _, mf := range manifests {
		data, err := os.ReadFile(mf)
		var m Manifest
		if err != nil || json.Unmarshal(data, &m) != nil || m.Sources != want {
			continue
		}
		dir := filepath.Dir(mf)
		if files, err := published(dir, c); err == nil {
			return Result{Project: c.Project, Hash: m.Hash, Dir: dir, Files: files, Cached: true}, nil
		}
	}
	return Result{}, fmt.Errorf("no output of %s elaborated elsewhere from the same sources", c.Project)
}

func hash(dir string, c project.Chisel, tc toolchain) (string, error) {
	h := contenthash.New()
	h.Printf("%s\njava=%s\nmaven=%s\n", protocol, tc.java, tc.maven)
	h.Printf("modules=%s\nargs=%s\n", strings.Join(c.Modules, ","), strings.Join(GeneratorArgs(c), " "))
	files, err := SourceFiles(dir)
	if err != nil {
		return "", fmt.Errorf("reading the Chisel project %s: %w", dir, err)
	}
	rel := func(f string) string {
		r, _ := filepath.Rel(dir, f)
		return filepath.ToSlash(r)
	}
	if err := h.Files(files, rel); err != nil {
		return "", err
	}
	return h.Sum(), nil
}

// Elaborate returns the generated files of one Maven project, running the
// generator unless a directory with the same hash exists.
func Elaborate(ctx context.Context, s *project.Settings, c project.Chisel, o Options) (Result, error) {
	start := time.Now()
	r := Result{Project: c.Project}
	dir := s.Abs(c.Project)
	pom := filepath.Join(dir, "pom.xml")
	if _, err := os.Stat(pom); err != nil {
		return r, fmt.Errorf("Chisel project %s: no pom.xml (%v); fix chisel.project in %s", c.Project, err, s.Path)
	}
	tc, err := findToolchain(ctx, o.Finder, c.Project)
	if err != nil {
		// No Java or Maven here (a test shard host, a CI runner): output
		// elaborated elsewhere from the very same sources will do.
		if fr, ferr := elaboratedElsewhere(s, c); ferr == nil {
			fr.Seconds = time.Since(start).Seconds()
			progress(o, fr)
			return fr, nil
		}
		return r, err
	}
	if r.Hash, err = hash(dir, c, tc); err != nil {
		return r, err
	}
	root := filepath.Join(s.WorkPath(), "chisel")
	r.Dir = filepath.Join(root, r.Hash)
	if r.Files, err = published(r.Dir, c); err == nil {
		r.Cached = true
		r.Seconds = time.Since(start).Seconds()
		noteSources(r.Dir, dir, c)
		progress(o, r)
		return r, nil
	}
	if err := os.MkdirAll(filepath.Join(root, "logs"), 0o755); err != nil {
		return r, err
	}
	// One Maven run at a time per work directory: runs share the project's
	// build directory; a second process waits and then finds the result.
	unlock, err := flock.Lock(ctx, filepath.Join(root, ".lock"))
	if err != nil {
		return r, err
	}
	defer unlock()
	if r.Files, err = published(r.Dir, c); err == nil {
		r.Cached = true
		r.Seconds = time.Since(start).Seconds()
		progress(o, r)
		return r, nil
	}
	tmp, err := os.MkdirTemp(root, ".tmp-"+r.Hash+"-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		return r, err
	}
	r.Log = filepath.Join(root, "logs", Key(c)+".log")
	logf, err := os.Create(r.Log)
	if err != nil {
		return r, err
	}
	defer logf.Close()
	args := []string{"-B", "-q", "-f", pom,
		"-Dfpgactl.target=" + filepath.Join(root, "maven", Key(c)),
		"compile", "exec:java",
		"-Dexec.args=" + strings.Join(append([]string{quoteArg(out)}, GeneratorArgs(c)...), " ")}
	fmt.Fprintf(logf, "$ %s %s\n", tc.mvn, strings.Join(args, " "))
	code, _, err := proc.Run(ctx, tc.mvn, args, dir, nil, logf, 0)
	switch {
	case err != nil:
		return r, fmt.Errorf("could not start Maven (%s): %w", tc.mvn, err)
	case ctx.Err() != nil:
		return r, ctx.Err()
	case code != 0:
		return r, fmt.Errorf("elaborating the Chisel project %s: mvn exited with status %d%s\nfull log: %s", c.Project, code, tail(r.Log, 25), r.Log)
	}
	names, err := generated(out, c)
	if err != nil {
		return r, fmt.Errorf("elaborating the Chisel project %s: %w (log: %s)", c.Project, err, r.Log)
	}
	m := Manifest{Project: c.Project, Hash: r.Hash, Modules: c.Modules, Parameters: c.Parameters, Java: firstLine(tc.java),
		Maven: firstLine(tc.maven), Command: append([]string{"mvn"}, args...), Files: names,
		Seconds: time.Since(start).Seconds(), Created: time.Now().UTC()}
	if m.Sources, err = sourcesHash(dir, c); err != nil {
		return r, err
	}
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(out, ManifestFile), append(data, '\n'), 0o644); err != nil {
		return r, err
	}
	// Publish atomically; then the older outputs of this project go.
	if err := os.Rename(out, r.Dir); err != nil {
		return r, fmt.Errorf("publishing %s: %w", r.Dir, err)
	}
	removeOlder(root, c.Project, r.Hash)
	for _, n := range names {
		r.Files = append(r.Files, filepath.Join(r.Dir, n))
	}
	r.Seconds = time.Since(start).Seconds()
	progress(o, r)
	return r, nil
}

func progress(o Options, r Result) {
	if o.Progress == nil {
		return
	}
	if r.Cached {
		fmt.Fprintf(o.Progress, "chisel  %s cached (%s)\n", r.Project, r.Hash)
	} else {
		fmt.Fprintf(o.Progress, "chisel  %s elaborated in %.1fs (%s, %d files)\n", r.Project, r.Seconds, r.Hash, len(r.Files))
	}
}

// published returns the files of a published output directory, or an error
// when there is none (or it does not hold what c needs).
func published(dir string, c project.Chisel) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var files []string
	for _, n := range m.Files {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err != nil {
			return nil, err
		}
		files = append(files, p)
	}
	return files, nil
}

// generated lists the Verilog the generator wrote and checks that every
// module c names is among it.
func generated(out string, c project.Chisel) ([]string, error) {
	entries, err := os.ReadDir(out)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && (strings.HasSuffix(e.Name(), ".sv") || strings.HasSuffix(e.Name(), ".v")) {
			names = append(names, e.Name())
		}
	}
	for _, m := range c.Modules {
		if !slices.Contains(names, m+".sv") && !slices.Contains(names, m+".v") {
			return nil, fmt.Errorf("the generator wrote no %s.sv or %s.v (it wrote: %s); chisel.modules in fpgactl.yaml names the modules it must provide", m, m, strings.Join(names, ", "))
		}
	}
	return names, nil
}

func removeOlder(root, proj, keep string) {
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if !e.IsDir() || e.Name() == keep || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, e.Name(), ManifestFile))
		if err != nil {
			continue
		}
		var m Manifest
		if json.Unmarshal(data, &m) == nil && m.Project == proj {
			os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

func quoteArg(s string) string {
	if strings.ContainsAny(s, " \t\"'") {
		return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
	}
	return s
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// tail returns the last n lines of a file, indented, for an error message.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "; last lines:\n    " + strings.Join(lines, "\n    ")
}
