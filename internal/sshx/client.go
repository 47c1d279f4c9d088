package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultConnectTimeout bounds the TCP connect and the SSH handshake when
// neither Options nor the config set ConnectTimeout.
const DefaultConnectTimeout = 30 * time.Second

// Options says where and how to connect. Explicit fields take precedence
// over the config file, which takes precedence over the defaults.
type Options struct {
	// Address is "host", "host:port", "[ipv6]:port" or an alias from Config,
	// optionally prefixed with "user@".
	Address string
	// User is the remote user; default: user@ in Address, then the
	// config's User, then the local user.
	User string
	// Config is the OpenSSH client config to resolve Address with; nil for
	// none. Use LoadUserConfig for ~/.ssh/config.
	Config *Config

	// KnownHostsFiles are the known_hosts files the host key is checked
	// against; default: the config's UserKnownHostsFile, then
	// ~/.ssh/known_hosts and ~/.ssh/known_hosts2. Missing files are skipped.
	KnownHostsFiles []string
	// HostKey, when set, is the only key accepted and known_hosts is not
	// read: for a host whose key fpgactl generated itself, such as an
	// OpenStack instance given its host key through cloud-init.
	HostKey ssh.PublicKey

	// Signers are in-memory keys, offered first.
	Signers []ssh.Signer
	// UseAgent offers the keys of the ssh-agent at $SSH_AUTH_SOCK.
	UseAgent bool
	// IdentityFiles are private key files (unencrypted, or loaded in the
	// agent); default: the config's IdentityFile, then ~/.ssh/id_ed25519,
	// id_ecdsa and id_rsa if they exist — unless Signers are given, which
	// then are the only keys besides the agent's.
	IdentityFiles []string

	// ConnectTimeout bounds the TCP connect and the SSH handshake; default:
	// the config's ConnectTimeout, then DefaultConnectTimeout. The context
	// can only shorten it.
	ConnectTimeout time.Duration
	// KeepAlive is the interval of keepalive@openssh.com requests; after
	// KeepAliveMax unanswered ones, the connection is closed and running
	// commands fail with ErrConnectionLost. Default: the config's
	// ServerAliveInterval, else none; negative: none.
	KeepAlive time.Duration
	// KeepAliveMax defaults to the config's ServerAliveCountMax, else 3.
	KeepAliveMax int
}

// Client is a connection to one host. It is safe for concurrent use; each
// Run uses its own session (OpenSSH allows MaxSessions, 10 by default, at a
// time on one connection).
type Client struct {
	ssh     *ssh.Client
	name    string // user@host:port, for messages
	hostKey ssh.PublicKey

	done   chan struct{} // closed when the connection is gone
	mu     sync.Mutex
	reason string // why the connection is gone
}

// Dial connects to o.Address, checks its host key and logs in. It returns
// *UnknownHostError or *HostKeyChangedError when the host key check fails.
func Dial(ctx context.Context, o Options) (*Client, error) {
	alias, addrUser, addrPort, err := splitAddress(o.Address)
	if err != nil {
		return nil, err
	}
	user := o.User
	if user == "" {
		user = addrUser
	}
	h := o.Config.resolve(alias, user, addrPort)
	hostport := net.JoinHostPort(h.HostName, strconv.Itoa(h.Port))
	name := h.User + "@" + hostport
	if h.Proxy != "" {
		return nil, fmt.Errorf("ssh: %s: the config sets %s, which fpgactl does not support; give fpgactl an address it can reach directly, or set \"ProxyJump none\" for it", alias, h.Proxy)
	}

	knownFiles := h.KnownHostsFiles
	if len(o.KnownHostsFiles) > 0 {
		knownFiles = nil
		for _, f := range o.KnownHostsFiles {
			knownFiles = append(knownFiles, expandPath(f))
		}
	}
	lookupHost, lookupPort := h.HostName, h.Port
	if h.HostKeyAlias != "" {
		// As OpenSSH: the alias replaces host and port.
		lookupHost, lookupPort = h.HostKeyAlias, DefaultPort
	}
	checker, err := newHostKeyChecker(lookupHost, lookupPort, h.HostName, h.Port, knownFiles, o.HostKey)
	if err != nil {
		return nil, err
	}

	in := authInput{
		signers:        o.Signers,
		useAgent:       o.UseAgent,
		identityFiles:  o.IdentityFiles,
		explicitFiles:  true,
		identitiesOnly: h.IdentitiesOnly,
	}
	switch {
	case len(in.identityFiles) > 0:
	case len(h.IdentityFiles) > 0:
		in.identityFiles = h.IdentityFiles
	case len(o.Signers) == 0:
		in.identityFiles, in.explicitFiles = defaultKeys(), false
	}
	au, err := loadAuth(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("%w (connecting to %s)", err, name)
	}
	defer au.close()

	timeout := firstPositive(o.ConnectTimeout, h.ConnectTimeout, DefaultConnectTimeout)
	cfg := &ssh.ClientConfig{
		User:              h.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(au.signers...)},
		HostKeyCallback:   checker.check,
		HostKeyAlgorithms: checker.algorithms(),
		ClientVersion:     "SSH-2.0-fpgactl",
		Timeout:           timeout,
	}

	conn, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", hostport)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ssh: connecting to %s: %w", name, ctx.Err())
		}
		return nil, fmt.Errorf("ssh: connecting to %s: %w", name, err)
	}
	// The handshake has no context: bound it with a deadline, and close the
	// connection if ctx ends first.
	deadline := time.Now().Add(timeout)
	d, ctxFirst := ctx.Deadline()
	if ctxFirst = ctxFirst && d.Before(deadline); ctxFirst {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, checker.name, cfg)
	cancelled := !stop()
	if err == nil && cancelled {
		sc.Close()
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		if ctxFirst && isTimeout(err) {
			// The connection's deadline was the context's; its timer may
			// not have fired yet.
			err = context.DeadlineExceeded
		}
		return nil, handshakeError(ctx, err, name, timeout, checker, au)
	}
	_ = conn.SetDeadline(time.Time{})

	c := &Client{
		ssh:     ssh.NewClient(sc, chans, reqs),
		name:    name,
		hostKey: checker.key,
		done:    make(chan struct{}),
	}
	go c.watch()
	interval := h.ServerAliveInterval
	if o.KeepAlive != 0 {
		interval = o.KeepAlive
	}
	if interval > 0 {
		go c.keepAlive(interval, firstPositive(o.KeepAliveMax, h.ServerAliveCountMax, 3))
	}
	return c, nil
}

