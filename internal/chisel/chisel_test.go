package chisel

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/tools"
)

// fakeMvn stands in for Maven: `-v` prints a version whose OS line changes
// on every call (it must not reach the hash); a build appends a line to
// $FAKE_MVN_RUNS and writes, into the directory -Dexec.args names first,
// one file per module of $FAKE_MVN_MODULES holding the generator arguments;
// $FAKE_MVN_FAIL makes it fail like a compile error.
const fakeMvn = `#!/bin/sh
if [ "$1" = "-v" ]; then
  echo "Apache Maven 3.9.9 (fake)"
  echo "Java version: 17.0.15, vendor: Debian"
  echo "OS name: \"linux\", version: \"$$\""
  exit 0
fi
echo run >> "$FAKE_MVN_RUNS"
if [ -n "$FAKE_MVN_FAIL" ]; then
  echo "[ERROR] PfPolicer.scala:12: error: type mismatch"
  exit 1
fi
for a in "$@"; do
  case "$a" in
    -Dexec.args=*) args="${a#-Dexec.args=}" ;;
  esac
done
out="${args%% *}"
for m in $FAKE_MVN_MODULES; do
  echo "module $m; // $args" > "$out/$m.sv"
done
echo "// junk" > "$out/notes.txt"
`

const fakeJava = `#!/bin/sh
echo 'openjdk version "17.0.15" 2025-04-15' >&2
`

type fixture struct {
	s    *project.Settings
	proj string
	runs string
	o    Options
}

func setup(t *testing.T, modules string) *fixture {
	t.Helper()
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	proj := filepath.Join(root, "hdl", "chisel")
	for _, d := range []string{bin, filepath.Join(proj, "src"), filepath.Join(proj, "target")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(bin, "mvn"), []byte(fakeMvn), 0o755)
	os.WriteFile(filepath.Join(bin, "java"), []byte(fakeJava), 0o755)
	os.WriteFile(filepath.Join(proj, "pom.xml"), []byte("<project/>\n"), 0o644)
	os.WriteFile(filepath.Join(proj, "src", "Block.scala"), []byte("class Block\n"), 0o644)
	runs := filepath.Join(root, "runs")
	t.Setenv("FAKE_MVN_RUNS", runs)
	t.Setenv("FAKE_MVN_MODULES", modules)
	t.Setenv("FAKE_MVN_FAIL", "")
	finder := &tools.Finder{LookPath: func(name string) (string, error) {
		p := filepath.Join(bin, name)
		if _, err := os.Stat(p); err != nil {
			return "", err
		}
		return p, nil
	}}
	return &fixture{
		s:    &project.Settings{Root: root, Path: filepath.Join(root, "fpgactl.yaml"), WorkDir: ".fpgactl"},
		proj: proj,
		runs: runs,
		o:    Options{Finder: finder},
	}
}

func (f *fixture) design(params map[string][]int) *project.Design {
	return &project.Design{Name: "d", Chisel: []project.Chisel{{Project: "hdl/chisel", Modules: []string{"pf_policer"}, Parameters: params}}}
}

func (f *fixture) mavenRuns() int {
	data, _ := os.ReadFile(f.runs)
	return strings.Count(string(data), "run")
}

