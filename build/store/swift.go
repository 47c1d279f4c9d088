package store

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/fpgactl/fpgactl/build/openstack"
	"github.com/gophercloud/gophercloud/v2"
	gcopenstack "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/objectstorage/v1/containers"
	"github.com/gophercloud/gophercloud/v2/openstack/objectstorage/v1/objects"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// shaMeta is the object metadata key that keeps an object's SHA-256, so that
// Stat and List know it without reading the object (Swift's own ETag is MD5).
const shaMeta = "Sha256"

// SwiftOptions say which container of which cloud.
type SwiftOptions struct {
	// Cloud is the clouds.yaml entry; empty means $OS_CLOUD.
	Cloud string
	// CloudsYAML is a clouds.yaml path; empty searches where the openstack
	// CLI does (and $OS_CLIENT_CONFIG_FILE).
	CloudsYAML string
	// Container holds the files; it is created on the first Put.
	Container string
	// HTTPClient, when set, is used for the API (tests).
	HTTPClient *http.Client
}

// Swift is a store in a Swift container, reached with gophercloud.
type Swift struct {
	client    *gophercloud.ServiceClient
	container string
	where     string

	mu      sync.Mutex
	created bool // the container is known to exist
}

// OpenSwift authenticates from clouds.yaml and returns the store. Nothing
// is created until the first Put.
func OpenSwift(ctx context.Context, o SwiftOptions) (*Swift, error) {
	if o.Container == "" {
		return nil, fmt.Errorf("store: no Swift container; set store.swift.container in fpgactl.yaml")
	}
	if strings.Contains(o.Container, "/") {
		return nil, fmt.Errorf("store: Swift container %q contains a slash; use a plain name", o.Container)
	}
	p, eo, err := openstack.Connect(ctx, openstack.Options{Cloud: o.Cloud, CloudsYAML: o.CloudsYAML, HTTPClient: o.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("store: %w (store.swift.cloud names the clouds.yaml entry)", err)
	}
	c, err := gcopenstack.NewObjectStorageV1(p, eo)
	if err != nil {
		return nil, fmt.Errorf("store: the cloud has no object-store (Swift) endpoint: %w", err)
	}
	cloud := o.Cloud
	if cloud == "" {
		cloud = os.Getenv("OS_CLOUD")
	}
	return &Swift{client: c, container: o.Container, where: fmt.Sprintf("Swift container %s (cloud %s)", o.Container, cloud)}, nil
}

func (s *Swift) String() string { return s.where }

func (s *Swift) ensureContainer(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.created {
		return nil
	}
	// PUT on a container is idempotent: 201 new, 202 existing.
	if r := containers.Create(ctx, s.client, s.container, nil); r.Err != nil {
		return fmt.Errorf("store: creating %s: %w", s.where, r.Err)
	}
	s.created = true
	return nil
}

// Put spools r to a temporary file while hashing it (Swift wants the MD5 as
// ETag before the body, and the size and SHA-256 are checked before
// anything is sent), then uploads with the ETag, so Swift itself refuses a
// body damaged on the way (422), and checks the ETag it answers.
func (s *Swift) Put(ctx context.Context, name string, r io.Reader, size int64, sum string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	tmp, err := os.CreateTemp("", "fpgactl-upload-*")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	hs, hm := sha256.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, hs, hm), ctxReader{ctx, r})
	if err != nil {
		return fmt.Errorf("store: reading %s: %w", name, err)
	}
	if got := hex.EncodeToString(hs.Sum(nil)); n != size || got != sum {
		return mismatch(name, size, n, sum, got)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := s.ensureContainer(ctx); err != nil {
		return err
	}
	etag := hex.EncodeToString(hm.Sum(nil))
	h, err := objects.Create(ctx, s.client, s.container, name, objects.CreateOpts{
		Content: tmp, ContentLength: n, ContentType: "application/octet-stream",
		ETag: etag, Metadata: map[string]string{shaMeta: sum},
	}).Extract()
	if err != nil {
		return fmt.Errorf("store: uploading %s to %s: %w", name, s.where, err)
	}
	if got := strings.Trim(h.ETag, `"`); !strings.EqualFold(got, etag) {
		return fmt.Errorf("store: uploading %s to %s: Swift answered ETag %q, the content's MD5 is %s; upload again", name, s.where, got, etag)
	}
	return nil
}

func (s *Swift) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	r := objects.Download(ctx, s.client, s.container, name, nil)
	if gophercloud.ResponseCodeIs(r.Err, http.StatusNotFound) {
		return nil, notExist(name, s.where)
	} else if r.Err != nil {
		return nil, fmt.Errorf("store: downloading %s from %s: %w", name, s.where, r.Err)
	}
	return r.Body, nil
}

func (s *Swift) Stat(ctx context.Context, name string) (Object, error) {
	if err := CheckName(name); err != nil {
		return Object{}, err
	}
	r := objects.Get(ctx, s.client, s.container, name, nil)
	h, err := r.Extract()
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return Object{}, notExist(name, s.where)
	} else if err != nil {
		return Object{}, fmt.Errorf("store: %s in %s: %w", name, s.where, err)
	}
	meta, _ := r.ExtractMetadata()
	return Object{Name: name, Size: h.ContentLength, SHA256: meta[shaMeta], Modified: h.LastModified.UTC()}, nil
}

// List pages through the container listing. It carries sizes but not the
// SHA-256 metadata; ask Stat for that.
func (s *Swift) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	err := objects.List(s.client, s.container, objects.ListOpts{Prefix: prefix}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		info, err := objects.ExtractInfo(p)
		for _, o := range info {
			out = append(out, Object{Name: o.Name, Size: o.Bytes, Modified: o.LastModified.UTC()})
		}
		return true, err
	})
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return nil, nil // no container yet: nothing stored
	} else if err != nil {
		return nil, fmt.Errorf("store: listing %s: %w", s.where, err)
	}
	return out, nil
}

func (s *Swift) Delete(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	r := objects.Delete(ctx, s.client, s.container, name, nil)
	if gophercloud.ResponseCodeIs(r.Err, http.StatusNotFound) {
		return notExist(name, s.where)
	} else if r.Err != nil {
		return fmt.Errorf("store: deleting %s from %s: %w", name, s.where, r.Err)
	}
	return nil
}
