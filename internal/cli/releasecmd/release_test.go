package releasecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgactl/fpgactl/build/openstack/osdouble"
	"github.com/fpgactl/fpgactl/build/release/releasetest"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
)

type run struct {
	f           *cmdutil.Factory
	out, errOut *bytes.Buffer
}

func execute(t *testing.T, projectFile string, env map[string]string, runF func(context.Context, string, *Options) error, args ...string) (run, error) {
	t.Helper()
	r := run{out: &bytes.Buffer{}, errOut: &bytes.Buffer{}}
	r.f = &cmdutil.Factory{IO: &cmdutil.IOStreams{In: strings.NewReader(""), Out: r.out, ErrOut: r.errOut},
		OutputFormat: "text", ProjectFile: projectFile, NumCPU: func() int { return 2 }}
	// The environment is the test's: the fixture's key, no real home.
	cmd := newCmdRelease(r.f, &Env{Getenv: func(k string) string { return env[k] }, LabTokenFile: filepath.Join(t.TempDir(), "none")}, runF)
	cmd.SetArgs(args)
	cmd.SetOut(r.out)
	cmd.SetErr(r.errOut)
	cmd.PersistentFlags().StringVarP(&r.f.OutputFormat, "output", "o", "text", "")
	err := cmd.ExecuteContext(context.Background())
	return r, err
}

func TestFlagValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tag", "v1.2.3"}, "--build is required"},
		{[]string{"tag", "1.2.3", "--build", "x"}, "vMAJOR.MINOR.PATCH"},
		{[]string{"tag", "--build", "x"}, "takes 1 argument"},
		{[]string{"tag", "v1.2.3", "--build", "x", "--seed", "-1"}, "--seed"},
		{[]string{"fetch", "v1.2.3"}, "--out is required"},
		{[]string{"verify", "v1/../../x"}, "vMAJOR.MINOR.PATCH"},
		{[]string{"list", "extra"}, "takes no arguments"},
		{[]string{"keygen", "extra"}, "takes no arguments"},
	} {
		called := false
		_, err := execute(t, "", nil, func(context.Context, string, *Options) error { called = true; return nil }, tc.args...)
		var fe *cmdutil.FlagError
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) || called {
			t.Errorf("%v: error %v (called %v), want a flag error containing %q", tc.args, err, called, tc.want)
		}
	}
	var got *Options
	var name string
	_, err := execute(t, "", nil, func(_ context.Context, n string, o *Options) error { got, name = o, n; return nil },
		"tag", "v1.2.3-rc.1", "--build", "20261123-151500-ab12", "--target", "ecp5-ci", "--seed", "3", "--allow-failed-timing", "-m", "hi", "--no-git-tag")
	if err != nil || name != "tag" || got.Version != "v1.2.3-rc.1" || got.BuildID != "20261123-151500-ab12" || got.Target != "ecp5-ci" ||
		got.Seed != 3 || !got.AllowFailedTiming || got.Message != "hi" || !got.NoGitTag {
		t.Errorf("%v %s %+v", err, name, got)
	}
}

// Every subcommand has help with an example.
func TestHelpExamples(t *testing.T) {
	cmd := NewCmdRelease(&cmdutil.Factory{IO: cmdutil.System()}, nil)
	for _, sub := range cmd.Commands() {
		if sub.Example == "" || !strings.Contains(sub.Example, "fpgactl release "+sub.Name()) {
			t.Errorf("%s: no example", sub.Name())
		}
	}
}

