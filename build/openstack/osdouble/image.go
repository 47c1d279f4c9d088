package osdouble

import (
	"fmt"
	"net/http"
	"slices"
)

func (c *Cloud) image(id string) (Image, bool) {
	i := slices.IndexFunc(c.opts.Images, func(im Image) bool { return im.ID == id })
	if i < 0 {
		return Image{}, false
	}
	return c.opts.Images[i], true
}

// imageVersions is Glance's version document; gophercloud reads it to check
// the unversioned catalog endpoint offers v2.
func (c *Cloud) imageVersions(w http.ResponseWriter, r *http.Request, _ *call) {
	var vs []any
	for _, v := range []struct{ id, status string }{{"v2.16", "CURRENT"}, {"v2.15", "SUPPORTED"}, {"v2.0", "SUPPORTED"}} {
		vs = append(vs, map[string]any{"id": v.id, "status": v.status, "links": []any{c.link("self", "/image/v2/")}})
	}
	writeJSON(w, http.StatusMultipleChoices, map[string]any{"versions": vs})
}

// imageEpoch is when every image was "uploaded".
const imageEpoch = "2025-01-01T00:00:00Z"

func (c *Cloud) imageView(im Image) map[string]any {
	v := map[string]any{
		"id":               im.ID,
		"name":             im.Name,
		"status":           "active",
		"visibility":       "public",
		"protected":        false,
		"os_hidden":        false,
		"container_format": "bare",
		"disk_format":      "qcow2",
		"min_disk":         0,
		"min_ram":          0,
		"size":             2 << 30,
		"virtual_size":     nil,
		"checksum":         nil,
		"owner":            c.projectID,
		"tags":             []string{},
		"created_at":       imageEpoch,
		"updated_at":       imageEpoch,
		"self":             "/v2/images/" + im.ID,
		"file":             "/v2/images/" + im.ID + "/file",
		"schema":           "/v2/schemas/image",
	}
	for k, val := range im.Properties {
		if _, builtin := v[k]; !builtin {
			v[k] = val
		}
	}
	return v
}

// listImages serves GET /v2/images with Glance's name, status, visibility and
// owner filters in one page.
func (c *Cloud) listImages(w http.ResponseWriter, r *http.Request, _ *call) {
	q := r.URL.Query()
	views := []any{}
	for _, im := range c.opts.Images {
		if n := q.Get("name"); n != "" && n != im.Name ||
			q.Get("status") != "" && q.Get("status") != "active" ||
			q.Get("visibility") != "" && q.Get("visibility") != "public" && q.Get("visibility") != "all" ||
			q.Get("owner") != "" && q.Get("owner") != c.projectID ||
			q.Get("id") != "" && q.Get("id") != im.ID {
			continue
		}
		views = append(views, c.imageView(im))
	}
	writeJSON(w, http.StatusOK, map[string]any{"images": views, "first": "/v2/images", "schema": "/v2/schemas/images"})
}

func (c *Cloud) getImage(w http.ResponseWriter, r *http.Request, _ *call) {
	id := r.PathValue("id")
	im, ok := c.image(id)
	if !ok {
		writeError(w, svcImage, http.StatusNotFound, fmt.Sprintf("No image found with ID %s", id))
		return
	}
	writeJSON(w, http.StatusOK, c.imageView(im))
}
