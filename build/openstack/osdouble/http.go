package osdouble

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Routes, as Fail, Inject and Request.Route name them: the method and the
// path pattern the double serves.
const (
	RouteIdentityVersions = "GET /identity/{$}"
	RouteIdentityV3       = "GET /identity/v3/{$}"
	RouteCreateToken      = "POST /identity/v3/auth/tokens"
	RouteGetToken         = "GET /identity/v3/auth/tokens"
	RouteRevokeToken      = "DELETE /identity/v3/auth/tokens"

	RouteComputeVersions   = "GET /compute/{$}"
	RouteComputeV21        = "GET /compute/v2.1/{$}"
	RouteCreateServer      = "POST /compute/v2.1/servers"
	RouteListServers       = "GET /compute/v2.1/servers"
	RouteListServersDetail = "GET /compute/v2.1/servers/detail"
	RouteGetServer         = "GET /compute/v2.1/servers/{id}"
	RouteDeleteServer      = "DELETE /compute/v2.1/servers/{id}"
	RouteServerAction      = "POST /compute/v2.1/servers/{id}/action"
	RouteListServerTags    = "GET /compute/v2.1/servers/{id}/tags"
	RouteReplaceServerTags = "PUT /compute/v2.1/servers/{id}/tags"
	RouteDeleteServerTags  = "DELETE /compute/v2.1/servers/{id}/tags"
	RouteCheckServerTag    = "GET /compute/v2.1/servers/{id}/tags/{tag}"
	RouteAddServerTag      = "PUT /compute/v2.1/servers/{id}/tags/{tag}"
	RouteDeleteServerTag   = "DELETE /compute/v2.1/servers/{id}/tags/{tag}"
	RouteListFlavors       = "GET /compute/v2.1/flavors"
	RouteListFlavorsDetail = "GET /compute/v2.1/flavors/detail"
	RouteGetFlavor         = "GET /compute/v2.1/flavors/{id}"
	RouteListKeyPairs      = "GET /compute/v2.1/os-keypairs"
	RouteCreateKeyPair     = "POST /compute/v2.1/os-keypairs"
	RouteGetKeyPair        = "GET /compute/v2.1/os-keypairs/{name}"
	RouteDeleteKeyPair     = "DELETE /compute/v2.1/os-keypairs/{name}"
	RouteLimits            = "GET /compute/v2.1/limits"

	RouteImageVersions = "GET /image/{$}"
	RouteListImages    = "GET /image/v2/images"
	RouteGetImage      = "GET /image/v2/images/{id}"
)

type service int

const (
	svcIdentity service = iota
	svcCompute
	svcImage
	svcObjectStore
)

// call is what the request wrapper found out before the handler runs.
type call struct {
	mv microversion // the compute microversion; zero for other services
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, cl *call)

func (c *Cloud) registerRoutes() {
	// Version documents and token creation are public, as in OpenStack.
	const public, authenticated = false, true
	c.handle(RouteIdentityVersions, public, c.identityVersions)
	c.handle(RouteIdentityV3, public, c.identityV3)
	c.handle("GET /identity/v3", public, c.identityV3)
	c.handle(RouteCreateToken, public, c.createToken)
	c.handle(RouteGetToken, authenticated, c.getToken)
	c.handle(RouteRevokeToken, authenticated, c.revokeToken)

	c.handle(RouteComputeVersions, public, c.computeVersions)
	c.handle(RouteComputeV21, public, c.computeV21)
	c.handle("GET /compute/v2.1", public, c.computeV21)
	c.handle(RouteCreateServer, authenticated, c.createServer)
	c.handle(RouteListServers, authenticated, c.listServers(false))
	c.handle(RouteListServersDetail, authenticated, c.listServers(true))
	c.handle(RouteGetServer, authenticated, c.getServer)
	c.handle(RouteDeleteServer, authenticated, c.deleteServer)
	c.handle(RouteServerAction, authenticated, c.serverAction)
	c.handle(RouteListServerTags, authenticated, c.tagged(c.listServerTags))
	c.handle(RouteReplaceServerTags, authenticated, c.tagged(c.replaceServerTags))
	c.handle(RouteDeleteServerTags, authenticated, c.tagged(c.deleteServerTags))
	c.handle(RouteCheckServerTag, authenticated, c.tagged(c.checkServerTag))
	c.handle(RouteAddServerTag, authenticated, c.tagged(c.addServerTag))
	c.handle(RouteDeleteServerTag, authenticated, c.tagged(c.deleteServerTag))
	c.handle(RouteListFlavors, authenticated, c.listFlavors(false))
	c.handle(RouteListFlavorsDetail, authenticated, c.listFlavors(true))
	c.handle(RouteGetFlavor, authenticated, c.getFlavor)
	c.handle(RouteListKeyPairs, authenticated, c.listKeyPairs)
	c.handle(RouteCreateKeyPair, authenticated, c.createKeyPair)
	c.handle(RouteGetKeyPair, authenticated, c.getKeyPair)
	c.handle(RouteDeleteKeyPair, authenticated, c.deleteKeyPair)
	c.handle(RouteLimits, authenticated, c.getLimits)

	c.handle(RouteImageVersions, public, c.imageVersions)
	c.handle(RouteListImages, authenticated, c.listImages)
	c.handle(RouteGetImage, authenticated, c.getImage)

	c.registerSwift()

	// Every other request: the least specific pattern, not a Route.
	c.mux.HandleFunc("/", c.unrouted)
}

