package osdouble

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

type token struct {
	id      string
	methods []string
	issued  time.Time
	expires time.Time
	auditID string
	appCred *ApplicationCredential
}

func (c *Cloud) checkToken(id string) (*token, bool) {
	if id == "" {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tokens[id]
	if !ok || !time.Now().Before(t.expires) {
		return nil, false
	}
	return t, true
}

func (c *Cloud) issueToken(methods []string, appCred *ApplicationCredential, expires time.Time) *token {
	var audit [16]byte
	_, _ = rand.Read(audit[:]) // crypto/rand.Read never fails on Linux
	now := time.Now().UTC()
	if expires.IsZero() {
		expires = now.Add(c.opts.TokenTTL)
	}
	t := &token{
		// Fernet tokens are opaque base64url strings of about this length.
		id:      "gAAAAA" + newHexID() + newHexID() + newHexID(),
		methods: methods,
		issued:  now,
		expires: expires,
		auditID: base64.RawURLEncoding.EncodeToString(audit[:]),
		appCred: appCred,
	}
	c.mu.Lock()
	c.tokens[t.id] = t
	c.mu.Unlock()
	return t
}

func (c *Cloud) versionV3() map[string]any {
	return map[string]any{
		"id":      "v3.14",
		"status":  "stable",
		"updated": "2020-04-07T00:00:00Z",
		"links":   []any{c.link("self", "/identity/v3/")},
		"media-types": []any{map[string]string{
			"base": "application/json", "type": "application/vnd.openstack.identity-v3+json",
		}},
	}
}

func (c *Cloud) identityVersions(w http.ResponseWriter, r *http.Request, _ *call) {
	writeJSON(w, http.StatusMultipleChoices, map[string]any{"versions": map[string]any{"values": []any{c.versionV3()}}})
}

func (c *Cloud) identityV3(w http.ResponseWriter, r *http.Request, _ *call) {
	writeJSON(w, http.StatusOK, map[string]any{"version": c.versionV3()})
}

type authDomain struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type authUser struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Password string      `json:"password"`
	Domain   *authDomain `json:"domain"`
}

type authRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User authUser `json:"user"`
			} `json:"password"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token"`
			ApplicationCredential *struct {
				ID     string    `json:"id"`
				Name   string    `json:"name"`
				Secret string    `json:"secret"`
				User   *authUser `json:"user"`
			} `json:"application_credential"`
		} `json:"identity"`
		Scope *struct {
			Project *struct {
				ID     string      `json:"id"`
				Name   string      `json:"name"`
				Domain *authDomain `json:"domain"`
			} `json:"project"`
			Domain json.RawMessage `json:"domain"`
			System json.RawMessage `json:"system"`
			Trust  json.RawMessage `json:"OS-TRUST:trust"`
		} `json:"scope"`
	} `json:"auth"`
}

const authRequired = "The request you have made requires authentication."

func (c *Cloud) createToken(w http.ResponseWriter, r *http.Request, _ *call) {
	var req authRequest
	if !decodeBody(w, r, svcIdentity, &req) {
		return
	}
	id := req.Auth.Identity
	if len(id.Methods) == 0 {
		writeError(w, svcIdentity, http.StatusBadRequest, "Invalid input for field 'identity': 'methods' is a required property.")
		return
	}

	var (
		appCred *ApplicationCredential
		expires time.Time
	)
	switch {
	case slices.Contains(id.Methods, "password"):
		if id.Password == nil {
			writeError(w, svcIdentity, http.StatusBadRequest, "Invalid input for field 'identity': 'password' is a required property.")
			return
		}
		if msg := c.checkUser(id.Password.User, true); msg != "" {
			c.logf("osdouble: password authentication refused: %s", msg)
			writeError(w, svcIdentity, http.StatusUnauthorized, authRequired)
			return
		}
	case slices.Contains(id.Methods, "application_credential"):
		ac := id.ApplicationCredential
		if ac == nil {
			writeError(w, svcIdentity, http.StatusBadRequest, "Invalid input for field 'identity': 'application_credential' is a required property.")
			return
		}
		if req.Auth.Scope != nil {
			writeError(w, svcIdentity, http.StatusUnauthorized, "Application credentials cannot request a scope.")
			return
		}
		if ac.ID == "" && ac.User != nil {
			if msg := c.checkUser(*ac.User, false); msg != "" {
				c.logf("osdouble: application credential refused: %s", msg)
				writeError(w, svcIdentity, http.StatusUnauthorized, authRequired)
				return
			}
		}
		for i := range c.opts.ApplicationCredentials {
			cand := &c.opts.ApplicationCredentials[i]
			if (ac.ID != "" && ac.ID == cand.ID || ac.ID == "" && ac.Name != "" && ac.Name == cand.Name) &&
				subtle.ConstantTimeCompare([]byte(ac.Secret), []byte(cand.Secret)) == 1 {
				appCred = cand
			}
		}
		if appCred == nil {
			c.logf("osdouble: application credential %q/%q refused: unknown or wrong secret", ac.ID, ac.Name)
			writeError(w, svcIdentity, http.StatusUnauthorized, authRequired)
			return
		}
	case slices.Contains(id.Methods, "token"):
		if id.Token == nil {
			writeError(w, svcIdentity, http.StatusBadRequest, "Invalid input for field 'identity': 'token' is a required property.")
			return
		}
		old, ok := c.checkToken(id.Token.ID)
		if !ok {
			writeError(w, svcIdentity, http.StatusNotFound, "Could not find token: "+id.Token.ID)
			return
		}
		// A rescoped token expires with the one it came from.
		expires, appCred = old.expires, old.appCred
	default:
		writeError(w, svcIdentity, http.StatusUnauthorized, fmt.Sprintf(
			"Unsupported authentication methods %q: the OpenStack double supports password, application_credential and token.", id.Methods))
		return
	}

	if s := req.Auth.Scope; s != nil {
		switch {
		case s.Project != nil:
			if msg := c.checkProject(s.Project.ID, s.Project.Name, s.Project.Domain); msg != "" {
				writeError(w, svcIdentity, http.StatusUnauthorized, msg)
				return
			}
		case s.Domain != nil || s.System != nil || s.Trust != nil:
			writeError(w, svcIdentity, http.StatusUnauthorized, fmt.Sprintf(
				"The OpenStack double issues project-scoped tokens only; scope to project %q.", c.opts.ProjectName))
			return
		}
	}
	// Without a scope Keystone scopes to the user's default project, which
	// here is the only project.

	t := c.issueToken(id.Methods, appCred, expires)
	w.Header().Set("X-Subject-Token", t.id)
	writeJSON(w, http.StatusCreated, map[string]any{"token": c.tokenBody(t, true)})
}

