package cicmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/build/openstack/osdouble"
	"github.com/fpgactl/fpgactl/internal/cli/clitest"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/pipeline"
	"github.com/fpgactl/fpgactl/internal/pipeline/pipelinetest"
)

func TestFlagValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--width", "128"}, "128"},
		{[]string{"--jobs", "-1"}, "--jobs"},
		{[]string{"--shard", "cloud"}, `--shard "cloud"`},
		{[]string{"--shard", "openstack", "--shards", "0"}, "--shards must be 1 or more"},
		{[]string{"--build", "--seeds", "4-1"}, "--seeds"},
		{[]string{"--build", "--runner", "moon"}, `--runner "moon"`},
		{[]string{"--target", "ecp5-ci"}, "add --build"},
		{[]string{"extra"}, "no arguments"},
	} {
		_, called, err := clitest.Flags(NewCmdCI, tc.args...)
		if called || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: called=%v err=%v, want %q", tc.args, called, err, tc.want)
		}
	}
	o, called, err := clitest.Flags(NewCmdCI, "--build", "--target", "t", "--seeds", "1-2", "--shard", "ssh", "--shards", "3", "--no-cache", "--width", "64")
	if err != nil || !called || !o.Build || o.Target != "t" || o.Seeds != "1-2" || o.Shard != "ssh" || o.Shards != 3 || !o.NoCache || len(o.Widths) != 1 {
		t.Errorf("options %+v called=%v err=%v", o, called, err)
	}
}

func execute(t *testing.T, projectFile string, args ...string) (*pipeline.Summary, string, error) {
	t.Helper()
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut},
		OutputFormat: "json", ProjectFile: projectFile, NumCPU: func() int { return 2 }}
	cmd := NewCmdCI(f, nil)
	cmd.SetArgs(append(args, "--fpgactl", pipelinetest.Fpgactl(t)))
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	err := cmd.ExecuteContext(context.Background())
	var sum pipeline.Summary
	if jerr := json.Unmarshal(out.Bytes(), &sum); jerr != nil {
		t.Fatalf("%v / %v\nstdout:\n%s\nstderr:\n%s", err, jerr, out, errOut)
	}
	return &sum, errOut.String(), err
}

// --shard openstack through the API double and the real gophercloud
// client: each unit shard runs the real fpgactl on a server of its own
// (named for the run and the shard), the reports come back, every server
// is deleted; the JUnit report and Markdown summary are written where
// asked, and the Markdown goes to $GITHUB_STEP_SUMMARY.
func TestShardOpenStack(t *testing.T) {
	const netID = "4d6c2b2e-7c1a-4c44-9a0b-0d2f3c8e5a11"
	c := osdouble.StartForTest(t, "ci-cloud", osdouble.Options{BootDelay: 100 * time.Millisecond,
		Networks: []osdouble.Network{{ID: netID, Name: "private"}}})
	gh := filepath.Join(t.TempDir(), "step-summary.md")
	t.Setenv("GITHUB_STEP_SUMMARY", gh)

	p := pipelinetest.Project(t)
	settings, _ := os.ReadFile(p)
	settings = append(settings, []byte("runners:\n  openstack: {cloud: ci-cloud, flavor: m1.small, image: debian-12, network: "+netID+
		", ssh_user: ci, boot_timeout: 1m}\n")...)
	os.WriteFile(p, settings, 0o644)
	junitPath := filepath.Join(t.TempDir(), "ci.xml")
	mdPath := filepath.Join(t.TempDir(), "ci.md")

	sum, errOut, err := execute(t, p, "--shard", "openstack", "--shards", "2", "--junit", junitPath, "--summary", mdPath)
	if err != nil || !sum.OK() || sum.Shard != "openstack" {
		t.Fatalf("%v %+v\n%s", err, sum, errOut)
	}
	var unitRan int
	for _, st := range sum.Steps {
		if st.Name == "unit" {
			unitRan = st.Ran
		}
	}
	if unitRan != 2 {
		t.Errorf("unit ran %d cases", unitRan)
	}
	servers := c.Servers()
	if len(servers) != 2 {
		t.Fatalf("%d servers, want one per unit shard: %+v", len(servers), servers)
	}
	for _, s := range servers {
		if !strings.HasPrefix(s.Name, "fpgactl-ci-"+sum.ID+"-unit-") || s.Deleted.IsZero() || s.Metadata["fpgactl_build"] != "ci-"+sum.ID {
			t.Errorf("server %s (metadata %v) deleted %v", s.Name, s.Metadata, s.Deleted)
		}
	}
	for _, f := range []string{junitPath, mdPath, gh} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if md, _ := os.ReadFile(mdPath); !strings.Contains(string(md), "sharded on openstack") {
		t.Errorf("summary:\n%s", md)
	}

	// Nothing changed: everything cached, no server booted.
	sum, errOut, err = execute(t, p, "--shard", "openstack")
	if err != nil || sum.Ran != 0 || len(c.Servers()) != 2 {
		t.Errorf("cached rerun: %v, %d ran, %d servers\n%s", err, sum.Ran, len(c.Servers()), errOut)
	}
}

// A failing item makes the command exit with SilentError (status 1) and the
// JSON summary says what failed.
func TestFailureExitStatus(t *testing.T) {
	p := pipelinetest.Project(t)
	pipelinetest.Write(t, filepath.Join(filepath.Dir(p), "rtl", "tiny_a.sv"), pipelinetest.Leaf("tiny_a", 5))
	sum, _, err := execute(t, p)
	if err != cmdutil.SilentError || sum.OK() || sum.Failed != 1 {
		t.Errorf("err %v, summary %s with %d failed", err, sum.Status, sum.Failed)
	}
}
