package run

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/build/flow"
	"github.com/fpgactl/fpgactl/internal/contenthash"
	"github.com/fpgactl/fpgactl/internal/sshx"
)

// SSHHost is a build host: seeds run there over SSH, up to Jobs at once.
type SSHHost struct {
	Name string
	// Dial says how to reach and log in to the host (address or
	// ~/.ssh/config alias, user, known_hosts, keys, agent).
	Dial sshx.Options
	Jobs int
	// Dir is the remote work directory (relative paths are in the login's
	// home). Default "fpgactl-builds".
	Dir   string
	Tools flow.Tools
}

// SSHHosts runs seeds and command jobs on build hosts over SSH. A seed or
// job waits for a free slot on any host; each host receives a target's
// netlist, and a command job's executable, once.
type SSHHosts struct {
	hosts []*sshHost
	slots chan *sshHost // one entry per free job slot
}

type sshHost struct {
	SSHHost
	mu      sync.Mutex
	uploads map[string]*upload // remote path of a netlist or executable → its upload
}

type upload struct {
	once sync.Once
	err  error
}

// NewSSHHosts checks the hosts and makes their job slots.
func NewSSHHosts(hosts []SSHHost) (*SSHHosts, error) {
	if len(hosts) == 0 {
		return nil, errors.New("no SSH build hosts: add runners.ssh to fpgactl.yaml")
	}
	s := &SSHHosts{}
	total := 0
	for _, h := range hosts {
		if h.Jobs <= 0 {
			h.Jobs = 1
		}
		if h.Dir == "" {
			h.Dir = "fpgactl-builds"
		}
		if h.Name == "" {
			h.Name = h.Dial.Address
		}
		total += h.Jobs
		s.hosts = append(s.hosts, &sshHost{SSHHost: h, uploads: map[string]*upload{}})
	}
	s.slots = make(chan *sshHost, total)
	// Interleave hosts so that a small fan-out spreads over all of them.
	for i := 0; len(s.slots) < total; i++ {
		for _, h := range s.hosts {
			if i < h.Jobs {
				s.slots <- h
			}
		}
	}
	return s, nil
}

// Slots is the number of seeds that can run at once on all hosts.
func (s *SSHHosts) Slots() int { return cap(s.slots) }

// Kind is "ssh".
func (s *SSHHosts) Kind() string { return "ssh" }

// PlaceAndRoute runs the seed on the first host with a free slot.
func (s *SSHHosts) PlaceAndRoute(ctx context.Context, j SeedJob) (flow.PnRResult, error) {
	var h *sshHost
	select {
	case h = <-s.slots:
	case <-ctx.Done():
		return flow.ResultIn(j.Dir), ctx.Err()
	}
	defer func() { s.slots <- h }()
	j.Instance(h.Name)
	fmt.Fprintf(j.Log, "fpgactl: seed %d of %s runs on %s\n", j.Seed, j.Target, h.Name)
	connect := func(ctx context.Context) (*sshx.Client, error) { return sshx.Dial(ctx, h.Dial) }
	netlist, err := h.ensureNetlist(ctx, connect, j)
	if err != nil {
		return flow.ResultIn(j.Dir), err
	}
	return RemoteSeed{
		Connect: connect,
		Dir:     path.Join(h.Dir, j.BuildID, j.Target, fmt.Sprintf("seed-%d", j.Seed)),
		Netlist: netlist, Tools: h.Tools, Job: j,
	}.Run(ctx)
}

// ensureNetlist uploads the target's netlist to the host once (named by its
// content, so a retried build reuses it) and returns its remote path.
func (h *sshHost) ensureNetlist(ctx context.Context, connect Connector, j SeedJob) (string, error) {
	return h.ensureUploaded(ctx, connect, j.Netlist, func(sum string) string { return path.Join(h.Dir, "netlists", sum+".json") }, false)
}

// ensureExecutable uploads a command job's executable to the host once per
// content hash and returns its remote path.
func (h *sshHost) ensureExecutable(ctx context.Context, connect Connector, local string) (string, error) {
	return h.ensureUploaded(ctx, connect, local, func(sum string) string { return path.Join(h.Dir, "bin", sum, "fpgactl") }, true)
}

// ensureUploaded uploads a local file to the host once, at the remote path
// named by its content hash (so a later fpgactl process finds it there
// too), and returns that path. Concurrent callers wait for one upload.
func (h *sshHost) ensureUploaded(ctx context.Context, connect Connector, local string, remoteName func(sum string) string, executable bool) (string, error) {
	sum, err := fileHash(local)
	if err != nil {
		return "", err
	}
	remote := remoteName(sum)
	h.mu.Lock()
	u := h.uploads[remote]
	if u == nil {
		u = &upload{}
		h.uploads[remote] = u
	}
	h.mu.Unlock()
	u.once.Do(func() {
		// Seeds of other targets may wait on this upload: one target's stop
		// rule must not cancel it for them.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), uploadTimeout)
		defer cancel()
		c, err := connect(ctx)
		if err != nil {
			u.err = err
			return
		}
		defer c.Close()
		if c.Run(ctx, "test -s "+sshx.Quote(remote), nil, nil, nil) == nil {
			return // uploaded by an earlier build
		}
		u.err = uploadGzip(ctx, c, local, remote, executable)
	})
	if u.err != nil {
		// Let the next seed try again (the connection may be back), unless
		// another waiter already made way for a new try.
		h.mu.Lock()
		if h.uploads[remote] == u {
			delete(h.uploads, remote)
		}
		h.mu.Unlock()
	}
	return remote, u.err
}

// uploadTimeout bounds one netlist upload.
const uploadTimeout = 30 * time.Minute

func fileHash(name string) (string, error) {
	_, sum, err := contenthash.FileSHA256(name)
	if err != nil {
		return "", err
	}
	return sum[:16], nil
}
