// Package boardtest is the on-board test pipeline behind `fpgactl board
// test`: reserve a lab board through the lab service, program it with a
// bitstream on its lab host over SSH, replay traffic through it with the
// harness running on the lab host, compare with the golden model, record the
// result in the service and release the board — also when something fails
// or the run is cancelled.
//
// Steps, each reported on Options.Progress with the time since the start:
//
//	reserve   the board (or any board with the tag), waiting in the queue if
//	          busy; an already held, granted reservation of the caller is
//	          reused and not released
//	board     its inventory entry: SSH address and user, interfaces, control
//	          socket, program command
//	connect   SSH to the lab host (internal/sshx: known_hosts checked)
//	upload    the harness (this fpgactl, once per content hash, kept in
//	          <remote-dir>/bin), bitstream, rules and traffic into a per-run
//	          directory <remote-dir>/runs/<id>
//	program   the board's program command, {bitstream} replaced by the
//	          uploaded file ({fpgactl} by the uploaded harness)
//	replay    fpgactl replay --target iface:IN,OUT --control CONTROL on the
//	          lab host, --output json
//	download  the replay's JSON report, junit.xml, diff.txt, mismatches.pcap
//	compare   the outcome: passed/failed, frames, mismatches, counters
//	record    POST the result (with the bitstream's SHA-256) to the service
//	release   the reservation (with a fresh context, also after a failure or
//	          a cancellation)
//
// The local report is <out>/board-test.json and <out>/junit.xml (the steps,
// then the replay's checks); the lab host's files are in <out>/lab/.
package boardtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fpgactl/fpgactl/internal/contenthash"
	"github.com/fpgactl/fpgactl/internal/junit"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/internal/sshx"
	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/client"
	"github.com/fpgactl/fpgactl/tests/harness/replay"
)

// Placeholders of a board's program command.
const (
	BitstreamPlaceholder = "{bitstream}"
	// FpgactlPlaceholder is replaced by the harness uploaded for the run,
	// for lab hosts that have no fpgactl of their own.
	FpgactlPlaceholder = "{fpgactl}"
)

// DefaultRemoteDir is where runs and the harness go on the lab host,
// relative to the login directory.
const DefaultRemoteDir = "fpgactl-lab"

// releaseTimeout bounds the release (and the remote clean-up) after the
// run's context has ended.
const releaseTimeout = 20 * time.Second

// Options describe one on-board test.
type Options struct {
	// Lab is the reservation service's client.
	Lab *client.Client
	// Exactly one of Board and Tag.
	Board, Tag string
	// TTL is the lease asked for (default 1 h); Comment is shown to others.
	TTL     time.Duration
	Comment string
	// NoWait fails at once when no matching board is free, instead of
	// waiting in the queue.
	NoWait bool

	// Bitstream is programmed; Rules loaded; exactly one of Pcap and
	// Profile replayed.
	Bitstream string
	Rules     string
	Pcap      string
	Profile   string
	// OutDir receives board-test.json, junit.xml, program.log and lab/.
	OutDir string

	// Harness is the fpgactl executable run on the lab host (default: this
	// process's executable).
	Harness string
	// Design shapes the project file the harness gets on the lab host (its
	// NUM_RULES and MAX_FRAME_BYTES); nil: the filter's defaults. The
	// device identifies itself, so this only matters for compiling rules.
	Design *project.Design

	SSH SSHOptions
	// RemoteDir holds runs and harnesses on the lab host (default
	// DefaultRemoteDir, relative to the login directory).
	RemoteDir string
	// KeepRemote keeps the run's directory on the lab host.
	KeepRemote bool

	// Progress receives one line per step (nil: none).
	Progress io.Writer
	// OnStep is called as each step starts, with its name (tests use it to
	// cancel at a given step).
	OnStep func(step string)
}

// SSHOptions say how to log in to lab hosts; see sshx.Options.
type SSHOptions struct {
	Config          *sshx.Config
	KnownHostsFiles []string
	IdentityFiles   []string
	UseAgent        bool
	ConnectTimeout  time.Duration
}

