package osdouble

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

func (c *Cloud) versionV21() map[string]any {
	return map[string]any{
		"id":          "v2.1",
		"status":      "CURRENT",
		"version":     MaxMicroversion,
		"min_version": MinMicroversion,
		"updated":     "2013-07-23T11:33:21Z",
		"links":       []any{c.link("self", "/compute/v2.1/")},
		"media-types": []any{map[string]string{
			"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1",
		}},
	}
}

func (c *Cloud) computeVersions(w http.ResponseWriter, r *http.Request, _ *call) {
	writeJSON(w, http.StatusOK, map[string]any{"versions": []any{c.versionV21()}})
}

func (c *Cloud) computeV21(w http.ResponseWriter, r *http.Request, _ *call) {
	writeJSON(w, http.StatusOK, map[string]any{"version": c.versionV21()})
}

func (c *Cloud) flavor(id string) (Flavor, bool) {
	i := slices.IndexFunc(c.opts.Flavors, func(f Flavor) bool { return f.ID == id })
	if i < 0 {
		return Flavor{}, false
	}
	return c.opts.Flavors[i], true
}

func (c *Cloud) flavorView(f Flavor, mv microversion, detail bool) map[string]any {
	v := map[string]any{
		"id":   f.ID,
		"name": f.Name,
		"links": []any{
			c.link("self", "/compute/v2.1/flavors/"+f.ID),
			c.link("bookmark", "/compute/flavors/"+f.ID),
		},
	}
	if !detail {
		return v
	}
	v["vcpus"] = f.VCPUs
	v["ram"] = f.RAM
	v["disk"] = f.Disk
	v["OS-FLV-EXT-DATA:ephemeral"] = 0
	v["OS-FLV-DISABLED:disabled"] = false
	v["os-flavor-access:is_public"] = true
	v["rxtx_factor"] = 1.0
	if mv.atLeast(75) {
		v["swap"] = 0
	} else {
		v["swap"] = ""
	}
	if mv.atLeast(55) {
		v["description"] = nil
	}
	if mv.atLeast(61) {
		v["extra_specs"] = map[string]string{}
	}
	return v
}

func (c *Cloud) listFlavors(detail bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, cl *call) {
		views := make([]any, 0, len(c.opts.Flavors))
		for _, f := range c.opts.Flavors {
			views = append(views, c.flavorView(f, cl.mv, detail))
		}
		writeJSON(w, http.StatusOK, map[string]any{"flavors": views})
	}
}

func (c *Cloud) getFlavor(w http.ResponseWriter, r *http.Request, cl *call) {
	id := r.PathValue("id")
	f, ok := c.flavor(id)
	if !ok {
		writeError(w, svcCompute, http.StatusNotFound, fmt.Sprintf("Flavor %s could not be found.", id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"flavor": c.flavorView(f, cl.mv, true)})
}

type keypair struct {
	id          int
	name        string
	pub         ssh.PublicKey
	publicText  string
	fingerprint string
	created     time.Time
}

func (c *Cloud) keypairView(kp *keypair, mv microversion, full bool) map[string]any {
	v := map[string]any{
		"name":        kp.name,
		"public_key":  kp.publicText,
		"fingerprint": kp.fingerprint,
	}
	if mv.atLeast(2) {
		v["type"] = "ssh"
	}
	if full {
		v["id"] = kp.id
		v["user_id"] = c.userID
		v["created_at"] = kp.created.UTC().Format(novaUsecTime)
		v["updated_at"] = nil
		v["deleted"] = false
		v["deleted_at"] = nil
	}
	return v
}

func (c *Cloud) createKeyPair(w http.ResponseWriter, r *http.Request, cl *call) {
	var body struct {
		KeyPair *struct {
			Name      string `json:"name"`
			PublicKey string `json:"public_key"`
			Type      string `json:"type"`
		} `json:"keypair"`
	}
	if !decodeBody(w, r, svcCompute, &body) {
		return
	}
	req := body.KeyPair
	bad := func(format string, args ...any) {
		writeError(w, svcCompute, http.StatusBadRequest, fmt.Sprintf(format, args...))
	}
	switch {
	case req == nil:
		bad("Invalid input for field/attribute keypair: 'keypair' is a required property.")
		return
	case req.Name == "" || len(req.Name) > 255 || strings.TrimSpace(req.Name) != req.Name:
		bad("Invalid input for field/attribute name: a key pair name is 1 to 255 characters without leading or trailing spaces.")
		return
	case req.Type != "" && req.Type != "ssh":
		bad("Invalid input for field/attribute type: the OpenStack double supports ssh key pairs only, not %q.", req.Type)
		return
	case req.PublicKey == "" && cl.mv.atLeast(92):
		bad("Invalid input for field/attribute keypair: 'public_key' is a required property from microversion 2.92 on; " +
			"generate the key locally and import it.")
		return
	}

	kp := &keypair{name: req.Name, created: time.Now()}
	var private string
	if req.PublicKey != "" {
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(req.PublicKey))
		if err != nil {
			bad("Keypair data is invalid: failed to generate fingerprint: %v; pass an OpenSSH public key line.", err)
			return
		}
		kp.pub, kp.publicText = pub, strings.TrimSpace(req.PublicKey)
	} else {
		pub, priv, err := generateKeyPair()
		if err != nil {
			writeError(w, svcCompute, http.StatusInternalServerError, "Generating a key pair: "+err.Error())
			return
		}
		kp.pub, private = pub, priv
		kp.publicText = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " Generated-by-Nova"
	}
	kp.fingerprint = ssh.FingerprintLegacyMD5(kp.pub)

	c.mu.Lock()
	if _, exists := c.keypairs[kp.name]; exists {
		c.mu.Unlock()
		writeError(w, svcCompute, http.StatusConflict, fmt.Sprintf("Key pair '%s' already exists.", kp.name))
		return
	}
	if q := c.effectiveQuota(); q.KeyPairs >= 0 && len(c.keypairs) >= q.KeyPairs {
		c.mu.Unlock()
		writeError(w, svcCompute, http.StatusForbidden, "Quota exceeded, too many key pairs.")
		return
	}
	c.keyPairs++
	kp.id = c.keyPairs
	c.keypairs[kp.name] = kp
	c.keyOrder = append(c.keyOrder, kp.name)
	c.mu.Unlock()

	v := c.keypairView(kp, cl.mv, false)
	v["user_id"] = c.userID
	if private != "" {
		v["private_key"] = private
	}
	status := http.StatusCreated
	if !cl.mv.atLeast(2) {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"keypair": v})
}

