package buildcmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/fpgactl/fpgactl/build/flow"
	"github.com/fpgactl/fpgactl/build/openstack"
	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/build/run"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/pipeline"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/sshx"
	"github.com/spf13/cobra"
)

// NewRunner makes the runner named runner (local, ssh, openstack) from the
// project settings and says how many jobs run at once (jobs, or the
// runner's setting, or one per job for openstack, or one per core); n is
// the number of jobs to run. Close deletes what the runner leaves (cloud
// key pairs). `fpgactl ci --shard` uses the same runners.
func NewRunner(ctx context.Context, s *project.Settings, runner string, jobs, n int, numCPU func() int) (r run.Backend, slots int, close func() error, err error) {
	noop := func() error { return nil }
	switch runner {
	case "ssh":
		hosts, err := SSHHosts(s)
		if err != nil {
			return nil, 0, nil, err
		}
		b, err := run.NewSSHHosts(hosts)
		if err != nil {
			return nil, 0, nil, err
		}
		if jobs == 0 {
			jobs = b.Slots()
		}
		return b, jobs, noop, nil
	case "openstack":
		o, err := OpenStackOptions(s)
		if err != nil {
			return nil, 0, nil, err
		}
		r, err := openstack.New(ctx, o)
		if err != nil {
			return nil, 0, nil, err
		}
		if jobs == 0 {
			jobs = s.Runners.OpenStack.Jobs
		}
		if jobs == 0 {
			jobs = n // one server per job, all at once
		}
		return r, jobs, r.Close, nil
	}
	if jobs == 0 {
		jobs = s.Runners.Local.Jobs
	}
	if jobs == 0 && numCPU != nil {
		jobs = numCPU()
	}
	return run.Local{}, jobs, noop, nil
}

// SSHHosts are the build hosts of runners.ssh, with the login options
// OpenSSH users expect: ~/.ssh/config aliases, known_hosts, ssh-agent and
// the default key files.
func SSHHosts(s *project.Settings) ([]run.SSHHost, error) {
	if len(s.Runners.SSH) == 0 {
		return nil, fmt.Errorf("%s: --runner ssh needs build hosts under runners.ssh (address, user, jobs)", s.Path)
	}
	cfg, err := userSSHConfig()
	if err != nil {
		return nil, err
	}
	var out []run.SSHHost
	for _, h := range s.Runners.SSH {
		out = append(out, run.SSHHost{
			Name: h.Name, Jobs: h.Jobs, Dir: h.Dir, Tools: flow.Tools{Nextpnr: h.Tools.Nextpnr, Pack: h.Tools.Pack},
			Dial: sshx.Options{Address: h.Address, User: h.User, Config: cfg, UseAgent: true,
				IdentityFiles: defaultIdentities(), ConnectTimeout: 20 * time.Second, KeepAlive: 30 * time.Second},
		})
	}
	return out, nil
}

func userSSHConfig() (*sshx.Config, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, nil
	}
	path := filepath.Join(home, ".ssh", "config")
	if _, err := os.Stat(path); err != nil {
		return nil, nil
	}
	return sshx.LoadConfig(path)
}

// defaultIdentities are the key files ssh tries when the config names none.
func defaultIdentities() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var out []string
	for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		p := filepath.Join(home, ".ssh", name)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// OpenStackOptions are the OpenStack runner's options from runners.openstack.
func OpenStackOptions(s *project.Settings) (openstack.Options, error) {
	o := s.Runners.OpenStack
	if o == nil {
		return openstack.Options{}, fmt.Errorf("%s: --runner openstack needs runners.openstack (cloud, flavor, image, network)", s.Path)
	}
	return openstack.Options{
		Cloud: o.Cloud, Flavor: o.Flavor, Image: o.Image, Network: o.Network, SecurityGroups: o.SecurityGroups,
		UserData: o.UserData, SSHUser: o.SSHUser, BootTimeout: o.BootTimeout,
		Tools: flow.Tools{Nextpnr: o.Tools.Nextpnr, Pack: o.Tools.Pack},
	}, nil
}

func newCmdCancel(f *cmdutil.Factory) *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Stop a running build: its tools stop and its instances are deleted",
		Long: `Cancel a running build. The fpgactl process running it gets SIGTERM, which
it handles like Ctrl-C: every seed's tools are stopped, cloud instances are
deleted, unfinished seeds are recorded as cancelled. cancel waits (--wait)
until the record says the build has stopped. A build whose process is gone
is marked interrupted; delete what it left on the cloud with fpgactl build reap.`,
		Example: `  fpgactl build cancel 20261123-151500-ab12
  fpgactl build cancel 20261123-151500-ab12 --wait 5m`,
		Args: cmdutil.ExactArgs(1, "name the build to cancel (fpgactl build list shows IDs)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := record.CheckID(args[0]); err != nil {
				return cmdutil.FlagErrorf("%v", err)
			}
			s, err := f.Project()
			if err != nil {
				return err
			}
			b, err := Cancel(cmd.Context(), store(s), args[0], wait)
			if b != nil {
				if f.JSON() {
					if jerr := cmdutil.PrintJSON(f.IO.Out, toJSON(b)); jerr != nil {
						return jerr
					}
				} else {
					fmt.Fprintf(f.IO.Out, "build %s: %s", b.ID, b.Status)
					if b.Error != "" {
						fmt.Fprintf(f.IO.Out, " (%s)", b.Error)
					}
					fmt.Fprintln(f.IO.Out)
				}
			}
			return err
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", time.Minute, "how long to wait for the build to stop")
	return cmd
}

