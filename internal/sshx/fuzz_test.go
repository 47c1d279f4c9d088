package sshx

import (
	"io/fs"
	"strings"
	"testing"
)

// FuzzParseConfig checks that no config text makes the parser or Resolve
// panic or hang, that errors name the file and a line, and that Resolve's
// results keep their invariants. Seeds are in testdata/fuzz/FuzzParseConfig.
func FuzzParseConfig(f *testing.F) {
	f.Add("Host a b !c\n  HostName %h.example.com\n  Port=2222\n", "a")
	f.Fuzz(func(t *testing.T, text, alias string) {
		// Include reads nothing here: the fuzzer must not wander the disk.
		p := configParser{
			cfg:      &Config{},
			readFile: func(string) ([]byte, error) { return nil, fs.ErrNotExist },
			glob:     func(string) ([]string, error) { return nil, nil },
		}
		if err := p.parse(strings.NewReader(text), "fuzz", nil, 0); err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("error without file and line: %v", err)
			}
			return
		}
		for _, a := range []string{alias, "", "*", strings.ToUpper(alias)} {
			h := p.cfg.Resolve(a)
			if h.Port < 1 || h.Port > 65535 {
				t.Fatalf("Resolve(%q).Port = %d", a, h.Port)
			}
			if h.HostName == "" && a != "" {
				t.Fatalf("Resolve(%q).HostName is empty", a)
			}
			if h.User == "" || h.ServerAliveCountMax < 1 || h.ConnectTimeout < 0 || h.ServerAliveInterval < 0 {
				t.Fatalf("Resolve(%q) = %+v", a, h)
			}
		}
	})
}
