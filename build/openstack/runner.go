// Package openstack is fpgactl's OpenStack build runner: one server per
// seed (or per command job: run.CommandRunner), booted on demand through gophercloud v2, reached over SSH once
// ACTIVE, deleted on every exit path; and the reaper that deletes servers
// of builds that are no longer running.
//
// Servers are named fpgactl-<build>-<target>-s<seed> and carry metadata
// (fpgactl_build, fpgactl_target, fpgactl_seed, fpgactl_owner,
// fpgactl_commit) and tags (fpgactl, fpgactl-build-<build>) that name the
// build, so that a reaper, or a person with the openstack CLI, can tell what
// each server is for. A command job's server is named
// fpgactl-<build>-<job> and has fpgactl_job instead of target and seed.
//
// Host keys: fpgactl generates each server's SSH host key and hands it to
// cloud-init in the user-data (cloud-config ssh_keys), then accepts only that
// key: the first connection is verified, with no trust-on-first-use.
package openstack

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/build/flow"
	"github.com/fpgactl/fpgactl/build/run"
	"github.com/fpgactl/fpgactl/internal/sshx"
	"github.com/gophercloud/gophercloud/v2"
	gcopenstack "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"golang.org/x/crypto/ssh"
)

// Metadata keys and tags on every server the runner creates.
const (
	MetaBuild  = "fpgactl_build"
	MetaTarget = "fpgactl_target"
	MetaSeed   = "fpgactl_seed"
	MetaOwner  = "fpgactl_owner"
	MetaCommit = "fpgactl_commit"
	// MetaJob names the command job (run.CommandJob.Name) a server runs;
	// such servers have no target or seed.
	MetaJob = "fpgactl_job"
	// MetaSSHPort, when an image sets it, is the port its sshd listens on
	// (22 otherwise). The API double uses it: its servers share 127.0.0.1.
	MetaSSHPort = "ssh_port"
	Tag         = "fpgactl"
	tagBuild    = "fpgactl-build-"
	namePrefix  = "fpgactl-"
)

// computeMicroversion: 2.52 is the first with tags at create time.
const computeMicroversion = "2.52"

// Options of the runner (runners.openstack in fpgactl.yaml).
type Options struct {
	// Cloud is the clouds.yaml entry; empty means $OS_CLOUD.
	Cloud string
	// CloudsYAML is a clouds.yaml path; empty searches where the openstack
	// CLI does (./clouds.yaml, ~/.config/openstack, /etc/openstack).
	CloudsYAML string
	Flavor     string // name or ID
	Image      string // name or ID
	// Network is a network ID, or "auto" to let Nova allocate one.
	Network        string
	SecurityGroups []string
	// UserData is extra cloud-config (YAML without the #cloud-config
	// line) appended to fpgactl's own, e.g. packages to install.
	UserData string
	// SSHUser is the image's login user. Default "debian".
	SSHUser string
	// Tools are the open-flow tools' names on the image.
	Tools flow.Tools
	// RemoteDir is where seeds run on a server. Default "fpgactl".
	RemoteDir string
	// BootTimeout bounds BUILD to ACTIVE plus sshd answering. Default 10m.
	BootTimeout time.Duration
	// Poll is how often server status is read. Default 3s.
	Poll time.Duration
	// RetryFor bounds how long a create waits out quota and rate limits
	// before the seed fails. Default 30m.
	RetryFor time.Duration
	// HTTPClient, when set, is used for the API (tests).
	HTTPClient *http.Client
}

func (o *Options) defaults() {
	if o.SSHUser == "" {
		o.SSHUser = "debian"
	}
	if o.RemoteDir == "" {
		o.RemoteDir = "fpgactl"
	}
	if o.BootTimeout <= 0 {
		o.BootTimeout = 10 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 3 * time.Second
	}
	if o.RetryFor <= 0 {
		o.RetryFor = 30 * time.Minute
	}
}