// checkUser says why u is not this cloud's user, or "" when it is.
func (c *Cloud) checkUser(u authUser, needPassword bool) string {
	switch {
	case u.ID != "":
		if u.ID != c.userID {
			return fmt.Sprintf("no user with id %q", u.ID)
		}
	case u.Name != "":
		if u.Domain == nil || u.Domain.ID == "" && u.Domain.Name == "" {
			return fmt.Sprintf("user %q given without a domain", u.Name)
		}
		if u.Name != c.opts.Username || !c.domainMatches(u.Domain.ID, u.Domain.Name) {
			return fmt.Sprintf("no user %q in domain %q%q; this cloud's user is %q in domain %q",
				u.Name, u.Domain.ID, u.Domain.Name, c.opts.Username, c.opts.DomainName)
		}
	default:
		return "neither user id nor name given"
	}
	if needPassword && subtle.ConstantTimeCompare([]byte(u.Password), []byte(c.opts.Password)) != 1 {
		return "wrong password for user " + c.opts.Username
	}
	return ""
}

func (c *Cloud) domainMatches(id, name string) bool {
	if id != "" {
		return id == c.opts.DomainID
	}
	return name == c.opts.DomainName
}

func (c *Cloud) checkProject(id, name string, domain *authDomain) string {
	if id != "" {
		if id != c.projectID {
			return fmt.Sprintf("No project with id %q; this cloud's project is %q (id %s).", id, c.opts.ProjectName, c.projectID)
		}
		return ""
	}
	if domain == nil || !c.domainMatches(domain.ID, domain.Name) || name != c.opts.ProjectName {
		return fmt.Sprintf("No project %q in that domain; this cloud's project is %q in domain %q.", name, c.opts.ProjectName, c.opts.DomainName)
	}
	return ""
}

func (c *Cloud) tokenBody(t *token, withCatalog bool) map[string]any {
	domain := map[string]string{"id": c.opts.DomainID, "name": c.opts.DomainName}
	body := map[string]any{
		"methods":    t.methods,
		"user":       map[string]any{"id": c.userID, "name": c.opts.Username, "domain": domain, "password_expires_at": nil},
		"project":    map[string]any{"id": c.projectID, "name": c.opts.ProjectName, "domain": domain},
		"roles":      []any{map[string]string{"id": "member-role", "name": "member"}, map[string]string{"id": "reader-role", "name": "reader"}},
		"audit_ids":  []string{t.auditID},
		"issued_at":  t.issued.UTC().Format(keystoneTime),
		"expires_at": t.expires.UTC().Format(keystoneTime),
		"is_domain":  false,
	}
	if t.appCred != nil {
		body["application_credential"] = map[string]any{"id": t.appCred.ID, "name": t.appCred.Name, "restricted": true}
	}
	if withCatalog {
		body["catalog"] = c.catalog()
	}
	return body
}

// catalog lists every service at this server.
func (c *Cloud) catalog() []any {
	entry := func(typ, name, url string) map[string]any {
		var eps []any
		for _, iface := range []string{"public", "internal", "admin"} {
			eps = append(eps, map[string]any{
				"id": name + "-" + iface, "interface": iface, "region": c.opts.Region, "region_id": c.opts.Region, "url": url,
			})
		}
		return map[string]any{"id": name, "name": name, "type": typ, "endpoints": eps}
	}
	return []any{
		entry("identity", "keystone", c.base+"/identity"),
		entry("compute", "nova", c.base+"/compute/v2.1"),
		entry("image", "glance", c.base+"/image"),
		entry("object-store", "swift", c.base+"/object-store/v1/AUTH_"+c.projectID),
	}
}

func (c *Cloud) subjectToken(w http.ResponseWriter, r *http.Request) (*token, bool) {
	subject := r.Header.Get("X-Subject-Token")
	t, ok := c.checkToken(subject)
	if !ok {
		writeError(w, svcIdentity, http.StatusNotFound, "Could not find token: "+subject)
		return nil, false
	}
	return t, true
}

func (c *Cloud) getToken(w http.ResponseWriter, r *http.Request, _ *call) {
	t, ok := c.subjectToken(w, r)
	if !ok {
		return
	}
	_, nocatalog := r.URL.Query()["nocatalog"]
	w.Header().Set("X-Subject-Token", t.id)
	writeJSON(w, http.StatusOK, map[string]any{"token": c.tokenBody(t, !nocatalog)})
}

func (c *Cloud) revokeToken(w http.ResponseWriter, r *http.Request, _ *call) {
	t, ok := c.subjectToken(w, r)
	if !ok {
		return
	}
	c.mu.Lock()
	delete(c.tokens, t.id)
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
