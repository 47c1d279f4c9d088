package sshx

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// UnknownHostError is returned by Dial when no known_hosts file has a key for
// the host. Nothing was sent to the host.
type UnknownHostError struct {
	Host  string        // the name looked up, as known_hosts writes it: "host" or "[host]:port"
	Key   ssh.PublicKey // the key the server offered
	Files []string      // the known_hosts files searched
	// dialHost and port are what ssh-keyscan must be given.
	dialHost string
	port     int
}

func (e *UnknownHostError) Error() string {
	var files []string
	for _, f := range e.Files {
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			f += " (missing)"
		}
		files = append(files, f)
	}
	searched := "no known_hosts file was given"
	if len(files) > 0 {
		searched = "none of the known_hosts files searched has it (" + strings.Join(files, ", ") + ")"
	}
	target := "~/.ssh/known_hosts"
	if len(e.Files) > 0 {
		target = e.Files[0]
	}
	scan := "ssh-keyscan "
	if e.port != 0 && e.port != DefaultPort {
		scan += "-p " + strconv.Itoa(e.port) + " "
	}
	scan += e.dialHost
	return fmt.Sprintf("ssh: host %s is not a known host: it offered %s key %s, and %s; "+
		"check that fingerprint with the host's administrator (on the host: ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), "+
		"then add the host with: %s >> %s",
		e.Host, e.Key.Type(), ssh.FingerprintSHA256(e.Key), searched, keyFileType(e.Key), scan, target)
}

// HostKeyChangedError is returned by Dial when the host offered a key other
// than the one recorded for it: a reinstalled host, or someone intercepting
// the connection. Nothing was sent to the host.
type HostKeyChangedError struct {
	Host string        // the name looked up, as known_hosts writes it
	Key  ssh.PublicKey // the key the server offered
	// Known are the keys recorded for the host, with file and line; for a
	// pinned key (Options.HostKey), Filename is empty.
	Known []knownhosts.KnownKey
}

func (e *HostKeyChangedError) Error() string {
	var known []string
	var files []string
	for _, k := range e.Known {
		where := "the pinned key"
		if k.Filename != "" {
			where = fmt.Sprintf("%s:%d", k.Filename, k.Line)
			if !slices.Contains(files, k.Filename) {
				files = append(files, k.Filename)
			}
		}
		known = append(known, fmt.Sprintf("%s %s (%s)", k.Key.Type(), ssh.FingerprintSHA256(k.Key), where))
	}
	msg := fmt.Sprintf("ssh: the host key of %s has CHANGED: it offered %s key %s, but it is known with %s. "+
		"Someone may be intercepting the connection, or the host was reinstalled; find out which before going on",
		e.Host, e.Key.Type(), ssh.FingerprintSHA256(e.Key), strings.Join(known, ", "))
	if len(files) == 0 {
		return msg + "; fpgactl pinned the key when it created the host, so a new key means a different machine answers at that address"
	}
	var fix []string
	for _, f := range files {
		fix = append(fix, fmt.Sprintf("ssh-keygen -f %s -R %s", f, shellWordForHint(e.Host)))
	}
	return msg + ". If the change is expected, remove the old key with: " + strings.Join(fix, "; ") + ", then add the new one"
}

// shellWordForHint quotes [host]:port for a command line the user copies.
func shellWordForHint(s string) string {
	if strings.ContainsAny(s, "[]") {
		return "'" + s + "'"
	}
	return s
}

// keyFileType is the name ssh-keygen gives a host key file of key's type.
func keyFileType(k ssh.PublicKey) string {
	switch t := k.Type(); {
	case t == ssh.KeyAlgoED25519:
		return "ed25519"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ecdsa"
	case t == ssh.KeyAlgoRSA:
		return "rsa"
	default:
		return "*"
	}
}

// hostKeyChecker checks the server's key for one Dial and remembers the
// outcome, so that Dial returns the typed error rather than x/crypto's
// "handshake failed" wrapping of it.
type hostKeyChecker struct {
	name     string // host:port passed to the knownhosts callback (HostKeyAlias when set)
	display  string // name in known_hosts form, for messages
	dialHost string
	port     int
	files    []string // every file searched, including missing ones
	pinned   ssh.PublicKey
	db       ssh.HostKeyCallback
	known    []knownhosts.KnownKey // the keys recorded for name

	err error         // outcome of the last check
	key ssh.PublicKey // the key the server offered
}

