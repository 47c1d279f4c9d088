package sshx

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, text string) *Config {
	t.Helper()
	cfg, err := ParseConfig(strings.NewReader(text), "test_config")
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return cfg
}

func TestConfigFirstValueWins(t *testing.T) {
	t.Setenv("HOME", "/home/eng")
	cfg := parse(t, `
Host build1
  HostName build1.lab.example.com
  User ci
  IdentityFile ~/.ssh/id_build

Host build*
  HostName ignored.example.com
  Port 2222
  User ignored
  IdentityFile ~/.ssh/id_other
  ServerAliveInterval 15
  ServerAliveCountMax 2

Host *
  Port 22
  IdentitiesOnly yes
  ConnectTimeout 1m30s
`)
	h := cfg.Resolve("build1")
	want := Host{
		Alias:               "build1",
		HostName:            "build1.lab.example.com",
		Port:                2222,
		User:                "ci",
		IdentityFiles:       []string{"/home/eng/.ssh/id_build", "/home/eng/.ssh/id_other"},
		IdentitiesOnly:      true,
		KnownHostsFiles:     []string{"/home/eng/.ssh/known_hosts", "/home/eng/.ssh/known_hosts2"},
		ConnectTimeout:      90 * time.Second,
		ServerAliveInterval: 15 * time.Second,
		ServerAliveCountMax: 2,
	}
	if !hostEqual(h, want) {
		t.Errorf("Resolve(build1) =\n%+v\nwant\n%+v", h, want)
	}

	h = cfg.Resolve("other")
	if h.HostName != "other" || h.Port != 22 || h.User != currentUser() || len(h.IdentityFiles) != 0 || h.ServerAliveCountMax != 3 {
		t.Errorf("Resolve(other) = %+v", h)
	}
}

func TestConfigPatterns(t *testing.T) {
	cfg := parse(t, `
Host lab? !lab9 *.lab.example.com
  User lab
Host "quoted alias"
  User quoted
Host !*.example.com
  User never-alone
Host *.EXAMPLE.com !secret.example.com
  User example
Host *
  User default
`)
	for alias, user := range map[string]string{
		"lab1":               "lab",
		"LAB2":               "lab",
		"lab9":               "default",
		"lab10":              "default",
		"b1.lab.example.com": "lab",
		"quoted alias":       "quoted",
		"www.example.com":    "example",
		"secret.example.com": "default",
		"example.org":        "default",
	} {
		if got := cfg.Resolve(alias).User; got != user {
			t.Errorf("Resolve(%q).User = %q, want %q", alias, got, user)
		}
	}
}

func TestWildcardMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "a/b", true},
		{"a*b", "ab", true},
		{"a*b", "axxbxb", true},
		{"a*b", "axxbx", false},
		{"?", "", false},
		{"??", "ab", true},
		{"*.*.c", "a.b.c", true},
		{"[ab]", "a", false},
		{"[ab]", "[ab]", true},
	} {
		if got := wildcardMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcardMatch(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

func TestConfigLineForms(t *testing.T) {
	cfg := parse(t, "# comment\n"+
		"Host=a\n"+
		"\tHostName = a.example.com # trailing comment\n"+
		"  user=\"us er\"\n"+
		"PORT\t 2200\r\n"+
		"IdentityFile '/keys/with space' \n"+
		"IdentityFile /keys/back\\ slash\n"+
		"UserKnownHostsFile /k/one \"/k/t wo\"\n"+
		"UnknownKeyword whatever \"unterminated is fine when ignored?\"\n"+
		"   \n")
	h := cfg.Resolve("a")
	if h.HostName != "a.example.com" || h.User != "us er" || h.Port != 2200 {
		t.Errorf("Resolve = %+v", h)
	}
	if want := []string{"/keys/with space", "/keys/back slash"}; !equalStrings(h.IdentityFiles, want) {
		t.Errorf("IdentityFiles = %q, want %q", h.IdentityFiles, want)
	}
	if want := []string{"/k/one", "/k/t wo"}; !equalStrings(h.KnownHostsFiles, want) {
		t.Errorf("KnownHostsFiles = %q, want %q", h.KnownHostsFiles, want)
	}
}

func TestConfigTokens(t *testing.T) {
	t.Setenv("HOME", "/home/eng")
	cfg := parse(t, `
Host fpga-*
  HostName %h.lab.example.com
  User board
  IdentityFile ~/.ssh/%n/%r@%h:%p
  IdentityFile /keys/%u/100%%
  IdentityFile %d/id_%i
  UserKnownHostsFile ~/.ssh/known_%n none_is_a_file_here
`)
	h := cfg.Resolve("fpga-7")
	if h.HostName != "fpga-7.lab.example.com" {
		t.Errorf("HostName = %q", h.HostName)
	}
	want := []string{
		"/home/eng/.ssh/fpga-7/board@fpga-7.lab.example.com:22",
		"/keys/" + currentUser() + "/100%",
		"/home/eng/id_" + strconv.Itoa(os.Getuid()),
	}
	if !equalStrings(h.IdentityFiles, want) {
		t.Errorf("IdentityFiles = %q, want %q", h.IdentityFiles, want)
	}
	if want := []string{"/home/eng/.ssh/known_fpga-7", "none_is_a_file_here"}; !equalStrings(h.KnownHostsFiles, want) {
		t.Errorf("KnownHostsFiles = %q, want %q", h.KnownHostsFiles, want)
	}

	// Dial's explicit user and port are what %r and %p stand for.
	h = cfg.resolve("fpga-7", "admin", 2022)
	if h.IdentityFiles[0] != "/home/eng/.ssh/fpga-7/admin@fpga-7.lab.example.com:2022" {
		t.Errorf("with user and port overridden: %q", h.IdentityFiles[0])
	}

	h = parse(t, "UserKnownHostsFile none\n").Resolve("x")
	if len(h.KnownHostsFiles) != 0 {
		t.Errorf("UserKnownHostsFile none gives %q", h.KnownHostsFiles)
	}
}

func TestConfigMatch(t *testing.T) {
	cfg := parse(t, `
Match host *.corp exec "test -f /tmp/on-vpn"
  User vpn
  Port 1
Match all
  User everyone
Host a
  User a-user
Host b
  Port 2
Match canonical all
  Port 3
`)
	if h := cfg.Resolve("x.corp"); h.User != "everyone" || h.Port != 22 {
		t.Errorf("a Match fpgactl cannot evaluate must be skipped whole: %+v", h)
	}
	if h := cfg.Resolve("b"); h.User != "everyone" || h.Port != 2 {
		t.Errorf("Resolve(b) = %+v", h)
	}
}

func TestConfigInclude(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "conf.d", "10-lab"), "Host lab1\n  HostName 10.0.0.1\nHost *\n  Port 2200\n", 0o644)
	writeFile(t, filepath.Join(dir, "conf.d", "20-build"), "User builder\n", 0o644)
	writeFile(t, filepath.Join(dir, "inner"), "Port 3300\n", 0o644)
	writeFile(t, filepath.Join(dir, "config"), `
Include conf.d/*
Host b
  Include inner
  User b-user
`, 0o644)
	cfg, err := LoadConfig(filepath.Join(dir, "config"))
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.Resolve("lab1"); h.HostName != "10.0.0.1" || h.Port != 2200 {
		t.Errorf("Resolve(lab1) = %+v", h)
	}
	// 20-build's User comes after "Host *" in 10-lab, so it applies to all.
	if h := cfg.Resolve("b"); h.User != "builder" || h.Port != 2200 {
		t.Errorf("Resolve(b) = %+v", h)
	}
	// inner is included under Host b only.
	cfg2 := parse(t, "Host b\n  Include "+filepath.Join(dir, "inner")+"\n  User b-user\n")
	if h := cfg2.Resolve("b"); h.Port != 3300 || h.User != "b-user" {
		t.Errorf("Resolve(b) with a conditional include = %+v", h)
	}
	if h := cfg2.Resolve("c"); h.Port != 22 {
		t.Errorf("an include under Host b applied to c: %+v", h)
	}

	writeFile(t, filepath.Join(dir, "loop"), "Include loop\n", 0o644)
	if _, err := LoadConfig(filepath.Join(dir, "loop")); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("an Include loop gives %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		text, want string
	}{
		{"Host a\n  Port 0\n", "test_config:2: Port \"0\": want a port number from 1 to 65535"},
		{"\n\nPort abc\n", "test_config:3: Port \"abc\""},
		{"Host\n", "test_config:1: Host needs at least one pattern"},
		{"User\n", "test_config:1: User needs a value"},
		{"User a b\n", "test_config:1: User takes one value, got 2"},
		{"HostName \"unterminated\n", "test_config:1: unterminated \" quote"},
		{"IdentitiesOnly maybe\n", "test_config:1: IdentitiesOnly \"maybe\": want yes or no"},
		{"ConnectTimeout soon\n", "test_config:1: ConnectTimeout \"soon\""},
		{"ServerAliveCountMax 0\n", "test_config:1: ServerAliveCountMax \"0\""},
		{"IdentityFile ~/.ssh/%C\n", "test_config:1: IdentityFile \"~/.ssh/%C\": token %C is not supported"},
		{"HostName %p.example.com\n", "test_config:1: HostName \"%p.example.com\": token %p"},
		{"IdentityFile 100%\n", "lone %"},
		{"= value\n", "test_config:1: line starts with '='"},
		{"Include ~other/config\n", "test_config:1: Include ~other/config: ~other/config: ~user paths are not supported"},
		{"Match\n", "test_config:1: Match needs a criterion"},
	} {
		_, err := ParseConfig(strings.NewReader(tc.text), "test_config")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConfig(%q) = %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
}

func TestLoadConfigMissing(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	if _, err := LoadConfig("~/.ssh/config"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadConfig of a missing file = %v, want not-exist", err)
	}
	cfg, err := LoadUserConfig()
	if err != nil || cfg == nil {
		t.Fatalf("LoadUserConfig without ~/.ssh/config = %v, %v", cfg, err)
	}
	var nilConfig *Config
	if h := nilConfig.Resolve("x"); h.HostName != "x" || h.Port != 22 {
		t.Errorf("nil Config Resolve = %+v", h)
	}
}

func hostEqual(a, b Host) bool {
	return a.Alias == b.Alias && a.HostName == b.HostName && a.Port == b.Port && a.User == b.User &&
		equalStrings(a.IdentityFiles, b.IdentityFiles) && a.IdentitiesOnly == b.IdentitiesOnly &&
		equalStrings(a.KnownHostsFiles, b.KnownHostsFiles) && a.HostKeyAlias == b.HostKeyAlias &&
		a.ConnectTimeout == b.ConnectTimeout && a.ServerAliveInterval == b.ServerAliveInterval &&
		a.ServerAliveCountMax == b.ServerAliveCountMax && a.Proxy == b.Proxy
}
