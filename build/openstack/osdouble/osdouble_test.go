package osdouble_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/build/openstack/osdouble"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/limits"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/tags"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/utils"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"gopkg.in/yaml.v3"
)

func TestAuthAndCatalog(t *testing.T) {
	t.Parallel()
	c := newCloud(t, osdouble.Options{
		ApplicationCredentials: []osdouble.ApplicationCredential{{ID: "ac-1", Name: "ci", Secret: "s3cret"}},
	})
	ctx := t.Context()
	p := provider(t, c)

	res, ok := p.GetAuthResult().(tokens.CreateResult)
	if !ok {
		t.Fatalf("auth result is %T, want tokens.CreateResult", p.GetAuthResult())
	}
	catalog, err := res.ExtractServiceCatalog()
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range catalog.Entries {
		types = append(types, e.Type)
	}
	for _, want := range []string{"identity", "compute", "image", "object-store"} {
		if !slices.Contains(types, want) {
			t.Errorf("catalog types %v lack %q", types, want)
		}
	}
	project, err := res.ExtractProject()
	if err != nil || project.ID != c.ProjectID() || project.Name != "fpga-builds" {
		t.Errorf("token project = %+v, %v; want fpga-builds (%s)", project, err, c.ProjectID())
	}
	tok, err := res.ExtractToken()
	if err != nil || tok.ID == "" || time.Until(tok.ExpiresAt) < 30*time.Minute {
		t.Errorf("token = %+v, %v; want an id valid for an hour", tok, err)
	}

	region := gophercloud.EndpointOpts{Region: c.Region()}
	cc, err := openstack.NewComputeV2(p, region)
	if err != nil || cc.Endpoint != c.URL()+"/compute/v2.1/" {
		t.Errorf("compute endpoint = %q, %v", cc.Endpoint, err)
	}
	swift, err := openstack.NewObjectStorageV1(p, region)
	if err != nil || swift.Endpoint != c.URL()+"/object-store/v1/AUTH_"+c.ProjectID()+"/" {
		t.Errorf("object-store endpoint = %q, %v", swift.Endpoint, err)
	}
	if _, err := openstack.NewImageV2(p, region); err != nil {
		t.Errorf("image endpoint (version discovery): %v", err)
	}
	if _, err := openstack.NewIdentityV3(p, region); err != nil {
		t.Errorf("identity endpoint: %v", err)
	}
	// Microversion discovery reads the versioned compute root.
	if _, err := utils.RequireMicroversion(ctx, *cc, "2.52"); err != nil {
		t.Errorf("RequireMicroversion 2.52: %v", err)
	}
	if _, err := utils.RequireMicroversion(ctx, *cc, "2.200"); err == nil {
		t.Errorf("RequireMicroversion 2.200 succeeded; the double should top out at %s", osdouble.MaxMicroversion)
	}

	// The token validates, and revoked it does not.
	idc, err := openstack.NewIdentityV3(p, region)
	if err != nil {
		t.Fatal(err)
	}
	if valid, err := tokens.Validate(ctx, idc, p.Token()); err != nil || !valid {
		t.Errorf("Validate(own token) = %v, %v", valid, err)
	}
	if valid, err := tokens.Validate(ctx, idc, "not-a-token"); err != nil || valid {
		t.Errorf("Validate(bogus) = %v, %v; want false", valid, err)
	}

	t.Run("versionless endpoint", func(t *testing.T) {
		ao := c.AuthOptions()
		ao.IdentityEndpoint = c.URL() + "/identity/"
		if _, err := openstack.AuthenticatedClient(ctx, ao); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("application credential", func(t *testing.T) {
		p, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
			IdentityEndpoint:            c.IdentityEndpoint(),
			ApplicationCredentialID:     "ac-1",
			ApplicationCredentialSecret: "s3cret",
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := limits.Get(ctx, compute(t, p, c.Region(), ""), nil).Extract(); err != nil {
			t.Fatalf("using the app-credential token: %v", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		ao := c.AuthOptions()
		ao.Password = "wrong"
		_, err := openstack.AuthenticatedClient(ctx, ao)
		if codeOf(err) != 401 {
			t.Fatalf("err = %v, want a 401 ErrUnexpectedResponseCode", err)
		}
	})
	t.Run("wrong project", func(t *testing.T) {
		ao := c.AuthOptions()
		ao.TenantName = "someone-else"
		_, err := openstack.AuthenticatedClient(ctx, ao)
		if codeOf(err) != 401 || !strings.Contains(err.Error(), "fpga-builds") {
			t.Fatalf("err = %v, want 401 naming the cloud's project", err)
		}
	})
	t.Run("clouds.yaml", func(t *testing.T) {
		// gophercloud's config/clouds would need gopkg.in/yaml.v2 in go.sum;
		// read the same keys it reads.
		var f struct {
			Clouds map[string]struct {
				Auth struct {
					AuthURL           string `yaml:"auth_url"`
					Username          string `yaml:"username"`
					Password          string `yaml:"password"`
					ProjectName       string `yaml:"project_name"`
					UserDomainName    string `yaml:"user_domain_name"`
					ProjectDomainName string `yaml:"project_domain_name"`
				} `yaml:"auth"`
				RegionName string `yaml:"region_name"`
				Interface  string `yaml:"interface"`
			} `yaml:"clouds"`
		}
		if err := yaml.Unmarshal(c.CloudsYAML("double"), &f); err != nil {
			t.Fatalf("parsing CloudsYAML: %v\n%s", err, c.CloudsYAML("double"))
		}
		cl, ok := f.Clouds["double"]
		if !ok {
			t.Fatalf("no cloud named double in\n%s", c.CloudsYAML("double"))
		}
		p, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
			IdentityEndpoint: cl.Auth.AuthURL,
			Username:         cl.Auth.Username,
			Password:         cl.Auth.Password,
			DomainName:       cl.Auth.UserDomainName,
			Scope:            &gophercloud.AuthScope{ProjectName: cl.Auth.ProjectName, DomainName: cl.Auth.ProjectDomainName},
		})
		if err != nil {
			t.Fatal(err)
		}
		client, err := openstack.NewComputeV2(p, gophercloud.EndpointOpts{Region: cl.RegionName, Availability: gophercloud.Availability(cl.Interface)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := servers.List(client, nil).AllPages(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBadAndExpiredTokens(t *testing.T) {
	t.Parallel()
	c := newCloud(t, osdouble.Options{})
	ctx := t.Context()

	p := provider(t, c)
	client := compute(t, p, c.Region(), "")
	p.SetToken("bogus")
	_, err := servers.List(client, nil).AllPages(ctx)
	if codeOf(err) != 401 {
		t.Fatalf("list with a bad token: err = %v, want 401", err)
	}

	// Expired tokens: a client that may reauthenticate recovers, one that may
	// not gets 401.
	ao := c.AuthOptions()
	ao.AllowReauth = true
	reauth, err := openstack.AuthenticatedClient(ctx, ao)
	if err != nil {
		t.Fatal(err)
	}
	plain := provider(t, c)
	c.ExpireTokens()
	if _, err := limits.Get(ctx, compute(t, reauth, c.Region(), ""), nil).Extract(); err != nil {
		t.Errorf("AllowReauth client after ExpireTokens: %v", err)
	}
	if _, err := limits.Get(ctx, compute(t, plain, c.Region(), ""), nil).Extract(); codeOf(err) != 401 {
		t.Errorf("client without reauth after ExpireTokens: err = %v, want 401", err)
	}
}

func TestServerLifecycleOverSSH(t *testing.T) {
	t.Parallel()
	e := newEnv(t, osdouble.Options{})
	ctx := t.Context()
	key := generatedKey(t, e.client, "builder-key")

	created := mustCreate(t, e.client, e.image, serverSpec{
		name:     "fpgactl-b42-ecp5-seed3",
		keyName:  "builder-key",
		metadata: map[string]string{"fpgactl_build": "b42", "seed": "3"},
		tags:     []string{"fpgactl", "build-b42"},
		userData: []byte("#cloud-config\npackages: [yosys]\n"),
	})
	if created.ID == "" || created.AdminPass == "" {
		t.Fatalf("create response = %+v, want an id and adminPass", created)
	}
	first, err := servers.Get(ctx, e.client, created.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != "BUILD" {
		t.Errorf("status right after create = %s, want BUILD", first.Status)
	}

	srv := mustActive(t, e.client, created.ID)
	if srv.Name != "fpgactl-b42-ecp5-seed3" || srv.KeyName != "builder-key" || srv.TenantID != e.c.ProjectID() {
		t.Errorf("server = name %q key %q tenant %q", srv.Name, srv.KeyName, srv.TenantID)
	}
	if srv.Metadata["fpgactl_build"] != "b42" || srv.Metadata["seed"] != "3" {
		t.Errorf("metadata = %v", srv.Metadata)
	}
	if srv.Tags == nil || !slices.Equal(*srv.Tags, []string{"fpgactl", "build-b42"}) {
		t.Errorf("tags = %v", srv.Tags)
	}
	if srv.LaunchedAt.IsZero() || srv.PowerState != servers.RUNNING {
		t.Errorf("launched_at %v, power state %v; want set and RUNNING", srv.LaunchedAt, srv.PowerState)
	}
	if len(srv.SecurityGroups) != 1 || srv.SecurityGroups[0]["name"] != "default" {
		t.Errorf("security groups = %v", srv.SecurityGroups)
	}
	addr := sshAddr(t, srv)
	if want, err := e.c.SSHAddr(srv.ID); err != nil || addr != want {
		t.Errorf("SSH address from the API %q, Cloud.SSHAddr %q (%v)", addr, want, err)
	}
	rep, ok := e.c.Server(srv.ID)
	if !ok || string(rep.UserData) != "#cloud-config\npackages: [yosys]\n" || rep.FlavorID != "2" || rep.ImageID != e.image {
		t.Errorf("Cloud.Server = %+v", rep)
	}
	if got, err := tags.List(ctx, e.client, srv.ID).Extract(); err != nil || len(got) != 2 {
		t.Errorf("tags.List = %v, %v", got, err)
	}

	conn, err := dial(t, e.c, addr, key)
	if err != nil {
		t.Fatalf("ssh: %v", err)
	}
	defer conn.Close()

	stdout, _, err := run(conn, "echo hi; pwd")
	if err != nil {
		t.Fatalf("echo hi; pwd: %v", err)
	}
	wantDir, _ := filepath.EvalSymlinks(rep.Dir)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 || lines[0] != "hi" {
		t.Fatalf("stdout = %q, want hi and the directory", stdout)
	}
	if gotDir, _ := filepath.EvalSymlinks(lines[1]); gotDir != wantDir {
		t.Errorf("pwd = %q, want the server's directory %q", lines[1], rep.Dir)
	}

	_, stderr, err := run(conn, "echo oops >&2; exit 3")
	var exitErr *ssh.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 3 {
		t.Errorf("failing command: err = %v, want exit status 3", err)
	}
	if stderr != "oops\n" {
		t.Errorf("stderr = %q", stderr)
	}
	if _, _, err := run(conn, "kill -TERM $$"); !errors.As(err, &exitErr) || exitErr.Signal() != "TERM" {
		t.Errorf("command killed by TERM: err = %v, want an exit signal", err)
	}

	// Upload through stdin, and environment from the session.
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	sess.Stdin = strings.NewReader("module top; endmodule\n")
	if err := sess.Setenv("FPGACTL_SEED", "3"); err != nil {
		t.Errorf("Setenv: %v", err)
	}
	out, err := sess.Output(`cat > top.v && echo "seed=$FPGACTL_SEED home=$HOME"`)
	sess.Close()
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	if !strings.HasPrefix(string(out), "seed=3 home=") {
		t.Errorf("output = %q", out)
	}
	if data, err := os.ReadFile(filepath.Join(rep.Dir, "top.v")); err != nil || string(data) != "module top; endmodule\n" {
		t.Errorf("uploaded file = %q, %v", data, err)
	}

	// Only the key pair's key logs in, and only with a known host key.
	otherSigner := randomKey(t)
	if _, err := dial(t, e.c, addr, otherSigner); err == nil {
		t.Error("a key that is not the key pair's logged in")
	}
	khPath := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(khPath, []byte(knownhosts.Line([]string{addr}, otherSigner.PublicKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hostKeys, err := knownhosts.New(khPath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "debian", Auth: []ssh.AuthMethod{ssh.PublicKeys(key)}, HostKeyCallback: hostKeys})
	var keyErr *knownhosts.KeyError
	if !errors.As(err, &keyErr) || len(keyErr.Want) == 0 {
		t.Errorf("dial with a wrong known_hosts entry: err = %v, want a host key mismatch", err)
	}

	if err := servers.Delete(ctx, e.client, srv.ID).ExtractErr(); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := servers.Get(ctx, e.client, srv.ID).Extract(); codeOf(err) != 404 {
		t.Errorf("get after delete: err = %v, want 404", err)
	}
	if names := serverNames(t, e.client, servers.ListOpts{}); len(names) != 0 {
		t.Errorf("servers after delete = %v", names)
	}
	rep, _ = e.c.Server(srv.ID)
	if rep.Status != "DELETED" || rep.Deleted.IsZero() || rep.DeleteRequested.IsZero() {
		t.Errorf("Cloud.Server after delete = status %s deleted %v", rep.Status, rep.Deleted)
	}
	if _, err := dial(t, e.c, addr, key); err == nil {
		t.Error("ssh to a deleted server succeeded")
	}
	if err := e.c.WaitGone(ctx); err != nil {
		t.Error(err)
	}
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	c := newCloud(t, osdouble.Options{})
	ctx := t.Context()
	p := provider(t, c)
	client := compute(t, p, c.Region(), "2.52")
	image := imageID(t, p, c.Region(), "ubuntu-24.04")

	for _, s := range []serverSpec{
		{name: "fpgactl-b1-seed1", metadata: map[string]string{"fpgactl_build": "b1"}, tags: []string{"fpgactl", "build-b1"}},
		{name: "fpgactl-b1-seed2", metadata: map[string]string{"fpgactl_build": "b1"}, tags: []string{"fpgactl", "build-b1"}},
		{name: "fpgactl-b2-seed1", metadata: map[string]string{"fpgactl_build": "b2"}, tags: []string{"fpgactl", "build-b2"}},
		{name: "someone-elses-vm"},
	} {
		mustCreate(t, client, image, s)
	}

	sorted := func(names []string) []string { slices.Sort(names); return names }
	if got := sorted(serverNames(t, client, servers.ListOpts{Name: "^fpgactl-b1-"})); !slices.Equal(got, []string{"fpgactl-b1-seed1", "fpgactl-b1-seed2"}) {
		t.Errorf("name filter: %v", got)
	}
	if got := serverNames(t, client, servers.ListOpts{Tags: "build-b2"}); !slices.Equal(got, []string{"fpgactl-b2-seed1"}) {
		t.Errorf("tags filter: %v", got)
	}
	if got := serverNames(t, client, servers.ListOpts{NotTagsAny: "fpgactl"}); !slices.Equal(got, []string{"someone-elses-vm"}) {
		t.Errorf("not-tags-any filter: %v", got)
	}

	// Nova cannot filter by metadata: a reaper lists and filters itself.
	pages, err := servers.List(client, servers.ListOpts{}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := servers.ExtractServers(pages)
	if err != nil {
		t.Fatal(err)
	}
	var b1 []string
	for _, s := range all {
		if s.Metadata["fpgactl_build"] == "b1" {
			b1 = append(b1, s.Name)
		}
	}
	if len(all) != 4 || len(b1) != 2 {
		t.Errorf("listed %d servers, %d of build b1; want 4 and 2", len(all), len(b1))
	}

	// Paging by limit follows servers_links to the end.
	if got := serverNames(t, client, servers.ListOpts{Limit: 1}); len(got) != 4 {
		t.Errorf("paged listing: %v", got)
	}
	pages, err = servers.ListSimple(client, servers.ListOpts{Name: "someone"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if simple, _ := servers.ExtractServers(pages); len(simple) != 1 || simple[0].Name != "someone-elses-vm" {
		t.Errorf("ListSimple = %+v", simple)
	}
}

func TestFlavorsKeypairsLimits(t *testing.T) {
	t.Parallel()
	c := newCloud(t, osdouble.Options{})
	ctx := t.Context()
	p := provider(t, c)
	client := compute(t, p, c.Region(), "")

	pages, err := flavors.ListDetail(client, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := flavors.ExtractFlavors(pages)
	if err != nil || len(all) != 5 {
		t.Fatalf("flavors = %v, %v", all, err)
	}
	large, err := flavors.Get(ctx, client, "4").Extract()
	if err != nil || large.Name != "m1.large" || large.VCPUs != 4 || large.RAM != 8192 {
		t.Errorf("flavor 4 = %+v, %v", large, err)
	}
	if _, err := flavors.Get(ctx, client, "nope").Extract(); codeOf(err) != 404 {
		t.Errorf("unknown flavor: err = %v, want 404", err)
	}

	// Import a key, then list, get, refuse a duplicate and delete.
	sshPub := randomKey(t).PublicKey()
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	kp, err := keypairs.Create(ctx, client, keypairs.CreateOpts{Name: "imported", PublicKey: line}).Extract()
	if err != nil || kp.PrivateKey != "" || kp.Fingerprint != ssh.FingerprintLegacyMD5(sshPub) {
		t.Fatalf("import = %+v, %v", kp, err)
	}
	if _, err := keypairs.Create(ctx, client, keypairs.CreateOpts{Name: "imported", PublicKey: line}).Extract(); codeOf(err) != 409 {
		t.Errorf("duplicate key pair: err = %v, want 409", err)
	}
	if _, err := keypairs.Create(ctx, client, keypairs.CreateOpts{Name: "junk", PublicKey: "ssh-rsa nope"}).Extract(); codeOf(err) != 400 {
		t.Errorf("bad public key: err = %v, want 400", err)
	}
	generatedKey(t, client, "generated")
	pages, err = keypairs.List(client, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kps, _ := keypairs.ExtractKeyPairs(pages); len(kps) != 2 {
		t.Errorf("key pairs = %+v", kps)
	}
	got, err := keypairs.Get(ctx, client, "imported", nil).Extract()
	if err != nil || got.PublicKey != line {
		t.Errorf("get key pair = %+v, %v", got, err)
	}
	if err := keypairs.Delete(ctx, client, "imported", nil).ExtractErr(); err != nil {
		t.Errorf("delete key pair: %v", err)
	}
	if _, err := keypairs.Get(ctx, client, "imported", nil).Extract(); codeOf(err) != 404 {
		t.Errorf("deleted key pair: err = %v, want 404", err)
	}

	image := imageID(t, p, c.Region(), "debian-12")
	mustCreate(t, compute(t, p, c.Region(), "2.52"), image, serverSpec{name: "one", flavor: "3"})
	lim, err := limits.Get(ctx, client, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if a := lim.Absolute; a.MaxTotalInstances != 10 || a.TotalInstancesUsed != 1 || a.TotalCoresUsed != 2 || a.MaxTotalCores != 20 || a.TotalRAMUsed != 4096 {
		t.Errorf("limits = %+v", a)
	}
}

func TestQuotaExceeded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, osdouble.Options{Quota: osdouble.Quota{Instances: 2}})
	ctx := t.Context()

	a := mustCreate(t, e.client, e.image, serverSpec{name: "a"})
	mustCreate(t, e.client, e.image, serverSpec{name: "b"})
	_, err := createServer(t, e.client, e.image, serverSpec{name: "c"})
	if codeOf(err) != 403 || !strings.Contains(err.Error(), "Quota exceeded for instances") {
		t.Fatalf("third server: err = %v, want 403 Quota exceeded for instances", err)
	}
	if err := servers.Delete(ctx, e.client, a.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e.client, e.image, serverSpec{name: "c"})

	// Multi-create takes as many as fit between min_count and max_count.
	e.c.SetQuota(osdouble.Quota{Instances: 4})
	opts := servers.CreateOpts{Name: "multi", ImageRef: e.image, FlavorRef: "1", Networks: "auto", Min: 1, Max: 5}
	if _, err := servers.Create(ctx, e.client, opts, nil).Extract(); err != nil {
		t.Fatalf("multi-create: %v", err)
	}
	if got := serverNames(t, e.client, servers.ListOpts{Name: "^multi-"}); len(got) != 2 {
		t.Errorf("multi-create under a quota of 4 with 2 used made %v, want multi-1 and multi-2", got)
	}

	e.c.SetQuota(osdouble.Quota{Cores: 9})
	_, err = createServer(t, e.client, e.image, serverSpec{name: "xl", flavor: "5"})
	if codeOf(err) != 403 || !strings.Contains(err.Error(), "Quota exceeded for cores") {
		t.Errorf("8 more cores over a quota of 9: err = %v, want 403 for cores", err)
	}
}

func TestMicroversions(t *testing.T) {
	t.Parallel()
	c := newCloud(t, osdouble.Options{})
	p := provider(t, c)
	image := imageID(t, p, c.Region(), "debian-12")

	_, err := createServer(t, compute(t, p, c.Region(), ""), image, serverSpec{name: "old", tags: []string{"x"}})
	if codeOf(err) != 400 || !strings.Contains(err.Error(), "2.52") {
		t.Errorf("tags at microversion 2.1: err = %v, want 400 naming 2.52", err)
	}
	if _, err := servers.List(compute(t, p, c.Region(), "2.200"), nil).AllPages(t.Context()); codeOf(err) != 406 {
		t.Errorf("microversion 2.200: err = %v, want 406", err)
	}
	srv := mustCreate(t, compute(t, p, c.Region(), "latest"), image, serverSpec{name: "new"})
	got, err := servers.Get(t.Context(), compute(t, p, c.Region(), "2.47"), srv.ID).Extract()
	if err != nil || got.Flavor["original_name"] != "m1.small" {
		t.Errorf("embedded flavor at 2.47 = %v, %v", got.Flavor, err)
	}
	var mvs []string
	for _, r := range c.Requests() {
		if r.Route == osdouble.RouteGetServer {
			mvs = append(mvs, r.Microversion)
		}
	}
	if !slices.Equal(mvs, []string{"2.47"}) {
		t.Errorf("microversions of GET server requests = %v", mvs)
	}
}

func TestInjectedFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, osdouble.Options{})
	ctx := t.Context()

	e.c.Fail(osdouble.RouteCreateServer, 500, 2)
	for i := range 2 {
		_, err := createServer(t, e.client, e.image, serverSpec{name: "flaky"})
		var rc gophercloud.ErrUnexpectedResponseCode
		if !errors.As(err, &rc) || rc.Actual != 500 || !strings.Contains(string(rc.Body), "computeFault") {
			t.Fatalf("create %d: err = %v, want ErrUnexpectedResponseCode 500 with a computeFault body", i, err)
		}
	}
	srv := mustCreate(t, e.client, e.image, serverSpec{name: "flaky"})

	e.c.RateLimit(osdouble.RouteGetServer, 1, 2*time.Second)
	_, err := servers.Get(ctx, e.client, srv.ID).Extract()
	var rc gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &rc) || rc.Actual != 429 || rc.ResponseHeader.Get("Retry-After") != "2" {
		t.Fatalf("rate-limited get: err = %v, want 429 with Retry-After: 2", err)
	}
	if _, err := servers.Get(ctx, e.client, srv.ID).Extract(); err != nil {
		t.Fatalf("get after the rate limit: %v", err)
	}

	// A client that backs off as told gets through.
	e.c.RateLimit(osdouble.RouteListServersDetail, 1, time.Second)
	e.p.RetryBackoffFunc = func(ctx context.Context, rc *gophercloud.ErrUnexpectedResponseCode, _ error, _ uint) error {
		secs, err := strconv.Atoi(rc.ResponseHeader.Get("Retry-After"))
		if err != nil {
			return err
		}
		select {
		case <-time.After(time.Duration(secs) * time.Second):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if names := serverNames(t, e.client, servers.ListOpts{}); len(names) != 1 {
		t.Errorf("list with backoff = %v", names)
	}
	e.p.RetryBackoffFunc = nil

	// A slow route meets the client's deadline.
	e.c.Inject(osdouble.RouteLimits, osdouble.Fault{Delay: 5 * time.Second})
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := limits.Get(short, e.client, nil).Extract(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow limits: err = %v, want the context deadline", err)
	}

	// Keystone faults come in Keystone's format.
	e.c.Fail(osdouble.RouteCreateToken, 503, 1)
	if _, err := openstack.AuthenticatedClient(ctx, e.c.AuthOptions()); codeOf(err) != 503 {
		t.Errorf("auth during an outage: err = %v, want 503", err)
	}

	injected := 0
	for _, r := range e.c.Requests() {
		if r.Injected {
			injected++
		}
	}
	if injected != 5 {
		t.Errorf("requests marked injected = %d, want 5", injected)
	}

	defer func() {
		if recover() == nil {
			t.Error("Fail with an unknown route did not panic")
		}
	}()
	e.c.Fail("POST /servers", 500, 1)
}

func TestErrorAndNeverBootingServers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, osdouble.Options{})
	ctx := t.Context()
	generatedKey(t, e.client, "k")

	e.c.NextServer(osdouble.Behavior{NameContains: "stuck", NeverBoot: true})
	e.c.NextServer(osdouble.Behavior{NameContains: "broken", Error: "No valid host was found. There are not enough hosts available."})
	ok := mustCreate(t, e.client, e.image, serverSpec{name: "fine", keyName: "k"})
	stuck := mustCreate(t, e.client, e.image, serverSpec{name: "stuck", keyName: "k"})
	broken := mustCreate(t, e.client, e.image, serverSpec{name: "broken", keyName: "k"})

	mustActive(t, e.client, ok.ID)

	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	srv, err := waitStatus(wait, e.client, broken.ID, "ACTIVE")
	if err == nil || srv == nil || srv.Status != "ERROR" || srv.Fault.Code != 500 || !strings.Contains(srv.Fault.Message, "No valid host") {
		t.Errorf("broken server: %+v, err %v; want ERROR with the fault message", srv, err)
	}

	short, cancel2 := context.WithTimeout(ctx, 400*time.Millisecond)
	defer cancel2()
	srv, err = waitStatus(short, e.client, stuck.ID, "ACTIVE")
	if !errors.Is(err, context.DeadlineExceeded) || srv == nil || srv.Status != "BUILD" {
		t.Errorf("never-booting server: %+v, err %v; want BUILD until the boot timeout", srv, err)
	}
	// Neither has an SSH server that answers.
	for _, id := range []string{stuck.ID, broken.ID} {
		addr, err := e.c.SSHAddr(id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dial(t, e.c, addr, randomKey(t)); err == nil {
			t.Errorf("ssh to %s succeeded", id)
		}
	}
	for _, id := range []string{ok.ID, stuck.ID, broken.ID} {
		if err := servers.Delete(ctx, e.client, id).ExtractErr(); err != nil {
			t.Errorf("deleting %s: %v", id, err)
		}
	}
	if err := e.c.WaitGone(ctx); err != nil {
		t.Error(err)
	}
}

func TestSSHDropMidCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, osdouble.Options{})
	e.c.NextServer(osdouble.Behavior{SSHDropAfter: 500 * time.Millisecond})
	s := e.bootSSH(t, "flaky-net")

	start := time.Now()
	_, _, err := run(s.conn, "sleep 30 & echo $! > sleep.pid; wait")
	var exitErr *ssh.ExitError
	if err == nil || errors.As(err, &exitErr) {
		t.Fatalf("command across a dropped connection: err = %v, want a connection error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the drop took %v to surface", d)
	}
	waitGone(t, s.pid(t, "sleep.pid"), "command of the dropped session")
}

func TestSessionCloseAndSignal(t *testing.T) {
	t.Parallel()
	s := newEnv(t, osdouble.Options{}).bootSSH(t, "s")

	// Closing the session mid-command kills the command's process group.
	sess, pid := s.startSleep(t, "closed.pid")
	sess.Close()
	waitGone(t, pid, "command of a closed session")

	// A signal reaches the whole group and comes back as the exit signal.
	sess, pid = s.startSleep(t, "signalled.pid")
	defer sess.Close()
	if err := sess.Signal(ssh.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var exitErr *ssh.ExitError
	if err := sess.Wait(); !errors.As(err, &exitErr) || exitErr.Signal() != "TERM" {
		t.Errorf("signalled command: err = %v, want exit signal TERM", err)
	}
	waitGone(t, pid, "signalled command's child")
}

func TestDeleteKillsCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t, osdouble.Options{})
	s := e.bootSSH(t, "doomed")

	// A command left running in the background of a finished session, one
	// that left its process group, and one still attached to a session.
	if _, _, err := run(s.conn, "nohup sleep 60 >/dev/null 2>&1 & echo $! > bg.pid"); err != nil {
		t.Fatal(err)
	}
	escaped := 0
	if _, err := exec.LookPath("setsid"); err == nil {
		if _, _, err := run(s.conn, "setsid sleep 60 >/dev/null 2>&1 </dev/null & echo $! > escaped.pid"); err != nil {
			t.Fatal(err)
		}
		escaped = s.pid(t, "escaped.pid")
	}
	sess, fg := s.startSleep(t, "fg.pid")
	bg := s.pid(t, "bg.pid")
	if processGone(bg) || processGone(fg) {
		t.Fatal("the sleeps did not start")
	}

	if err := servers.Delete(t.Context(), e.client, s.srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, fg, "command of an open session")
	waitGone(t, bg, "background command")
	if escaped != 0 {
		waitGone(t, escaped, "command in its own session")
	}
	if err := sess.Wait(); err == nil {
		t.Error("session of a deleted server ended without error")
	}
}

func TestCloseKillsCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t, osdouble.Options{})
	s := e.bootSSH(t, "leaked")

	_, pid := s.startSleep(t, "sleep.pid")
	if err := e.c.Close(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid, "command of a server of a closed cloud")
	if _, err := servers.Get(t.Context(), e.client, s.srv.ID).Extract(); err == nil {
		t.Error("the API still answers after Close")
	}
}

func TestSlowDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, osdouble.Options{Quota: osdouble.Quota{Instances: 1}})
	ctx := t.Context()

	const delay = 400 * time.Millisecond
	e.c.NextServer(osdouble.Behavior{DeleteDelay: delay})
	srv := mustActive(t, e.client, mustCreate(t, e.client, e.image, serverSpec{name: "slow"}).ID)
	if err := servers.Delete(ctx, e.client, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	during, err := servers.Get(ctx, e.client, srv.ID).Extract()
	if err != nil || during.TaskState != "deleting" {
		t.Fatalf("right after delete: %+v, %v; want task_state deleting", during, err)
	}
	// A server being deleted still holds its quota, as in Nova.
	if _, err := createServer(t, e.client, e.image, serverSpec{name: "next"}); codeOf(err) != 403 {
		t.Errorf("create while the only slot is being deleted: err = %v, want 403", err)
	}
	// Deleting again while deleting is accepted.
	if err := servers.Delete(ctx, e.client, srv.ID).ExtractErr(); err != nil {
		t.Errorf("second delete: %v", err)
	}
	for {
		_, err := servers.Get(ctx, e.client, srv.ID).Extract()
		if codeOf(err) == 404 {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rep, _ := e.c.Server(srv.ID)
	if rep.Status != "DELETED" || rep.Deleted.Sub(rep.DeleteRequested) < delay {
		t.Errorf("deletion took %v, want at least %v", rep.Deleted.Sub(rep.DeleteRequested), delay)
	}
	mustCreate(t, e.client, e.image, serverSpec{name: "next"})
}
