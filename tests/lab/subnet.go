package lab

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"

	"github.com/fpgactl/fpgactl/internal/flock"
)

// subnetLock serializes subnet choices of the emulated labs of concurrent
// test processes on this machine.
const subnetLock = "/run/fpgactl-lab.lock"

var (
	usedAddrRe  = regexp.MustCompile(`inet 10\.77\.(\d+)\.`)
	usedIfaceRe = regexp.MustCompile(`\d+: fpgalab(\d+)[:@]`)
)

// allocSubnets picks n numbers X for free subnets 10.77.X.0/24 (no address
// and no fpgalabX interface on this machine uses them). The caller must
// configure them before calling release, which lets other processes choose.
func allocSubnets(ctx context.Context, n int) (subnets []int, release func(), err error) {
	release, err = flock.Lock(ctx, subnetLock)
	if err != nil {
		return nil, nil, err
	}
	used := map[int]bool{0: true}
	for _, args := range [][]string{{"-4", "-o", "addr", "show"}, {"-o", "link", "show"}} {
		out, err := exec.CommandContext(ctx, "ip", args...).Output()
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("ip %v: %w", args, err)
		}
		for _, re := range []*regexp.Regexp{usedAddrRe, usedIfaceRe} {
			for _, m := range re.FindAllStringSubmatch(string(out), -1) {
				x, _ := strconv.Atoi(m[1])
				used[x] = true
			}
		}
	}
	for x := 1; x <= 254 && len(subnets) < n; x++ {
		if !used[x] {
			subnets = append(subnets, x)
		}
	}
	if len(subnets) < n {
		release()
		return nil, nil, fmt.Errorf("no %d free subnets left in 10.77.1-254.0/24", n)
	}
	return subnets, release, nil
}
