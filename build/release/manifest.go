// Package release makes, stores and checks fpgactl releases: a manifest
// (manifest.json) naming a tested bitstream with its build, timing, test
// results and the SHA-256 of every artifact, signed with ed25519
// (manifest.json.sig, the raw 64-byte signature over the manifest's exact
// bytes), kept in an artifact store (build/store) as
//
//	releases/<version>/manifest.json
//	releases/<version>/manifest.json.sig
//	releases/<version>/artifacts/<file>
//
// The Ansible deploy role reads the same files, so the manifest's field
// names are a contract (see docs/releases.md).
package release

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/fpgactl/fpgactl/build/store"
)

// Schema names the manifest format.
const Schema = "fpgactl.release/v1"

// File names inside a release.
const (
	ManifestFile  = "manifest.json"
	SignatureFile = "manifest.json.sig"
	ArtifactsDir  = "artifacts/"
)

// Artifact kinds.
const (
	KindBitstream = "bitstream"
	KindReport    = "report"
	KindLog       = "log"
)

// Manifest is manifest.json.
type Manifest struct {
	Schema    string     `json:"schema"`
	Version   string     `json:"version"`
	Created   time.Time  `json:"created"`
	Commit    string     `json:"commit"`
	Build     Build      `json:"build"`
	Timing    Timing     `json:"timing"`
	Artifacts []Artifact `json:"artifacts"`
	Tests     Tests      `json:"tests"`
	Signer    Signer     `json:"signer"`
}

// Build says which build, target and seed the bitstream comes from.
type Build struct {
	ID         string         `json:"id"`
	Target     string         `json:"target"`
	Design     string         `json:"design"`
	Flow       string         `json:"flow"`
	Device     string         `json:"device"`
	Width      int            `json:"width"`
	Seed       int            `json:"seed"`
	Parameters map[string]int `json:"parameters"`
	RTLHash    string         `json:"rtl_hash"`
	Runner     string         `json:"runner"`
}

// Timing is the seed's timing result; null values were not reported.
type Timing struct {
	Met      bool     `json:"met"`
	ClockMHz float64  `json:"clock_mhz"`
	FmaxMHz  *float64 `json:"fmax_mhz"`
	WNSns    *float64 `json:"wns_ns"`
	TNSns    *float64 `json:"tns_ns"`
}

// Artifact is a file of the release; Name is relative to the release
// (artifacts/<file>).
type Artifact struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Tests are the results the release gate accepted.
type Tests struct {
	Functional Functional `json:"functional"`
	Board      *Board     `json:"board"` // null unless release.require_board
}

// Functional is the functional suite's verdict on the bitstream's RTL.
type Functional struct {
	Passed     int       `json:"passed"`
	Failed     int       `json:"failed"`
	Frames     int       `json:"frames"`
	Mismatches int       `json:"mismatches"`
	Widths     []int     `json:"widths"`
	Commit     string    `json:"commit"`
	Time       time.Time `json:"time"`
}

// Board is the passing on-board result of this very bitstream.
type Board struct {
	Board      string `json:"board"`
	Passed     bool   `json:"passed"`
	Frames     int64  `json:"frames"`
	Mismatches int64  `json:"mismatches"`
	ResultID   int64  `json:"result_id"`
}

// Signer names the key that signed the manifest.
type Signer struct {
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"`
}

// Bitstream returns the one artifact of kind bitstream.
func (m *Manifest) Bitstream() Artifact {
	for _, a := range m.Artifacts {
		if a.Kind == KindBitstream {
			return a
		}
	}
	return Artifact{}
}

// Marshal is the manifest's canonical text: indented JSON and a newline.
// The signature covers these exact bytes.
func (m *Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

var (
	versionRe = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
	hex64Re   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	commitRe  = regexp.MustCompile(`^[0-9a-f]{40}$`)
	keyIDRe   = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// CheckVersion accepts vMAJOR.MINOR.PATCH with an optional -prerelease
// (v1.2.3, v1.2.3-rc.1), which is also a safe store path and git tag name.
func CheckVersion(v string) error {
	if !versionRe.MatchString(v) {
		return fmt.Errorf("version %q: use vMAJOR.MINOR.PATCH, optionally with -prerelease (v1.2.3, v1.3.0-rc.1)", v)
	}
	return nil
}

// Validate checks what a deploy relies on; errors name the field.
func (m *Manifest) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("manifest: %s: %s", field, fmt.Sprintf(format, args...))
	}
	switch {
	case m.Schema != Schema:
		return bad("schema", "%q is not %q; this fpgactl reads only %s", m.Schema, Schema, Schema)
	case CheckVersion(m.Version) != nil:
		return bad("version", "%v", CheckVersion(m.Version))
	case m.Created.IsZero():
		return bad("created", "missing")
	case !commitRe.MatchString(m.Commit):
		return bad("commit", "%q is not 40 lower-case hex digits", m.Commit)
	case m.Build.ID == "" || m.Build.Target == "" || m.Build.Design == "":
		return bad("build", "id, target and design are required")
	case m.Build.RTLHash == "":
		return bad("build.rtl_hash", "missing")
	case m.Signer.Algorithm != "ed25519":
		return bad("signer.algorithm", "%q; only ed25519 is used", m.Signer.Algorithm)
	case !keyIDRe.MatchString(m.Signer.KeyID):
		return bad("signer.key_id", "%q is not 16 lower-case hex digits", m.Signer.KeyID)
	case len(m.Artifacts) == 0:
		return bad("artifacts", "empty; a release has at least its bitstream")
	}
	seen := map[string]bool{}
	bitstreams := 0
	for i, a := range m.Artifacts {
		f := fmt.Sprintf("artifacts[%d]", i)
		if err := store.CheckName(a.Name); err != nil || !strings.HasPrefix(a.Name, ArtifactsDir) || a.Name == ArtifactsDir {
			return bad(f+".name", "%q must be a plain relative name under %s", a.Name, ArtifactsDir)
		}
		if seen[a.Name] {
			return bad(f+".name", "%q appears twice", a.Name)
		}
		seen[a.Name] = true
		switch a.Kind {
		case KindBitstream:
			bitstreams++
		case KindReport, KindLog:
		default:
			return bad(f+".kind", "%q; use bitstream, report or log", a.Kind)
		}
		if a.Size < 0 {
			return bad(f+".size", "%d is negative", a.Size)
		}
		if !hex64Re.MatchString(a.SHA256) {
			return bad(f+".sha256", "%q is not 64 lower-case hex digits", a.SHA256)
		}
	}
	if bitstreams != 1 {
		return bad("artifacts", "%d artifacts of kind bitstream; exactly one is required", bitstreams)
	}
	return nil
}

// ParseManifest reads manifest.json strictly: unknown fields, trailing data
// and invalid values are errors, since a deploy must not act on a manifest
// it does not fully understand.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("manifest: data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Prefix is the store prefix of a version's files.
func Prefix(version string) string { return path.Join("releases", version) + "/" }