// serviceOf is the service that answers requests for path.
func serviceOf(path string) service {
	switch {
	case strings.HasPrefix(path, "/identity/"):
		return svcIdentity
	case strings.HasPrefix(path, "/image/"):
		return svcImage
	case strings.HasPrefix(path, "/object-store/"):
		return svcObjectStore
	default:
		return svcCompute
	}
}

// serve admits a request unless the Cloud is closing, and routes it.
func (c *Cloud) serve(w http.ResponseWriter, r *http.Request) {
	if !c.enter() {
		writeError(w, svcCompute, http.StatusServiceUnavailable, "The OpenStack double is closed.")
		return
	}
	defer c.leave()
	c.mux.ServeHTTP(w, r)
}

// unrouted answers requests no route matches, so that they are logged and
// answered in OpenStack's format instead of ServeMux's plain text.
func (c *Cloud) unrouted(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w}
	svc := serviceOf(r.URL.Path)
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := c.mux.Handler(probe); pattern != "" && pattern != "/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		rec.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(rec, svc, http.StatusMethodNotAllowed, fmt.Sprintf(
			"The OpenStack double does not implement %s %s; it allows %s there.", r.Method, r.URL.Path, strings.Join(allowed, ", ")))
	} else {
		writeError(rec, svc, http.StatusNotFound, fmt.Sprintf(
			"The OpenStack double has no %s. It serves Keystone v3 tokens, Nova servers, tags, flavors, "+
				"keypairs and limits, Glance images and Swift objects; the Route* constants list every path.", r.URL.Path))
	}
	c.record(r, "", "", rec.status, false)
}

// handle registers h for route, wrapped with fault injection, token checks,
// microversion negotiation and the request log.
func (c *Cloud) handle(route string, authenticated bool, h handlerFunc) {
	c.routes[route] = true
	_, path, _ := strings.Cut(route, " ")
	svc := serviceOf(path)
	c.mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		cl := &call{}
		injected := false
		defer func() { c.record(r, route, cl.mv.String(), rec.status, injected) }()

		if f := c.takeFault(route); f != nil {
			if !sleepCtx(r.Context(), f.Delay) {
				return
			}
			if f.Status != 0 {
				injected = true
				writeFault(rec, svc, route, f)
				return
			}
		}

		if authenticated {
			if _, ok := c.checkToken(r.Header.Get("X-Auth-Token")); !ok {
				rec.Header().Set("WWW-Authenticate", fmt.Sprintf("Keystone uri=%q", c.IdentityEndpoint()))
				// keystonemiddleware answers for every service, in its own format.
				writeError(rec, svcIdentity, http.StatusUnauthorized, authRequired)
				return
			}
		}
		if svc == svcCompute {
			mv, err := parseMicroversion(r.Header)
			if err != nil {
				writeError(rec, svc, err.status, err.msg)
				return
			}
			cl.mv = mv
			rec.Header().Set("X-OpenStack-Nova-API-Version", mv.String())
			rec.Header().Set("OpenStack-API-Version", "compute "+mv.String())
			rec.Header().Set("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version")
		}

		h(rec, r, cl)
	})
}

// sleepCtx waits d, or less if ctx ends first; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// writeFault answers with the injected fault f of route.
func writeFault(w http.ResponseWriter, svc service, route string, f *Fault) {
	if f.RetryAfter > 0 {
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	msg := f.Message
	if msg == "" {
		msg = fmt.Sprintf("Injected fault: %s answers %d %s.", route, f.Status, http.StatusText(f.Status))
	}
	writeError(w, svc, f.Status, msg)
}

type pendingFault struct {
	Fault
	left int
}

func (c *Cloud) takeFault(route string) *Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.faults[route]
	if len(q) == 0 {
		return nil
	}
	f := q[0]
	f.left--
	if f.left <= 0 {
		c.faults[route] = q[1:]
	}
	out := f.Fault
	return &out
}