// Runner is the OpenStack backend of `fpgactl build`.
type Runner struct {
	o        Options
	compute  *gophercloud.ServiceClient
	flavorID string
	imageID  string

	// The build's key pair: generated in memory, registered on first use,
	// deleted by Close.
	keyOnce sync.Once
	keyName string
	keyErr  error
	signer  ssh.Signer

	mu   sync.Mutex
	live map[string]string // servers created and not yet deleted: ID → name
}

// New authenticates with the cloud and looks up the flavor and image.
func New(ctx context.Context, o Options) (*Runner, error) {
	o.defaults()
	p, eo, err := Connect(ctx, o)
	if err != nil {
		return nil, err
	}
	compute, err := gcopenstack.NewComputeV2(p, eo)
	if err != nil {
		return nil, fmt.Errorf("openstack: the cloud has no compute (Nova) endpoint: %w", err)
	}
	compute.Microversion = computeMicroversion
	r := &Runner{o: o, compute: compute, live: map[string]string{}}
	if o.Flavor == "" || o.Image == "" || o.Network == "" {
		return nil, errors.New("openstack: runners.openstack needs flavor, image and network in fpgactl.yaml")
	}
	if r.flavorID, err = flavorID(ctx, compute, o.Flavor); err != nil {
		return nil, err
	}
	imageClient, err := gcopenstack.NewImageV2(p, eo)
	if err != nil {
		return nil, fmt.Errorf("openstack: the cloud has no image (Glance) endpoint: %w", err)
	}
	if r.imageID, err = imageID(ctx, imageClient, o.Image); err != nil {
		return nil, err
	}
	return r, nil
}

// Connect authenticates from clouds.yaml and returns the provider and the
// endpoint options of the chosen cloud.
func Connect(ctx context.Context, o Options) (*gophercloud.ProviderClient, gophercloud.EndpointOpts, error) {
	var opts []clouds.ParseOption
	if o.Cloud != "" {
		opts = append(opts, clouds.WithCloudName(o.Cloud))
	}
	if o.CloudsYAML != "" {
		opts = append(opts, clouds.WithLocations(o.CloudsYAML))
	}
	ao, eo, tlsConfig, err := clouds.Parse(opts...)
	if err != nil {
		return nil, eo, fmt.Errorf("openstack: reading clouds.yaml (cloud %q; set OS_CLOUD or runners.openstack.cloud): %w", o.Cloud, err)
	}
	ao.AllowReauth = true
	p, err := gcopenstack.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return nil, eo, fmt.Errorf("openstack: auth_url %q: %w", ao.IdentityEndpoint, err)
	}
	if o.HTTPClient != nil {
		p.HTTPClient = *o.HTTPClient
	} else if tlsConfig != nil {
		p.HTTPClient = http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment}}
	}
	if err := retry(ctx, "authenticating", 2*time.Minute, nil, func() error { return gcopenstack.Authenticate(ctx, p, ao) }); err != nil {
		return nil, eo, fmt.Errorf("openstack: authenticating at %s: %w", ao.IdentityEndpoint, err)
	}
	return p, eo, nil
}

// ComputeClient is a Nova client at the runner's microversion.
func ComputeClient(ctx context.Context, o Options) (*gophercloud.ServiceClient, error) {
	p, eo, err := Connect(ctx, o)
	if err != nil {
		return nil, err
	}
	c, err := gcopenstack.NewComputeV2(p, eo)
	if err != nil {
		return nil, fmt.Errorf("openstack: the cloud has no compute (Nova) endpoint: %w", err)
	}
	c.Microversion = computeMicroversion
	return c, nil
}

func flavorID(ctx context.Context, c *gophercloud.ServiceClient, want string) (string, error) {
	pages, err := flavors.ListDetail(c, nil).AllPages(ctx)
	if err != nil {
		return "", fmt.Errorf("openstack: listing flavors: %w", err)
	}
	all, err := flavors.ExtractFlavors(pages)
	if err != nil {
		return "", err
	}
	var names []string
	for _, f := range all {
		if f.ID == want || f.Name == want {
			return f.ID, nil
		}
		names = append(names, f.Name)
	}
	return "", fmt.Errorf("openstack: runners.openstack.flavor %q: no such flavor (have: %s)", want, strings.Join(names, ", "))
}

