package osdouble

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Options configure a Cloud. The zero value is usable: every field has a
// default that looks like a small DevStack.
type Options struct {
	// Dir holds one working directory per server (Dir/<server id>), where its
	// SSH commands run. Empty means a temporary directory removed by Close;
	// a Dir given here is left in place so a failing test can be inspected.
	Dir string

	// Region is the catalog's region. Default "RegionOne".
	Region string

	// The one user of this cloud and the project its tokens are scoped to.
	// Defaults: user "builder" with password "osdouble-password", project
	// "fpga-builds", both in domain "Default" (id "default").
	Username    string
	Password    string
	ProjectName string
	DomainName  string
	DomainID    string

	// ApplicationCredentials that may authenticate instead of the password.
	ApplicationCredentials []ApplicationCredential

	// Flavors, Images, Networks and SecurityGroups that exist. Defaults:
	// m1.tiny … m1.xlarge with ids "1" … "5"; images "debian-12" and
	// "ubuntu-24.04"; network "private"; security group "default". Images
	// and networks without an ID get a random UUID.
	Flavors        []Flavor
	Images         []Image
	Networks       []Network
	SecurityGroups []string

	// Quota limits what the project may use; see Quota for zero values.
	Quota Quota

	// BootDelay is how long a server stays BUILD before it is ACTIVE and its
	// SSH server answers. A Behavior may override it per server.
	BootDelay time.Duration

	// DeleteDelay is how long a deleted server stays visible with task_state
	// "deleting" before it is gone. A Behavior may override it per server.
	DeleteDelay time.Duration

	// TokenTTL is how long issued tokens are valid. Default one hour.
	TokenTTL time.Duration

	// Shell runs SSH exec requests as Shell -c COMMAND. Default "/bin/sh".
	Shell string

	// Env is added to the environment of SSH commands, which otherwise is
	// this process's environment plus HOME, USER, LOGNAME and PWD for the
	// server's directory and the SSH user.
	Env []string

	// Logf, when set, receives one line per API request and SSH event,
	// typically testing.T.Logf.
	Logf func(format string, args ...any)
}

// ApplicationCredential is a Keystone application credential of the user.
type ApplicationCredential struct {
	ID     string
	Name   string
	Secret string
}

// Flavor is a Nova flavor.
type Flavor struct {
	ID    string
	Name  string
	VCPUs int
	RAM   int // MiB
	Disk  int // GiB
}

// Image is a Glance image. Properties are extra image properties such as
// os_distro.
type Image struct {
	ID         string
	Name       string
	Properties map[string]string
}

// Network is a Neutron network servers can be attached to. Every server's
// address on it is 127.0.0.1.
type Network struct {
	ID   string
	Name string
}

// Quota is the project's compute quota. A zero field means Nova's default
// (10 instances, 20 cores, 51200 MiB RAM, 100 key pairs); a negative field
// means unlimited.
type Quota struct {
	Instances int
	Cores     int
	RAM       int
	KeyPairs  int
}

// Behavior changes how one server behaves. Queue it with Cloud.NextServer.
type Behavior struct {
	// NameContains, when set, keeps the behavior for the next server whose
	// name contains it, instead of the very next server. Fan-outs create
	// servers concurrently, so this is how a test picks "seed 3".
	NameContains string

	// BootDelay overrides Options.BootDelay; zero keeps it.
	BootDelay time.Duration

	// Error, when set, makes the server go to ERROR instead of ACTIVE after
	// the boot delay, with Error as its fault message (e.g. "No valid host
	// was found."). Its SSH server never answers.
	Error string

	// NeverBoot keeps the server in BUILD for ever.
	NeverBoot bool

	// SSHDropAfter, when positive, cuts every SSH connection to the server
	// this long after it was accepted, mid-command or not.
	SSHDropAfter time.Duration

	// DeleteDelay overrides Options.DeleteDelay; zero keeps it.
	DeleteDelay time.Duration
}

// Fault is an injected failure of the next requests of one route.
type Fault struct {
	// Status is the HTTP status to answer with, e.g. 500, 503 or 429.
	// Zero answers normally after Delay, which makes a slow route.
	Status int
	// Count is how many requests fail; zero or less means one.
	Count int
	// RetryAfter is sent as the Retry-After header in whole seconds, as
	// rate limiters do with 429 and 503.
	RetryAfter time.Duration
	// Delay holds each request this long before answering.
	Delay time.Duration
	// Message replaces the default error message in the body.
	Message string
}

