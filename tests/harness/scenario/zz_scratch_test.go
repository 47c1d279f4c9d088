package scenario

import (
	"fmt"
	"sort"
	"testing"

	"github.com/fpgactl/fpgactl/sim/model"
	"github.com/fpgactl/fpgactl/tests/harness/pcapio"
)

func TestScratchCapture(t *testing.T) {
	fr, err := pcapio.ReadFile("../../captures/edge-mix.pcap", pcapio.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tally := map[string]int{}
	for _, f := range fr {
		p := model.Parse(f.Data, false, 9216)
		k := ""
		switch {
		case p.Malformed:
			k = "malformed " + p.Reason
		case p.IsIPv4:
			k = fmt.Sprintf("v4 vlan%d/%d proto %d frag %v/%v flags %02x icmp %v/%d", p.VLANCount, p.OuterVID, p.Proto, p.IsFrag, p.IsNonFirst, p.TCPFlags, p.HasICMP, p.ICMPType)
		case p.IsIPv6:
			k = fmt.Sprintf("v6 vlan%d proto %d flags %02x icmp %v/%d", p.VLANCount, p.Proto, p.TCPFlags, p.HasICMP, p.ICMPType)
		default:
			k = fmt.Sprintf("nonip vlan%d/%d", p.VLANCount, p.OuterVID)
		}
		tally[k]++
	}
	var ks []string
	for k := range tally {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		fmt.Printf("%4d %s\n", tally[k], k)
	}
	fmt.Println("span", fr[len(fr)-1].TimeNS-fr[0].TimeNS)
}
