package board

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fpgactl/fpgactl/sim/rules"
	"github.com/fpgactl/fpgactl/tests/harness/profile"
	"github.com/fpgactl/fpgactl/tests/harness/replay"
	"github.com/fpgactl/fpgactl/tests/harness/target"
	"github.com/fpgactl/fpgactl/tests/harness/compare"
)

func TestSmokeReplay(t *testing.T) {
	root, _ := filepath.Abs("../..")
	rtl, _ := filepath.Glob(filepath.Join(root, "hdl/rtl/*.sv"))
	rs, err := rules.ParseFile(filepath.Join(root, "tests/rules/example.yaml"))
	if err != nil { t.Fatal(err) }
	tbl, _ := rs.Compile(64)
	for _, w := range []int{64, 512} {
		bin, _, err := Build(context.Background(), BuildOptions{RTL: rtl, Include: []string{filepath.Join(root, "hdl/rtl")}, Width: w, WorkDir: filepath.Join(root, ".fpgactl"), Log: os.Stderr})
		if err != nil { t.Fatal(err) }
		b, err := Start(context.Background(), bin, StartOptions{Width: w})
		if err != nil { t.Fatal(err) }
		for _, spec := range []string{"size=60,frames=20000,rate=10g,mix=legit:5+syn-flood:3+udp-reflection:2,seed=1", "imix,frames=20000,rate=10g,mix=legit:5+syn-flood:3+udp-reflection:2+malformed:1+ipv6:1,seed=1"} {
		po, err := profile.ParseProfile(spec)
		if err != nil { t.Fatal(err) }
		if w == 512 { po.RateGbps = 100 }
		pf, _ := profile.Generate(po)
		var fr []target.Frame
		for _, f := range pf { fr = append(fr, target.Frame{Data: f.Data, TimeNS: f.TimeNS}) }
		st := time.Now()
		res, err := replay.Run(context.Background(), replay.Options{Target: b, Phases: []replay.Phase{{Table: tbl, Frames: fr}}})
		if err != nil { t.Fatal(err) }
		el := time.Since(st)
		t.Logf("w%d %s: %+v replay %v total %v = %.0f fps; passed=%v mism=%d cdiff=%d recv=%d lat=%+v", w, spec[:8], res.Device, res.Captures[0].Elapsed, el, float64(len(fr))/res.Captures[0].Elapsed.Seconds(), res.Report.Passed(), len(res.Report.Mismatches), len(res.Report.CounterDiffs), res.Report.Received, res.Report.Latency)
		if !res.Report.Passed() { compare.WriteDiff(os.Stderr, res.Report) }
		}
		b.Close()
	}
}