// Step is one finished step.
type Step struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Detail  string  `json:"detail,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// Files are the local files of a run.
type Files struct {
	Dir          string `json:"dir"`
	Report       string `json:"report"`
	JUnit        string `json:"junit"`
	ProgramLog   string `json:"program_log,omitempty"`
	Replay       string `json:"replay,omitempty"`
	Diff         string `json:"diff,omitempty"`
	MismatchPcap string `json:"mismatch_pcap,omitempty"`
	ReplayJUnit  string `json:"replay_junit,omitempty"`
}

// Report is an on-board test: board-test.json, and what `board test
// --output json` prints.
type Report struct {
	Board             string         `json:"board"`
	LabHost           string         `json:"lab_host,omitempty"`
	Reservation       int64          `json:"reservation"`
	ReusedReservation bool           `json:"reused_reservation"`
	Released          bool           `json:"released"`
	Tested            bool           `json:"tested"` // the replay ran to a verdict
	Passed            bool           `json:"passed"`
	Frames            int            `json:"frames"`
	ExpectedPass      int            `json:"expected_pass"`
	Received          int            `json:"received"`
	Mismatches        int            `json:"mismatches"`
	CounterDiffs      int            `json:"counter_diffs"`
	FailedChecks      []string       `json:"failed_checks"`
	Summary           string         `json:"summary"`
	Device            *replay.Device `json:"device,omitempty"`
	BitstreamSHA256   string         `json:"bitstream_sha256"`
	ResultID          int64          `json:"result_id,omitempty"`
	Error             string         `json:"error,omitempty"`
	Seconds           float64        `json:"seconds"`
	Steps             []Step         `json:"steps"`
	Files             Files          `json:"files"`
}

// remoteReport is what `fpgactl replay --output json` prints (replaycmd).
type remoteReport struct {
	Target  string         `json:"target"`
	Device  *replay.Device `json:"device"`
	Skipped int            `json:"skipped_frames"`
	Seconds float64        `json:"seconds"`
	Report  *struct {
		Passed bool     `json:"passed"`
		Failed []string `json:"failed"`
		Frames struct {
			Sent         int `json:"sent"`
			ExpectedPass int `json:"expected_pass"`
			Received     int `json:"received"`
			Matched      int `json:"matched"`
		} `json:"frames"`
		Mismatches   []json.RawMessage `json:"mismatches"`
		CounterDiffs []json.RawMessage `json:"counter_diffs"`
	} `json:"report"`
}

// Run runs the whole test. It returns the report and nil when the test ran
// to a verdict (Report.Passed says which), and the report so far with an
// error when a step failed or ctx ended. The reservation it made is released
// in every case.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	r := &run{o: o, start: time.Now(), rep: &Report{Board: o.Board, FailedChecks: []string{}}}
	r.rep.Files = Files{Dir: o.OutDir, Report: filepath.Join(o.OutDir, "board-test.json"), JUnit: filepath.Join(o.OutDir, "junit.xml")}
	err := r.all(ctx)
	if err != nil {
		r.rep.Error = err.Error()
	}
	r.rep.Seconds = time.Since(r.start).Seconds()
	if werr := r.writeReport(); werr != nil && err == nil {
		err = werr
	}
	return r.rep, err
}

func (o *Options) check() error {
	switch {
	case o.Lab == nil:
		return errors.New("boardtest: no lab service client")
	case (o.Board == "") == (o.Tag == ""):
		return errors.New("give exactly one of a board and a tag")
	case o.Bitstream == "":
		return errors.New("no bitstream given")
	case o.Rules == "":
		return errors.New("no rules file given")
	case (o.Pcap == "") == (o.Profile == ""):
		return errors.New("give exactly one of a capture and a traffic profile")
	case o.OutDir == "":
		return errors.New("boardtest: no output directory")
	}
	for _, f := range []string{o.Bitstream, o.Rules, o.Pcap} {
		if f == "" {
			continue
		}
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", f)
		}
	}
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	if o.TTL < time.Second || o.TTL > api.MaxTTLSeconds*time.Second {
		return fmt.Errorf("the lease (TTL) must be between 1s and %ds, not %s", api.MaxTTLSeconds, o.TTL)
	}
	if o.RemoteDir == "" {
		o.RemoteDir = DefaultRemoteDir
	}
	if o.Harness == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding this fpgactl, to run it on the lab host: %w", err)
		}
		o.Harness = exe
	}
	return nil
}

