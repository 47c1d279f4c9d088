// Command writevectors writes the pf_filter test vectors of hdl/SPEC.md §7.
// It is a developer tool; fpgactl drives the same code through sim/vectors.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/fpgactl/fpgactl/sim/vectors"
)

func main() {
	p := vectors.DefaultParams()
	set := flag.String("set", "", "vector set to write, or \"all\" (one subdirectory per set); sets: "+strings.Join(vectors.Names(), ", "))
	dir := flag.String("dir", "", "output directory")
	flag.IntVar(&p.DataWidth, "width", p.DataWidth, "AXI4-Stream data width in bits (DATA_WIDTH)")
	flag.IntVar(&p.NumRules, "rules", p.NumRules, "rule table size (NUM_RULES)")
	flag.IntVar(&p.MaxFrameBytes, "max-frame", p.MaxFrameBytes, "MAX_FRAME_BYTES")
	flag.Uint64Var(&p.Seed, "seed", 0, "seed of the random set (0: the fixed default)")
	list := flag.Bool("list", false, "also print each frame's expected verdict (single set only)")
	flag.Parse()
	if *set == "" || *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: writevectors -set NAME|all -dir DIR [-width 64] [-rules 64] [-max-frame 9216]")
		os.Exit(2)
	}
	var err error
	if *set == "all" {
		err = vectors.WriteAll(p, *dir)
	} else {
		var v *vectors.Vectors
		if v, err = vectors.Build(*set, p); err == nil {
			err = v.WriteDir(*dir)
		}
		if err == nil && *list {
			for i, verdict := range v.Verdicts {
				name := ""
				if verdict.Hit && verdict.Rule < len(v.Table.Names) {
					name = v.Table.Names[verdict.Rule]
				}
				fmt.Printf("%4d len=%-5d t=%-12d %-7s rule=%-3d %s %s\n", i, len(v.Frames[i].Data), v.Frames[i].TimeNS,
					verdict.Outcome, verdict.Rule, name, verdict.Reason)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "writevectors:", err)
		os.Exit(1)
	}
}
