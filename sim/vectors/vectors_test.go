package vectors

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/fpgactl/fpgactl/sim/model"
	"github.com/fpgactl/fpgactl/sim/rules"
)

// readHex reads a $readmemh file written by WriteDir: one value per line,
// each exactly digits wide. Values wider than 64 bits come back as hex text.
func readHex(t *testing.T, path string, digits int) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if len(l) != digits {
			t.Fatalf("%s:%d: %q is not %d hex digits", path, len(lines)+1, l, digits)
		}
		if _, err := strconv.ParseUint(l[:min(16, len(l))], 16, 64); err != nil {
			t.Fatalf("%s:%d: %q is not hex", path, len(lines)+1, l)
		}
		lines = append(lines, l)
	}
	return lines
}

func hexv(t *testing.T, s string) uint64 {
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWriteEverySet(t *testing.T) {
	for _, p := range []Params{DefaultParams(), {DataWidth: 512, NumRules: 32, MaxFrameBytes: 1518}} {
		for _, name := range Names() {
			t.Run(name+"/"+strconv.Itoa(p.MaxFrameBytes), func(t *testing.T) {
				dir := t.TempDir()
				if err := Write(name, p, dir); err != nil {
					t.Fatal(err)
				}
				checkDir(t, dir, p)
			})
		}
	}
}

func checkDir(t *testing.T, dir string, p Params) {
	meta := readHex(t, filepath.Join(dir, "meta.hex"), 8)
	if len(meta) != 6 {
		t.Fatalf("meta.hex has %d lines, want 6", len(meta))
	}
	nFrames, nRegs, nExpect, nCounters, nBytes := hexv(t, meta[0]), hexv(t, meta[1]), hexv(t, meta[2]), hexv(t, meta[3]), hexv(t, meta[4])
	regs := readHex(t, filepath.Join(dir, "regs.hex"), 16)
	frames := readHex(t, filepath.Join(dir, "frames.hex"), 2)
	desc := readHex(t, filepath.Join(dir, "desc.hex"), 32)
	expect := readHex(t, filepath.Join(dir, "expect.hex"), 8)
	counters := readHex(t, filepath.Join(dir, "counters.hex"), 24)
	if uint64(len(regs)) != nRegs || uint64(len(frames)) != nBytes || uint64(len(desc)) != nFrames ||
		uint64(len(expect)) != nExpect || uint64(len(counters)) != nCounters {
		t.Fatalf("meta %v disagrees with line counts regs %d bytes %d desc %d expect %d counters %d",
			meta, len(regs), len(frames), len(desc), len(expect), len(counters))
	}
	if want := p.NumRules*rules.WordsPerRule + 2; len(regs) != want {
		t.Errorf("%d register writes, want %d", len(regs), want)
	}
	if regs[len(regs)-1] != "0000001400000001" || regs[len(regs)-2][:8] != "00000010" {
		t.Errorf("register writes must end with CONTROL then SWAP=1: %v", regs[len(regs)-2:])
	}
	off := uint64(0)
	for i, d := range desc {
		if o := hexv(t, d[16:24]); o != off {
			t.Fatalf("desc %d: offset %d, want %d", i, o, off)
		}
		l := hexv(t, d[24:28])
		if l == 0 {
			t.Fatalf("desc %d: empty frame", i)
		}
		off += l
	}
	if off != nBytes {
		t.Errorf("frames cover %d bytes, frames.hex has %d", off, nBytes)
	}
	prev := -1
	for _, e := range expect {
		i := int(hexv(t, e))
		if i <= prev || i >= len(desc) {
			t.Fatalf("expect.hex: index %d after %d (frames %d)", i, prev, len(desc))
		}
		prev = i
	}
	got := map[uint64]uint64{}
	for _, c := range counters {
		got[hexv(t, c[:8])] = hexv(t, c[8:])
	}
	total := func(k int, bytes bool) uint64 {
		a := uint64(rules.TotalAddr(k))
		if bytes {
			a += 8
		}
		v, ok := got[a]
		if !ok {
			t.Fatalf("no counter check for total %s", rules.TotalNames[k])
		}
		return v
	}
	if total(rules.TotalIn, false) != nFrames || total(rules.TotalIn, true) != nBytes-oversizeExcess(t, desc, p) {
		t.Errorf("in = %d/%d, want %d frames", total(rules.TotalIn, false), total(rules.TotalIn, true), nFrames)
	}
	if total(rules.TotalPassed, false) != nExpect {
		t.Errorf("passed = %d, expect.hex has %d", total(rules.TotalPassed, false), nExpect)
	}
	for _, bytes := range []bool{false, true} {
		if in, sum := total(rules.TotalIn, bytes), total(rules.TotalPassed, bytes)+total(rules.TotalDropped, bytes)+total(rules.TotalPoliced, bytes); in != sum {
			t.Errorf("in %d != passed+dropped+policed %d (bytes %v)", in, sum, bytes)
		}
	}
	size := 0
	for _, n := range []string{"meta.hex", "regs.hex", "frames.hex", "desc.hex", "expect.hex", "counters.hex"} {
		st, err := os.Stat(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		size += int(st.Size())
	}
	if size > 3<<20 {
		t.Errorf("set is %d bytes of hex; keep it under 3 MB", size)
	}
}

// oversizeExcess is how many bytes beyond MaxFrameBytes+1 the frames carry:
// counters count clamped lengths.
func oversizeExcess(t *testing.T, desc []string, p Params) uint64 {
	var x uint64
	for _, d := range desc {
		if l := hexv(t, d[24:28]); l > uint64(p.MaxFrameBytes+1) {
			x += l - uint64(p.MaxFrameBytes+1)
		}
	}
	return x
}

func TestSetContents(t *testing.T) {
	p := DefaultParams()
	build := func(name string) *Vectors {
		v, err := Build(name, p)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t.Run("features hits every rule and misses", func(t *testing.T) {
		v := build("features")
		hits := map[int]bool{}
		misses := 0
		for _, vd := range v.Verdicts {
			if vd.Hit {
				hits[vd.Rule] = true
			} else {
				misses++
			}
		}
		if len(hits) != len(v.Table.Entries) || misses == 0 {
			t.Errorf("%d of %d rules hit, %d misses", len(hits), len(v.Table.Entries), misses)
		}
	})
	t.Run("malformed covers every reason", func(t *testing.T) {
		for _, name := range []string{"malformed", "malformed_pass"} {
			v := build(name)
			seen := map[string]bool{}
			for _, vd := range v.Verdicts {
				if vd.Malformed {
					seen[vd.Reason] = true
					if vd.Pass != (name == "malformed_pass") {
						t.Errorf("%s: malformed frame pass = %v", name, vd.Pass)
					}
				}
			}
			for _, r := range model.Reasons {
				if !seen[r] {
					t.Errorf("%s: no frame is %s", name, r)
				}
			}
			var lens []int
			for _, f := range v.Frames {
				lens = append(lens, len(f.Data))
			}
			if !containsAll(lens, 9217, 10000) {
				t.Errorf("%s: want 9217- and 10000-byte frames", name)
			}
		}
	})
	t.Run("police conforms and polices on every rule", func(t *testing.T) {
		v := build("police")
		type key struct {
			rule int
			o    model.Outcome
		}
		seen := map[key]bool{}
		for _, vd := range v.Verdicts {
			seen[key{vd.Rule, vd.Outcome}] = true
		}
		for r, e := range v.Table.Entries {
			if e.Action == rules.ActionPolice && (!seen[key{r, model.Passed}] || !seen[key{r, model.Policed}]) {
				t.Errorf("police rule %d: passed %v policed %v", r, seen[key{r, model.Passed}], seen[key{r, model.Policed}])
			}
		}
	})
	t.Run("zero_bubble sizes, idle and holes", func(t *testing.T) {
		v := build("zero_bubble")
		if v.Flags != FlagGapFree {
			t.Errorf("flags = %d", v.Flags)
		}
		var lens []int
		for i, f := range v.Frames {
			lens = append(lens, len(f.Data))
			if v.Idle[i] != 0 {
				t.Fatalf("frame %d has idle %d", i, v.Idle[i])
			}
		}
		for n := 60; n <= 200; n++ {
			if !containsAll(lens, n) {
				t.Errorf("no %d-byte frame", n)
			}
		}
		if !containsAll(lens, 1518, 9216) {
			t.Errorf("want 1518- and 9216-byte frames")
		}
		if len(v.Expect) == len(v.Frames) || len(v.Expect) == 0 {
			t.Errorf("%d of %d frames pass; want holes", len(v.Expect), len(v.Frames))
		}
	})
	t.Run("backpressure flag and gaps", func(t *testing.T) {
		v := build("backpressure")
		gaps := 0
		for _, i := range v.Idle {
			if i > 0 {
				gaps++
			}
		}
		if v.Flags != FlagBackpressure || gaps == 0 {
			t.Errorf("flags %d, %d gaps", v.Flags, gaps)
		}
		// The set must end with a long gap-free run (fills the delay FIFO
		// while m_axis_tready toggles): count the bytes after the last gap.
		run := 0
		for i := len(v.Frames) - 1; i >= 0 && (i == len(v.Frames)-1 || v.Idle[i] == 0); i-- {
			run += len(v.Frames[i].Data)
		}
		if run < 64*1024 {
			t.Errorf("gap-free tail of %d bytes; want at least 64 KiB", run)
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		for _, name := range Names() {
			a, b := build(name), build(name)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s differs between two builds", name)
			}
		}
	})
	t.Run("idle fits 8 bits", func(t *testing.T) {
		for _, name := range Names() {
			for i, idle := range build(name).Idle {
				if idle < 0 || idle > 255 {
					t.Fatalf("%s frame %d idle %d", name, i, idle)
				}
			}
		}
	})
}

func containsAll(list []int, want ...int) bool {
	for _, w := range want {
		found := false
		for _, x := range list {
			if x == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestWriteErrors(t *testing.T) {
	if err := Write("nope", DefaultParams(), t.TempDir()); err == nil {
		t.Error("unknown set accepted")
	}
	if err := Write("features", Params{DataWidth: 64, NumRules: 4, MaxFrameBytes: 9216}, t.TempDir()); err == nil {
		t.Error("features in a 4-rule table accepted")
	}
	if err := Write("features", Params{DataWidth: 63, NumRules: 64, MaxFrameBytes: 9216}, t.TempDir()); err == nil {
		t.Error("63-bit width accepted")
	}
}

func TestRandomSeed(t *testing.T) {
	p := DefaultParams()
	a, _ := Build("random", p)
	p.Seed = RandomSeed
	b, _ := Build("random", p)
	p.Seed = 99
	c, _ := Build("random", p)
	if !reflect.DeepEqual(a.Frames, b.Frames) {
		t.Error("seed 0 should mean RandomSeed")
	}
	if reflect.DeepEqual(a.Frames, c.Frames) || reflect.DeepEqual(a.Table.Entries, c.Table.Entries) {
		t.Error("another seed gave the same set")
	}
}
