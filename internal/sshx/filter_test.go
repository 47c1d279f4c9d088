package sshx

import (
	"bytes"
	"context"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/internal/sshx/sshdtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// The marker line is taken out wherever the writes split it, and what the
// shell printed before it passes through.
func TestPGIDFilter(t *testing.T) {
	stream := "bash: warning: setlocale: LC_ALL: cannot change locale\n" + pgidMarker + "4242\n" + "real stderr\n" + pgidMarker + "1\n"
	for size := 1; size <= len(stream); size++ {
		var out bytes.Buffer
		f := &pgidFilter{w: &out, looking: true}
		for i := 0; i < len(stream); i += size {
			f.Write([]byte(stream[i:min(i+size, len(stream))]))
		}
		f.flush()
		want := "bash: warning: setlocale: LC_ALL: cannot change locale\nreal stderr\n" + pgidMarker + "1\n"
		if out.String() != want || f.id() != 4242 {
			t.Fatalf("writes of %d bytes: output %q, pgid %d", size, out.String(), f.id())
		}
	}
	// Without a marker, everything passes, also an unfinished last line.
	var out bytes.Buffer
	f := &pgidFilter{w: &out, looking: true}
	f.Write([]byte("no marker\npartial"))
	f.flush()
	if out.String() != "no marker\npartial" || f.id() != 0 {
		t.Errorf("output %q, pgid %d", out.String(), f.id())
	}
}

// IdentitiesOnly: of the agent's keys, only those an identity file names
// are offered; an encrypted file whose key the agent holds is no error.
func TestAuthIdentitiesOnly(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	named, namedFile := sshdtest.NewKeyFile(t, dir, "id_named")
	priv := loadPrivateKey(t, namedFile)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	encrypted := filepath.Join(dir, "id_named_encrypted")
	writeFile(t, encrypted, string(pem.EncodeToMemory(block)), 0o600)
	_, otherFile := sshdtest.NewKeyFile(t, dir, "id_other")

	keyring := agent.NewKeyring()
	for _, f := range []string{namedFile, otherFile} {
		if err := keyring.Add(agent.AddedKey{PrivateKey: loadPrivateKey(t, f)}); err != nil {
			t.Fatal(err)
		}
	}
	serveAgent(t, keyring)

	a, err := loadAuth(context.Background(), authInput{useAgent: true, identityFiles: []string{encrypted}, explicitFiles: true, identitiesOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if len(a.signers) != 1 || !bytes.Equal(a.signers[0].PublicKey().Marshal(), named.PublicKey().Marshal()) {
		t.Errorf("offered %d keys, want only the named one", len(a.signers))
	}
	if !strings.Contains(a.skippedNote(), "1 ssh-agent key(s) no IdentityFile names") {
		t.Errorf("skipped note %q", a.skippedNote())
	}

	a2, err := loadAuth(context.Background(), authInput{useAgent: true, identityFiles: []string{encrypted}, explicitFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a2.close()
	if len(a2.signers) != 2 {
		t.Errorf("without IdentitiesOnly, offered %d keys, want the agent's 2", len(a2.signers))
	}
}