func imageID(ctx context.Context, c *gophercloud.ServiceClient, want string) (string, error) {
	pages, err := images.List(c, images.ListOpts{}).AllPages(ctx)
	if err != nil {
		return "", fmt.Errorf("openstack: listing images: %w", err)
	}
	all, err := images.ExtractImages(pages)
	if err != nil {
		return "", err
	}
	var names []string
	for _, im := range all {
		if im.ID == want || im.Name == want {
			return im.ID, nil
		}
		names = append(names, im.Name)
	}
	return "", fmt.Errorf("openstack: runners.openstack.image %q: no such image (have: %s)", want, strings.Join(names, ", "))
}

// Kind is "openstack".
func (r *Runner) Kind() string { return "openstack" }

func (r *Runner) keyPair(ctx context.Context, buildID string) (string, error) {
	r.keyOnce.Do(func() {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			r.keyErr = err
			return
		}
		if r.signer, err = ssh.NewSignerFromKey(priv); err != nil {
			r.keyErr = err
			return
		}
		sshPub, err := ssh.NewPublicKey(pub)
		if err != nil {
			r.keyErr = err
			return
		}
		name := namePrefix + buildID
		r.keyErr = retry(ctx, "creating key pair "+name, r.o.RetryFor, nil, func() error {
			_, err := keypairs.Create(ctx, r.compute, keypairs.CreateOpts{Name: name, PublicKey: string(ssh.MarshalAuthorizedKey(sshPub))}).Extract()
			if gophercloud.ResponseCodeIs(err, http.StatusConflict) {
				// A retried create that had succeeded: ours, same name.
				return nil
			}
			return err
		})
		r.keyName = name
	})
	return r.keyName, r.keyErr
}

// PlaceAndRoute boots a server for the seed, runs it there over SSH and
// deletes the server, whatever happens.
func (r *Runner) PlaceAndRoute(ctx context.Context, j run.SeedJob) (res flow.PnRResult, err error) {
	res = flow.ResultIn(j.Dir)
	spec := serverSpec{buildID: j.BuildID, name: j.Name(), log: j.Log, instance: j.Instance,
		metadata: map[string]string{MetaBuild: j.BuildID, MetaTarget: j.Target, MetaSeed: strconv.Itoa(j.Seed),
			MetaOwner: j.Owner, MetaCommit: j.Commit}}
	err = r.onServer(ctx, spec, func(_ *servers.Server, connect run.Connector) error {
		var err error
		seedDir := path.Join(r.o.RemoteDir, fmt.Sprintf("seed-%d", j.Seed))
		res, err = run.RemoteSeed{Connect: connect, Dir: seedDir, Netlist: path.Join(r.o.RemoteDir, "netlist.json"),
			UploadNetlist: true, Tools: r.o.Tools, Job: j}.Run(ctx)
		return err
	})
	return res, err
}

// RunCommand boots a server for the command job (fpgactl-<build>-<name>,
// tagged and with metadata as a seed's, plus fpgactl_job), runs the job
// there over SSH as the SSH runner does, and deletes the server, whatever
// happens. CommandResult.Where is the server's ID.
func (r *Runner) RunCommand(ctx context.Context, j run.CommandJob) (res run.CommandResult, err error) {
	if err := j.Check(); err != nil {
		return res, err // before a server is booted for nothing
	}
	if j.Log == nil {
		j.Log = io.Discard
	}
	spec := serverSpec{buildID: j.BuildID, name: namePrefix + j.BuildID + "-" + j.Name, log: j.Log, instance: j.Instance,
		metadata: map[string]string{MetaBuild: j.BuildID, MetaJob: j.Name, MetaOwner: j.Owner, MetaCommit: j.Commit}}
	err = r.onServer(ctx, spec, func(srv *servers.Server, connect run.Connector) error {
		var err error
		res, err = run.RemoteCommand{Connect: connect, Dir: path.Join(r.o.RemoteDir, "job"),
			Executable: path.Join(r.o.RemoteDir, "bin", "fpgactl"), UploadExecutable: true, Job: j}.Run(ctx)
		res.Where = srv.ID
		return err
	})
	return res, err
}

