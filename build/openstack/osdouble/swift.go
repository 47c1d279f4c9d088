package osdouble

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Swift routes (object-store v1). The account is AUTH_<project id>, as in
// the catalog; a token may only use its own project's account.
const (
	RouteListContainer   = "GET /object-store/v1/{account}/{container}"
	RouteHeadContainer   = "HEAD /object-store/v1/{account}/{container}"
	RouteCreateContainer = "PUT /object-store/v1/{account}/{container}"
	RouteDeleteContainer = "DELETE /object-store/v1/{account}/{container}"
	RouteGetObject       = "GET /object-store/v1/{account}/{container}/{object...}"
	RouteHeadObject      = "HEAD /object-store/v1/{account}/{container}/{object...}"
	RoutePutObject       = "PUT /object-store/v1/{account}/{container}/{object...}"
	RouteDeleteObject    = "DELETE /object-store/v1/{account}/{container}/{object...}"
)

// Swift's limits: listings return at most 10000 names; object names are at
// most 1024 bytes, container names 256.
const (
	swiftListLimit     = 10000
	swiftMaxObjectName = 1024
	swiftMaxContainer  = 256
	swiftMaxObjectSize = 64 << 20 // the double keeps objects in memory
)

type swiftContainer struct {
	created time.Time
	objects map[string]*swiftObject
}

type swiftObject struct {
	data        []byte
	etag        string // MD5 of data, hex
	contentType string
	meta        http.Header // X-Object-Meta-* as sent
	modified    time.Time
}

// Object is what Cloud.Objects reports about a stored object.
type Object struct {
	Container, Name string
	Data            []byte
	ETag            string
	Meta            map[string]string // X-Object-Meta-<Key> by Key
}

func (c *Cloud) registerSwift() {
	const authenticated = true
	c.handle(RouteListContainer, authenticated, c.swiftAccount(c.listContainer))
	c.handle(RouteHeadContainer, authenticated, c.swiftAccount(c.headContainer))
	c.handle(RouteCreateContainer, authenticated, c.swiftAccount(c.createContainer))
	c.handle(RouteDeleteContainer, authenticated, c.swiftAccount(c.deleteContainer))
	c.handle(RouteGetObject, authenticated, c.swiftAccount(c.getObject(true)))
	c.handle(RouteHeadObject, authenticated, c.swiftAccount(c.getObject(false)))
	c.handle(RoutePutObject, authenticated, c.swiftAccount(c.putObject))
	c.handle(RouteDeleteObject, authenticated, c.swiftAccount(c.deleteObject))
}

// swiftAccount refuses requests for another project's account, as
// keystoneauth does: the token is valid, the account is not its own.
func (c *Cloud) swiftAccount(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, cl *call) {
		if r.PathValue("account") != "AUTH_"+c.projectID {
			writeError(w, svcObjectStore, http.StatusForbidden, "")
			return
		}
		w.Header().Set("X-Trans-Id", "tx"+newHexID()[:21])
		h(w, r, cl)
	}
}

// Objects lists every stored object, by container then name.
func (c *Cloud) Objects() []Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Object
	for _, cn := range slices.Sorted(maps.Keys(c.containers)) {
		ct := c.containers[cn]
		for _, on := range slices.Sorted(maps.Keys(ct.objects)) {
			o := ct.objects[on]
			meta := map[string]string{}
			for k := range o.meta {
				meta[strings.TrimPrefix(k, "X-Object-Meta-")] = o.meta.Get(k)
			}
			out = append(out, Object{Container: cn, Name: on, Data: bytes.Clone(o.data), ETag: o.etag, Meta: meta})
		}
	}
	return out
}

// PutObject stores data as an object directly, creating the container, so
// that a test can plant or replace content behind a client's back.
func (c *Cloud) PutObject(container, name string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := c.container(container, true)
	sum := md5.Sum(data)
	ct.objects[name] = &swiftObject{data: bytes.Clone(data), etag: hex.EncodeToString(sum[:]),
		contentType: "application/octet-stream", meta: http.Header{}, modified: time.Now().UTC()}
}

// DeleteObject removes an object directly; it reports whether there was one.
func (c *Cloud) DeleteObject(container, name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := c.container(container, false)
	if ct == nil || ct.objects[name] == nil {
		return false
	}
	delete(ct.objects, name)
	return true
}

// container returns the named container, creating it when create is set;
// c.mu is held.
func (c *Cloud) container(name string, create bool) *swiftContainer {
	if c.containers == nil {
		c.containers = map[string]*swiftContainer{}
	}
	ct := c.containers[name]
	if ct == nil && create {
		ct = &swiftContainer{created: time.Now().UTC(), objects: map[string]*swiftObject{}}
		c.containers[name] = ct
	}
	return ct
}

