package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesOrKeeps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.txt")
	if err := WriteFile(path, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	if string(data) != "two" || st.Mode().Perm() != 0o755 {
		t.Errorf("content %q mode %v, want two 0755", data, st.Mode().Perm())
	}
	boom := errors.New("boom")
	err := Write(path, 0o644, func(w io.Writer) error { w.Write([]byte("par")); return boom })
	if !errors.Is(err, boom) {
		t.Errorf("err %v, want boom", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "two" {
		t.Errorf("a failed write changed the file to %q", data)
	}
	if left, _ := filepath.Glob(TempPattern(path)); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "no", "dir"), nil, 0o644); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}