// Server is what Cloud.Servers reports about a server, deleted or not.
type Server struct {
	ID             string
	Name           string
	Status         string // BUILD, ACTIVE, ERROR or DELETED
	TaskState      string // e.g. "deleting"; empty when none
	FlavorID       string
	ImageID        string
	KeyName        string
	Metadata       map[string]string
	Tags           []string
	SecurityGroups []string
	Networks       []string // network names
	UserData       []byte   // decoded
	Fault          string   // fault message of an ERROR server

	SSHAddr string // 127.0.0.1:port
	Dir     string // where its SSH commands run

	Created         time.Time
	Launched        time.Time // when it went ACTIVE; zero if it never did
	DeleteRequested time.Time // zero if never deleted
	Deleted         time.Time // when it was gone; zero while it exists
}

// Request is one API request the Cloud answered.
type Request struct {
	Time         time.Time
	Method       string
	Path         string
	Query        string
	Route        string // a Route* constant; empty when no route matched
	Microversion string // compute microversion used; empty for other services
	Status       int    // 0 when the client went away before the answer
	Injected     bool   // answered by an injected Fault
}

// Cloud is a running OpenStack double. It is safe for concurrent use.
type Cloud struct {
	opts    Options
	dir     string
	ownsDir bool
	srv     *http.Server
	base    string // http://127.0.0.1:port
	mux     *http.ServeMux
	routes  map[string]bool

	userID    string
	projectID string

	mu        sync.Mutex
	closed    bool
	tokens    map[string]*token
	servers   map[string]*instance
	order     []*instance // creation order, deleted ones included
	keypairs  map[string]*keypair
	keyOrder  []string
	keyPairs  int // key pairs ever created: IDs are never reused after a delete
	faults    map[string][]*pendingFault
	behaviors []Behavior
	requests  []Request
	quota     Quota

	containers map[string]*swiftContainer // Swift; see swift.go

	inflight sync.WaitGroup // requests being answered
}

// New starts a Cloud on a random port of 127.0.0.1. Close it when done.
func New(opts Options) (*Cloud, error) {
	opts = withDefaults(opts)
	c := &Cloud{
		opts:      opts,
		routes:    map[string]bool{},
		userID:    newHexID(),
		projectID: newHexID(),
		tokens:    map[string]*token{},
		servers:   map[string]*instance{},
		keypairs:  map[string]*keypair{},
		faults:    map[string][]*pendingFault{},
		quota:     opts.Quota,
	}
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "osdouble-")
		if err != nil {
			return nil, fmt.Errorf("osdouble: creating a directory for server files: %w (set Options.Dir)", err)
		}
		c.dir, c.ownsDir = dir, true
	} else {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("osdouble: Options.Dir: %w", err)
		}
		c.dir = opts.Dir
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.removeDir()
		return nil, fmt.Errorf("osdouble: listening on 127.0.0.1: %w", err)
	}
	c.base = "http://" + ln.Addr().String()
	c.mux = http.NewServeMux()
	c.registerRoutes()
	c.srv = &http.Server{Handler: http.HandlerFunc(c.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		// ErrServerClosed after Close; anything else ends the double early,
		// which the next request reports as a connection error.
		if err := c.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.logf("osdouble: HTTP server stopped: %v", err)
		}
	}()
	return c, nil
}