var _ run.CommandRunner = (*Runner)(nil)

// serverSpec is a server to boot for one seed or command job.
type serverSpec struct {
	buildID, name string
	metadata      map[string]string
	log           io.Writer
	instance      func(string) // told the server's ID once it exists; may be nil
}

// onServer is the lifecycle of every server the runner boots: create it
// (named, tagged and with metadata for its build, its host key pinned
// through cloud-init), wait until it is ACTIVE, dial it, hand work a
// Connector to it, and delete it on every exit path.
func (r *Runner) onServer(ctx context.Context, spec serverSpec, work func(*servers.Server, run.Connector) error) (err error) {
	key, err := r.keyPair(ctx, spec.buildID)
	if err != nil {
		return err
	}
	hostKey, userData, err := hostKeyUserData(r.o.UserData)
	if err != nil {
		return err
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(spec.log, "fpgactl %s: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
	srv, err := r.create(ctx, spec, key, userData, logf)
	if srv != nil {
		id := srv.ID
		if spec.instance != nil {
			spec.instance(id)
		}
		defer func() {
			if derr := r.Delete(id, logf); derr != nil {
				err = errors.Join(err, derr)
			}
		}()
	}
	if err != nil {
		return err
	}
	bootCtx, cancel := context.WithTimeout(ctx, r.o.BootTimeout)
	defer cancel()
	srv, err = r.waitActive(bootCtx, srv.ID, logf)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	addr, err := sshAddress(srv)
	if err != nil {
		return err
	}
	logf("server %s (%s) is ACTIVE at %s; connecting", srv.Name, srv.ID, addr)
	dial := func(ctx context.Context) (*sshx.Client, error) {
		return sshx.Dial(ctx, sshx.Options{Address: addr, User: r.o.SSHUser, HostKey: hostKey,
			Signers: []ssh.Signer{r.signer}, ConnectTimeout: 15 * time.Second, KeepAlive: 15 * time.Second})
	}
	// sshd starts a little after ACTIVE: retry until the boot deadline.
	first, err := dialUntil(bootCtx, dial, r.o.Poll)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("server %s is ACTIVE but SSH to %s did not answer within the boot timeout %v: %w", srv.Name, addr, r.o.BootTimeout, err)
	}
	connect := func(ctx context.Context) (*sshx.Client, error) {
		if c := first; c != nil {
			first = nil
			return c, nil
		}
		return dial(ctx)
	}
	return work(srv, connect)
}

func dialUntil(ctx context.Context, dial run.Connector, every time.Duration) (*sshx.Client, error) {
	for {
		c, err := dial(ctx)
		if err == nil {
			return c, nil
		}
		// A wrong host key is not sshd starting up: fail at once.
		var changed *sshx.HostKeyChangedError
		var unknown *sshx.UnknownHostError
		if errors.As(err, &changed) || errors.As(err, &unknown) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(every):
		}
	}
}

func (r *Runner) track(id, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "" {
		delete(r.live, id)
	} else {
		r.live[id] = name
	}
}

// create creates a seed's or job's server, waiting out quota and rate
// limits. A create that failed with a server error may still have made the
// server, so before retrying it looks for one with the same name.
func (r *Runner) create(ctx context.Context, spec serverSpec, key string, userData []byte, logf func(string, ...any)) (*servers.Server, error) {
	name := spec.name
	opts := servers.CreateOpts{
		Name: name, FlavorRef: r.flavorID, ImageRef: r.imageID,
		SecurityGroups: r.o.SecurityGroups, UserData: userData,
		Metadata: spec.metadata,
		Tags:     []string{Tag, tagBuild + spec.buildID},
	}
	if r.o.Network == "auto" || r.o.Network == "none" {
		opts.Networks = r.o.Network
	} else {
		opts.Networks = []servers.Network{{UUID: r.o.Network}}
	}
	var srv *servers.Server
	err := retry(ctx, "creating server "+name, r.o.RetryFor, logf, func() error {
		if existing, err := r.findByName(ctx, name); err == nil && existing != nil {
			srv = existing
			return nil
		}
		s, err := servers.Create(ctx, r.compute, keypairs.CreateOptsExt{CreateOptsBuilder: opts, KeyName: key}, nil).Extract()
		if err != nil {
			return err
		}
		srv = s
		return nil
	})
	if srv != nil {
		r.track(srv.ID, name)
		logf("created server %s (%s)", name, srv.ID)
	}
	return srv, err
}

