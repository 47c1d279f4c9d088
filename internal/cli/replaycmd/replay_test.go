package replaycmd

import (
	"errors"
	"testing"

	"github.com/fpgactl/fpgactl/internal/cli/clitest"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
)

// execute runs `replay args...`; runF records the options it got.
func execute(args ...string) (*Options, bool, error) { return clitest.Flags(NewCmdReplay, args...) }

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--profile", "imix"}, // no --rules
		{"--rules", "r.yaml"}, // neither --pcap nor --profile
		{"--rules", "r.yaml", "--pcap", "c.pcap", "--profile", "imix"}, // both
		{"--rules", "r.yaml", "--profile", "imix", "--target", "iface:a"},
		{"--rules", "r.yaml", "--profile", "imix", "--target", "iface:a,b,c"},
		{"--rules", "r.yaml", "--profile", "imix", "--target", "iface:,b"},
		{"--rules", "r.yaml", "--profile", "imix", "--target", "foo"},
		{"--rules", "r.yaml", "--profile", "imix", "--target", ""},
		{"--rules", "r.yaml", "--profile", "imix", "--width", "32"},
		{"--rules", "r.yaml", "--profile", "imix", "--width", "128"},
		{"--rules", "r.yaml", "--profile", "imix", "--backpressure", "1.5"},
		{"--rules", "r.yaml", "--profile", "imix", "--backpressure", "NaN"},
		{"--rules", "r.yaml", "--profile", "imix", "--backpressure", "1"},
		{"--rules", "r.yaml", "--profile", "imix", "--backpressure", "-0.1"},
		{"--rules", "r.yaml", "--profile", "imix", "extra"},
	} {
		_, called, err := execute(args...)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) {
			t.Errorf("%q: want a flag error, got %v", args, err)
		}
		if called {
			t.Errorf("%q: runF called despite invalid flags", args)
		}
	}
}

func TestValidFlagsReachRunF(t *testing.T) {
	o, called, err := execute("--rules", "r.yaml", "--profile", "imix,frames=10", "--target", "iface:veth0,veth1",
		"--width", "512", "--backpressure", "0.25", "--pace", "--netns", "lab", "--control", "/tmp/s.sock", "--out", "/tmp/o")
	if err != nil || !called {
		t.Fatalf("valid flags: called %v err %v", called, err)
	}
	if o.Rules != "r.yaml" || o.Profile != "imix,frames=10" || o.Pcap != "" || o.Target != "iface:veth0,veth1" ||
		o.Width != 512 || o.Backpressure != 0.25 || !o.Pace || o.Netns != "lab" || o.Control != "/tmp/s.sock" || o.OutDir != "/tmp/o" {
		t.Errorf("options %+v", o.ReplayOptions)
	}
	if o.Factory == nil {
		t.Error("options lack the factory")
	}

	// Defaults: target sim, width 0 (the design's first), --pcap instead of --profile.
	o, called, err = execute("--rules", "x.yaml", "--pcap", "c.pcapng")
	if err != nil || !called {
		t.Fatalf("defaults: called %v err %v", called, err)
	}
	if o.Target != "sim" || o.Width != 0 || o.Pcap != "c.pcapng" || o.Profile != "" || o.Backpressure != 0 || o.Pace {
		t.Errorf("default options %+v", o.ReplayOptions)
	}

	for _, w := range []string{"64", "512"} {
		if _, _, err := execute("--rules", "x.yaml", "--pcap", "c.pcap", "--width", w); err != nil {
			t.Errorf("--width %s: %v", w, err)
		}
	}
	if _, _, err := execute("--rules", "x.yaml", "--pcap", "c.pcap", "--backpressure", "0.99"); err != nil {
		t.Errorf("--backpressure 0.99: %v", err)
	}
}
