package osdouble

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

type createServerRequest struct {
	Server *struct {
		Name             string            `json:"name"`
		ImageRef         string            `json:"imageRef"`
		FlavorRef        string            `json:"flavorRef"`
		KeyName          string            `json:"key_name"`
		UserData         *string           `json:"user_data"`
		Metadata         map[string]string `json:"metadata"`
		Tags             *[]string         `json:"tags"`
		AccessIPv4       string            `json:"accessIPv4"`
		AdminPass        string            `json:"adminPass"`
		MinCount         int               `json:"min_count"`
		MaxCount         int               `json:"max_count"`
		ReturnResID      bool              `json:"return_reservation_id"`
		Networks         json.RawMessage   `json:"networks"`
		AvailabilityZone string            `json:"availability_zone"`
		SecurityGroups   []struct {
			Name string `json:"name"`
		} `json:"security_groups"`
		BlockDevices []struct {
			SourceType string `json:"source_type"`
			UUID       string `json:"uuid"`
			BootIndex  any    `json:"boot_index"`
		} `json:"block_device_mapping_v2"`
	} `json:"server"`
}

// Nova's limits on what a create request may carry.
const (
	maxUserData   = 65535
	maxServerMeta = 128
	maxTags       = 50
	maxTagLength  = 60
)