func withDefaults(o Options) Options {
	if o.Region == "" {
		o.Region = "RegionOne"
	}
	if o.Username == "" {
		o.Username = "builder"
	}
	if o.Password == "" {
		o.Password = "osdouble-password"
	}
	if o.ProjectName == "" {
		o.ProjectName = "fpga-builds"
	}
	if o.DomainName == "" {
		o.DomainName = "Default"
	}
	if o.DomainID == "" {
		o.DomainID = "default"
	}
	if o.Flavors == nil {
		o.Flavors = []Flavor{
			{ID: "1", Name: "m1.tiny", VCPUs: 1, RAM: 512, Disk: 1},
			{ID: "2", Name: "m1.small", VCPUs: 1, RAM: 2048, Disk: 20},
			{ID: "3", Name: "m1.medium", VCPUs: 2, RAM: 4096, Disk: 40},
			{ID: "4", Name: "m1.large", VCPUs: 4, RAM: 8192, Disk: 80},
			{ID: "5", Name: "m1.xlarge", VCPUs: 8, RAM: 16384, Disk: 160},
		}
	}
	if o.Images == nil {
		o.Images = []Image{
			{Name: "debian-12", Properties: map[string]string{"os_distro": "debian", "os_version": "12"}},
			{Name: "ubuntu-24.04", Properties: map[string]string{"os_distro": "ubuntu", "os_version": "24.04"}},
		}
	}
	// Copies, so that the caller's slices keep their empty IDs.
	o.Images = slices.Clone(o.Images)
	for i := range o.Images {
		if o.Images[i].ID == "" {
			o.Images[i].ID = newUUID()
		}
	}
	if o.Networks == nil {
		o.Networks = []Network{{Name: "private"}}
	}
	o.Networks = slices.Clone(o.Networks)
	for i := range o.Networks {
		if o.Networks[i].ID == "" {
			o.Networks[i].ID = newUUID()
		}
	}
	if o.SecurityGroups == nil {
		o.SecurityGroups = []string{"default"}
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.Shell == "" {
		o.Shell = "/bin/sh"
	}
	return o
}

// Close stops the API, every server's SSH server and every command they run,
// and removes the temporary directory if Options.Dir was empty.
func (c *Cloud) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()

	// No request starts now; wait for those under way, which may still
	// create servers, before collecting what to stop.
	err := c.srv.Close()
	c.inflight.Wait()
	c.mu.Lock()
	insts := append([]*instance(nil), c.order...)
	for _, in := range insts {
		in.stopTimers()
	}
	c.mu.Unlock()
	for _, in := range insts {
		in.sshd.close()
	}
	for _, in := range insts {
		in.sshd.wait()
	}
	c.removeDir()
	return err
}

// enter admits a request unless the Cloud is closing; call leave after it.
func (c *Cloud) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.inflight.Add(1)
	return true
}

func (c *Cloud) leave() { c.inflight.Done() }

func (c *Cloud) removeDir() {
	if c.ownsDir {
		// Best effort: a command may have left read-only files behind.
		_ = os.RemoveAll(c.dir)
	}
}

// URL is the base URL of the API, http://127.0.0.1:port.
func (c *Cloud) URL() string { return c.base }

// IdentityEndpoint is the Keystone v3 endpoint to authenticate against, as
// clouds.yaml's auth_url or gophercloud.AuthOptions.IdentityEndpoint.
func (c *Cloud) IdentityEndpoint() string { return c.base + "/identity/v3/" }

// ProjectID is the id of the project every token is scoped to.
func (c *Cloud) ProjectID() string { return c.projectID }

// AuthOptions are password credentials for this cloud's user, scoped to its
// project.
func (c *Cloud) AuthOptions() gophercloud.AuthOptions {
	return gophercloud.AuthOptions{
		IdentityEndpoint: c.IdentityEndpoint(),
		Username:         c.opts.Username,
		Password:         c.opts.Password,
		DomainName:       c.opts.DomainName,
		TenantName:       c.opts.ProjectName,
	}
}

// Region is the region of every catalog endpoint.
func (c *Cloud) Region() string { return c.opts.Region }

// CloudsYAML returns a clouds.yaml naming this cloud cloudName, for code that
// reads its credentials the way users give them (OS_CLOUD).
func (c *Cloud) CloudsYAML(cloudName string) []byte {
	q := strconv.Quote
	var b strings.Builder
	fmt.Fprintf(&b, "clouds:\n  %s:\n", q(cloudName))
	fmt.Fprintf(&b, "    auth:\n")
	fmt.Fprintf(&b, "      auth_url: %s\n", q(c.IdentityEndpoint()))
	fmt.Fprintf(&b, "      username: %s\n", q(c.opts.Username))
	fmt.Fprintf(&b, "      password: %s\n", q(c.opts.Password))
	fmt.Fprintf(&b, "      project_name: %s\n", q(c.opts.ProjectName))
	fmt.Fprintf(&b, "      user_domain_name: %s\n", q(c.opts.DomainName))
	fmt.Fprintf(&b, "      project_domain_name: %s\n", q(c.opts.DomainName))
	fmt.Fprintf(&b, "    region_name: %s\n", q(c.opts.Region))
	fmt.Fprintf(&b, "    interface: \"public\"\n")
	fmt.Fprintf(&b, "    identity_api_version: 3\n")
	return []byte(b.String())
}

// SetQuota replaces the project's quota; see Quota for zero values. Servers
// already running are kept even when they exceed it, as in Nova.
func (c *Cloud) SetQuota(q Quota) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.quota = q
}

