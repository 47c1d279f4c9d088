package iface

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/fpgactl/fpgactl/internal/netns"
	"github.com/fpgactl/fpgactl/tests/harness/pcapio"
)

// BenchOptions configure BenchSend.
type BenchOptions struct {
	// Pcap is the capture whose frames are replayed.
	Pcap string
	// Frames replays only the first Frames frames; 0 = all.
	Frames int
	// Repeat is how many runs each sender gets, alternating; 0 = 3.
	Repeat int
}

// BenchRun is one replay of the capture.
type BenchRun struct {
	// PPS is frames per second: for our sender, frames sent over the time
	// SendBatch took; for tcpreplay, the "Rated" pps it reports itself.
	PPS float64
	// WallPPS is frames sent over Elapsed: for tcpreplay that includes
	// starting the process and reading the file.
	WallPPS float64
	Elapsed time.Duration
	// Sent is how many frames the sender says it sent, Received how many
	// arrived on the other end of the veth pair.
	Sent, Received int
}

// BenchSeries is one sender's runs.
type BenchSeries struct {
	Runs               []BenchRun
	BestPPS, MedianPPS float64
}

// BenchResult compares SendBatch with tcpreplay --topspeed on one capture.
type BenchResult struct {
	Pcap   string
	Frames int   // frames per run
	Bytes  int64 // bytes per run
	// TcpreplayVersion is the first line of tcpreplay --version.
	TcpreplayVersion string
	Ours, Tcpreplay  BenchSeries
	// Ratio is Ours.MedianPPS / Tcpreplay.MedianPPS.
	Ratio float64
}

// String is a table of the result for logs.
func (r *BenchResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d frames, %d bytes per run; %s\n", r.Pcap, r.Frames, r.Bytes, r.TcpreplayVersion)
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "sender\tbest pps\tmedian pps\truns (pps / wall pps / received)\t")
	for _, s := range []struct {
		name string
		s    BenchSeries
	}{{"SendBatch", r.Ours}, {"tcpreplay", r.Tcpreplay}} {
		var runs []string
		for _, run := range s.s.Runs {
			runs = append(runs, fmt.Sprintf("%.0f/%.0f/%d", run.PPS, run.WallPPS, run.Received))
		}
		fmt.Fprintf(w, "%s\t%.0f\t%.0f\t%s\t\n", s.name, s.s.BestPPS, s.s.MedianPPS, strings.Join(runs, " "))
	}
	w.Flush()
	fmt.Fprintf(&b, "ratio SendBatch/tcpreplay (median): %.2f\n", r.Ratio)
	return b.String()
}

// benchMTU lets 9216-byte jumbo frames through, as in the tests.
const benchMTU = 9600

// BenchSend measures how fast SendBatch replays a capture on a veth pair,
// against tcpreplay --topspeed on the same pair and capture. It creates
// (and deletes) its own namespace, so it needs root, and tcpreplay.
func BenchSend(ctx context.Context, opts BenchOptions) (*BenchResult, error) {
	tcpreplay, err := exec.LookPath("tcpreplay")
	if err != nil {
		return nil, errors.New("tcpreplay not found in PATH; install it (apt-get install tcpreplay)")
	}
	if err := netns.Available(); err != nil {
		return nil, err
	}
	if opts.Repeat <= 0 {
		opts.Repeat = 3
	}
	frames, err := pcapio.ReadFile(opts.Pcap, pcapio.ReadOptions{MaxFrames: opts.Frames})
	if err != nil {
		return nil, err
	}
	if len(frames) == 0 {
		return nil, fmt.Errorf("%s has no frames to replay", opts.Pcap)
	}
	res := &BenchResult{Pcap: opts.Pcap, Frames: len(frames)}
	data := make([][]byte, len(frames))
	for i, f := range frames {
		data[i] = f.Data
		res.Bytes += int64(len(f.Data))
	}
	if out, err := exec.CommandContext(ctx, tcpreplay, "--version").CombinedOutput(); err == nil {
		res.TcpreplayVersion, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	}

	ns, err := netns.Create(ctx, netns.UniqueName("fpgactl-bench"))
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	if err := ns.AddVethPair(ctx, "a", "b", benchMTU); err != nil {
		return nil, err
	}
	// The options the target's In port uses. PACKET_QDISC_BYPASS measured
	// no faster on veth (noqueue), so the target keeps taps working.
	send, err := Open("a", PortOptions{Netns: ns, SendOnly: true})
	if err != nil {
		return nil, err
	}
	defer send.Close()
	recv, err := Open("b", PortOptions{Netns: ns})
	if err != nil {
		return nil, err
	}
	defer recv.Close()
	c := startCounter(ctx, recv)
	defer c.stop()

	// Same order every repetition would favour whoever goes second (warm
	// caches) or first (cool CPU), so it alternates.
	for r := range opts.Repeat {
		runs := []func() error{
			func() error {
				run, err := benchOurs(ctx, send, data, c)
				res.Ours.Runs = append(res.Ours.Runs, run)
				return err
			},
			func() error {
				run, err := benchTcpreplay(ctx, ns, opts, len(frames), c)
				res.Tcpreplay.Runs = append(res.Tcpreplay.Runs, run)
				return err
			},
		}
		if r%2 == 1 {
			slices.Reverse(runs)
		}
		for _, f := range runs {
			if err := f(); err != nil {
				return nil, err
			}
		}
	}
	res.Ours.summarize()
	res.Tcpreplay.summarize()
	if res.Tcpreplay.MedianPPS > 0 {
		res.Ratio = res.Ours.MedianPPS / res.Tcpreplay.MedianPPS
	}
	return res, nil
}