func checkContainerName(w http.ResponseWriter, name string) bool {
	if name == "" || len(name) > swiftMaxContainer || strings.Contains(name, "/") {
		writeError(w, svcObjectStore, http.StatusBadRequest, fmt.Sprintf("Container name length of %d longer than %d", len(name), swiftMaxContainer))
		return false
	}
	return true
}

func (c *Cloud) createContainer(w http.ResponseWriter, r *http.Request, _ *call) {
	name := r.PathValue("container")
	if !checkContainerName(w, name) {
		return
	}
	c.mu.Lock()
	existed := c.container(name, false) != nil
	c.container(name, true)
	c.mu.Unlock()
	w.Header().Set("Content-Length", "0")
	if existed {
		w.WriteHeader(http.StatusAccepted)
	} else {
		w.WriteHeader(http.StatusCreated)
	}
}

func (c *Cloud) deleteContainer(w http.ResponseWriter, r *http.Request, _ *call) {
	name := r.PathValue("container")
	c.mu.Lock()
	ct := c.container(name, false)
	switch {
	case ct == nil:
		c.mu.Unlock()
		writeError(w, svcObjectStore, http.StatusNotFound, "")
	case len(ct.objects) > 0:
		c.mu.Unlock()
		writeError(w, svcObjectStore, http.StatusConflict, "There was a conflict when trying to complete your request.")
	default:
		delete(c.containers, name)
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

func (c *Cloud) headContainer(w http.ResponseWriter, r *http.Request, _ *call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := c.container(r.PathValue("container"), false)
	if ct == nil {
		writeError(w, svcObjectStore, http.StatusNotFound, "")
		return
	}
	var used int
	for _, o := range ct.objects {
		used += len(o.data)
	}
	w.Header().Set("X-Container-Object-Count", strconv.Itoa(len(ct.objects)))
	w.Header().Set("X-Container-Bytes-Used", strconv.Itoa(used))
	w.Header().Set("X-Timestamp", swiftTimestamp(ct.created))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}

// listContainer answers a container listing: names in byte order after
// marker (and before end_marker), with prefix, at most limit of them; JSON
// with format=json or an Accept of application/json, else one name a line.
// An empty plain listing is 204, as in Swift.
func (c *Cloud) listContainer(w http.ResponseWriter, r *http.Request, _ *call) {
	q := r.URL.Query()
	limit := swiftListLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, svcObjectStore, http.StatusPreconditionFailed, "Value of limit must be a positive integer")
			return
		}
		if n > swiftListLimit {
			writeError(w, svcObjectStore, http.StatusPreconditionFailed, fmt.Sprintf("Maximum limit is %d", swiftListLimit))
			return
		}
		limit = n
	}
	asJSON := q.Get("format") == "json" || q.Get("format") == "" && strings.Contains(r.Header.Get("Accept"), "application/json")
	prefix, marker, endMarker := q.Get("prefix"), q.Get("marker"), q.Get("end_marker")

	c.mu.Lock()
	ct := c.container(r.PathValue("container"), false)
	if ct == nil {
		c.mu.Unlock()
		writeError(w, svcObjectStore, http.StatusNotFound, "")
		return
	}
	type entry struct {
		Name         string `json:"name"`
		Bytes        int    `json:"bytes"`
		Hash         string `json:"hash"`
		ContentType  string `json:"content_type"`
		LastModified string `json:"last_modified"`
	}
	names := make([]string, 0, len(ct.objects))
	for n := range ct.objects {
		names = append(names, n)
	}
	sort.Strings(names) // byte order, as Swift sorts UTF-8 names
	list := []entry{}
	for _, n := range names {
		if len(list) == limit {
			break
		}
		if !strings.HasPrefix(n, prefix) || marker != "" && n <= marker || endMarker != "" && n >= endMarker {
			continue
		}
		o := ct.objects[n]
		list = append(list, entry{Name: n, Bytes: len(o.data), Hash: o.etag, ContentType: o.contentType,
			LastModified: o.modified.Format("2006-01-02T15:04:05.000000")})
	}
	count := len(ct.objects)
	c.mu.Unlock()

	w.Header().Set("X-Container-Object-Count", strconv.Itoa(count))
	if asJSON {
		writeJSON(w, http.StatusOK, list)
		return
	}
	if len(list) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, e := range list {
		fmt.Fprintln(w, e.Name)
	}
}