// Cancel asks the process running build id to stop and waits until its
// record is no longer running.
func Cancel(ctx context.Context, st *record.Store, id string, wait time.Duration) (*record.Build, error) {
	if _, _, err := st.MarkInterrupted(ctx); err != nil {
		return nil, err
	}
	b, err := st.Get(id)
	if err != nil {
		return nil, err
	}
	if b.Status != record.StatusRunning {
		return b, nil
	}
	host, _ := os.Hostname()
	if b.Process.Host != "" && b.Process.Host != host {
		return b, fmt.Errorf("build %s runs on host %s (pid %d): run fpgactl build cancel there", id, b.Process.Host, b.Process.PID)
	}
	if err := syscall.Kill(b.Process.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return b, fmt.Errorf("signalling build %s's process %d: %w", id, b.Process.PID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		if b, err = st.Get(id); err != nil {
			return nil, err
		}
		if b.Status == record.StatusRunning && !record.Alive(b.Process) {
			// Its process is gone without recording the end: mark it.
			if _, _, err := st.MarkInterrupted(ctx); err != nil {
				return b, err
			}
			continue
		}
		if b.Status != record.StatusRunning {
			return b, nil
		}
		select {
		case <-ctx.Done():
			return b, fmt.Errorf("build %s is still running after %v (process %d): it may be deleting instances; check again with fpgactl build show %s", id, wait, b.Process.PID, id)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func newCmdReap(f *cmdutil.Factory) *cobra.Command {
	opts := openstack.ReapOptions{}
	cmd := &cobra.Command{
		Use:   "reap",
		Short: "Delete cloud instances left by builds that are no longer running",
		Long: `Delete the OpenStack servers (and key pairs) of fpgactl builds that are no
longer running: finished, cancelled, or whose fpgactl process died (kill -9,
a crashed laptop). Servers are found by their fpgactl tag and build metadata.
A server is deleted only if it was seen on two passes --interval apart, both
times belonging to a build of this project's records that is not running, so
a build that is just starting is never raced, and other machines' builds are
left alone.`,
		Example: `  fpgactl build reap
  fpgactl build reap --dry-run --output json
  fpgactl build reap --interval 5s`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := f.Project()
			if err != nil {
				return err
			}
			o, err := OpenStackOptions(s)
			if err != nil {
				return err
			}
			client, err := openstack.ComputeClient(ctx, o)
			if err != nil {
				return err
			}
			// Builds whose process died are marked once, up front; a build
			// that dies during the passes is left for the next reap.
			st := store(s)
			if _, _, err := st.MarkInterrupted(ctx); err != nil {
				return err
			}
			opts.Stale = func(id string) bool {
				// Test shards of `fpgactl ci --shard openstack` (ci-<run>).
				if strings.HasPrefix(id, pipeline.ShardBuildPrefix) {
					return pipeline.ShardRunStale(s.WorkPath(), id)
				}
				if !record.ValidID(id) {
					return false
				}
				b, err := st.Get(id)
				return err == nil && b.Status != record.StatusRunning
			}
			opts.Logf = func(format string, args ...any) { fmt.Fprintf(f.IO.ErrOut, format+"\n", args...) }
			reaped, err := openstack.Reap(ctx, client, opts)
			if f.JSON() {
				if reaped == nil {
					reaped = []openstack.Reaped{}
				}
				if jerr := cmdutil.PrintJSON(f.IO.Out, reaped); jerr != nil {
					return jerr
				}
			} else if len(reaped) == 0 {
				fmt.Fprintln(f.IO.ErrOut, "reap: no servers of stopped builds")
			} else {
				tw := tabwriter.NewWriter(f.IO.Out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "SERVER\tID\tBUILD\tTARGET\tSEED\tJOB\tDELETED")
				for _, r := range reaped {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%v\n", r.Name, r.ID, r.Build, r.Target, r.Seed, r.Job, r.Deleted)
				}
				tw.Flush()
			}
			return err
		},
	}
	cmd.Flags().DurationVar(&opts.Interval, "interval", 30*time.Second, "time between the two passes")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "list what would be deleted, delete nothing")
	return cmd
}
