package sshx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/fpgactl/fpgactl/internal/atomicfile"
)

// File transfer uses only sh, cat, wc, chmod and mv on the remote side, so it
// works with any server that runs commands — no sftp subsystem needed.
// Remote paths are relative to the login directory; a leading ~/ is the
// remote user's home.

// Exit statuses the transfer scripts use for the errors they detect.
const (
	exitShort    = 93 // upload: fewer bytes arrived than were sent
	exitNotExist = 94 // download: no such file
	exitIsDir    = 95 // download: a directory
)

// Upload writes exactly size bytes from r to remotePath with the given
// permission bits, creating missing directories. The data goes to a
// temporary file next to remotePath, which is renamed over it only once its
// size has been checked: a dropped connection or a short reader leaves the
// old file (if any) as it was, never a truncated one.
func (c *Client) Upload(ctx context.Context, r io.Reader, size int64, remotePath string, mode os.FileMode) error {
	return c.upload(ctx, r, size, remotePath, mode, "data")
}

// UploadFile copies the regular file localPath to remotePath, keeping its
// permission bits; see Upload.
func (c *Client) UploadFile(ctx context.Context, localPath, remotePath string) error {
	f, err := os.Open(localPath)
	if err != nil {
		return fmt.Errorf("uploading %s to %s on %s: %w", localPath, remotePath, c.name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("uploading %s to %s on %s: %w", localPath, remotePath, c.name, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("uploading %s to %s on %s: not a regular file", localPath, remotePath, c.name)
	}
	return c.upload(ctx, f, st.Size(), remotePath, st.Mode().Perm(), localPath)
}

func (c *Client) upload(ctx context.Context, r io.Reader, size int64, remotePath string, mode os.FileMode, what string) error {
	fail := func(err error) error {
		return fmt.Errorf("uploading %s to %s on %s: %w", what, remotePath, c.name, err)
	}
	if remotePath == "" || size < 0 {
		return fail(errors.New("need a remote path and a size of at least 0"))
	}
	dir, base := path.Split(remotePath)
	if base == "" || base == "." || base == ".." || base == "~" {
		return fail(errors.New("the remote path must name a file"))
	}
	tmp := dir + "." + base + ".fpgactl-" + randomHex()
	script := "set -e\n"
	if dir != "" {
		script += "mkdir -p -- " + remoteWord(dir) + "\n"
	}
	// umask: nobody else reads the data before chmod sets its mode.
	script += "umask 077\n" +
		"tmp=" + remoteWord(tmp) + "\n" +
		"trap 'rm -f -- \"$tmp\"' EXIT\n" +
		"cat > \"$tmp\"\n" +
		"n=$(wc -c < \"$tmp\")\n" +
		// $((n)) drops the blanks some wc put before the number.
		"if [ $((n)) -ne " + strconv.FormatInt(size, 10) + " ]; then echo \"received $((n)) of " + strconv.FormatInt(size, 10) + " bytes\" >&2; exit " + strconv.Itoa(exitShort) + "; fi\n" +
		fmt.Sprintf("chmod %04o \"$tmp\"\n", mode.Perm()) +
		"mv -f -- \"$tmp\" " + remoteWord(remotePath) + "\n" +
		"trap - EXIT\n"

	in := &exactReader{r: r, left: size, size: size}
	err := c.Run(ctx, script, in, nil, nil)
	if in.err != nil {
		return fail(fmt.Errorf("%w; the remote file was left as it was", in.err))
	}
	var ee *ExitError
	if errors.As(err, &ee) && ee.Code == exitShort {
		return fail(fmt.Errorf("%s; the remote file was left as it was", ee.Stderr))
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

// exactReader yields exactly size bytes of r, and remembers when r has
// fewer (or fails).
type exactReader struct {
	r          io.Reader
	left, size int64
	err        error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case errors.Is(err, io.EOF) && e.left > 0:
		e.err = fmt.Errorf("the local data ended after %d of %d bytes", e.size-e.left, e.size)
	case err != nil && !errors.Is(err, io.EOF):
		e.err = fmt.Errorf("reading the local data: %w", err)
	}
	if e.err != nil {
		return n, e.err
	}
	return n, nil
}

// Download copies remotePath to localPath through a temporary file in the
// same directory, renamed into place once the whole file has arrived, so that
// localPath is never left half written. The local file gets mode 0644. A
// missing remote file gives an error matching fs.ErrNotExist.
func (c *Client) Download(ctx context.Context, remotePath, localPath string) error {
	if err := os.MkdirAll(filepath.Dir(localPath), 0o755); err != nil {
		return fmt.Errorf("downloading %s from %s to %s: %w", remotePath, c.name, localPath, err)
	}
	err := atomicfile.Write(localPath, 0o644, func(w io.Writer) error {
		_, err := c.download(ctx, remotePath, w)
		return err
	})
	if err != nil {
		return fmt.Errorf("downloading %s from %s to %s: %w", remotePath, c.name, localPath, err)
	}
	return nil
}

// DownloadTo writes the content of remotePath to w and returns its size. A
// missing remote file gives an error matching fs.ErrNotExist.
func (c *Client) DownloadTo(ctx context.Context, remotePath string, w io.Writer) (int64, error) {
	n, err := c.download(ctx, remotePath, w)
	if err != nil {
		return n, fmt.Errorf("downloading %s from %s: %w", remotePath, c.name, err)
	}
	return n, nil
}

// download sends the size on a first line, then the content, so that a
// connection lost mid-file, or a file that changes while it is read, shows
// as a size mismatch.
func (c *Client) download(ctx context.Context, remotePath string, w io.Writer) (int64, error) {
	if remotePath == "" {
		return 0, errors.New("no remote path given")
	}
	script := "f=" + remoteWord(remotePath) + "\n" +
		"[ -e \"$f\" ] || exit " + strconv.Itoa(exitNotExist) + "\n" +
		"[ ! -d \"$f\" ] || exit " + strconv.Itoa(exitIsDir) + "\n" +
		"n=$(wc -c < \"$f\") || exit 1\n" +
		"echo $((n))\n" +
		"exec cat -- \"$f\"\n"
	hw := &headerWriter{w: w}
	err := c.Run(ctx, script, nil, hw, nil)
	var ee *ExitError
	if errors.As(err, &ee) {
		switch ee.Code {
		case exitNotExist:
			return 0, &fs.PathError{Op: "open", Path: remotePath, Err: fs.ErrNotExist}
		case exitIsDir:
			return 0, errors.New("the remote path is a directory")
		}
	}
	if err != nil {
		return hw.n, err
	}
	switch {
	case hw.err != nil:
		return hw.n, hw.err
	case !hw.parsed:
		return 0, errors.New("the remote side sent no size; is this a POSIX shell?")
	case hw.n != hw.size:
		return hw.n, fmt.Errorf("received %d of %d bytes; the file changed while it was read", hw.n, hw.size)
	}
	return hw.n, nil
}

// headerWriter parses the size line download's script sends first and
// passes the rest on.
type headerWriter struct {
	w      io.Writer
	header []byte
	size   int64
	n      int64
	err    error
	parsed bool
}

func (h *headerWriter) Write(p []byte) (int, error) {
	total := len(p)
	if !h.parsed {
		for len(p) > 0 && !h.parsed {
			b := p[0]
			p = p[1:]
			if b != '\n' {
				h.header = append(h.header, b)
				if len(h.header) > 20 {
					h.err = errors.New("the remote side sent no valid size")
					return 0, h.err
				}
				continue
			}
			h.parsed = true
			size, err := strconv.ParseInt(string(h.header), 10, 64)
			if err != nil || size < 0 {
				h.err = fmt.Errorf("the remote side sent %q instead of a size", h.header)
				return 0, h.err
			}
			h.size = size
		}
	}
	if len(p) > 0 {
		n, err := h.w.Write(p)
		h.n += int64(n)
		if err != nil {
			h.err = err
			return total - len(p) + n, err
		}
	}
	return total, nil
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