// keygen → tag → list → show → verify → fetch through the commands, local store.
func TestEndToEndLocal(t *testing.T) {
	f := releasetest.New(t, releasetest.Options{})
	keyDir := t.TempDir()
	key, pub := filepath.Join(keyDir, "release-key"), filepath.Join(f.Root, "release", "release.pub")
	env := map[string]string{"FPGACTL_RELEASE_KEY": key}

	r, err := execute(t, f.SettingsFile, env, nil, "tag", "v1.0.0", "--build", f.BuildID)
	if err == nil || !strings.Contains(err.Error(), "fpgactl release keygen") {
		t.Fatalf("tag without a key: %v", err)
	}
	if r, err = execute(t, f.SettingsFile, env, nil, "keygen"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key %v %v", st, err)
	}
	if _, err := os.Stat(pub); err != nil {
		t.Fatalf("public key not at release.public_key: %v", err)
	}
	os.Chmod(key, 0o644)
	if _, err = execute(t, f.SettingsFile, env, nil, "tag", "v1.0.0", "--build", f.BuildID); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: %v", err)
	}
	os.Chmod(key, 0o600)

	r, err = execute(t, f.SettingsFile, env, nil, "tag", "v1.0.0", "--build", f.BuildID, "--output", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, r.errOut)
	}
	var tagged struct {
		ManifestSHA256 string `json:"manifest_sha256"`
		GitTag         string `json:"git_tag"`
	}
	json.Unmarshal(r.out.Bytes(), &tagged)
	if tagged.GitTag != "v1.0.0" || len(tagged.ManifestSHA256) != 64 {
		t.Errorf("tag output %s", r.out)
	}
	if !strings.Contains(r.errOut.String(), "uploading artifacts/pf_filter.bit") {
		t.Errorf("no upload progress on stderr:\n%s", r.errOut)
	}
	keyPEM, _ := os.ReadFile(key)
	if strings.Contains(r.out.String()+r.errOut.String(), strings.Split(string(keyPEM), "\n")[1]) {
		t.Error("key material printed")
	}
	if typ := releasetest.Git(t, f.Root, "cat-file", "-t", "v1.0.0"); typ != "tag" {
		t.Errorf("git tag type %s", typ)
	}

	if r, err = execute(t, f.SettingsFile, env, nil, "list"); err != nil || !strings.Contains(r.out.String(), "v1.0.0") || !strings.Contains(r.out.String(), "ecp5-ci") {
		t.Errorf("list: %v\n%s", err, r.out)
	}
	if r, err = execute(t, f.SettingsFile, env, nil, "show", "v1.0.0"); err != nil || !strings.Contains(r.out.String(), "artifacts/pf_filter.bit") {
		t.Errorf("show: %v\n%s", err, r.out)
	}
	if r, err = execute(t, f.SettingsFile, env, nil, "show", "v1.0.0", "-o", "json"); err != nil || !strings.Contains(r.out.String(), `"schema": "fpgactl.release/v1"`) {
		t.Errorf("show json: %v\n%s", err, r.out)
	}
	if r, err = execute(t, f.SettingsFile, env, nil, "verify", "v1.0.0"); err != nil || !strings.Contains(r.out.String(), "4 artifacts match") {
		t.Errorf("verify: %v\n%s", err, r.out)
	}
	dir := filepath.Join(t.TempDir(), "v1.0.0")
	if r, err = execute(t, f.SettingsFile, env, nil, "fetch", "v1.0.0", "--out", dir); err != nil || !strings.Contains(r.out.String(), "signature by key") {
		t.Fatalf("fetch: %v\n%s", err, r.out)
	}
	// What fetch wrote verifies with openssl, as the deploy role may do.
	if out, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin",
		"-in", filepath.Join(dir, "manifest.json"), "-sigfile", filepath.Join(dir, "manifest.json.sig")).CombinedOutput(); err != nil {
		t.Errorf("openssl: %v %s", err, out)
	}
	// A tampered fetched directory fails verify --dir: exit 1, names the file.
	p := filepath.Join(dir, "artifacts", "pf_filter.bit")
	b, _ := os.ReadFile(p)
	b[0] ^= 0xff
	os.WriteFile(p, b, 0o644)
	os.WriteFile(filepath.Join(dir, "artifacts", "extra.txt"), []byte("x"), 0o644)
	r, err = execute(t, f.SettingsFile, env, nil, "verify", "v1.0.0", "--dir", dir)
	if err == nil || !strings.Contains(err.Error(), "artifacts/pf_filter.bit: sha256 differs") || !strings.Contains(err.Error(), "artifacts/extra.txt: extra file") {
		t.Errorf("tampered verify: %v", err)
	}
	r, err = execute(t, f.SettingsFile, env, nil, "verify", "v1.0.0", "--dir", dir, "-o", "json")
	if !errors.Is(err, cmdutil.SilentError) || !strings.Contains(r.out.String(), `"kind": "sha256"`) {
		t.Errorf("tampered verify json: %v\n%s", err, r.out)
	}
	// A wrong public key is named as such.
	other := filepath.Join(t.TempDir(), "o.pub")
	execute(t, f.SettingsFile, env, nil, "keygen", "--out", filepath.Join(t.TempDir(), "o"), "--public", other)
	if _, err = execute(t, f.SettingsFile, env, nil, "verify", "v1.0.0", "--public-key", other); err == nil || !strings.Contains(err.Error(), "the public key given is") {
		t.Errorf("wrong key: %v", err)
	}
	// The release exists: a second tag is refused.
	if _, err = execute(t, f.SettingsFile, env, nil, "tag", "v1.0.0", "--build", f.BuildID); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second tag: %v", err)
	}
}

