// Command fpgactl is the FPGA packet-filter toolchain; see README.md.
package main

import (
	"os"
	"strings"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/cli/root"
)

// Set with -ldflags "-X main.version=... -X main.commit=... -X main.date=..." (see Makefile).
var (
	version string
	commit  string
	date    string
)

// The Makefile pads version to a fixed length with '_' (git describe's
// output varies in length, and a stamp of another length moves the
// binary's data), so that builds of the same sources differ only in the
// stamps' bytes, which `fpgactl ci` leaves out of fpgactl's hash.
const versionPad = "_"

func main() {
	os.Exit(root.Main(cmdutil.BuildInfo{Version: strings.TrimRight(version, versionPad), Commit: commit, Date: date,
		Stamps: []string{version, commit, date}}))
}
