package osdouble

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// Server statuses as Nova reports them, plus DELETED for Cloud.Servers.
const (
	statusBuild   = "BUILD"
	statusActive  = "ACTIVE"
	statusError   = "ERROR"
	statusDeleted = "DELETED"
)

// instance is one server. Its fields are guarded by Cloud.mu; sshd has its
// own lock.
type instance struct {
	id         string
	name       string
	flavor     Flavor
	image      Image
	keyName    string
	metadata   map[string]string
	tags       []string
	secGroups  []string
	networks   []Network
	userData   []byte
	accessIPv4 string
	adminPass  string
	hostID     string
	mac        string
	behavior   Behavior

	status    string
	taskState string
	fault     string
	faultAt   time.Time

	created         time.Time
	updated         time.Time
	launched        time.Time
	deleteRequested time.Time
	deleted         time.Time

	dir    string
	sshd   *sshServer
	timers []*time.Timer
}

func (in *instance) stopTimers() {
	for _, t := range in.timers {
		t.Stop()
	}
	in.timers = nil
}

func (in *instance) report() Server {
	var nets []string
	for _, n := range in.networks {
		nets = append(nets, n.Name)
	}
	return Server{
		ID:              in.id,
		Name:            in.name,
		Status:          in.status,
		TaskState:       in.taskState,
		FlavorID:        in.flavor.ID,
		ImageID:         in.image.ID,
		KeyName:         in.keyName,
		Metadata:        maps.Clone(in.metadata),
		Tags:            slices.Clone(in.tags),
		SecurityGroups:  slices.Clone(in.secGroups),
		Networks:        nets,
		UserData:        slices.Clone(in.userData),
		Fault:           in.fault,
		SSHAddr:         in.sshd.addr(),
		Dir:             in.dir,
		Created:         in.created,
		Launched:        in.launched,
		DeleteRequested: in.deleteRequested,
		Deleted:         in.deleted,
	}
}

// alive is true until the server is gone; a server being deleted still is.
func (in *instance) alive() bool { return in.status != statusDeleted }

// takeBehavior removes and returns the first queued Behavior that applies to
// a server called name. Call with c.mu held.
func (c *Cloud) takeBehavior(name string) Behavior {
	for i, b := range c.behaviors {
		if b.NameContains == "" || strings.Contains(name, b.NameContains) {
			c.behaviors = slices.Delete(c.behaviors, i, i+1)
			return b
		}
	}
	return Behavior{}
}

// startBoot schedules the end of BUILD. Call with c.mu held.
func (c *Cloud) startBoot(in *instance) {
	if in.behavior.NeverBoot {
		return
	}
	delay := in.behavior.BootDelay
	if delay <= 0 {
		delay = c.opts.BootDelay
	}
	in.timers = append(in.timers, time.AfterFunc(delay, func() { c.finishBoot(in) }))
}

func (c *Cloud) finishBoot(in *instance) {
	c.mu.Lock()
	if c.closed || in.status != statusBuild || in.taskState == taskDeleting {
		c.mu.Unlock()
		return
	}
	now := time.Now()
	in.updated = now
	in.taskState = ""
	if in.behavior.Error != "" {
		in.status = statusError
		in.fault, in.faultAt = in.behavior.Error, now
		c.mu.Unlock()
		c.logf("osdouble: server %s (%s) went to ERROR: %s", in.name, in.id, in.behavior.Error)
		return
	}
	in.status = statusActive
	in.launched = now
	c.mu.Unlock()
	// activate after a concurrent delete closed the SSH server is a no-op.
	in.sshd.activate()
	c.logf("osdouble: server %s (%s) is ACTIVE, SSH on %s", in.name, in.id, in.sshd.addr())
}

const (
	taskSpawning = "spawning"
	taskDeleting = "deleting"
)

// startDelete begins deleting in; immediate skips the server's delete delay,
// as forceDelete does. It reports false if in was already being deleted.
func (c *Cloud) startDelete(in *instance, immediate bool) bool {
	c.mu.Lock()
	if in.taskState == taskDeleting && !immediate {
		c.mu.Unlock()
		return false
	}
	now := time.Now()
	in.deleteRequested, in.updated = now, now
	in.taskState = taskDeleting
	in.stopTimers()
	delay := in.behavior.DeleteDelay
	if delay <= 0 {
		delay = c.opts.DeleteDelay
	}
	if immediate {
		delay = 0
	}
	if delay > 0 {
		in.timers = append(in.timers, time.AfterFunc(delay, func() { c.finishDelete(in) }))
	}
	c.mu.Unlock()
	if delay <= 0 {
		c.finishDelete(in)
	}
	return true
}

func (c *Cloud) finishDelete(in *instance) {
	c.mu.Lock()
	if c.closed || in.status == statusDeleted {
		// Close stops the SSH server of every instance itself.
		c.mu.Unlock()
		return
	}
	now := time.Now()
	in.status = statusDeleted
	in.taskState = ""
	in.deleted, in.updated = now, now
	c.mu.Unlock()
	// The VM is gone: so are its SSH server and everything it ran.
	in.sshd.close()
	c.logf("osdouble: server %s (%s) deleted", in.name, in.id)
}