func (c *Cloud) createServer(w http.ResponseWriter, r *http.Request, cl *call) {
	var req createServerRequest
	if !decodeBody(w, r, svcCompute, &req) {
		return
	}
	s := req.Server
	bad := func(format string, args ...any) {
		writeError(w, svcCompute, http.StatusBadRequest, fmt.Sprintf(format, args...))
	}
	if s == nil {
		bad("Invalid input for field/attribute server: 'server' is a required property.")
		return
	}
	if s.Name == "" || len(s.Name) > 255 {
		bad("Invalid input for field/attribute name: a name of 1 to 255 characters is required.")
		return
	}
	if s.Tags != nil && !cl.mv.atLeast(52) {
		bad("Invalid input for field/attribute server. Additional properties are not allowed ('tags' was unexpected): " +
			"tags at create need microversion 2.52 or later (set ServiceClient.Microversion).")
		return
	}
	var tags []string
	if s.Tags != nil {
		tags = *s.Tags
		if msg := checkTags(tags); msg != "" {
			bad("%s", msg)
			return
		}
	}
	if len(s.Metadata) > maxServerMeta {
		writeError(w, svcCompute, http.StatusForbidden, fmt.Sprintf("Quota exceeded for metadata items: at most %d per server.", maxServerMeta))
		return
	}
	for k, v := range s.Metadata {
		if k == "" || len(k) > 255 || len(v) > 255 {
			bad("Invalid input for field/attribute metadata: keys must be 1 to 255 characters and values at most 255 (key %q).", k)
			return
		}
	}
	var userData []byte
	if s.UserData != nil {
		if len(*s.UserData) > maxUserData {
			bad("Invalid input for field/attribute user_data: at most %d bytes of base64.", maxUserData)
			return
		}
		var err error
		if userData, err = base64.StdEncoding.DecodeString(*s.UserData); err != nil {
			bad("Invalid input for field/attribute user_data. Value: %.40q is not a 'base64' formatted string.", *s.UserData)
			return
		}
	}
	minCount, maxCount := max(s.MinCount, 1), max(s.MaxCount, 1)
	if s.MaxCount == 0 {
		maxCount = minCount
	}
	if minCount > maxCount {
		bad("min_count (%d) must be <= max_count (%d).", minCount, maxCount)
		return
	}

	flavor, ok := c.flavor(refID(s.FlavorRef))
	if !ok {
		bad("Invalid flavorRef provided: no flavor %q; GET /flavors/detail lists them.", s.FlavorRef)
		return
	}
	imageRef := refID(s.ImageRef)
	if imageRef == "" {
		for _, bd := range s.BlockDevices {
			if bd.SourceType == "image" {
				imageRef = bd.UUID
			}
		}
	}
	image, ok := c.image(imageRef)
	if !ok {
		bad("Can not find requested image %q: give an image id from the image service (GET /v2/images?name=...).", s.ImageRef)
		return
	}
	nets, status, msg := c.resolveNetworks(s.Networks, cl.mv)
	if msg != "" {
		writeError(w, svcCompute, status, msg)
		return
	}
	var groups []string
	for _, g := range s.SecurityGroups {
		if !slices.Contains(c.opts.SecurityGroups, g.Name) {
			bad("Unable to find security_group with name or id '%s'.", g.Name)
			return
		}
		groups = append(groups, g.Name)
	}
	if len(groups) == 0 && slices.Contains(c.opts.SecurityGroups, "default") {
		groups = []string{"default"}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	var authorized *keypair
	if s.KeyName != "" {
		kp, ok := c.keypairs[s.KeyName]
		if !ok {
			bad("Invalid key_name provided: no key pair %q; create or import it first (POST /os-keypairs).", s.KeyName)
			return
		}
		authorized = kp
	}
	count, quotaMsg := c.fitQuota(flavor, minCount, maxCount)
	if quotaMsg != "" {
		writeError(w, svcCompute, http.StatusForbidden, quotaMsg)
		return
	}

	now := time.Now()
	resID := "r-" + newHexID()[:8]
	var first *instance
	for i := 0; i < count; i++ {
		name, mac := s.Name, newHexID()
		if count > 1 {
			// Nova's multi_instance_display_name_template.
			name = fmt.Sprintf("%s-%d", s.Name, i+1)
		}
		in := &instance{
			id:         newUUID(),
			name:       name,
			flavor:     flavor,
			image:      image,
			keyName:    s.KeyName,
			metadata:   map[string]string{},
			tags:       slices.Clone(tags),
			secGroups:  groups,
			networks:   nets,
			userData:   userData,
			accessIPv4: s.AccessIPv4,
			adminPass:  s.AdminPass,
			hostID:     newHexID() + newHexID()[:24],
			mac:        "fa:16:3e:" + mac[0:2] + ":" + mac[2:4] + ":" + mac[4:6],
			behavior:   c.takeBehavior(name),
			status:     statusBuild,
			taskState:  taskSpawning,
			created:    now,
			updated:    now,
		}
		if in.adminPass == "" {
			in.adminPass = newHexID()[:12]
		}
		if in.tags == nil {
			in.tags = []string{}
		}
		in.dir = filepath.Join(c.dir, in.id)
		if err := os.MkdirAll(in.dir, 0o755); err != nil {
			writeError(w, svcCompute, http.StatusInternalServerError, "Creating the server's directory: "+err.Error())
			return
		}
		var pub ssh.PublicKey
		if authorized != nil {
			pub = authorized.pub
		}
		sshd, err := newSSHServer(sshServerOptions{
			instanceID: in.id,
			dir:        in.dir,
			authorized: pub,
			dropAfter:  in.behavior.SSHDropAfter,
			hostKey:    cloudConfigHostKey(userData, c.logf),
			shell:      c.opts.Shell,
			env:        c.opts.Env,
			logf:       c.logf,
		})
		if err != nil {
			writeError(w, svcCompute, http.StatusInternalServerError, "Starting the server's SSH endpoint: "+err.Error())
			return
		}
		in.sshd = sshd
		maps.Copy(in.metadata, s.Metadata)
		// Nova has no port field: tell clients where SSH listens.
		in.metadata["ssh_port"] = strconv.Itoa(sshd.port())
		c.servers[in.id] = in
		c.order = append(c.order, in)
		c.startBoot(in)
		if first == nil {
			first = in
		}
	}

	w.Header().Set("Location", c.base+"/compute/v2.1/servers/"+first.id)
	if s.ReturnResID {
		writeJSON(w, http.StatusAccepted, map[string]any{"reservation_id": resID})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"server": map[string]any{
		"id":                first.id,
		"links":             c.serverLinks(first.id),
		"OS-DCF:diskConfig": "MANUAL",
		"security_groups":   secGroupViews(first.secGroups),
		"adminPass":         first.adminPass,
	}})
}

