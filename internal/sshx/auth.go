package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// defaultIdentityFiles are tried, like OpenSSH does, when neither Options nor
// the config name a key; those that do not exist are skipped quietly.
var defaultIdentityFiles = []string{"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"}

// auth is the set of keys one Dial offers, and what it could not use, for a
// useful message when the server refuses them all.
type auth struct {
	signers []ssh.Signer
	offered []string // where the keys came from
	skipped []string // keys not offered, and why
	close   func()   // releases the agent connection
}

type authInput struct {
	signers        []ssh.Signer
	useAgent       bool
	identityFiles  []string
	explicitFiles  bool // named by Options or the config: problems are errors, not notes
	identitiesOnly bool
}

func loadAuth(ctx context.Context, in authInput) (*auth, error) {
	a := &auth{close: func() {}}
	a.add(in.signers, fmt.Sprintf("%d key(s) given by fpgactl", len(in.signers)))

	// Agent first, as it may hold the passphrase-protected keys of files.
	var agentKeys []ssh.Signer
	if in.useAgent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			a.skipped = append(a.skipped, "ssh-agent (SSH_AUTH_SOCK is not set)")
		} else {
			conn, err := (&net.Dialer{}).DialContext(ctx, "unix", sock)
			if err != nil {
				a.skipped = append(a.skipped, fmt.Sprintf("ssh-agent at %s (%v)", sock, err))
			} else {
				a.close = func() { conn.Close() }
				agentKeys, err = agent.NewClient(conn).Signers()
				if err != nil {
					a.skipped = append(a.skipped, fmt.Sprintf("ssh-agent at %s (%v)", sock, err))
				}
			}
		}
	}

	var filePublic [][]byte // public keys of the identity files, for IdentitiesOnly
	var fileSigners []ssh.Signer
	var fileNames []string
	for _, f := range in.identityFiles {
		s, pub, err := loadIdentityFile(f)
		if pub != nil {
			filePublic = append(filePublic, pub.Marshal())
		}
		var pme *ssh.PassphraseMissingError
		switch {
		case err == nil:
			fileSigners = append(fileSigners, s)
			fileNames = append(fileNames, f)
		case errors.As(err, &pme):
			if pub != nil && hasKey(agentKeys, pub) {
				continue // the agent offers it
			}
			hint := fmt.Sprintf("add it to ssh-agent: eval \"$(ssh-agent)\"; ssh-add %s", f)
			if !in.useAgent {
				hint = fmt.Sprintf("add it to ssh-agent (eval \"$(ssh-agent)\"; ssh-add %s) and let fpgactl use the agent", f)
			}
			if in.explicitFiles && len(agentKeys) == 0 {
				a.close()
				return nil, fmt.Errorf("ssh: key %s is protected by a passphrase, and fpgactl does not ask for passphrases: %s", f, hint)
			}
			a.skipped = append(a.skipped, fmt.Sprintf("%s (protected by a passphrase; %s)", f, hint))
		case errors.Is(err, fs.ErrNotExist) && !in.explicitFiles:
			// A default key this user does not have.
		case in.explicitFiles && !errors.Is(err, fs.ErrNotExist):
			a.close()
			return nil, fmt.Errorf("ssh: cannot use key %s: %w", f, err)
		default:
			a.skipped = append(a.skipped, fmt.Sprintf("%s (%v)", f, err))
		}
	}

	if in.identitiesOnly && len(agentKeys) > 0 {
		// IdentitiesOnly: an agent key is used only if a file names it.
		var kept []ssh.Signer
		for _, s := range agentKeys {
			for _, p := range filePublic {
				if bytes.Equal(s.PublicKey().Marshal(), p) {
					kept = append(kept, s)
					break
				}
			}
		}
		if n := len(agentKeys) - len(kept); n > 0 {
			a.skipped = append(a.skipped, fmt.Sprintf("%d ssh-agent key(s) no IdentityFile names (IdentitiesOnly yes)", n))
		}
		agentKeys = kept
	}
	a.add(agentKeys, fmt.Sprintf("%d key(s) from ssh-agent", len(agentKeys)))
	for i, s := range fileSigners {
		a.add([]ssh.Signer{s}, fileNames[i])
	}
	if len(a.signers) == 0 {
		a.close()
		return nil, fmt.Errorf("ssh: no key to log in with%s: name a key file (IdentityFile in ~/.ssh/config), or load one into ssh-agent with ssh-add", a.skippedNote())
	}
	return a, nil
}

// add appends the signers not offered yet.
func (a *auth) add(signers []ssh.Signer, from string) {
	n := 0
	for _, s := range signers {
		if hasKey(a.signers, s.PublicKey()) {
			continue
		}
		a.signers = append(a.signers, s)
		n++
	}
	if n > 0 {
		a.offered = append(a.offered, from)
	}
}

func (a *auth) skippedNote() string {
	if len(a.skipped) == 0 {
		return ""
	}
	return " (not used: " + strings.Join(a.skipped, "; ") + ")"
}

// refused explains an authentication failure.
func (a *auth) refused(userHost string) error {
	return fmt.Errorf("ssh: %s refused every key offered (%s)%s; check the user name and that one of these keys is in the user's ~/.ssh/authorized_keys on the host",
		userHost, strings.Join(a.offered, ", "), a.skippedNote())
}

func hasKey(signers []ssh.Signer, k ssh.PublicKey) bool {
	for _, s := range signers {
		if bytes.Equal(s.PublicKey().Marshal(), k.Marshal()) {
			return true
		}
	}
	return false
}

// loadIdentityFile returns the signer of a private key file and its public
// key. For a passphrase-protected key it returns the public key when the
// file format or the .pub file next to it gives it, and the
// *ssh.PassphraseMissingError.
func loadIdentityFile(path string) (ssh.Signer, ssh.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	s, err := ssh.ParsePrivateKey(data)
	if err == nil {
		return s, s.PublicKey(), nil
	}
	var pme *ssh.PassphraseMissingError
	if errors.As(err, &pme) {
		pub := pme.PublicKey
		if pub == nil {
			if b, rerr := os.ReadFile(path + ".pub"); rerr == nil {
				pub, _, _, _, _ = ssh.ParseAuthorizedKey(b)
			}
		}
		return nil, pub, err
	}
	return nil, nil, fmt.Errorf("not a private key that fpgactl can use (%v)", err)
}

// defaultKeys returns the default identity files, expanded.
func defaultKeys() []string {
	var files []string
	for _, f := range defaultIdentityFiles {
		if e, err := expandTilde(f); err == nil {
			files = append(files, filepath.Clean(e))
		}
	}
	return files
}
