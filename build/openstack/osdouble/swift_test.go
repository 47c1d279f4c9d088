package osdouble_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/build/openstack/osdouble"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/objectstorage/v1/containers"
	"github.com/gophercloud/gophercloud/v2/openstack/objectstorage/v1/objects"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

func objectStore(t *testing.T, c *osdouble.Cloud) *gophercloud.ServiceClient {
	t.Helper()
	ao := c.AuthOptions()
	ao.AllowReauth = true
	p, err := openstack.AuthenticatedClient(t.Context(), ao)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := openstack.NewObjectStorageV1(p, gophercloud.EndpointOpts{Region: c.Region()})
	if err != nil {
		t.Fatalf("NewObjectStorageV1: %v", err)
	}
	return sc
}

// Containers and objects through the real gophercloud client: create,
// upload with the ETag gophercloud computes, read back with headers and
// metadata, 404s, 409 on deleting a non-empty container, delete.
func TestSwiftObjects(t *testing.T) {
	c := newCloud(t, osdouble.Options{})
	sc := objectStore(t, c)
	ctx := t.Context()

	if _, err := objects.Create(ctx, sc, "rel", "a", objects.CreateOpts{Content: strings.NewReader("x")}).Extract(); codeOf(err) != 404 {
		t.Fatalf("upload into a missing container: %v, want 404", err)
	}
	// Creating a container is idempotent (201, then 202).
	for range 2 {
		if r := containers.Create(ctx, sc, "rel", nil); r.Err != nil {
			t.Fatalf("create container: %v", r.Err)
		}
	}
	if st := statuses(c, osdouble.RouteCreateContainer); !slices.Equal(st, []int{201, 202}) {
		t.Errorf("container creates answered %v, want [201 202]", st)
	}

	data := []byte("bitstream\x00\x01\x02")
	sum := md5.Sum(data)
	hdr, err := objects.Create(ctx, sc, "rel", "releases/v1.0.0/artifacts/pf filter.bit", objects.CreateOpts{
		Content: bytes.NewReader(data), Metadata: map[string]string{"Sha256": "abc"}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if hdr.ETag != hex.EncodeToString(sum[:]) {
		t.Errorf("ETag %q, want the MD5 %x", hdr.ETag, sum)
	}

	dl := objects.Download(ctx, sc, "rel", "releases/v1.0.0/artifacts/pf filter.bit", nil)
	got, err := dl.ExtractContent()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %q %v", got, err)
	}
	gr := objects.Get(ctx, sc, "rel", "releases/v1.0.0/artifacts/pf filter.bit", nil)
	gh, err := gr.Extract()
	meta, _ := gr.ExtractMetadata()
	if err != nil || gh.ContentLength != int64(len(data)) || gh.ETag != hdr.ETag || meta["Sha256"] != "abc" {
		t.Errorf("head: %+v %v meta %v", gh, err, meta)
	}
	if r := objects.Download(ctx, sc, "rel", "nope", nil); codeOf(r.Err) != 404 {
		t.Errorf("download of a missing object: %v", err)
	}
	if _, err := objects.Get(ctx, sc, "rel", "nope", nil).Extract(); codeOf(err) != 404 {
		t.Errorf("head of a missing object: %v", err)
	}

	// A wrong ETag is refused and stores nothing.
	_, err = objects.Create(ctx, sc, "rel", "bad", objects.CreateOpts{Content: strings.NewReader("abc"), ETag: strings.Repeat("0", 32)}).Extract()
	if codeOf(err) != 422 {
		t.Errorf("wrong ETag: %v, want 422", err)
	}
	if _, err := objects.Get(ctx, sc, "rel", "bad", nil).Extract(); codeOf(err) != 404 {
		t.Errorf("object of a refused upload exists: %v", err)
	}

	if r := containers.Delete(ctx, sc, "rel"); codeOf(r.Err) != 409 {
		t.Errorf("delete non-empty container: %v, want 409", r.Err)
	}
	if r := objects.Delete(ctx, sc, "rel", "releases/v1.0.0/artifacts/pf filter.bit", nil); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := objects.Delete(ctx, sc, "rel", "releases/v1.0.0/artifacts/pf filter.bit", nil); codeOf(r.Err) != 404 {
		t.Errorf("second delete: %v, want 404", r.Err)
	}
	if r := containers.Delete(ctx, sc, "rel"); r.Err != nil {
		t.Errorf("delete empty container: %v", r.Err)
	}
	if _, err := containers.Get(ctx, sc, "rel", nil).Extract(); codeOf(err) != 404 {
		t.Errorf("head of a deleted container: %v", err)
	}
}

// Listings page with limit and marker the way gophercloud's pager asks, and
// filter by prefix.
func TestSwiftListing(t *testing.T) {
	c := newCloud(t, osdouble.Options{})
	sc := objectStore(t, c)
	ctx := t.Context()
	containers.Create(ctx, sc, "rel", nil)
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("releases/v1.0.%d/manifest.json", i)
		want = append(want, name)
		if _, err := objects.Create(ctx, sc, "rel", name, objects.CreateOpts{Content: strings.NewReader(name)}).Extract(); err != nil {
			t.Fatal(err)
		}
	}
	objects.Create(ctx, sc, "rel", "other", objects.CreateOpts{Content: strings.NewReader("o")})

	var got []string
	pages := 0
	err := objects.List(sc, "rel", objects.ListOpts{Prefix: "releases/", Limit: 3}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		pages++
		info, err := objects.ExtractInfo(p)
		for _, o := range info {
			got = append(got, o.Name)
			if o.Bytes != int64(len(o.Name)) || len(o.Hash) != 32 || o.LastModified.IsZero() {
				t.Errorf("listing entry %+v", o)
			}
		}
		return true, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Errorf("listing in %d pages: %v, want %v", pages, got, want)
	}
	if _, err := objects.List(sc, "missing", nil).AllPages(ctx); codeOf(err) != 404 {
		t.Errorf("listing a missing container: %v", err)
	}
	// Plain-text listing, as curl gets it.
	req, _ := http.NewRequest("GET", sc.ServiceURL("rel")+"?prefix=oth", nil)
	req.Header.Set("X-Auth-Token", sc.TokenID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "other\n" {
		t.Errorf("plain listing %q", body)
	}
}

// Tokens are checked as for the other services, another project's account
// is refused, and injected faults apply to Swift routes.
func TestSwiftAuthAndFaults(t *testing.T) {
	c := newCloud(t, osdouble.Options{})
	sc := objectStore(t, c)
	ctx := t.Context()

	for _, tc := range []struct {
		token, path string
		want        int
	}{
		{"", sc.ServiceURL("rel"), 401},
		{"bogus", sc.ServiceURL("rel"), 401},
		{sc.TokenID, strings.Replace(sc.ServiceURL("rel"), "AUTH_"+c.ProjectID(), "AUTH_other", 1), 403},
	} {
		req, _ := http.NewRequest("PUT", tc.path, nil)
		if tc.token != "" {
			req.Header.Set("X-Auth-Token", tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("PUT %s with token %q: %d, want %d", tc.path, tc.token, resp.StatusCode, tc.want)
		}
	}

	containers.Create(ctx, sc, "rel", nil)
	c.Fail(osdouble.RoutePutObject, 503, 1)
	if _, err := objects.Create(ctx, sc, "rel", "a", objects.CreateOpts{Content: strings.NewReader("x")}).Extract(); codeOf(err) != 503 {
		t.Errorf("injected 503: %v", err)
	}
	if _, err := objects.Create(ctx, sc, "rel", "a", objects.CreateOpts{Content: strings.NewReader("x")}).Extract(); err != nil {
		t.Errorf("after the fault: %v", err)
	}
	// Expired tokens: gophercloud re-authenticates and carries on.
	c.ExpireTokens()
	dl := objects.Download(ctx, sc, "rel", "a", nil)
	if got, err := dl.ExtractContent(); err != nil || string(got) != "x" {
		t.Errorf("after token expiry: %q %v", got, err)
	}
	objs := c.Objects()
	if len(objs) != 1 || objs[0].Name != "a" || string(objs[0].Data) != "x" {
		t.Errorf("Objects() = %+v", objs)
	}
}

func statuses(c *osdouble.Cloud, route string) []int {
	var out []int
	for _, r := range c.Requests() {
		if r.Route == route {
			out = append(out, r.Status)
		}
	}
	return out
}
