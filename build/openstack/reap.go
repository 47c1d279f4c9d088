package openstack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

// ReapOptions configure Reap.
type ReapOptions struct {
	// Interval separates the two passes. A server is deleted only if both
	// passes saw it belong to a build that is not running, so that a build
	// starting meanwhile, or a record being written, is never raced.
	Interval time.Duration
	// Stale reports whether a build is known and no longer running; servers
	// of builds it does not know (another machine's, say) are left alone.
	Stale func(buildID string) bool
	// DryRun lists what would be deleted and deletes nothing.
	DryRun bool
	Poll   time.Duration
	Logf   func(format string, args ...any)
}

// Reaped is a server Reap found, and what it did with it.
type Reaped struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Build   string `json:"build"`
	Target  string `json:"target,omitempty"`
	Seed    string `json:"seed,omitempty"`
	Job     string `json:"job,omitempty"`
	Deleted bool   `json:"deleted"`
	Error   string `json:"error,omitempty"`
}

// Reap deletes the servers and key pairs of fpgactl builds that are no
// longer running.
func Reap(ctx context.Context, c *gophercloud.ServiceClient, o ReapOptions) ([]Reaped, error) {
	if o.Stale == nil {
		return nil, errors.New("reap: no way to tell stale builds")
	}
	if o.Poll <= 0 {
		o.Poll = 3 * time.Second
	}
	first, err := staleServers(ctx, c, o.Stale)
	if err != nil {
		return nil, err
	}
	if len(first) > 0 {
		if o.Logf != nil {
			o.Logf("reap: %d server(s) of stopped builds; looking again in %v before deleting", len(first), o.Interval)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(o.Interval):
		}
	}
	second, err := staleServers(ctx, c, o.Stale)
	if err != nil {
		return nil, err
	}
	var out []Reaped
	builds := map[string]bool{}
	for _, s := range second {
		if !slices.ContainsFunc(first, func(f servers.Server) bool { return f.ID == s.ID }) {
			continue // new since the first pass: next time
		}
		rp := Reaped{ID: s.ID, Name: s.Name, Build: s.Metadata[MetaBuild], Target: s.Metadata[MetaTarget], Seed: s.Metadata[MetaSeed], Job: s.Metadata[MetaJob]}
		builds[rp.Build] = true
		if !o.DryRun {
			if err := deleteServer(ctx, c, s.ID, o.Poll, o.Logf); err != nil {
				rp.Error = err.Error()
			} else {
				rp.Deleted = true
			}
		}
		out = append(out, rp)
	}
	var errs []error
	if !o.DryRun {
		for b := range builds {
			if err := deleteKeyPair(ctx, c, namePrefix+b); err != nil {
				errs = append(errs, err)
			}
		}
		// Key pairs of stopped builds whose servers were all gone already.
		if pages, err := keypairs.List(c, nil).AllPages(ctx); err == nil {
			kps, _ := keypairs.ExtractKeyPairs(pages)
			for _, kp := range kps {
				b, ok := strings.CutPrefix(kp.Name, namePrefix)
				if ok && !builds[b] && o.Stale(b) {
					errs = append(errs, deleteKeyPair(ctx, c, kp.Name))
				}
			}
		}
	}
	for _, rp := range out {
		if rp.Error != "" {
			errs = append(errs, fmt.Errorf("server %s: %s", rp.Name, rp.Error))
		}
	}
	return out, errors.Join(errs...)
}

// staleServers lists fpgactl's servers whose build is stale.
func staleServers(ctx context.Context, c *gophercloud.ServiceClient, stale func(string) bool) ([]servers.Server, error) {
	pages, err := servers.List(c, servers.ListOpts{Tags: Tag}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("reap: listing servers tagged %s: %w", Tag, err)
	}
	all, err := servers.ExtractServers(pages)
	if err != nil {
		return nil, err
	}
	var out []servers.Server
	for _, s := range all {
		b := s.Metadata[MetaBuild]
		if b != "" && strings.HasPrefix(s.Name, namePrefix) && stale(b) {
			out = append(out, s)
		}
	}
	return out, nil
}
