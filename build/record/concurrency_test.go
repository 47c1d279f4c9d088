package record

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const rounds = 15

var phases = []Phase{PhaseSynth, PhasePlace, PhaseRoute, PhaseTiming, PhaseBitstream}

// writeRounds appends tag-0 .. tag-(rounds-1) to the reports of each seed,
// one update per seed per round, interleaved across seeds. A lost update
// shows as a missing or misplaced entry.
func writeRounds(s *Store, id, target, tag string, seeds []int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for round := range rounds {
		for _, seed := range seeds {
			err := s.UpdateSeed(ctx, id, target, seed, func(r *SeedResult) {
				r.Status = SeedRunning
				r.Phase = phases[round%len(phases)]
				r.Reports = append(r.Reports, tag+"-"+strconv.Itoa(round))
			})
			if err != nil {
				return fmt.Errorf("%s seed %d round %d: %w", target, seed, round, err)
			}
		}
	}
	return nil
}

// helperUpdate is one writer process: it waits for "go" on stdin so that
// both processes and the goroutines start together.
func helperUpdate() {
	var seeds []int
	for v := range strings.SplitSeq(os.Getenv("SEEDS"), ",") {
		n, _ := strconv.Atoi(v)
		seeds = append(seeds, n)
	}
	bufio.NewReader(os.Stdin).ReadString('\n')
	s := &Store{Dir: os.Getenv("STORE_DIR")}
	if err := writeRounds(s, os.Getenv("BUILD_ID"), os.Getenv("TARGET"), os.Getenv("TAG"), seeds); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func TestConcurrentUpdatesFromGoroutinesAndProcesses(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	id, err := s.Create(&Build{
		Targets: []string{"ecp5-85k", "ice40-hx8k", "ultrascale"},
		Seeds:   []int{1, 2, 3, 4, 5, 6},
	})
	if err != nil {
		t.Fatal(err)
	}

	// Two processes share target ultrascale: seeds 1-3 and 4-6.
	type proc struct {
		tag   string
		seeds []int
	}
	procs := []proc{{"p1", []int{1, 2, 3}}, {"p2", []int{4, 5, 6}}}
	var cmds []*execCmd
	for _, p := range procs {
		var ss []string
		for _, n := range p.seeds {
			ss = append(ss, strconv.Itoa(n))
		}
		c := startWriter(t, "STORE_DIR="+s.Dir, "BUILD_ID="+id, "TARGET=ultrascale", "TAG="+p.tag, "SEEDS="+strings.Join(ss, ","))
		cmds = append(cmds, c)
	}

	// Goroutines: one per seed of ice40-hx8k, and two per seed of ecp5-85k
	// so that writers of the same seed race too.
	type gw struct {
		target, tag string
		seed        int
	}
	var gws []gw
	for _, seed := range []int{1, 2, 3, 4, 5, 6} {
		gws = append(gws, gw{"ice40-hx8k", "g", seed}, gw{"ecp5-85k", "ga", seed}, gw{"ecp5-85k", "gb", seed})
	}
	start := make(chan struct{})
	errs := make(chan error, len(gws))
	var wg sync.WaitGroup
	for _, w := range gws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- writeRounds(s, id, w.target, w.tag, []int{w.seed})
		}()
	}
	for _, c := range cmds {
		io.WriteString(c.stdin, "go\n")
		c.stdin.Close()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for _, c := range cmds {
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("writer process: %v", err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	b, err := s.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	seq := func(tag string) []string {
		var out []string
		for i := range rounds {
			out = append(out, tag+"-"+strconv.Itoa(i))
		}
		return out
	}
	for _, seed := range []int{1, 2, 3, 4, 5, 6} {
		if got := b.Seed("ice40-hx8k", seed).Reports; !slices.Equal(got, seq("g")) {
			t.Errorf("ice40-hx8k seed %d reports %v, want %v", seed, got, seq("g"))
		}
		tag := "p1"
		if seed > 3 {
			tag = "p2"
		}
		if got := b.Seed("ultrascale", seed).Reports; !slices.Equal(got, seq(tag)) {
			t.Errorf("ultrascale seed %d reports %v, want %v", seed, got, seq(tag))
		}
		// Two writers on one seed: both sequences complete and each in its
		// own order, however they interleave.
		got := b.Seed("ecp5-85k", seed).Reports
		var a, bb []string
		for _, r := range got {
			if strings.HasPrefix(r, "ga-") {
				a = append(a, r)
			} else if strings.HasPrefix(r, "gb-") {
				bb = append(bb, r)
			}
		}
		if len(got) != 2*rounds || !slices.Equal(a, seq("ga")) || !slices.Equal(bb, seq("gb")) {
			t.Errorf("ecp5-85k seed %d reports %v: want ga-0..%d and gb-0..%d interleaved", seed, got, rounds-1, rounds-1)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(s.Path(id), ".build.json.tmp-*")); len(tmp) != 0 {
		t.Errorf("temp files left after all writers finished: %v", tmp)
	}
}

type execCmd struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startWriter(t *testing.T, env ...string) *execCmd {
	t.Helper()
	cmd := helperCmd(t, "update", env...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return &execCmd{cmd: cmd, stdin: in}
}
