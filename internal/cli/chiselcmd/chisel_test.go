package chiselcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/project"
)

// Designs without Chisel sources: nothing to elaborate, said plainly; an
// unknown --design is a usage error. (Elaboration itself is tested in
// internal/chisel with a stand-in Maven.)
func TestNoChiselSources(t *testing.T) {
	s := &project.Settings{Path: "fpgactl.yaml", Designs: []project.Design{{Name: "d"}}}
	load := func() (*project.Settings, error) { return s, nil }
	var out bytes.Buffer
	if err := Run(context.Background(), &Options{IO: &cmdutil.IOStreams{Out: &out}, Project: load}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no design has Chisel sources") {
		t.Errorf("text: %q", out.String())
	}
	out.Reset()
	if err := Run(context.Background(), &Options{IO: &cmdutil.IOStreams{Out: &out}, Project: load, JSON: true}); err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Projects == nil || len(rep.Projects) != 0 {
		t.Errorf("json: %q, %v", out.String(), err)
	}
	err := Run(context.Background(), &Options{IO: &cmdutil.IOStreams{Out: &out}, Project: load, Design: "x"})
	var fe *cmdutil.FlagError
	if err == nil || !strings.Contains(err.Error(), `no design named "x"`) || !errors.As(err, &fe) {
		t.Errorf("unknown design: %v", err)
	}
}
