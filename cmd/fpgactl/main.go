// Command fpgactl is the FPGA packet-filter toolchain; see README.md.
package main

import (
	"os"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/cli/root"
)

// Set with -ldflags "-X main.version=... -X main.commit=... -X main.date=..." (see Makefile).
var (
	version string
	commit  string
	date    string
)

func main() {
	os.Exit(root.Main(cmdutil.BuildInfo{Version: version, Commit: commit, Date: date}))
}
