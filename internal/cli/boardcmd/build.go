package boardcmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fpgactl/fpgactl/internal/atomicfile"
	"github.com/fpgactl/fpgactl/internal/contenthash"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/harness"
	"github.com/fpgactl/fpgactl/sim/board"
	"github.com/spf13/cobra"
)

// BuildOptions of `fpgactl board build`.
type BuildOptions struct {
	Factory *cmdutil.Factory
	Width   int
	Output  string
}

// BuildResult is what `board build --output json` prints.
type BuildResult struct {
	Path   string `json:"path"`
	Width  int    `json:"width"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Cache is the build in the project's board cache it was copied from.
	Cache string `json:"cache"`
}

// NewCmdBuild builds `fpgactl board build`.
func NewCmdBuild(f *cmdutil.Factory, runF func(context.Context, *BuildOptions) error) *cobra.Command {
	opts := &BuildOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "build --out FILE [--width W]",
		Short: "Write the simulated board's executable (the emulated lab's bitstream) to a file",
		Long: `Build the simulated board of the project's filter (the whole design in
Verilator, cached by content hash like every board build) and copy its
executable to --out. That file is what an emulated lab board is
programmed with ('fpgactl board program --bitstream FILE', 'fpgactl board
test --bitstream FILE'), and what 'fpgactl board sim --binary FILE' runs
without a project.`,
		Example: `  fpgactl board build --out board-w64.bin
  fpgactl board build --out board-w512.bin --width 512 --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output == "" {
				return cmdutil.FlagErrorf("--out is required (the file to write)")
			}
			if opts.Width != 0 {
				if err := cmdutil.ValidateWidths([]int{opts.Width}); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunBuild(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opts.Width, "width", 0, "data width: 64 or 512 (default: the design's first)")
	fl.StringVar(&opts.Output, "out", "", "file to write the board executable to")
	return cmd
}

// RunBuild builds (or finds cached) the board and copies it to opts.Output.
func RunBuild(ctx context.Context, opts *BuildOptions) error {
	f := opts.Factory
	env, err := harness.Load(f, f.IO.ErrOut)
	if err != nil {
		return err
	}
	width, err := env.Width(opts.Width)
	if err != nil {
		return err
	}
	bin, err := env.BoardBinary(ctx, width)
	if err != nil {
		return err
	}
	sum, size, err := copyExecutable(bin, opts.Output)
	if err != nil {
		return err
	}
	res := BuildResult{Path: opts.Output, Width: width, SHA256: sum, Size: size, Cache: bin}
	if f.JSON() {
		return cmdutil.PrintJSON(f.IO.Out, res)
	}
	fmt.Fprintf(f.IO.Out, "%s: simulated board w%d, %d bytes, sha256 %s\n", opts.Output, width, size, sum)
	return nil
}

// copyExecutable copies src to dst (mode 0755) through a temporary file
// renamed into place, so that dst is never half written and a running copy
// of the old dst keeps its file; it returns the SHA-256 and size.
func copyExecutable(src, dst string) (sum string, size int64, err error) {
	in, err := os.Open(src)
	if err != nil {
		return "", 0, err
	}
	defer in.Close()
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	err = atomicfile.Write(dst, 0o755, func(w io.Writer) error {
		size, sum, err = contenthash.ReaderSHA256(io.TeeReader(in, w))
		return err
	})
	if err != nil {
		return "", 0, fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return sum, size, nil
}

// binaryWidth starts a prebuilt board executable just long enough to read
// its greeting, and returns its data width; want (if not 0) must agree.
func binaryWidth(ctx context.Context, bin string, want int) (int, error) {
	st, err := os.Stat(bin)
	if err != nil {
		return 0, fmt.Errorf("board executable: %w", err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return 0, fmt.Errorf("board executable %s is not an executable file (build one with 'fpgactl board build --out FILE')", bin)
	}
	// The clock only matters for frames; the greeting does not depend on it.
	b, err := board.Start(ctx, bin, board.StartOptions{ClockHz: board.ClockHz(64)})
	if err != nil {
		return 0, fmt.Errorf("%s is not a simulated board of this fpgactl ('fpgactl board build' writes one): %w", bin, err)
	}
	w := b.Hello().DataWidth
	b.Close()
	if want != 0 && want != w {
		return 0, fmt.Errorf("%s is a %d-bit board, --width says %d", bin, w, want)
	}
	return w, nil
}