// generateKeyPair makes the key pair Nova generates when none is imported,
// and returns the private key in PEM.
func generateKeyPair() (ssh.PublicKey, string, error) {
	pubKey, privKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	block, err := ssh.MarshalPrivateKey(privKey, "Generated-by-Nova")
	if err != nil {
		return nil, "", err
	}
	pub, err := ssh.NewPublicKey(pubKey)
	if err != nil {
		return nil, "", err
	}
	return pub, string(pem.EncodeToMemory(block)), nil
}

func (c *Cloud) listKeyPairs(w http.ResponseWriter, r *http.Request, cl *call) {
	c.mu.Lock()
	views := make([]any, 0, len(c.keypairs))
	for _, name := range c.keyOrder {
		if kp, ok := c.keypairs[name]; ok {
			views = append(views, map[string]any{"keypair": c.keypairView(kp, cl.mv, false)})
		}
	}
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keypairs": views})
}

func (c *Cloud) getKeyPair(w http.ResponseWriter, r *http.Request, cl *call) {
	name := r.PathValue("name")
	c.mu.Lock()
	kp, ok := c.keypairs[name]
	c.mu.Unlock()
	if !ok {
		writeError(w, svcCompute, http.StatusNotFound, fmt.Sprintf("Keypair %s not found for user %s", name, c.userID))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"keypair": c.keypairView(kp, cl.mv, true)})
}

func (c *Cloud) deleteKeyPair(w http.ResponseWriter, r *http.Request, cl *call) {
	name := r.PathValue("name")
	c.mu.Lock()
	_, ok := c.keypairs[name]
	delete(c.keypairs, name)
	if ok {
		c.keyOrder = slices.DeleteFunc(c.keyOrder, func(n string) bool { return n == name })
	}
	c.mu.Unlock()
	if !ok {
		writeError(w, svcCompute, http.StatusNotFound, fmt.Sprintf("Keypair %s not found for user %s", name, c.userID))
		return
	}
	if cl.mv.atLeast(2) {
		w.WriteHeader(http.StatusNoContent)
	} else {
		w.WriteHeader(http.StatusAccepted)
	}
}

func (c *Cloud) getLimits(w http.ResponseWriter, r *http.Request, cl *call) {
	c.mu.Lock()
	q, u := c.effectiveQuota(), c.usage()
	keypairs := len(c.keypairs)
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"limits": map[string]any{
		"rate": []any{},
		"absolute": map[string]any{
			"maxTotalInstances":       q.Instances,
			"totalInstancesUsed":      u.instances,
			"maxTotalCores":           q.Cores,
			"totalCoresUsed":          u.cores,
			"maxTotalRAMSize":         q.RAM,
			"totalRAMUsed":            u.ram,
			"maxTotalKeypairs":        q.KeyPairs,
			"totalKeyPairsUsed":       keypairs,
			"maxServerMeta":           maxServerMeta,
			"maxImageMeta":            128,
			"maxPersonality":          5,
			"maxPersonalitySize":      10240,
			"maxServerGroups":         10,
			"maxServerGroupMembers":   10,
			"totalServerGroupsUsed":   0,
			"maxSecurityGroups":       10,
			"maxSecurityGroupRules":   20,
			"totalSecurityGroupsUsed": 0,
			"maxTotalFloatingIps":     10,
			"totalFloatingIpsUsed":    0,
		},
	}})
}
