package versioncmd

import (
	"bytes"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	noInfo := func() (*debug.BuildInfo, bool) { return nil, false }
	opts := &Options{IO: &cmdutil.IOStreams{Out: &out}, Build: cmdutil.BuildInfo{Version: "v0.1.0", Commit: "abc123"}, ReadBuildInfo: noInfo}
	if err := Run(opts); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "fpgactl v0.1.0 (commit abc123)\ngo") {
		t.Errorf("text = %q", out.String())
	}
	out.Reset()
	opts.JSON = true
	opts.Build = cmdutil.BuildInfo{}
	opts.ReadBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "deadbeef"}}}, true
	}
	if err := Run(opts); err != nil {
		t.Fatal(err)
	}
	var in Info
	if err := json.Unmarshal(out.Bytes(), &in); err != nil {
		t.Fatal(err)
	}
	if in.Version != "dev" || in.Commit != "deadbeef" || !strings.HasPrefix(in.GoVersion, "go") {
		t.Errorf("json = %+v", in)
	}
}
