package release_test

import (
	"bytes"
	"testing"

	"github.com/fpgactl/fpgactl/build/release"
)

// FuzzParseManifest: the parser never panics, and what it accepts
// re-encodes to a manifest that parses to the same text again.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"schema":"fpgactl.release/v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := release.ParseManifest(data)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("accepted manifest does not marshal: %v", err)
		}
		m2, err := release.ParseManifest(out)
		if err != nil {
			t.Fatalf("re-encoded manifest does not parse: %v\n%s", err, out)
		}
		out2, _ := m2.Marshal()
		if !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}
