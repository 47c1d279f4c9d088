package root

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/tools"
	"github.com/spf13/cobra"
)

func factory() (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		OutputFormat: "text", Tools: &tools.Finder{}, NumCPU: func() int { return 1 }, Build: cmdutil.BuildInfo{Version: "v9.9.9"}}
	return f, &out, &errOut
}

func TestEveryCommandHasExample(t *testing.T) {
	f, _, _ := factory()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() != "help" && c.Example == "" && c.Runnable() {
			t.Errorf("%s has no Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewCmdRoot(f))
}

func TestExitCodes(t *testing.T) {
	f, out, _ := factory()
	if code := Execute(context.Background(), f, []string{"version", "--output", "json"}); code != ExitOK {
		t.Fatalf("version exit %d", code)
	}
	var v map[string]string
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || v["version"] != "v9.9.9" {
		t.Errorf("version json: %v %s", err, out.String())
	}

	f, _, errOut := factory()
	if code := Execute(context.Background(), f, []string{"lint", "--bogus"}); code != ExitUsage {
		t.Errorf("unknown flag exit %d", code)
	}
	if !strings.Contains(errOut.String(), "Run 'fpgactl lint --help'") {
		t.Errorf("usage hint: %s", errOut.String())
	}

	// A project file that does not exist is an ordinary error that says what to do.
	f, _, errOut = factory()
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	if code := Execute(context.Background(), f, []string{"lint", "--project", missing}); code != ExitError {
		t.Errorf("missing project exit %d", code)
	}
	if !strings.Contains(errOut.String(), "do not exist; create it") {
		t.Errorf("error: %s", errOut.String())
	}

	// A cancelled context (SIGINT) ends with 130.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fpgactl.yaml"), []byte("designs:\n  - {name: d, top: d, rtl: [a.sv], widths: [64]}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.sv"), []byte("module d #(parameter DATA_WIDTH=1); endmodule\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f, _, _ = factory()
	if code := Execute(ctx, f, []string{"lint", "--project", filepath.Join(dir, "fpgactl.yaml")}); code != ExitInterrupt {
		t.Errorf("cancelled exit %d", code)
	}
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		f, out, _ := factory()
		if code := Execute(context.Background(), f, []string{"completion", sh}); code != ExitOK || !strings.Contains(out.String(), "fpgactl") {
			t.Errorf("%s completion: exit %d, %d bytes", sh, code, out.Len())
		}
	}
	f, _, _ := factory()
	if code := Execute(context.Background(), f, []string{"completion", "tcsh"}); code != ExitUsage {
		t.Errorf("tcsh exit %d", code)
	}
}