func (r *Runner) findByName(ctx context.Context, name string) (*servers.Server, error) {
	// Nova's name filter is a regular expression: anchor it.
	pages, err := servers.List(r.compute, servers.ListOpts{Name: "^" + name + "$"}).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	all, err := servers.ExtractServers(pages)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Name == name {
			return &all[i], nil
		}
	}
	return nil, nil
}

// waitActive is the runner's own waiter: it fails at once on ERROR (with
// Nova's fault message) and when ctx (the boot timeout) ends.
func (r *Runner) waitActive(ctx context.Context, id string, logf func(string, ...any)) (*servers.Server, error) {
	last := ""
	for {
		var s *servers.Server
		err := retry(ctx, "reading server "+id, r.o.BootTimeout, logf, func() error {
			var err error
			s, err = servers.Get(ctx, r.compute, id).Extract()
			return err
		})
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("server %s did not become ACTIVE within the boot timeout %v (last status %s)", id, r.o.BootTimeout, orUnknown(last))
			}
			return nil, err
		}
		last = s.Status
		switch s.Status {
		case "ACTIVE":
			return s, nil
		case "ERROR":
			msg := s.Fault.Message
			if msg == "" {
				msg = "no fault message"
			}
			return nil, fmt.Errorf("server %s (%s) went to ERROR: %s", s.Name, id, msg)
		case "DELETED", "SOFT_DELETED", "SHUTOFF":
			return nil, fmt.Errorf("server %s (%s) is %s: deleted or stopped by someone else", s.Name, id, s.Status)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("server %s did not become ACTIVE within the boot timeout %v (last status %s)", id, r.o.BootTimeout, orUnknown(last))
		case <-time.After(r.o.Poll):
		}
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// deleteTimeout bounds deleting one server and seeing it gone.
const deleteTimeout = 5 * time.Minute

// Delete deletes a server and waits until it is gone. It runs on every exit
// path, after ctx may be cancelled, so it has its own deadline.
func (r *Runner) Delete(id string, logf func(string, ...any)) error {
	ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
	defer cancel()
	err := deleteServer(ctx, r.compute, id, r.o.Poll, logf)
	if err == nil {
		r.track(id, "")
		if logf != nil {
			logf("deleted server %s", id)
		}
	}
	return err
}

func deleteServer(ctx context.Context, c *gophercloud.ServiceClient, id string, poll time.Duration, logf func(string, ...any)) error {
	err := retry(ctx, "deleting server "+id, deleteTimeout, logf, func() error {
		err := servers.Delete(ctx, c, id).ExtractErr()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting server %s: %w; delete it with: openstack server delete %s", id, err, id)
	}
	for {
		_, err := servers.Get(ctx, c, id).Extract()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server %s is still there after a delete: %w; delete it with: openstack server delete %s", id, ctx.Err(), id)
		case <-time.After(poll):
		}
	}
}