// refID turns an id-or-URL reference into the id.
func refID(ref string) string {
	if strings.Contains(ref, "/") {
		return path.Base(ref)
	}
	return ref
}

func checkTags(tags []string) string {
	if len(tags) > maxTags {
		return fmt.Sprintf("Invalid input for field/attribute tags: at most %d tags per server.", maxTags)
	}
	for _, t := range tags {
		if t == "" || len(t) > maxTagLength || strings.ContainsAny(t, "/,") {
			return fmt.Sprintf("Invalid input for field/attribute tags. Value: %q: a tag is 1 to %d characters without '/' or ','.", t, maxTagLength)
		}
	}
	return ""
}

// resolveNetworks applies Nova's rules for "networks": required from 2.37 on,
// "auto" and "none" from 2.37 on, otherwise a list of {"uuid": ...}.
func (c *Cloud) resolveNetworks(raw json.RawMessage, mv microversion) ([]Network, int, string) {
	if len(raw) == 0 || string(raw) == "null" {
		if mv.atLeast(37) {
			return nil, http.StatusBadRequest, "Invalid input for field/attribute server: 'networks' is a required property " +
				"from microversion 2.37 on; pass a list of networks, \"auto\" or \"none\"."
		}
		if len(c.opts.Networks) > 1 {
			return nil, http.StatusConflict, "Multiple possible networks found, use a Network ID to be more specific."
		}
		return slices.Clone(c.opts.Networks), 0, ""
	}
	var word string
	if json.Unmarshal(raw, &word) == nil {
		switch {
		case !mv.atLeast(37):
			return nil, http.StatusBadRequest, fmt.Sprintf("Invalid input for field/attribute networks: %q needs microversion 2.37 or later.", word)
		case word == "none":
			return nil, 0, ""
		case word == "auto":
			return slices.Clone(c.opts.Networks[:min(1, len(c.opts.Networks))]), 0, ""
		default:
			return nil, http.StatusBadRequest, fmt.Sprintf("Invalid input for field/attribute networks. Value: %q: use a list, \"auto\" or \"none\".", word)
		}
	}
	var list []struct {
		UUID string `json:"uuid"`
		Port string `json:"port"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, http.StatusBadRequest, "Invalid input for field/attribute networks: " + err.Error()
	}
	var nets []Network
	for _, n := range list {
		if n.Port != "" {
			return nil, http.StatusBadRequest, fmt.Sprintf("Port %s not found: the OpenStack double has no Neutron ports; attach by network uuid.", n.Port)
		}
		i := slices.IndexFunc(c.opts.Networks, func(x Network) bool { return x.ID == n.UUID })
		if i < 0 {
			return nil, http.StatusBadRequest, fmt.Sprintf("Network %s could not be found.", n.UUID)
		}
		nets = append(nets, c.opts.Networks[i])
	}
	return nets, 0, ""
}

// fitQuota says how many servers of flavor between lo and hi fit the quota,
// or Nova's quota message when not even lo do. Call with c.mu held.
func (c *Cloud) fitQuota(f Flavor, lo, hi int) (int, string) {
	q, u := c.effectiveQuota(), c.usage()
	over := func(k int) string {
		switch {
		case q.Instances >= 0 && u.instances+k > q.Instances:
			return fmt.Sprintf("Quota exceeded for instances: Requested %d, but already used %d of %d instances", k, u.instances, q.Instances)
		case q.Cores >= 0 && u.cores+k*f.VCPUs > q.Cores:
			return fmt.Sprintf("Quota exceeded for cores: Requested %d, but already used %d of %d cores", k*f.VCPUs, u.cores, q.Cores)
		case q.RAM >= 0 && u.ram+k*f.RAM > q.RAM:
			return fmt.Sprintf("Quota exceeded for ram: Requested %d, but already used %d of %d ram", k*f.RAM, u.ram, q.RAM)
		}
		return ""
	}
	if msg := over(lo); msg != "" {
		return 0, msg
	}
	n := lo
	for n < hi && over(n+1) == "" {
		n++
	}
	return n, ""
}

// usage is what the servers that are not gone hold of the quota.
type usage struct{ instances, cores, ram int }

// usage adds up what the project's servers use. Call with c.mu held.
func (c *Cloud) usage() usage {
	var u usage
	for _, in := range c.order {
		if in.alive() {
			u.instances++
			u.cores += in.flavor.VCPUs
			u.ram += in.flavor.RAM
		}
	}
	return u
}

// effectiveQuota resolves zero fields to Nova's defaults. Call with c.mu held.
func (c *Cloud) effectiveQuota() Quota {
	q := c.quota
	def := func(v, d int) int {
		if v == 0 {
			return d
		}
		if v < 0 {
			return -1
		}
		return v
	}
	return Quota{
		Instances: def(q.Instances, 10),
		Cores:     def(q.Cores, 20),
		RAM:       def(q.RAM, 51200),
		KeyPairs:  def(q.KeyPairs, 100),
	}
}

// secGroupViews lists security groups the way server bodies do; nil for none.
func secGroupViews(groups []string) []any {
	var sg []any
	for _, g := range groups {
		sg = append(sg, map[string]string{"name": g})
	}
	return sg
}

func (c *Cloud) serverLinks(id string) []any {
	return []any{
		c.link("self", "/compute/v2.1/servers/"+id),
		c.link("bookmark", "/compute/servers/"+id),
	}
}

// serverView renders in the way Nova's show API does at microversion mv.
// Call with c.mu held.
func (c *Cloud) serverView(in *instance, mv microversion) map[string]any {
	addresses := map[string]any{}
	if !in.launched.IsZero() {
		for _, n := range in.networks {
			addresses[n.Name] = []any{map[string]any{
				"version": 4, "addr": "127.0.0.1",
				"OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": in.mac,
			}}
		}
	}
	vmState, power := "building", 0
	switch in.status {
	case statusActive:
		vmState, power = "active", 1
	case statusError:
		vmState = "error"
	case statusDeleted:
		vmState = "deleted"
	}
	var task any
	if in.taskState != "" {
		task = in.taskState
	}
	var keyName any
	if in.keyName != "" {
		keyName = in.keyName
	}
	v := map[string]any{
		"id":                                   in.id,
		"name":                                 in.name,
		"status":                               in.status,
		"tenant_id":                            c.projectID,
		"user_id":                              c.userID,
		"hostId":                               in.hostID,
		"created":                              in.created.UTC().Format(novaTime),
		"updated":                              in.updated.UTC().Format(novaTime),
		"addresses":                            addresses,
		"accessIPv4":                           in.accessIPv4,
		"accessIPv6":                           "",
		"image":                                map[string]any{"id": in.image.ID, "links": []any{c.link("bookmark", "/compute/images/"+in.image.ID)}},
		"key_name":                             keyName,
		"metadata":                             maps.Clone(in.metadata),
		"security_groups":                      secGroupViews(in.secGroups),
		"links":                                c.serverLinks(in.id),
		"progress":                             0,
		"config_drive":                         "",
		"OS-DCF:diskConfig":                    "MANUAL",
		"OS-EXT-AZ:availability_zone":          "nova",
		"OS-EXT-STS:task_state":                task,
		"OS-EXT-STS:vm_state":                  vmState,
		"OS-EXT-STS:power_state":               power,
		"OS-SRV-USG:launched_at":               novaTimeOrNil(in.launched),
		"OS-SRV-USG:terminated_at":             novaTimeOrNil(in.deleted),
		"os-extended-volumes:volumes_attached": []any{},
	}
	if mv.atLeast(47) {
		v["flavor"] = map[string]any{
			"original_name": in.flavor.Name, "vcpus": in.flavor.VCPUs, "ram": in.flavor.RAM,
			"disk": in.flavor.Disk, "ephemeral": 0, "swap": 0, "extra_specs": map[string]string{},
		}
	} else {
		v["flavor"] = map[string]any{"id": in.flavor.ID, "links": []any{c.link("bookmark", "/compute/flavors/"+in.flavor.ID)}}
	}
	if mv.atLeast(9) {
		v["locked"] = false
	}
	if mv.atLeast(19) {
		v["description"] = nil
	}
	if mv.atLeast(26) {
		v["tags"] = slices.Clone(in.tags)
	}
	if mv.atLeast(71) {
		v["server_groups"] = []string{}
	}
	if mv.atLeast(73) {
		v["locked_reason"] = nil
	}
	if in.status == statusError {
		v["fault"] = map[string]any{
			"code": 500, "message": in.fault, "created": in.faultAt.UTC().Format(novaTime),
			"details": "Traceback (most recent call last): osdouble: injected boot failure",
		}
	}
	return v
}

// visible finds a server the API still shows. Call with c.mu held.
func (c *Cloud) visible(id string) (*instance, bool) {
	in, ok := c.servers[id]
	if !ok || !in.alive() {
		return nil, false
	}
	return in, true
}

func notFound(w http.ResponseWriter, id string) {
	writeError(w, svcCompute, http.StatusNotFound, fmt.Sprintf("Instance %s could not be found.", id))
}

// pathServer finds the server named by the request's {id}, answering 404 when
// the API no longer shows it.
func (c *Cloud) pathServer(w http.ResponseWriter, r *http.Request) (*instance, bool) {
	id := r.PathValue("id")
	c.mu.Lock()
	in, ok := c.visible(id)
	c.mu.Unlock()
	if !ok {
		notFound(w, id)
	}
	return in, ok
}

func (c *Cloud) getServer(w http.ResponseWriter, r *http.Request, cl *call) {
	id := r.PathValue("id")
	c.mu.Lock()
	in, ok := c.visible(id)
	var view map[string]any
	if ok {
		view = c.serverView(in, cl.mv)
	}
	c.mu.Unlock()
	if !ok {
		notFound(w, id)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"server": view})
}

func (c *Cloud) deleteServer(w http.ResponseWriter, r *http.Request, _ *call) {
	in, ok := c.pathServer(w, r)
	if !ok {
		return
	}
	c.startDelete(in, false)
	w.WriteHeader(http.StatusNoContent)
}

func (c *Cloud) serverAction(w http.ResponseWriter, r *http.Request, _ *call) {
	var body map[string]json.RawMessage
	if !decodeBody(w, r, svcCompute, &body) {
		return
	}
	in, ok := c.pathServer(w, r)
	if !ok {
		return
	}
	switch {
	case body["forceDelete"] != nil:
		c.startDelete(in, true)
		w.WriteHeader(http.StatusAccepted)
	case body["os-getConsoleOutput"] != nil:
		c.mu.Lock()
		out := fmt.Sprintf("osdouble: %s (%s) created %s\n", in.name, in.id, in.created.UTC().Format(time.RFC3339))
		if !in.launched.IsZero() {
			out += fmt.Sprintf("osdouble: sshd listening on %s\n", in.sshd.addr())
		}
		if in.fault != "" {
			out += "osdouble: boot failed: " + in.fault + "\n"
		}
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"output": out})
	default:
		var names []string
		for k := range body {
			names = append(names, k)
		}
		writeError(w, svcCompute, http.StatusBadRequest, fmt.Sprintf(
			"Action %v is not supported by the OpenStack double; it supports forceDelete and os-getConsoleOutput.", names))
	}
}

// listServers serves GET /servers and /servers/detail with Nova's filters
// name (a regular expression), status, flavor, image, changes-since, tags,
// tags-any, not-tags and not-tags-any, newest first, paged by limit and
// marker.
func (c *Cloud) listServers(detail bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, cl *call) {
		q := r.URL.Query()
		var nameRe *regexp.Regexp
		if n := q.Get("name"); n != "" {
			var err error
			if nameRe, err = regexp.Compile(n); err != nil {
				nameRe = regexp.MustCompile(regexp.QuoteMeta(n))
			}
		}
		var since time.Time
		if s := q.Get("changes-since"); s != "" {
			var err error
			if since, err = time.Parse(time.RFC3339, s); err != nil {
				writeError(w, svcCompute, http.StatusBadRequest, fmt.Sprintf("Invalid changes-since value %q: use an ISO 8601 time such as 2025-01-31T12:00:00Z.", s))
				return
			}
		}
		tagFilters := map[string][]string{}
		for _, k := range []string{"tags", "tags-any", "not-tags", "not-tags-any"} {
			if v := q.Get(k); v != "" {
				if !cl.mv.atLeast(26) {
					continue // Nova ignores unknown filters before 2.26
				}
				tagFilters[k] = strings.Split(v, ",")
			}
		}
		limit := 1000
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				writeError(w, svcCompute, http.StatusBadRequest, fmt.Sprintf("Invalid limit %q: use a non-negative integer.", s))
				return
			}
			limit = min(n, limit)
		}

		c.mu.Lock()
		var match []*instance
		for _, in := range c.order {
			if !in.alive() && since.IsZero() {
				continue
			}
			if nameRe != nil && !nameRe.MatchString(in.name) ||
				q.Get("status") != "" && !strings.EqualFold(q.Get("status"), in.status) ||
				q.Get("flavor") != "" && refID(q.Get("flavor")) != in.flavor.ID ||
				q.Get("image") != "" && refID(q.Get("image")) != in.image.ID ||
				!since.IsZero() && in.updated.Before(since) ||
				!tagsMatch(in.tags, tagFilters) {
				continue
			}
			match = append(match, in)
		}
		// Nova's default order: created_at descending.
		sort.SliceStable(match, func(i, j int) bool {
			if !match[i].created.Equal(match[j].created) {
				return match[i].created.After(match[j].created)
			}
			return match[i].id < match[j].id
		})
		if marker := q.Get("marker"); marker != "" {
			i := slices.IndexFunc(match, func(in *instance) bool { return in.id == marker })
			if i < 0 {
				c.mu.Unlock()
				writeError(w, svcCompute, http.StatusBadRequest, fmt.Sprintf("marker [%s] not found", marker))
				return
			}
			match = match[i+1:]
		}
		more := len(match) > limit
		if more {
			match = match[:limit]
		}
		views := make([]any, 0, len(match))
		for _, in := range match {
			if detail {
				views = append(views, c.serverView(in, cl.mv))
			} else {
				views = append(views, map[string]any{"id": in.id, "name": in.name, "links": c.serverLinks(in.id)})
			}
		}
		c.mu.Unlock()

		resp := map[string]any{"servers": views}
		if more && len(match) > 0 {
			next := maps.Clone(q)
			next.Set("limit", strconv.Itoa(limit))
			next.Set("marker", match[len(match)-1].id)
			resp["servers_links"] = []any{map[string]string{"rel": "next", "href": c.base + r.URL.Path + "?" + next.Encode()}}
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

func tagsMatch(have []string, filters map[string][]string) bool {
	all := func(want []string) bool {
		for _, t := range want {
			if !slices.Contains(have, t) {
				return false
			}
		}
		return true
	}
	anyOf := func(want []string) bool {
		return slices.ContainsFunc(want, func(t string) bool { return slices.Contains(have, t) })
	}
	if f, ok := filters["tags"]; ok && !all(f) {
		return false
	}
	if f, ok := filters["tags-any"]; ok && !anyOf(f) {
		return false
	}
	if f, ok := filters["not-tags"]; ok && all(f) {
		return false
	}
	if f, ok := filters["not-tags-any"]; ok && anyOf(f) {
		return false
	}
	return true
}

// tagged serves a route of the server tags API, which exists from
// microversion 2.26 on, with the server it names.
func (c *Cloud) tagged(h func(w http.ResponseWriter, r *http.Request, in *instance)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, cl *call) {
		if !cl.mv.atLeast(26) {
			writeError(w, svcCompute, http.StatusNotFound, "The server tags API needs microversion 2.26 or later (set ServiceClient.Microversion).")
			return
		}
		if in, ok := c.pathServer(w, r); ok {
			h(w, r, in)
		}
	}
}

func tagNotFound(w http.ResponseWriter, tag string) {
	writeError(w, svcCompute, http.StatusNotFound, fmt.Sprintf("Tag '%s' could not be found.", tag))
}

func (c *Cloud) listServerTags(w http.ResponseWriter, r *http.Request, in *instance) {
	c.mu.Lock()
	tags := slices.Clone(in.tags)
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"tags": tags})
}

func (c *Cloud) replaceServerTags(w http.ResponseWriter, r *http.Request, in *instance) {
	var body struct {
		Tags *[]string `json:"tags"`
	}
	if !decodeBody(w, r, svcCompute, &body) {
		return
	}
	if body.Tags == nil {
		writeError(w, svcCompute, http.StatusBadRequest, "Invalid input for field/attribute tags: 'tags' is a required property.")
		return
	}
	if msg := checkTags(*body.Tags); msg != "" {
		writeError(w, svcCompute, http.StatusBadRequest, msg)
		return
	}
	tags := slices.Compact(slices.Sorted(slices.Values(*body.Tags)))
	c.mu.Lock()
	in.tags = tags
	in.updated = time.Now()
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"tags": tags})
}

func (c *Cloud) deleteServerTags(w http.ResponseWriter, r *http.Request, in *instance) {
	c.mu.Lock()
	in.tags = []string{}
	in.updated = time.Now()
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (c *Cloud) checkServerTag(w http.ResponseWriter, r *http.Request, in *instance) {
	tag := r.PathValue("tag")
	c.mu.Lock()
	has := slices.Contains(in.tags, tag)
	c.mu.Unlock()
	if !has {
		tagNotFound(w, tag)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *Cloud) addServerTag(w http.ResponseWriter, r *http.Request, in *instance) {
	tag := r.PathValue("tag")
	if msg := checkTags([]string{tag}); msg != "" {
		writeError(w, svcCompute, http.StatusBadRequest, msg)
		return
	}
	c.mu.Lock()
	has := slices.Contains(in.tags, tag)
	full := len(in.tags) >= maxTags
	if !has && !full {
		in.tags = append(in.tags, tag)
		in.updated = time.Now()
	}
	c.mu.Unlock()
	switch {
	case has:
		w.WriteHeader(http.StatusNoContent)
	case full:
		writeError(w, svcCompute, http.StatusBadRequest, fmt.Sprintf("Instance has reached the maximum of %d tags.", maxTags))
	default:
		w.Header().Set("Location", c.base+"/compute/v2.1/servers/"+in.id+"/tags/"+url.PathEscape(tag))
		w.WriteHeader(http.StatusCreated)
	}
}

func (c *Cloud) deleteServerTag(w http.ResponseWriter, r *http.Request, in *instance) {
	tag := r.PathValue("tag")
	c.mu.Lock()
	i := slices.Index(in.tags, tag)
	if i >= 0 {
		in.tags = slices.Delete(in.tags, i, i+1)
		in.updated = time.Now()
	}
	c.mu.Unlock()
	if i < 0 {
		tagNotFound(w, tag)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
