package release

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fpgactl/fpgactl/internal/atomicfile"
)

// KeyEnv names the environment variable holding the signing key's path.
const KeyEnv = "FPGACTL_RELEASE_KEY"

// DefaultKeyFile is where the signing key is kept when neither
// release.signing_key nor $FPGACTL_RELEASE_KEY says:
// $XDG_CONFIG_HOME/fpgactl/release-key, by default ~/.config/fpgactl/release-key.
func DefaultKeyFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = filepath.Join("~", ".config")
	}
	return filepath.Join(dir, "fpgactl", "release-key")
}

// KeyID names a public key: the first 16 hex digits of the SHA-256 of its
// raw 32 bytes.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:])[:16]
}

// GenerateKeys writes a new key pair: the private key as PKCS#8 PEM, mode
// 0600, and the public key as PKIX PEM. Existing files are kept unless
// force is set.
func GenerateKeys(privFile, pubFile string, force bool) (ed25519.PublicKey, error) {
	if !force {
		for _, f := range []string{privFile, pubFile} {
			if _, err := os.Stat(f); err == nil {
				return nil, fmt.Errorf("%s already exists; keep it, or pass --force to replace it (releases signed with the old key then fail verify with the new public key)", f)
			}
		}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(privFile), 0o700); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(privFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(pubFile), 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		return nil, err
	}
	return pub, nil
}

// LoadPrivateKey reads an ed25519 PKCS#8 PEM key. A key that group or others
// can read is refused. Errors never contain key material.
func LoadPrivateKey(file string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no release signing key at %s; run 'fpgactl release keygen' (or set release.signing_key in fpgactl.yaml or $%s)", file, KeyEnv)
	} else if err != nil {
		return nil, fmt.Errorf("release signing key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("release signing key %s is readable by others (mode %04o); run: chmod 600 %s", file, st.Mode().Perm(), file)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("release signing key: %w", err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("release signing key %s: not a PEM \"PRIVATE KEY\" (PKCS#8) file; make one with 'fpgactl release keygen'", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("release signing key %s: not a valid PKCS#8 key", file)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("release signing key %s: a %T, not ed25519; make one with 'fpgactl release keygen'", file, k)
	}
	return priv, nil
}

// LoadPublicKey reads an ed25519 PKIX PEM public key.
func LoadPublicKey(file string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no release public key at %s; pass --public-key FILE or set release.public_key in fpgactl.yaml ('fpgactl release keygen --public FILE' writes one)", file)
	} else if err != nil {
		return nil, fmt.Errorf("release public key: %w", err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("release public key %s: not a PEM \"PUBLIC KEY\" (PKIX) file", file)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("release public key %s: %w", file, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("release public key %s: a %T, not ed25519", file, k)
	}
	return pub, nil
}
