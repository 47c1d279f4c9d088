package sshx

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/internal/sshx/sshdtest"
)

// The server runs on this machine, so the tests check remote files directly.

func TestUploadDownloadRoundTrip(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	c := dial(t, options(t, s))
	ctx := context.Background()

	data := make([]byte, 5<<20)
	rand.Read(data)
	local := filepath.Join(t.TempDir(), "top.bit")
	writeFile(t, local, string(data), 0o640)
	if err := os.Chmod(local, 0o751); err != nil { // beyond the umask
		t.Fatal(err)
	}
	remote := filepath.Join(t.TempDir(), "new dir", "it's", "top.bit")
	if err := c.UploadFile(ctx, local, remote); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(remote)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o751 || st.Size() != int64(len(data)) {
		t.Errorf("remote file: mode %v size %d, want -rwxr-x--x and %d bytes", st.Mode(), st.Size(), len(data))
	}
	if dst, _ := os.Stat(filepath.Dir(remote)); dst.Mode().Perm() != 0o755 {
		t.Errorf("created directory has mode %v, want the server's umask (0755)", dst.Mode().Perm())
	}
	if !bytes.Equal(mustRead(t, remote), data) {
		t.Fatal("remote content differs")
	}

	back := filepath.Join(t.TempDir(), "results", "top.bit")
	if err := c.Download(ctx, remote, back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, back), data) {
		t.Fatal("downloaded content differs")
	}
	assertNoTempFiles(t, filepath.Dir(remote))
	assertNoTempFiles(t, filepath.Dir(back))

	// Overwriting keeps the new mode, and DownloadTo streams.
	if err := c.Upload(ctx, strings.NewReader("v2\n"), 3, remote, 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if n, err := c.DownloadTo(ctx, remote, &buf); err != nil || n != 3 || buf.String() != "v2\n" {
		t.Errorf("DownloadTo = %d, %v, %q", n, err, buf.String())
	}
	if st, _ := os.Stat(remote); st.Mode().Perm() != 0o600 {
		t.Errorf("mode after overwrite %v, want 0600", st.Mode().Perm())
	}

	// An empty file is a file too.
	empty := filepath.Join(filepath.Dir(remote), "empty")
	if err := c.Upload(ctx, strings.NewReader(""), 0, empty, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Download(ctx, empty, filepath.Join(filepath.Dir(back), "empty")); err != nil {
		t.Fatal(err)
	}
}

// A reader that ends early must not replace the remote file with a
// truncated one.
func TestUploadShortReaderKeepsOldFile(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	c := dial(t, options(t, s))
	remote := filepath.Join(t.TempDir(), "rules.bin")
	writeFile(t, remote, "old content", 0o644)

	err := c.Upload(context.Background(), strings.NewReader("only 13 bytes"), 100, remote, 0o644)
	if err == nil || !strings.Contains(err.Error(), "ended after 13 of 100 bytes") || !strings.Contains(err.Error(), remote) {
		t.Fatalf("Upload = %v, want an error about the short data naming the remote path", err)
	}
	if got := string(mustRead(t, remote)); got != "old content" {
		t.Errorf("remote file now holds %q", got)
	}
	assertNoTempFiles(t, filepath.Dir(remote))

	err = c.Upload(context.Background(), io.MultiReader(strings.NewReader("abc"), errReader{}), 10, remote, 0o644)
	if err == nil || !strings.Contains(err.Error(), "cable unplugged") {
		t.Fatalf("Upload with a failing reader = %v", err)
	}
	if got := string(mustRead(t, remote)); got != "old content" {
		t.Errorf("remote file now holds %q", got)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("cable unplugged") }

func TestDownloadMissingFile(t *testing.T) {
	s := sshdtest.Start(t, sshdtest.Options{})
	c := dial(t, options(t, s))
	remote := filepath.Join(t.TempDir(), "no-such-report.rpt")
	local := filepath.Join(t.TempDir(), "report.rpt")
	err := c.Download(context.Background(), remote, local)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), remote) || !strings.Contains(err.Error(), local) {
		t.Fatalf("Download = %v, want fs.ErrNotExist naming both paths", err)
	}
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Errorf("Download of a missing file created %s", local)
	}
	assertNoTempFiles(t, filepath.Dir(local))

	if err := c.Download(context.Background(), t.TempDir(), local); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Download of a directory = %v", err)
	}
	if err := c.UploadFile(context.Background(), filepath.Join(t.TempDir(), "nope"), remote); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("UploadFile of a missing local file = %v", err)
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".fpgactl-") {
			t.Errorf("temporary file left: %s", filepath.Join(dir, e.Name()))
		}
	}
}
