package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
)

// ExecutableHash names the code of the fpgactl executable at path: what the
// golden model, the vector writer and the simulated board's C++ (all built
// into fpgactl) are. The link-time stamps (version, commit, date) are
// blanked first, so that a binary built from the same Go sources at another
// commit (the Makefile builds with -trimpath and -buildvcs=false) keeps its
// hash and a commit that changes only HDL reruns only what reads that HDL.
func ExecutableHash(path string, stamps ...string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("hashing the fpgactl executable: %w", err)
	}
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