// run is one Run's state.
type run struct {
	o     Options
	start time.Time
	rep   *Report
	mu    sync.Mutex // progress output

	res   api.Reservation
	own   bool // this run made the reservation: release it
	board api.Board
	ssh   *sshx.Client
	// Remote paths (absolute).
	remoteRoot, remoteRun, remoteHarness string
	remoteBitstream                      string
	suites                               []junit.Suite // the replay's, downloaded
}

// step runs f as the named step, records and reports it.
func (r *run) step(name string, f func() (string, error)) error {
	if r.o.OnStep != nil {
		r.o.OnStep(name)
	}
	t := time.Now()
	detail, err := f()
	s := Step{Name: name, Seconds: time.Since(t).Seconds(), Detail: detail}
	if err != nil {
		s.Error = err.Error()
	}
	r.rep.Steps = append(r.rep.Steps, s)
	switch {
	case err != nil:
		r.logf("%-8s FAILED after %.1fs: %v", name, s.Seconds, err)
	case detail != "":
		r.logf("%-8s %s (%.1fs)", name, detail, s.Seconds)
	default:
		r.logf("%-8s done (%.1fs)", name, s.Seconds)
	}
	return err
}

// logf writes one progress line with the time since the start.
func (r *run) logf(format string, args ...any) {
	if r.o.Progress == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.o.Progress, "[%6.1fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

func (r *run) all(ctx context.Context) (err error) {
	sum, err := fileSHA256(r.o.Bitstream)
	if err != nil {
		return fmt.Errorf("bitstream: %w", err)
	}
	r.rep.BitstreamSHA256 = sum
	if err := os.MkdirAll(r.o.OutDir, 0o755); err != nil {
		return err
	}

	defer func() {
		if rerr := r.release(ctx); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if err := r.step("reserve", func() (string, error) { return r.reserve(ctx) }); err != nil {
		return err
	}
	r.rep.Board, r.rep.Reservation, r.rep.ReusedReservation = r.res.Board, r.res.ID, !r.own
	stopRenew := r.keepLease(ctx)
	defer stopRenew()

	if err := r.step("board", func() (string, error) { return r.lookUp(ctx) }); err != nil {
		return err
	}
	if err := r.step("connect", func() (string, error) { return r.connect(ctx) }); err != nil {
		return err
	}
	defer r.ssh.Close()
	defer r.cleanRemote(ctx)
	if err := r.step("upload", func() (string, error) { return r.upload(ctx) }); err != nil {
		return err
	}
	if err := r.step("program", func() (string, error) { return r.program(ctx) }); err != nil {
		return err
	}
	var exitErr error
	if err := r.step("replay", func() (string, error) {
		var detail string
		detail, exitErr = r.replay(ctx)
		if exitErr != nil && !isExit(exitErr, 1) {
			return "", exitErr // not the "test failed" status
		}
		return detail, nil
	}); err != nil {
		return err
	}
	var rr *remoteReport
	if err := r.step("download", func() (string, error) {
		var err error
		rr, err = r.download(ctx, exitErr)
		return "report.json, junit.xml, diff.txt", err
	}); err != nil {
		return err
	}
	if err := r.step("compare", func() (string, error) { return r.compare(rr, exitErr) }); err != nil {
		return err
	}
	return r.step("record", func() (string, error) { return r.record(ctx, rr) })
}

// reserve gets a granted reservation: the caller's own if it already holds
// a matching board, else a new one (waiting in the queue unless NoWait).
func (r *run) reserve(ctx context.Context) (string, error) {
	lab := r.o.Lab
	if held, ok, err := r.held(ctx); err != nil {
		return "", err
	} else if ok {
		r.res = held
		return fmt.Sprintf("board %s: reusing your reservation %d (kept after the test)", held.Board, held.ID), nil
	}
	req := api.ReserveRequest{Board: r.o.Board, Tag: r.o.Tag, TTLSeconds: api.TTL(r.o.TTL), Comment: r.comment(), Wait: !r.o.NoWait}
	res, err := lab.Reserve(ctx, req)
	if err != nil {
		if client.IsStatus(err, http.StatusConflict) {
			return "", fmt.Errorf("%s is busy and --no-wait was given: %w", r.what(), err)
		}
		return "", fmt.Errorf("reserving %s: %w", r.what(), err)
	}
	r.res, r.own = res, true // from here on the reservation is released on every path
	if res.Status == api.StatusQueued {
		r.logf("%-8s %s is busy: reservation %d queued at position %d, waiting", "reserve", r.what(), res.ID, res.Position)
		prev := lab.OnWait
		lab.OnWait = func(q api.Reservation) {
			r.logf("%-8s reservation %d still queued at position %d", "reserve", q.ID, q.Position)
		}
		res, err = lab.Wait(ctx, res.ID)
		lab.OnWait = prev
		if err != nil {
			return "", fmt.Errorf("waiting for reservation %d: %w", r.res.ID, err)
		}
		r.res = res
	}
	if res.Status != api.StatusGranted {
		r.own = false // ended already: nothing to release
		return "", fmt.Errorf("reservation %d of %s ended as %s before it was granted", res.ID, r.what(), res.Status)
	}
	if res.Board == "" {
		return "", fmt.Errorf("reservation %d was granted without naming a board", res.ID)
	}
	return fmt.Sprintf("board %s: reservation %d granted until %s", res.Board, res.ID, fmtTime(res.ExpiresAt)), nil
}

// held finds a granted reservation of the caller matching the board or
// tag (GET /api/v1/reservations?mine=1).
func (r *run) held(ctx context.Context) (api.Reservation, bool, error) {
	rs, err := r.o.Lab.Mine(ctx, false)
	if err != nil {
		return api.Reservation{}, false, fmt.Errorf("listing your reservations: %w", err)
	}
	var tagged []string
	if r.o.Tag != "" {
		bs, err := r.o.Lab.Boards(ctx)
		if err != nil {
			return api.Reservation{}, false, fmt.Errorf("listing boards: %w", err)
		}
		for _, b := range bs {
			if slices.Contains(b.Tags, r.o.Tag) {
				tagged = append(tagged, b.Name)
			}
		}
	}
	for _, x := range rs {
		if x.Status != api.StatusGranted || x.Board == "" {
			continue
		}
		if x.Board == r.o.Board || (r.o.Tag != "" && slices.Contains(tagged, x.Board)) {
			return x, true, nil
		}
	}
	return api.Reservation{}, false, nil
}

func (r *run) what() string {
	if r.o.Board != "" {
		return "board " + r.o.Board
	}
	return "a board tagged " + r.o.Tag
}

func (r *run) comment() string {
	if r.o.Comment != "" {
		return r.o.Comment
	}
	return "fpgactl board test " + filepath.Base(r.o.Bitstream) + " " + filepath.Base(r.o.Rules)
}

// keepLease renews an own reservation at half its TTL while the test runs.
func (r *run) keepLease(ctx context.Context) (stop func()) {
	if !r.own {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.o.TTL / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if res, err := r.o.Lab.Renew(ctx, r.res.ID, r.o.TTL); err != nil {
					if ctx.Err() == nil {
						r.logf("%-8s renewing reservation %d: %v", "reserve", r.res.ID, err)
					}
				} else {
					r.logf("%-8s reservation %d renewed until %s", "reserve", res.ID, fmtTime(res.ExpiresAt))
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// release ends an own reservation with a fresh context: ctx may be done.
func (r *run) release(ctx context.Context) error {
	if !r.own {
		if r.res.ID != 0 {
			r.logf("%-8s reservation %d is yours from before: kept", "release", r.res.ID)
		}
		return nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	return r.step("release", func() (string, error) {
		res, err := r.o.Lab.Release(rctx, r.res.ID)
		if err != nil {
			return "", fmt.Errorf("releasing reservation %d of %s: %w; release it with 'fpgactl lab release %d', or it expires at %s",
				r.res.ID, r.res.Board, err, r.res.ID, fmtTime(r.res.ExpiresAt))
		}
		r.rep.Released = true
		r.own = false
		return fmt.Sprintf("reservation %d %s", res.ID, res.Status), nil
	})
}

// lookUp reads the board's inventory entry from the service.
func (r *run) lookUp(ctx context.Context) (string, error) {
	b, err := r.o.Lab.Board(ctx, r.res.Board)
	if err != nil {
		return "", fmt.Errorf("board %s: %w", r.res.Board, err)
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"ssh_address", b.SSHAddress}, {"iface_in", b.IfaceIn}, {"iface_out", b.IfaceOut}, {"control", b.Control}, {"program", b.Program}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("board %s: the inventory gives no %s", b.Name, strings.Join(missing, ", "))
	}
	if !strings.Contains(b.Program, BitstreamPlaceholder) {
		return "", fmt.Errorf("board %s: its program command %q has no %s", b.Name, b.Program, BitstreamPlaceholder)
	}
	if b.Holder != nil && b.Holder.Reservation != r.res.ID {
		return "", fmt.Errorf("board %s is held by reservation %d of %s, not by reservation %d", b.Name, b.Holder.Reservation, b.Holder.User, r.res.ID)
	}
	r.board = b
	r.rep.LabHost = b.LabHost
	user := b.SSHUser
	if user != "" {
		user += "@"
	}
	return fmt.Sprintf("%s on %s (%s%s): %s -> board -> %s, registers %s", b.Name, b.LabHost, user, b.SSHAddress, b.IfaceIn, b.IfaceOut, b.Control), nil
}

func (r *run) connect(ctx context.Context) (string, error) {
	s := r.o.SSH
	timeout := s.ConnectTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	c, err := sshx.Dial(ctx, sshx.Options{
		Address: r.board.SSHAddress, User: r.board.SSHUser, Config: s.Config,
		KnownHostsFiles: s.KnownHostsFiles, IdentityFiles: s.IdentityFiles, UseAgent: s.UseAgent,
		ConnectTimeout: timeout, KeepAlive: 15 * time.Second,
	})
	if err != nil {
		return "", fmt.Errorf("lab host %s of board %s: %w", r.board.LabHost, r.board.Name, err)
	}
	r.ssh = c
	return fmt.Sprintf("%s, host key %s", c, c.HostKeyFingerprint()), nil
}

// remoteDir is RemoteDir as a shell word relative to the login directory.
func (r *run) remoteDirWord() string {
	d := strings.TrimPrefix(r.o.RemoteDir, "~/")
	return sshx.Quote(d)
}

func (r *run) upload(ctx context.Context) (string, error) {
	c := r.ssh
	id := time.Now().UTC().Format("20060102-150405") + "-" + r.board.Name + "-" + randomHex(3)
	var out bytes.Buffer
	script := "set -e\nmkdir -p -- " + r.remoteDirWord() + "/bin " + r.remoteDirWord() + "/runs/" + sshx.Quote(id) + "\ncd -- " + r.remoteDirWord() + "\npwd\n"
	if err := c.Run(ctx, script, nil, &out, nil); err != nil {
		return "", fmt.Errorf("creating the run directory on %s: %w", c, err)
	}
	r.remoteRoot = strings.TrimSpace(out.String())
	if !path.IsAbs(r.remoteRoot) {
		return "", fmt.Errorf("the lab host says its directory %s is %q, not an absolute path", r.o.RemoteDir, r.remoteRoot)
	}
	r.remoteRun = path.Join(r.remoteRoot, "runs", id)

	// The harness, once per content: every run of the same fpgactl shares it.
	sum, err := fileSHA256(r.o.Harness)
	if err != nil {
		return "", fmt.Errorf("harness: %w", err)
	}
	r.remoteHarness = path.Join(r.remoteRoot, "bin", "fpgactl-"+sum[:16])
	harness := "cached"
	if c.Run(ctx, "test -x "+sshx.Quote(r.remoteHarness), nil, nil, nil) != nil {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if err := c.UploadFile(ctx, r.o.Harness, r.remoteHarness); err != nil {
			return "", err
		}
		harness = "uploaded"
	}
	r.remoteBitstream = path.Join(r.remoteRun, "bitstream", filepath.Base(r.o.Bitstream))
	uploads := [][2]string{{r.o.Bitstream, r.remoteBitstream}, {r.o.Rules, r.remoteRules()}}
	if r.o.Pcap != "" {
		uploads = append(uploads, [2]string{r.o.Pcap, r.remotePcap()})
	}
	var size int64
	for _, u := range uploads {
		if err := c.UploadFile(ctx, u[0], u[1]); err != nil {
			return "", err
		}
		if st, err := os.Stat(u[0]); err == nil {
			size += st.Size()
		}
	}
	proj := remoteProject(r.o.Design)
	if err := c.Upload(ctx, bytes.NewReader(proj), int64(len(proj)), path.Join(r.remoteRun, project.FileName), 0o644); err != nil {
		return "", err
	}
	return fmt.Sprintf("harness %s (%s), bitstream, rules%s: %.1f MB into %s", path.Base(r.remoteHarness), harness,
		map[bool]string{true: ", capture", false: ""}[r.o.Pcap != ""], float64(size)/1e6, r.remoteRun), nil
}

func (r *run) remoteRules() string { return path.Join(r.remoteRun, "rules", filepath.Base(r.o.Rules)) }
func (r *run) remotePcap() string  { return path.Join(r.remoteRun, "traffic", filepath.Base(r.o.Pcap)) }

// remoteProject is the fpgactl.yaml the harness runs with on the lab host:
// only the design's shape, no sources (the iface target builds nothing).
func remoteProject(d *project.Design) []byte {
	var b strings.Builder
	b.WriteString("# Written by fpgactl board test for the replay on this lab host.\nwork_dir: .fpgactl\ndesigns:\n")
	name, widths, params := "pf_filter", []int{64, 512}, map[string]int{}
	if d != nil {
		name, widths, params = d.Name, d.Widths, d.Parameters
	}
	fmt.Fprintf(&b, "  - name: %s\n    top: pf_filter\n    rtl: [rtl/*.sv]\n    widths: [", name)
	for i, w := range widths {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, w)
	}
	b.WriteString("]\n")
	if len(params) > 0 {
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteString("    parameters:\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "      %s: %d\n", k, params[k])
		}
	}
	return []byte(b.String())
}

func (r *run) program(ctx context.Context) (string, error) {
	cmd := strings.ReplaceAll(r.board.Program, BitstreamPlaceholder, sshx.Quote(r.remoteBitstream))
	cmd = strings.ReplaceAll(cmd, FpgactlPlaceholder, sshx.Quote(r.remoteHarness))
	var out bytes.Buffer
	err := r.ssh.Run(ctx, cmd, nil, &out, &out)
	r.rep.Files.ProgramLog = filepath.Join(r.o.OutDir, "program.log")
	_ = os.WriteFile(r.rep.Files.ProgramLog, []byte("$ "+cmd+"\n"+out.String()), 0o644)
	if err != nil {
		return "", fmt.Errorf("programming %s (%s): %w", r.board.Name, cmd, err)
	}
	last := lastLine(out.String())
	if last == "" {
		last = "program command exited 0"
	}
	return last, nil
}

// replay runs the harness on the lab host; its exit status 1 with a report
// is a failed test, not an error (the caller tells them apart).
func (r *run) replay(ctx context.Context) (string, error) {
	b := r.board
	args := []string{r.remoteHarness, "--project", path.Join(r.remoteRun, project.FileName), "--output", "json",
		"replay", "--target", "iface:" + b.IfaceIn + "," + b.IfaceOut, "--control", b.Control,
		"--rules", r.remoteRules(), "--out", path.Join(r.remoteRun, "out")}
	if r.o.Pcap != "" {
		args = append(args, "--pcap", r.remotePcap())
	} else {
		args = append(args, "--profile", r.o.Profile)
	}
	words := make([]string, len(args))
	for i, a := range args {
		words[i] = sshx.Quote(a)
	}
	cmd := "cd -- " + sshx.Quote(r.remoteRun) + " && " + strings.Join(words, " ") + " > report.json"
	r.logf("%-8s %s through %s -> %s on %s", "replay", r.traffic(), b.IfaceIn, b.IfaceOut, b.LabHost)
	var stderr bytes.Buffer
	err := r.ssh.Run(ctx, cmd, nil, nil, &stderr)
	_ = os.WriteFile(filepath.Join(r.o.OutDir, "replay.log"), []byte("$ "+cmd+"\n"+stderr.String()), 0o644)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("replay on %s: %w", b.LabHost, ctx.Err())
		}
		if isExit(err, 1) {
			return "the harness reports a failed test", err
		}
		return "", fmt.Errorf("replay on %s: %w", b.LabHost, err)
	}
	return "the harness reports a passed test", nil
}

func (r *run) traffic() string {
	if r.o.Pcap != "" {
		return filepath.Base(r.o.Pcap)
	}
	return "profile " + r.o.Profile
}

// download fetches the replay's files into <out>/lab and decodes its report.
func (r *run) download(ctx context.Context, exitErr error) (*remoteReport, error) {
	dir := filepath.Join(r.o.OutDir, "lab")
	f := &r.rep.Files
	f.Replay = filepath.Join(dir, "report.json")
	if err := r.ssh.Download(ctx, path.Join(r.remoteRun, "report.json"), f.Replay); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(f.Replay)
	if err != nil {
		return nil, err
	}
	var rr remoteReport
	if err := json.Unmarshal(data, &rr); err != nil || rr.Report == nil {
		why := "no report"
		if err != nil {
			why = err.Error()
		}
		msg := fmt.Sprintf("the harness on %s wrote no usable JSON report (%s)", r.board.LabHost, why)
		if exitErr != nil {
			msg += ": " + exitErr.Error()
		}
		return nil, errors.New(msg)
	}
	for _, x := range []struct {
		name string
		dst  *string
	}{{"junit.xml", &f.ReplayJUnit}, {"diff.txt", &f.Diff}, {"mismatches.pcap", &f.MismatchPcap}} {
		local := filepath.Join(dir, x.name)
		err := r.ssh.Download(ctx, path.Join(r.remoteRun, "out", x.name), local)
		if errors.Is(err, fs.ErrNotExist) {
			continue // mismatches.pcap only exists when frames mismatched
		}
		if err != nil {
			return nil, err
		}
		*x.dst = local
	}
	if f.ReplayJUnit != "" {
		if data, err := os.ReadFile(f.ReplayJUnit); err == nil {
			var s junit.Suites
			if xml.Unmarshal(data, &s) == nil {
				r.suites = s.Suites
			}
		}
	}
	return &rr, nil
}

// compare takes the verdict from the report and checks it against the
// harness's exit status.
func (r *run) compare(rr *remoteReport, exitErr error) (string, error) {
	rep, x := r.rep, rr.Report
	rep.Tested = true
	rep.Passed = x.Passed
	rep.Frames, rep.ExpectedPass, rep.Received = x.Frames.Sent, x.Frames.ExpectedPass, x.Frames.Received
	rep.Mismatches, rep.CounterDiffs = len(x.Mismatches), len(x.CounterDiffs)
	rep.FailedChecks = append([]string{}, x.Failed...)
	rep.Device = rr.Device
	switch {
	case x.Passed && exitErr != nil:
		return "", fmt.Errorf("the report says passed but the harness failed: %v", exitErr)
	case !x.Passed && exitErr == nil:
		return "", errors.New("the report says failed but the harness exited 0")
	case x.Passed && (rep.Mismatches > 0 || rep.CounterDiffs > 0):
		return "", fmt.Errorf("the report says passed with %d mismatches and %d counter differences", rep.Mismatches, rep.CounterDiffs)
	case x.Frames.Sent == 0:
		return "", errors.New("the harness sent no frames")
	}
	verdict := "PASSED"
	if !x.Passed {
		verdict = "FAILED (" + strings.Join(x.Failed, ", ") + ")"
	}
	counters := "counters match"
	if rep.CounterDiffs > 0 {
		counters = fmt.Sprintf("%d counter differences", rep.CounterDiffs)
	}
	rep.Summary = fmt.Sprintf("%d frames, %d received of %d expected, %d mismatches, %s: %s",
		x.Frames.Sent, x.Frames.Received, x.Frames.ExpectedPass, rep.Mismatches, counters, verdict)
	return rep.Summary, nil
}

// record posts the result to the service.
func (r *run) record(ctx context.Context, rr *remoteReport) (string, error) {
	rep := r.rep
	summary, _ := json.Marshal(map[string]any{
		"target": rr.Target, "device": rr.Device, "skipped_frames": rr.Skipped, "seconds": rr.Seconds,
		"frames": rr.Report.Frames, "failed": rr.Report.Failed, "counter_diffs": rr.Report.CounterDiffs,
		"mismatches": rr.Report.Mismatches[:min(len(rr.Report.Mismatches), 50)], "mismatch_count": len(rr.Report.Mismatches),
		"rules": filepath.Base(r.o.Rules), "traffic": r.traffic(), "bitstream": filepath.Base(r.o.Bitstream),
	})
	id, err := r.o.Lab.PostResult(ctx, r.res.Board, api.Result{
		Reservation: r.res.ID, Passed: rep.Passed, Frames: int64(rep.Frames), Mismatches: int64(rep.Mismatches),
		Summary: rep.Summary, BitstreamSHA256: rep.BitstreamSHA256, Report: summary,
	})
	if err != nil {
		return "", fmt.Errorf("recording the result of %s: %w", r.res.Board, err)
	}
	rep.ResultID = id
	return fmt.Sprintf("result %d on %s", id, r.res.Board), nil
}

// cleanRemote removes the run's directory on the lab host.
func (r *run) cleanRemote(ctx context.Context) {
	if r.o.KeepRemote || r.remoteRun == "" {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := r.ssh.Run(cctx, "rm -rf -- "+sshx.Quote(r.remoteRun), nil, nil, nil); err != nil {
		r.logf("%-8s could not remove %s on %s: %v", "cleanup", r.remoteRun, r.board.LabHost, err)
	}
}

// writeReport writes board-test.json and junit.xml.
func (r *run) writeReport() error {
	rep := r.rep
	if err := os.MkdirAll(r.o.OutDir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(rep.Files.Report, append(data, '\n'), 0o644); err != nil {
		return err
	}
	name := "board test " + rep.Board
	steps := junit.Suite{Name: name}
	for _, s := range rep.Steps {
		c := junit.Case{Name: s.Name, Classname: name, Time: s.Seconds, SystemOut: junit.Clean(s.Detail)}
		if s.Error != "" {
			c.Error = &junit.Problem{Message: junit.Clean(s.Error), Type: s.Name}
		}
		steps.Cases = append(steps.Cases, c)
	}
	doc := &junit.Suites{Name: "fpgactl board test", Suites: []junit.Suite{steps}}
	for _, s := range r.suites {
		s.Name = rep.Board + ": " + s.Name
		for i := range s.Cases {
			s.Cases[i].Classname = s.Name
		}
		doc.Suites = append(doc.Suites, s)
	}
	return doc.WriteFile(rep.Files.JUnit)
}

func isExit(err error, code int) bool {
	var ee *sshx.ExitError
	return errors.As(err, &ee) && ee.Code == code && ee.Signal == ""
}

func fileSHA256(p string) (string, error) {
	_, sum, err := contenthash.FileSHA256(p)
	return sum, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "?"
	}
	return t.UTC().Format(time.RFC3339)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