// The same through Swift: clouds.yaml via OS_CLIENT_CONFIG_FILE, the
// container named in fpgactl.yaml, the real gophercloud client against the
// OpenStack double.
func TestEndToEndSwift(t *testing.T) {
	c := osdouble.StartForTest(t, "lab-cloud", osdouble.Options{})

	f := releasetest.New(t, releasetest.Options{Extra: "store:\n  swift: {cloud: lab-cloud, container: releases}\nrelease:\n  signing_key: " + "KEY\n"})
	// The fixture's key, named by release.signing_key.
	settings, _ := os.ReadFile(f.SettingsFile)
	os.WriteFile(f.SettingsFile, bytes.Replace(settings, []byte("KEY"), []byte(f.KeyFile), 1), 0o644)
	env := map[string]string{}

	r, err := execute(t, f.SettingsFile, env, nil, "tag", "v2.0.0", "--build", f.BuildID, "--no-git-tag")
	if err != nil {
		t.Fatalf("%v\n%s", err, r.errOut)
	}
	if !strings.Contains(r.out.String(), "Swift container releases") || !strings.Contains(r.errOut.String(), "uploading") {
		t.Errorf("tag output:\n%s\n%s", r.out, r.errOut)
	}
	if len(c.Objects()) != 6 {
		t.Errorf("objects in Swift: %d", len(c.Objects()))
	}
	if r, err = execute(t, f.SettingsFile, env, nil, "list", "-o", "json"); err != nil || !strings.Contains(r.out.String(), `"version": "v2.0.0"`) {
		t.Errorf("list: %v %s", err, r.out)
	}
	if r, err = execute(t, f.SettingsFile, env, nil, "verify", "v2.0.0", "--public-key", f.PubFile, "-o", "json"); err != nil || !strings.Contains(r.out.String(), `"ok": true`) {
		t.Errorf("verify: %v %s", err, r.out)
	}
	c.PutObject("releases", "releases/v2.0.0/artifacts/pf_filter.bit", []byte("evil"))
	if _, err = execute(t, f.SettingsFile, env, nil, "verify", "v2.0.0", "--public-key", f.PubFile); err == nil || !strings.Contains(err.Error(), "artifacts/pf_filter.bit: size differs") {
		t.Errorf("tampered Swift verify: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "r")
	if _, err = execute(t, f.SettingsFile, env, nil, "fetch", "v2.0.0", "--out", dir, "--public-key", f.PubFile); err == nil || !strings.Contains(err.Error(), "artifacts/pf_filter.bit") {
		t.Errorf("fetch of a tampered release: %v", err)
	}
}