// ExpireTokens makes every issued token invalid, so the next request with one
// gets 401 and a client with AllowReauth authenticates again.
func (c *Cloud) ExpireTokens() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.tokens)
}

// Fail makes the next count requests of route answer status with an error
// body in the service's format. route is one of the Route* constants; an
// unknown route panics, since the test could never pass.
func (c *Cloud) Fail(route string, status, count int) {
	c.Inject(route, Fault{Status: status, Count: count})
}

// RateLimit makes the next count requests of route answer 429 Too Many
// Requests with a Retry-After header.
func (c *Cloud) RateLimit(route string, count int, retryAfter time.Duration) {
	c.Inject(route, Fault{Status: http.StatusTooManyRequests, Count: count, RetryAfter: retryAfter})
}

// Inject queues f for route; faults of one route apply in the order they were
// injected. route is one of the Route* constants; an unknown route panics.
func (c *Cloud) Inject(route string, f Fault) {
	if !c.routes[route] {
		known := slices.Sorted(maps.Keys(c.routes))
		panic(fmt.Sprintf("osdouble: no route %q; use one of the Route* constants:\n  %s", route, strings.Join(known, "\n  ")))
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults[route] = append(c.faults[route], &pendingFault{Fault: f, left: f.Count})
}

// NextServer queues b for the next server created (or, with NameContains, the
// next server whose name matches). Behaviors apply in the order queued.
func (c *Cloud) NextServer(b Behavior) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.behaviors = append(c.behaviors, b)
}

// KeyPairNames lists the key pairs that exist now, sorted.
func (c *Cloud) KeyPairNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.keypairs))
	for name := range c.keypairs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Servers reports every server created so far in creation order, including
// deleted ones with their deletion time.
func (c *Cloud) Servers() []Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Server, 0, len(c.order))
	for _, in := range c.order {
		out = append(out, in.report())
	}
	return out
}

// Server reports one server by id, deleted or not.
func (c *Cloud) Server(id string) (Server, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in, ok := c.servers[id]
	if !ok {
		return Server{}, false
	}
	return in.report(), true
}

// Requests reports every API request answered so far, in order.
func (c *Cloud) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Request(nil), c.requests...)
}

// SSHAddr is the host:port of a server's SSH server. It is known from
// creation on but answers only once the server is ACTIVE.
func (c *Cloud) SSHAddr(serverID string) (string, error) {
	in, err := c.lookup(serverID)
	if err != nil {
		return "", err
	}
	return in.sshd.addr(), nil
}

// HostKey is a server's SSH host key, for a known_hosts file.
func (c *Cloud) HostKey(serverID string) (ssh.PublicKey, error) {
	in, err := c.lookup(serverID)
	if err != nil {
		return nil, err
	}
	return in.sshd.hostKey.PublicKey(), nil
}

// WriteKnownHosts writes a known_hosts file naming every server that is not
// deleted, each as [127.0.0.1]:port, for knownhosts.New.
func (c *Cloud) WriteKnownHosts(path string) error {
	c.mu.Lock()
	var lines []string
	for _, in := range c.order {
		if in.status == statusDeleted {
			continue
		}
		lines = append(lines, knownhosts.Line([]string{in.sshd.addr()}, in.sshd.hostKey.PublicKey()))
	}
	c.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("osdouble: writing known_hosts: %w", err)
	}
	data := strings.Join(lines, "\n")
	if data != "" {
		data += "\n"
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		return fmt.Errorf("osdouble: writing known_hosts: %w", err)
	}
	return nil
}

func (c *Cloud) lookup(serverID string) (*instance, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in, ok := c.servers[serverID]
	if !ok {
		return nil, fmt.Errorf("osdouble: no server %q in this cloud; Servers() lists the ones it has", serverID)
	}
	return in, nil
}

// WaitGone waits until no server is left that is not deleted, or ctx ends.
// Tests use it to prove a client cleaned up after itself.
func (c *Cloud) WaitGone(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		var left []string
		c.mu.Lock()
		for _, in := range c.order {
			if in.alive() {
				left = append(left, in.name+" ("+in.id+", "+in.status+")")
			}
		}
		c.mu.Unlock()
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("osdouble: %d server(s) not deleted: %s: %w", len(left), strings.Join(left, ", "), ctx.Err())
		case <-t.C:
		}
	}
}

func (c *Cloud) logf(format string, args ...any) {
	if c.opts.Logf != nil {
		c.opts.Logf(format, args...)
	}
}
