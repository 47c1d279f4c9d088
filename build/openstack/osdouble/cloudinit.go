package osdouble

import (
	"bytes"

	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"
)

// cloudConfigHostKey is the ed25519 host key a #cloud-config user-data sets
// with cloud-init's ssh_keys (ed25519_private), or nil. Like cloud-init, a
// server whose user-data does not parse boots with a generated key.
func cloudConfigHostKey(userData []byte, logf func(string, ...any)) ssh.Signer {
	if !bytes.HasPrefix(userData, []byte("#cloud-config")) {
		return nil
	}
	var cfg struct {
		SSHKeys map[string]string `yaml:"ssh_keys"`
	}
	if err := yaml.Unmarshal(userData, &cfg); err != nil {
		logf("osdouble: user-data is not valid cloud-config (%v); generating a host key", err)
		return nil
	}
	priv := cfg.SSHKeys["ed25519_private"]
	if priv == "" {
		return nil
	}
	signer, err := ssh.ParsePrivateKey([]byte(priv))
	if err != nil {
		logf("osdouble: ssh_keys.ed25519_private: %v; generating a host key", err)
		return nil
	}
	return signer
}
