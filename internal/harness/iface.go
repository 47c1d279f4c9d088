package harness

import (
	"context"
	"errors"

	"github.com/fpgactl/fpgactl/tests/harness/target"
)

func openIface(ctx context.Context, in, out string, opts TargetOptions) (target.Target, error) {
	return nil, errors.New("iface target: not wired yet")
}
