package pipeline

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
)

// ExecutableHash names the code of the fpgactl executable at path: what the
// golden model, the vector writer and the simulated board's C++ (all built
// into fpgactl) are. The link-time stamps (version, commit, date) are
// blanked first, with the Go build ID that hashes them, so that a binary built from the same Go sources at another
// commit (the Makefile builds with -trimpath and -buildvcs=false) keeps its
// hash and a commit that changes only HDL reruns only what reads that HDL.
func ExecutableHash(path string, stamps ...string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("hashing the fpgactl executable: %w", err)
	}
	// The build IDs (Go's and, with external linking, GNU's: ELF notes)
	// hash the link's inputs, ldflags included: they differ whenever a
	// stamp does, so their bytes are blanked where the file holds them.
	if f, err := elf.NewFile(bytes.NewReader(data)); err == nil {
		for _, name := range []string{".note.go.buildid", ".note.gnu.build-id"} {
			if sec := f.Section(name); sec != nil && sec.Type != elf.SHT_NOBITS && sec.Offset+sec.Size <= uint64(len(data)) {
				clear(data[sec.Offset : sec.Offset+sec.Size])
			}
		}
	}
	// Longest first: a short stamp is often part of a longer one (git
	// describe's abbreviated commit in the full commit).
	slices.SortFunc(stamps, func(a, b string) int { return len(b) - len(a) })
	for _, s := range stamps {
		// Short stamps ("dev") could match unrelated bytes; they are not
		// worth blanking.
		if len(s) >= 6 {
			data = bytes.ReplaceAll(data, []byte(s), make([]byte, len(s)))
		}
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16], nil
}