func newHostKeyChecker(lookupHost string, lookupPort int, dialHost string, port int, files []string, pinned ssh.PublicKey) (*hostKeyChecker, error) {
	c := &hostKeyChecker{
		name:     net.JoinHostPort(lookupHost, strconv.Itoa(lookupPort)),
		dialHost: dialHost,
		port:     port,
		files:    files,
		pinned:   pinned,
	}
	c.display = knownhosts.Normalize(c.name)
	if pinned != nil {
		c.known = []knownhosts.KnownKey{{Key: pinned}}
		return c, nil
	}
	// knownhosts.New fails on a missing file; OpenSSH skips those.
	var existing []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("ssh: reading known hosts: %w", err)
		}
	}
	db, err := knownhosts.New(existing...)
	if err != nil {
		return nil, fmt.Errorf("ssh: reading known hosts: %w; fix or remove that line", err)
	}
	c.db = db
	c.known = knownKeys(db, c.name)
	return c, nil
}

// knownKeys returns the keys known_hosts records for host:port. knownhosts
// has no lookup function, but its KeyError lists every key recorded for the
// host, so ask it to check a key no file can hold (as skeema/knownhosts and
// other x/crypto users do).
func knownKeys(db ssh.HostKeyCallback, hostport string) []knownhosts.KnownKey {
	var ke *knownhosts.KeyError
	if err := db(hostport, probeAddr, probeKey()); errors.As(err, &ke) {
		return ke.Want
	}
	return nil
}

var probeAddr = &net.TCPAddr{IP: net.IPv4zero}

var probeKey = sync.OnceValue(func() ssh.PublicKey {
	// A fixed seed: the key only needs to be valid and never in a file.
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "fpgactl sshx known_hosts probe")
	k, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(seed).Public())
	if err != nil {
		panic(err)
	}
	return k
})

type keyTypeAlgorithms struct {
	keyType string
	algos   []string
}

// hostKeyAlgorithms lists, in order of preference, the signature algorithms
// of each key type; ssh-rsa with SHA-1 is left out as OpenSSH does by
// default.
var hostKeyAlgorithms = []keyTypeAlgorithms{
	{ssh.KeyAlgoED25519, []string{ssh.KeyAlgoED25519}},
	{ssh.KeyAlgoECDSA256, []string{ssh.KeyAlgoECDSA256}},
	{ssh.KeyAlgoECDSA384, []string{ssh.KeyAlgoECDSA384}},
	{ssh.KeyAlgoECDSA521, []string{ssh.KeyAlgoECDSA521}},
	{ssh.KeyAlgoRSA, []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}},
}

// algorithms restricts the host key algorithms to the types of the keys
// recorded for the host. Otherwise a server with several host keys may
// present one of a type we have no record of, and the check would fail
// although the host is known — OpenSSH orders its proposal the same way.
// Nil (x/crypto's defaults) for an unknown host, which fails anyway and then
// shows the fingerprint of whatever key the server prefers.
func (c *hostKeyChecker) algorithms() []string {
	var algos []string
	for _, a := range hostKeyAlgorithms {
		for _, k := range c.known {
			if k.Key.Type() == a.keyType {
				algos = append(algos, a.algos...)
				break
			}
		}
	}
	// Types x/crypto may support that are not in the table (ML-DSA...).
	for _, k := range c.known {
		t := k.Key.Type()
		inTable := slices.ContainsFunc(hostKeyAlgorithms, func(a keyTypeAlgorithms) bool { return a.keyType == t })
		if !inTable && !slices.Contains(algos, t) {
			algos = append(algos, t)
		}
	}
	return algos
}

// knownTypes lists the key types recorded for the host, for messages.
func (c *hostKeyChecker) knownTypes() string {
	var types []string
	for _, k := range c.known {
		if !slices.Contains(types, k.Key.Type()) {
			types = append(types, k.Key.Type())
		}
	}
	return strings.Join(types, ", ")
}

// check is the ssh.HostKeyCallback.
func (c *hostKeyChecker) check(_ string, remote net.Addr, key ssh.PublicKey) error {
	c.key = key
	c.err = c.verify(remote, key)
	return c.err
}

func (c *hostKeyChecker) verify(remote net.Addr, key ssh.PublicKey) error {
	if c.pinned != nil {
		if bytes.Equal(key.Marshal(), c.pinned.Marshal()) {
			return nil
		}
		return &HostKeyChangedError{Host: c.display, Key: key, Known: c.known}
	}
	err := c.db(c.name, remote, key)
	var (
		ke  *knownhosts.KeyError
		rev *knownhosts.RevokedError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ke) && len(ke.Want) == 0:
		return &UnknownHostError{Host: c.display, Key: key, Files: c.files, dialHost: c.dialHost, port: c.port}
	case errors.As(err, &ke):
		return &HostKeyChangedError{Host: c.display, Key: key, Known: ke.Want}
	case errors.As(err, &rev):
		return fmt.Errorf("ssh: the host key of %s (%s %s) is marked @revoked in %s:%d; do not connect to that machine",
			c.display, key.Type(), ssh.FingerprintSHA256(key), rev.Revoked.Filename, rev.Revoked.Line)
	default:
		return fmt.Errorf("ssh: checking the host key of %s: %w", c.display, err)
	}
}
