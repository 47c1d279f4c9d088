package root

import (
	"github.com/fpgactl/fpgactl/internal/cli/rulescmd"
	"github.com/spf13/cobra"
)

// newCmdRules wires `fpgactl rules` (internal/cli/rulescmd, owned by the rules
// compiler) into the tree. It is the only link between the two packages.
func newCmdRules() *cobra.Command { return rulescmd.NewCmdRules() }