func (c *Cloud) putObject(w http.ResponseWriter, r *http.Request, _ *call) {
	cn, name := r.PathValue("container"), r.PathValue("object")
	if len(name) > swiftMaxObjectName {
		writeError(w, svcObjectStore, http.StatusBadRequest, fmt.Sprintf("Object name length of %d longer than %d", len(name), swiftMaxObjectName))
		return
	}
	if r.ContentLength < 0 && !slices.Contains(r.TransferEncoding, "chunked") {
		writeError(w, svcObjectStore, http.StatusLengthRequired, "Missing Content-Length or Transfer-Encoding header.")
		return
	}
	c.mu.Lock()
	exists := c.container(cn, false) != nil
	c.mu.Unlock()
	if !exists {
		writeError(w, svcObjectStore, http.StatusNotFound, "")
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, swiftMaxObjectSize+1))
	if err != nil {
		// The client went away or sent less than Content-Length.
		writeError(w, svcObjectStore, http.StatusRequestTimeout, "Your request timed out.")
		return
	}
	if len(data) > swiftMaxObjectSize {
		writeError(w, svcObjectStore, http.StatusRequestEntityTooLarge, "Your request is too large.")
		return
	}
	sum := md5.Sum(data)
	etag := hex.EncodeToString(sum[:])
	if want := strings.Trim(r.Header.Get("ETag"), `"`); want != "" && !strings.EqualFold(want, etag) {
		writeError(w, svcObjectStore, http.StatusUnprocessableEntity, "The sent entity's MD5 does not match the ETag header.")
		return
	}
	meta := http.Header{}
	for k, v := range r.Header {
		if strings.HasPrefix(k, "X-Object-Meta-") {
			meta[k] = slices.Clone(v)
		}
	}
	ctype := r.Header.Get("Content-Type")
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	now := time.Now().UTC()
	c.mu.Lock()
	ct := c.container(cn, false)
	if ct == nil { // deleted meanwhile
		c.mu.Unlock()
		writeError(w, svcObjectStore, http.StatusNotFound, "")
		return
	}
	ct.objects[name] = &swiftObject{data: data, etag: etag, contentType: ctype, meta: meta, modified: now}
	c.mu.Unlock()
	w.Header().Set("Etag", etag)
	w.Header().Set("Last-Modified", now.Format(http.TimeFormat))
	w.Header().Set("Content-Length", "0")
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(http.StatusCreated)
}

func (c *Cloud) getObject(body bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ *call) {
		c.mu.Lock()
		var o *swiftObject
		if ct := c.container(r.PathValue("container"), false); ct != nil {
			o = ct.objects[r.PathValue("object")]
		}
		c.mu.Unlock()
		if o == nil {
			writeError(w, svcObjectStore, http.StatusNotFound, "")
			return
		}
		// o is never modified after it is stored (a PUT replaces it), so
		// it can be read without the lock.
		h := w.Header()
		for k, v := range o.meta {
			h[k] = v
		}
		h.Set("Etag", o.etag)
		h.Set("Content-Type", o.contentType)
		h.Set("Content-Length", strconv.Itoa(len(o.data)))
		h.Set("Last-Modified", o.modified.Format(http.TimeFormat))
		h.Set("X-Timestamp", swiftTimestamp(o.modified))
		h.Set("Accept-Ranges", "bytes")
		w.WriteHeader(http.StatusOK)
		if body {
			_, _ = w.Write(o.data)
		}
	}
}

func (c *Cloud) deleteObject(w http.ResponseWriter, r *http.Request, _ *call) {
	c.mu.Lock()
	ct := c.container(r.PathValue("container"), false)
	name := r.PathValue("object")
	if ct == nil || ct.objects[name] == nil {
		c.mu.Unlock()
		writeError(w, svcObjectStore, http.StatusNotFound, "")
		return
	}
	delete(ct.objects, name)
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func swiftTimestamp(t time.Time) string {
	return fmt.Sprintf("%d.%05d", t.Unix(), t.Nanosecond()/10000)
}

// writeSwiftError answers as Swift's proxy does: a short HTML body naming
// the status (none for HEAD, which net/http drops anyway).
func writeSwiftError(w http.ResponseWriter, status int, msg string) {
	if msg == "" {
		switch status {
		case http.StatusNotFound:
			msg = "The resource could not be found."
		case http.StatusForbidden:
			msg = "Access was denied to this resource."
		default:
			msg = http.StatusText(status)
		}
	}
	body := fmt.Sprintf("<html><h1>%s</h1><p>%s</p></html>", http.StatusText(status), msg)
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