// Close deletes any server still alive (a seed that panicked or a create
// answered after cancellation) and the build's key pair.
func (r *Runner) Close() error {
	r.mu.Lock()
	ids := make([]string, 0, len(r.live))
	for id := range r.live {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	var errs []error
	for _, id := range ids {
		errs = append(errs, r.Delete(id, nil))
	}
	if r.keyName != "" {
		ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
		defer cancel()
		errs = append(errs, deleteKeyPair(ctx, r.compute, r.keyName))
	}
	return errors.Join(errs...)
}

func deleteKeyPair(ctx context.Context, c *gophercloud.ServiceClient, name string) error {
	err := retry(ctx, "deleting key pair "+name, deleteTimeout, nil, func() error {
		err := keypairs.Delete(ctx, c, name, nil).ExtractErr()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting key pair %s: %w", name, err)
	}
	return nil
}

// sshAddress is the server's first IPv4 address (or IPv6 if it has none)
// with the SSH port.
func sshAddress(s *servers.Server) (string, error) {
	port := "22"
	if p := s.Metadata[MetaSSHPort]; p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("server %s: metadata %s=%q is not a port", s.Name, MetaSSHPort, p)
		}
		port = p
	}
	var v4, v6 string
	for _, addrs := range s.Addresses {
		list, _ := addrs.([]any)
		for _, a := range list {
			m, _ := a.(map[string]any)
			ip, _ := m["addr"].(string)
			if net.ParseIP(ip) == nil {
				continue
			}
			if strings.Contains(ip, ":") {
				if v6 == "" {
					v6 = ip
				}
			} else if v4 == "" {
				v4 = ip
			}
		}
	}
	if s.AccessIPv4 != "" {
		v4 = s.AccessIPv4
	}
	ip := v4
	if ip == "" {
		ip = v6
	}
	if ip == "" {
		return "", fmt.Errorf("server %s (%s) is ACTIVE but has no IP address", s.Name, s.ID)
	}
	return net.JoinHostPort(ip, port), nil
}

// hostKeyUserData generates a server's host key and the cloud-config that
// installs it (cloud-init's ssh_keys), followed by the user's extra config.
func hostKeyUserData(extra string) (ssh.PublicKey, []byte, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "fpgactl host key")
	if err != nil {
		return nil, nil, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	var b strings.Builder
	b.WriteString("#cloud-config\n# written by fpgactl: the host key fpgactl accepts for this server\nssh_deletekeys: true\nssh_genkeytypes: []\nssh_keys:\n  ed25519_private: |\n")
	for _, line := range strings.Split(strings.TrimRight(string(pem.EncodeToMemory(block)), "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	fmt.Fprintf(&b, "  ed25519_public: %s\n", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))))
	if extra = strings.TrimSpace(extra); extra != "" {
		b.WriteString("# runners.openstack.user_data\n" + extra + "\n")
	}
	return sshPub, []byte(b.String()), nil
}

// retry runs fn until it succeeds, waiting out what a busy cloud answers:
// 429 (honouring Retry-After), 5xx, and quota errors (403/413 "Quota
// exceeded"), with exponential backoff, for at most within.
func retry(ctx context.Context, what string, within time.Duration, logf func(string, ...any), fn func() error) error {
	deadline := time.Now().Add(within)
	wait := time.Second
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		delay, ok := retryable(err)
		if !ok || ctx.Err() != nil {
			return err
		}
		if delay == 0 {
			delay = wait
			wait = min(wait*2, time.Minute)
		}
		if time.Now().Add(delay).After(deadline) {
			return fmt.Errorf("%s: still failing after %d attempts: %w", what, attempt, err)
		}
		if logf != nil {
			logf("%s: %s; retrying in %v", what, short(err), delay)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), short(err))
		case <-time.After(delay):
		}
	}
}

// retryable says whether err is worth retrying, and the delay the server
// asked for (0: use backoff).
func retryable(err error) (time.Duration, bool) {
	var code gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &code) {
		var netErr net.Error
		return 0, errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF)
	}
	switch {
	case code.Actual == http.StatusTooManyRequests || code.Actual == http.StatusServiceUnavailable:
		if s := code.ResponseHeader.Get("Retry-After"); s != "" {
			if n, err := strconv.Atoi(s); err == nil && n >= 0 {
				return time.Duration(n) * time.Second, true
			}
		}
		return 0, true
	case code.Actual >= 500:
		return 0, true
	case code.Actual == http.StatusForbidden || code.Actual == http.StatusRequestEntityTooLarge:
		return 0, strings.Contains(strings.ToLower(string(code.Body)), "quota")
	}
	return 0, false
}

// short is an API error without its response body.
func short(err error) string {
	var code gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &code) {
		msg := string(code.Body)
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return fmt.Sprintf("HTTP %d from %s %s: %s", code.Actual, code.Method, code.URL, strings.TrimSpace(msg))
	}
	return err.Error()
}
