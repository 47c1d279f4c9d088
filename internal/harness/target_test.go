package harness

import (
	"strings"
	"testing"
)

func TestParseTargetSpec(t *testing.T) {
	for _, c := range []struct {
		spec, kind, in, out string
		ok                  bool
	}{
		{"sim", "sim", "", "", true},
		{"iface:a,b", "iface", "a", "b", true},
		{"iface:veth0,veth1", "iface", "veth0", "veth1", true},
		{"iface:a", "", "", "", false},
		{"iface:a,b,c", "", "", "", false},
		{"iface:,b", "", "", "", false},
		{"iface:a,", "", "", "", false},
		{"iface:", "", "", "", false},
		{"iface", "", "", "", false},
		{"other", "", "", "", false},
		{"", "", "", "", false},
		{"SIM", "", "", "", false},
	} {
		kind, in, out, err := ParseTargetSpec(c.spec)
		if (err == nil) != c.ok {
			t.Errorf("%q: err %v, want ok %v", c.spec, err, c.ok)
			continue
		}
		if kind != c.kind || in != c.in || out != c.out {
			t.Errorf("%q: got (%q, %q, %q), want (%q, %q, %q)", c.spec, kind, in, out, c.kind, c.in, c.out)
		}
		if err != nil && !strings.Contains(err.Error(), c.spec) {
			t.Errorf("%q: error %q does not name the spec", c.spec, err)
		}
	}
}