func (s *BenchSeries) summarize() {
	pps := make([]float64, len(s.Runs))
	for i, r := range s.Runs {
		pps[i] = r.PPS
	}
	slices.Sort(pps)
	if n := len(pps); n > 0 {
		s.BestPPS = pps[n-1]
		s.MedianPPS = pps[n/2]
		if n%2 == 0 {
			s.MedianPPS = (pps[n/2-1] + pps[n/2]) / 2
		}
	}
}

func benchOurs(ctx context.Context, p *Port, frames [][]byte, c *counter) (BenchRun, error) {
	before := c.n.Load()
	start := time.Now()
	n, err := p.SendBatch(ctx, frames)
	elapsed := time.Since(start)
	if err != nil {
		return BenchRun{}, fmt.Errorf("benchmark: %w", err)
	}
	pps := float64(n) / elapsed.Seconds()
	return BenchRun{PPS: pps, WallPPS: pps, Elapsed: elapsed, Sent: n, Received: c.settle(ctx, before, n)}, nil
}

var (
	ratedRE  = regexp.MustCompile(`Rated:\s*[\d.]+\s*Bps,\s*[\d.]+\s*Mbps,\s*([\d.]+)\s*pps`)
	actualRE = regexp.MustCompile(`Actual:\s*(\d+)\s*packets`)
)

func benchTcpreplay(ctx context.Context, ns *netns.Namespace, opts BenchOptions, frames int, c *counter) (BenchRun, error) {
	args := []string{"--topspeed", "--intf1=a"}
	if opts.Frames > 0 {
		args = append(args, "--limit="+strconv.Itoa(frames))
	}
	args = append(args, opts.Pcap)
	before := c.n.Load()
	cmd := ns.Command(ctx, "tcpreplay", args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	line := "tcpreplay " + strings.Join(args, " ")
	if err != nil {
		return BenchRun{}, fmt.Errorf("benchmark: %s in namespace %s: %w\n%s", line, ns.Name(), err, out)
	}
	rated := ratedRE.FindSubmatch(out)
	actual := actualRE.FindSubmatch(out)
	if rated == nil || actual == nil {
		return BenchRun{}, fmt.Errorf("benchmark: no Rated:/Actual: lines in the output of %s:\n%s", line, out)
	}
	pps, _ := strconv.ParseFloat(string(rated[1]), 64)
	sent, _ := strconv.Atoi(string(actual[1]))
	return BenchRun{
		PPS: pps, WallPPS: float64(sent) / elapsed.Seconds(), Elapsed: elapsed,
		Sent: sent, Received: c.settle(ctx, before, sent),
	}, nil
}

// counter counts frames arriving on a port until stopped.
type counter struct {
	n      atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}
}

func startCounter(ctx context.Context, p *Port) *counter {
	ctx, cancel := context.WithCancel(ctx)
	c := &counter{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		// Counting needs no frame data: MSG_TRUNC still reports each frame.
		bufs := make([][]byte, MaxBatch)
		for i := range bufs {
			bufs[i] = make([]byte, 64)
		}
		lens := make([]int, MaxBatch)
		for {
			n, err := p.RecvBatch(ctx, bufs, lens, nil)
			if err != nil {
				if ctx.Err() == nil {
					fmt.Fprintf(os.Stderr, "benchmark receiver: %v\n", err)
				}
				return
			}
			c.n.Add(int64(n))
		}
	}()
	return c
}

func (c *counter) stop() {
	c.cancel()
	<-c.done
}

// settle waits until expect frames arrived since the count was before, or
// the count has not moved for 200 ms (at most 5 s), and returns how many
// arrived. Waiting for all of them keeps a slow receiver's backlog from
// being counted in the next run.
func (c *counter) settle(ctx context.Context, before int64, expect int) int {
	last, quiet := c.n.Load(), time.Now()
	deadline := time.Now().Add(5 * time.Second)
	for last-before < int64(expect) && time.Since(quiet) < 200*time.Millisecond && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
		if n := c.n.Load(); n != last {
			last, quiet = n, time.Now()
		}
	}
	return int(last - before)
}