func (c *Cloud) record(r *http.Request, route, mv string, status int, injected bool) {
	if status == 0 && r.Context().Err() == nil {
		// Nothing written: net/http answers 200. With the client gone, 0.
		status = http.StatusOK
	}
	req := Request{
		Time:         time.Now(),
		Method:       r.Method,
		Path:         r.URL.Path,
		Query:        r.URL.RawQuery,
		Route:        route,
		Microversion: mv,
		Status:       status,
		Injected:     injected,
	}
	c.mu.Lock()
	c.requests = append(c.requests, req)
	c.mu.Unlock()
	suffix := ""
	if injected {
		suffix = " (injected)"
	}
	c.logf("osdouble: %s %s → %d%s", r.Method, r.URL.RequestURI(), status, suffix)
}

// recorder remembers the status a handler wrote, for the request log.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	// The client may have gone away; there is no one left to tell.
	_ = enc.Encode(v)
}

// writeError answers with an error body in the format of svc.
func writeError(w http.ResponseWriter, svc service, status int, msg string) {
	switch svc {
	case svcIdentity:
		writeJSON(w, status, map[string]any{"error": map[string]any{
			"code": status, "message": msg, "title": http.StatusText(status),
		}})
	case svcImage:
		// Glance answers errors as webob HTML-ish text; clients only read the status.
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "%d %s\n\n%s\n", status, http.StatusText(status), msg)
	case svcObjectStore:
		writeSwiftError(w, status, msg)
	default:
		writeJSON(w, status, map[string]any{novaErrorKey(status): map[string]any{"code": status, "message": msg}})
	}
}

// novaErrorKey is the envelope Nova wraps an error of that status in.
func novaErrorKey(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "badRequest"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "itemNotFound"
	case http.StatusMethodNotAllowed:
		return "badMethod"
	case http.StatusNotAcceptable:
		return "notAcceptable"
	case http.StatusConflict:
		return "conflictingRequest"
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return "overLimit"
	case http.StatusNotImplemented:
		return "notImplemented"
	case http.StatusServiceUnavailable:
		return "serviceUnavailable"
	default:
		return "computeFault"
	}
}

// decodeBody reads a JSON request body into v, answering 400 when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, svc service, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		writeError(w, svc, http.StatusBadRequest, "Malformed request body: "+err.Error())
		return false
	}
	return true
}

func newHexID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Nova's and Keystone's timestamp formats.
const (
	novaTime     = "2006-01-02T15:04:05Z"
	novaUsecTime = "2006-01-02T15:04:05.000000"
	keystoneTime = "2006-01-02T15:04:05.000000Z"
)

func novaTimeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(novaUsecTime)
}

// MinMicroversion and MaxMicroversion bound the compute microversions the
// double accepts; MaxMicroversion is what "latest" means.
const (
	MinMicroversion = "2.1"
	MaxMicroversion = "2.96"
)

var (
	minMV = microversion{2, 1}
	maxMV = microversion{2, 96}
)

type microversion struct{ major, minor int }

func (m microversion) String() string {
	if m.major == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d", m.major, m.minor)
}

func (m microversion) atLeast(minor int) bool { return m.major > 2 || m.major == 2 && m.minor >= minor }

type mvError struct {
	status int
	msg    string
}

// parseMicroversion reads the requested compute microversion from either
// header gophercloud sends; none means the minimum, as in Nova.
func parseMicroversion(h http.Header) (microversion, *mvError) {
	v := ""
	if s := h.Get("OpenStack-API-Version"); s != "" {
		for _, part := range strings.Split(s, ",") {
			f := strings.Fields(part)
			if len(f) == 2 && strings.EqualFold(f[0], "compute") {
				v = f[1]
			}
		}
	}
	if v == "" {
		v = h.Get("X-OpenStack-Nova-API-Version")
	}
	if v == "" {
		return minMV, nil
	}
	if strings.EqualFold(v, "latest") {
		return maxMV, nil
	}
	maj, min, ok := strings.Cut(v, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil {
		return microversion{}, &mvError{http.StatusBadRequest, fmt.Sprintf("Invalid format for API version %q: expected MAJOR.MINOR or latest.", v)}
	}
	m := microversion{a, b}
	if m.major != 2 || m.minor < minMV.minor || m.minor > maxMV.minor {
		return microversion{}, &mvError{http.StatusNotAcceptable, fmt.Sprintf(
			"Version %s is not supported by the API. Minimum is %s and maximum is %s.", v, MinMicroversion, MaxMicroversion)}
	}
	return m, nil
}

func (c *Cloud) link(rel, path string) map[string]string {
	return map[string]string{"rel": rel, "href": c.base + path}
}