func TestElaborateIsCachedByContent(t *testing.T) {
	f := setup(t, "pf_policer pf_policer_n4")
	ctx := context.Background()
	var progress bytes.Buffer
	f.o.Progress = &progress
	params := map[string][]int{"NUM_RULES": {1, 4}}

	d := f.design(params)
	res, err := Prepare(ctx, f.s, d, f.o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Cached || f.mavenRuns() != 1 {
		t.Fatalf("first elaboration: %+v, %d Maven runs", res, f.mavenRuns())
	}
	first := res[0]
	if len(d.Generated) != 2 || filepath.Dir(d.Generated[0]) != filepath.Join(f.s.WorkPath(), "chisel", first.Hash) {
		t.Fatalf("Generated = %v (hash %s)", d.Generated, first.Hash)
	}
	src, _ := os.ReadFile(filepath.Join(first.Dir, "pf_policer.sv"))
	if !strings.Contains(string(src), "NUM_RULES=1,4") || !strings.HasPrefix(strings.Fields(string(src))[3], filepath.Join(f.s.WorkPath(), "chisel")) {
		t.Errorf("generator arguments: %s", src)
	}
	rtl, err := f.s.RTLFiles(d)
	if err != nil || len(rtl) != 2 {
		t.Errorf("RTLFiles = %v, %v", rtl, err)
	}
	if !strings.Contains(progress.String(), "chisel  hdl/chisel elaborated in") {
		t.Errorf("progress: %q", progress.String())
	}

	// Same sources, a new process (a fresh design): no Maven run, even
	// though mvn -v's OS line differs; target/ and a README are not sources.
	os.WriteFile(filepath.Join(f.proj, "target", "Block.class"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(f.proj, "README.md"), []byte("# notes\n"), 0o644)
	d = f.design(params)
	res, err = Prepare(ctx, f.s, d, f.o)
	if err != nil || !res[0].Cached || res[0].Hash != first.Hash || f.mavenRuns() != 1 {
		t.Fatalf("unchanged sources: %+v, %v, %d Maven runs", res, err, f.mavenRuns())
	}
	if !strings.Contains(progress.String(), "chisel  hdl/chisel cached ("+first.Hash+")") {
		t.Errorf("progress: %q", progress.String())
	}
	// Prepared designs are not elaborated again in the process.
	if res, err := Prepare(ctx, f.s, d, f.o); err != nil || res != nil {
		t.Errorf("second Prepare of the same design: %v, %v", res, err)
	}

	// A changed source: elaborated again, the old output removed.
	os.WriteFile(filepath.Join(f.proj, "src", "Block.scala"), []byte("class Block2\n"), 0o644)
	res, err = Prepare(ctx, f.s, f.design(params), f.o)
	if err != nil || res[0].Cached || res[0].Hash == first.Hash || f.mavenRuns() != 2 {
		t.Fatalf("changed source: %+v, %v, %d Maven runs", res, err, f.mavenRuns())
	}
	if _, err := os.Stat(first.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the previous output %s is still there: %v", first.Dir, err)
	}
	// Maven's own configuration is a source too.
	os.MkdirAll(filepath.Join(f.proj, ".mvn"), 0o755)
	os.WriteFile(filepath.Join(f.proj, ".mvn", "jvm.config"), []byte("-Xmx2g\n"), 0o644)
	res3, err := Prepare(ctx, f.s, f.design(params), f.o)
	if err != nil || res3[0].Cached || res3[0].Hash == res[0].Hash {
		t.Fatalf(".mvn/jvm.config changed: %+v, %v", res3, err)
	}
	res = res3
	// Other generator arguments: another hash.
	res2, err := Prepare(ctx, f.s, f.design(map[string][]int{"NUM_RULES": {1, 4, 64}}), f.o)
	if err != nil || res2[0].Hash == res[0].Hash || f.mavenRuns() != 4 {
		t.Fatalf("changed parameters: %+v, %v", res2, err)
	}
}

func TestMissingToolsSayWhatToInstall(t *testing.T) {
	f := setup(t, "pf_policer")
	os.Remove(filepath.Join(filepath.Dir(f.runs), "bin", "mvn"))
	_, err := Prepare(context.Background(), f.s, f.design(nil), f.o)
	if err == nil || !strings.Contains(err.Error(), "mvn is not installed") || !strings.Contains(err.Error(), "apt-get install -y maven") ||
		!strings.Contains(err.Error(), "scripts/install-deps.sh") {
		t.Fatalf("without mvn: %v", err)
	}
	os.Remove(filepath.Join(filepath.Dir(f.runs), "bin", "java"))
	_, err = Prepare(context.Background(), f.s, f.design(nil), f.o)
	if err == nil || !strings.Contains(err.Error(), "java is not installed") || !strings.Contains(err.Error(), "openjdk-17-jdk-headless") {
		t.Fatalf("without java: %v", err)
	}
}

func TestGeneratorFailureShowsTheLog(t *testing.T) {
	f := setup(t, "pf_policer")
	t.Setenv("FAKE_MVN_FAIL", "1")
	d := f.design(nil)
	_, err := Prepare(context.Background(), f.s, d, f.o)
	if err == nil || !strings.Contains(err.Error(), "mvn exited with status 1") || !strings.Contains(err.Error(), "type mismatch") ||
		!strings.Contains(err.Error(), "full log: ") {
		t.Fatalf("failing generator: %v", err)
	}
	if d.Generated != nil {
		t.Errorf("Generated set after a failure: %v", d.Generated)
	}
	entries, _ := os.ReadDir(filepath.Join(f.s.WorkPath(), "chisel"))
	for _, e := range entries {
		if e.IsDir() && e.Name() != "logs" && e.Name() != "maven" {
			t.Errorf("left behind after a failure: %s", e.Name())
		}
	}
	// Fixed: elaborates.
	t.Setenv("FAKE_MVN_FAIL", "")
	if _, err := Prepare(context.Background(), f.s, d, f.o); err != nil {
		t.Fatal(err)
	}
}

func TestMissingModuleIsAnError(t *testing.T) {
	f := setup(t, "pf_policer_n4")
	_, err := Prepare(context.Background(), f.s, f.design(nil), f.o)
	if err == nil || !strings.Contains(err.Error(), "the generator wrote no pf_policer.sv or pf_policer.v (it wrote: pf_policer_n4.sv)") {
		t.Fatalf("missing module: %v", err)
	}
}

func TestGeneratorArgsAndKey(t *testing.T) {
	c := project.Chisel{Project: "./hdl/chisel/", Parameters: map[string][]int{"W": {8}, "N": {1, 4}}}
	if got := strings.Join(GeneratorArgs(c), " "); got != "N=1,4 W=8" {
		t.Errorf("GeneratorArgs = %q", got)
	}
	if got := Key(c); got != "hdl_chisel" {
		t.Errorf("Key = %q", got)
	}
}

// Without Java and Maven (a test shard host), output elaborated elsewhere
// from the same sources is used; once the sources change it is not.
func TestOutputElaboratedElsewhere(t *testing.T) {
	f := setup(t, "pf_policer")
	ctx := context.Background()
	first, err := Prepare(ctx, f.s, f.design(nil), f.o)
	if err != nil || len(first) != 1 {
		t.Fatal(err)
	}
	bin := filepath.Join(filepath.Dir(f.runs), "bin")
	os.Remove(filepath.Join(bin, "mvn"))
	os.Remove(filepath.Join(bin, "java"))
	var progress bytes.Buffer
	o := f.o
	o.Progress = &progress
	got, err := Prepare(ctx, f.s, f.design(nil), o)
	if err != nil || len(got) != 1 || got[0].Dir != first[0].Dir || !got[0].Cached {
		t.Fatalf("without the toolchain: %v %+v", err, got)
	}
	os.WriteFile(filepath.Join(f.proj, "src", "Block.scala"), []byte("class Block2\n"), 0o644)
	if _, err := Prepare(ctx, f.s, f.design(nil), o); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("changed sources without the toolchain: %v", err)
	}
}