func handshakeError(ctx context.Context, err error, name string, timeout time.Duration, checker *hostKeyChecker, au *auth) error {
	var algo *ssh.AlgorithmNegotiationError
	switch {
	case checker.err != nil:
		return checker.err
	case ctx.Err() != nil:
		return fmt.Errorf("ssh: connecting to %s: %w", name, ctx.Err())
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("ssh: connecting to %s: %w", name, err)
	case isTimeout(err):
		return fmt.Errorf("ssh: %s accepted the connection but the SSH handshake did not finish in %v; is it an SSH server, and is it overloaded?", name, timeout)
	case errors.As(err, &algo) && algo.What == "host key" && len(checker.known) > 0:
		return fmt.Errorf("ssh: the host key of %s may have CHANGED: the host offers none of the key types recorded for it (%s; it offers %s). Find out why before going on; if it was reinstalled, update its entry in %s",
			checker.display, checker.knownTypes(), strings.Join(algo.RequestedAlgorithms, ", "), strings.Join(checker.files, ", "))
	case strings.Contains(err.Error(), "unable to authenticate"):
		// x/crypto has no error type for this.
		return au.refused(name)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("ssh: %s closed the connection during the handshake (sshd refusing this client, MaxStartups reached, or a host still booting)", name)
	}
	return fmt.Errorf("ssh: handshake with %s: %w", name, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// splitAddress splits [user@]host[:port].
func splitAddress(addr string) (host, user string, port int, err error) {
	if addr == "" {
		return "", "", 0, errors.New("ssh: no address given")
	}
	if i := strings.LastIndex(addr, "@"); i >= 0 {
		user, addr = addr[:i], addr[i+1:]
	}
	host = addr
	if h, p, serr := net.SplitHostPort(addr); serr == nil {
		host = h
		if port, err = parsePort(p); err != nil {
			return "", "", 0, fmt.Errorf("ssh: address %q: %v", addr, err)
		}
	} else if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		host = addr[1 : len(addr)-1]
	}
	if host == "" {
		return "", "", 0, fmt.Errorf("ssh: address %q has no host", addr)
	}
	return host, user, port, nil
}

func firstPositive[T int | time.Duration](vs ...T) T {
	for _, v := range vs {
		if v > 0 {
			return v
		}
	}
	return 0
}

// watch records why the connection ended and closes done.
func (c *Client) watch() {
	err := c.ssh.Wait()
	reason := "the server closed the connection"
	if err != nil && !errors.Is(err, io.EOF) {
		reason = err.Error()
	}
	c.setReason(reason)
	close(c.done)
}

func (c *Client) setReason(r string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == "" {
		c.reason = r
	}
}

// keepAlive sends keepalive@openssh.com requests and closes the connection
// after max of them went unanswered: a dropped connection (a host gone, a
// NAT mapping expired) otherwise only shows when TCP gives up, minutes or
// hours later. Any reply counts: OpenSSH answers "failure" to requests it
// does not know.
func (c *Client) keepAlive(interval time.Duration, max int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var pending chan error // the request awaiting its reply; nil: none
	missed := 0
	for {
		select {
		case <-c.done:
			return
		case err := <-pending:
			pending = nil
			if err != nil {
				return // connection closed; watch says why
			}
			missed = 0
		case <-t.C:
			if pending != nil {
				missed++
				if missed >= max {
					c.setReason(fmt.Sprintf("no answer to keepalives for %v", time.Duration(missed)*interval))
					c.ssh.Close()
					return
				}
				continue
			}
			pending = make(chan error, 1)
			go func(reply chan<- error) {
				_, _, err := c.ssh.SendRequest("keepalive@openssh.com", true, nil)
				reply <- err
			}(pending)
		}
	}
}

// Close closes the connection; commands still running get ErrConnectionLost.
func (c *Client) Close() error {
	c.setReason("the client was closed")
	err := c.ssh.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Done is closed when the connection is gone: closed, dropped, or given up
// by the keepalives; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns nil while connected, then an error matching ErrConnectionLost
// that says why the connection ended.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.lostError("", nil)
	default:
		return nil
	}
}

// String returns user@host:port, for logs.
func (c *Client) String() string { return c.name }

// RemoteAddr returns the server's network address.
func (c *Client) RemoteAddr() net.Addr { return c.ssh.RemoteAddr() }

// HostKey returns the key the server proved it holds.
func (c *Client) HostKey() ssh.PublicKey { return c.hostKey }

// HostKeyFingerprint returns the host key's SHA256 fingerprint as OpenSSH
// prints it ("SHA256:..."), for logs.
func (c *Client) HostKeyFingerprint() string { return ssh.FingerprintSHA256(c.hostKey) }

// SSH returns the underlying x/crypto client, for what this package does not
// wrap (port forwarding, for one).
func (c *Client) SSH() *ssh.Client { return c.ssh }
