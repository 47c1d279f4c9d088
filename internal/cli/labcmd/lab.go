// Package labcmd is `fpgactl lab`: the lab reservation service (`lab
// serve`, `lab user add`) and its client commands (`lab list`, `reserve`,
// `renew`, `release`, `status`). The logic lives in labctl/.
package labcmd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/labctl/api"
	"github.com/fpgactl/fpgactl/labctl/client"
	"github.com/spf13/cobra"
)

// DefaultListen is the service's default address.
const DefaultListen = "127.0.0.1:8470"

const connHelp = `The service URL is lab.url of fpgactl.yaml, or --url. The token is
$FPGACTL_LAB_TOKEN, or else the file ~/.config/fpgactl/lab-token
($XDG_CONFIG_HOME/fpgactl/lab-token when that is set), which must be mode
0600. A lab admin creates your token with 'fpgactl lab user add YOURNAME'.`

// Conn is how the client commands reach the service.
type Conn struct {
	Factory *cmdutil.Factory
	// URL is --url ("" = lab.url of fpgactl.yaml).
	URL string
	// Getenv and TokenFile locate the token (nil / "": the process's
	// environment and ~/.config/fpgactl/lab-token).
	Getenv    func(string) string
	TokenFile string
}

// Client returns a client of the service with the user's token.
func (c *Conn) Client() (*client.Client, error) {
	u := c.URL
	if u == "" {
		s, err := c.Factory.Project()
		if err != nil {
			return nil, fmt.Errorf("no lab service URL: pass --url http://HOST:8470 or set lab.url in fpgactl.yaml (%v)", err)
		}
		if u = s.Lab.URL; u == "" {
			return nil, fmt.Errorf("no lab service URL: %s has no lab.url; add\n  lab:\n    url: http://HOST:8470\nor pass --url", s.Path)
		}
	}
	tok, err := client.LoadToken(c.Getenv, c.TokenFile)
	if err != nil {
		return nil, err
	}
	return client.New(u, tok), nil
}

// NewCmdLab builds `fpgactl lab` and its subcommands.
func NewCmdLab(f *cmdutil.Factory) *cobra.Command { return newCmdLab(&Conn{Factory: f}) }

func newCmdLab(conn *Conn) *cobra.Command {
	f := conn.Factory
	cmd := &cobra.Command{
		Use:   "lab <command>",
		Short: "Reserve lab boards, and run the lab reservation service",
		Long: `Lab boards are shared: 'fpgactl lab' reserves one (by name, or any board with
a tag) for a lease that ends by itself unless renewed, queues for busy boards
(priority, then age) and shows who holds what. 'fpgactl lab serve' is the
service itself: boards from an inventory file, state in SQLite, an HTTP API
(docs/lab-api.md) and a web page of the boards at its address.

` + connHelp,
		Example: `  fpgactl lab serve --inventory boards.yaml --db lab.db
  fpgactl lab user add ana --db lab.db
  export FPGACTL_LAB_TOKEN=fpl_...
  fpgactl lab list
  fpgactl lab reserve --tag 100G --wait 10m --ttl 2h --comment "seed sweep on board"
  fpgactl lab renew 12 --ttl 1h
  fpgactl lab release 12
  fpgactl lab status`,
		Args: cmdutil.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&conn.URL, "url", "", "lab service URL (default: lab.url of fpgactl.yaml)")
	cmd.AddCommand(NewCmdServe(f, nil), newCmdUser(f),
		NewCmdList(conn, nil), NewCmdReserve(conn, nil), NewCmdRenew(conn, nil), NewCmdRelease(conn, nil), NewCmdStatus(conn, nil))
	return cmd
}

// ---- list ----

// ListOptions of `fpgactl lab list`.
type ListOptions struct{ Conn *Conn }

// NewCmdList builds `fpgactl lab list`.
func NewCmdList(conn *Conn, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{Conn: conn}
	return &cobra.Command{
		Use:   "list",
		Short: "List the lab's boards, who holds them and their queues",
		Long: `List every board of the lab: name, speed, FPGA part, lab host, tags, the
holder and when the lease ends, how many reservations wait for it, and the
last on-board test result.

` + connHelp,
		Example: `  fpgactl lab list
  fpgactl lab list --output json | jq '.[] | select(.holder == null) | .name'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunList(cmd.Context(), opts)
		},
	}
}

// RunList lists the boards.
func RunList(ctx context.Context, opts *ListOptions) error {
	f := opts.Conn.Factory
	c, err := opts.Conn.Client()
	if err != nil {
		return err
	}
	bs, err := c.Boards(ctx)
	if err != nil {
		return err
	}
	if f.JSON() {
		return cmdutil.PrintJSON(f.IO.Out, bs)
	}
	tw := tabwriter.NewWriter(f.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BOARD\tSPEED\tPART\tHOST\tTAGS\tHOLDER\tEXPIRES\tQUEUE\tLAST TEST")
	for _, b := range bs {
		holder, expires := "-", "-"
		if b.Holder != nil {
			holder = fmt.Sprintf("%s (#%d)", b.Holder.User, b.Holder.Reservation)
			expires = until(b.Holder.ExpiresAt)
		}
		last := "-"
		if t := b.LastTest; t != nil {
			last = verdict(t.Passed) + " " + t.FinishedAt.Local().Format("01-02 15:04")
		}
		name := b.Name
		if b.Removed {
			name += " (removed)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", name, b.Speed, b.Part, b.LabHost, strings.Join(b.Tags, ","), holder, expires, b.Queue, last)
	}
	return tw.Flush()
}

func verdict(passed bool) string {
	if passed {
		return "PASSED"
	}
	return "FAILED"
}

func until(t time.Time) string {
	d := time.Until(t).Round(time.Second)
	if d <= 0 {
		return t.Local().Format("15:04:05") + " (ending)"
	}
	return fmt.Sprintf("%s (in %s)", t.Local().Format("15:04:05"), d)
}

// ---- reserve ----

// ReserveOptions of `fpgactl lab reserve`.
type ReserveOptions struct {
	Conn     *Conn
	Board    string
	Tag      string
	Wait     time.Duration
	TTL      time.Duration
	Comment  string
	Priority int
}

// NewCmdReserve builds `fpgactl lab reserve`.
func NewCmdReserve(conn *Conn, runF func(context.Context, *ReserveOptions) error) *cobra.Command {
	opts := &ReserveOptions{Conn: conn}
	cmd := &cobra.Command{
		Use:   "reserve (--board NAME | --tag TAG) [--wait D] [--ttl D]",
		Short: "Reserve a lab board (or any board with a tag), waiting in the queue if asked",
		Long: `Reserve a board by name (--board) or any board with a tag (--tag; the
reservation is then bound to the board it gets). A free board is granted at
once for a lease of --ttl (1s..24h, default 1h); renew it with 'fpgactl lab
renew' or it ends by itself and the board goes to the next in the queue.

Without --wait a busy board is an error. With --wait D the request joins the
queue (higher --priority first, then oldest first) and this command waits up to
D, showing its queue position on stderr; if the board is not granted by then,
or on Ctrl-C, the queued request is cancelled.

The reservation is printed on stdout (--output json: as JSON); its id is what
renew, release and status take.

` + connHelp,
		Example: `  fpgactl lab reserve --board b10g-1
  fpgactl lab reserve --tag 100G --wait 30m --ttl 2h --comment "timing closure check"
  fpgactl lab reserve --board b10g-1 --wait 10m --priority 10 --output json | jq .id`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (opts.Board == "") == (opts.Tag == "") {
				return cmdutil.FlagErrorf("give exactly one of --board NAME or --tag TAG")
			}
			if err := checkTTL(opts.TTL); err != nil {
				return err
			}
			if opts.Wait < 0 {
				return cmdutil.FlagErrorf("--wait must be 0 (do not queue) or a duration such as 10m")
			}
			if opts.Priority < api.MinPriority || opts.Priority > api.MaxPriority {
				return cmdutil.FlagErrorf("--priority must be %d..%d", api.MinPriority, api.MaxPriority)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunReserve(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Board, "board", "b", "", "the board to reserve (see 'fpgactl lab list')")
	fl.StringVarP(&opts.Tag, "tag", "t", "", "reserve any board with this tag (e.g. 100G)")
	fl.DurationVarP(&opts.Wait, "wait", "w", 0, "queue for a busy board and wait up to this long (0: fail if busy)")
	fl.DurationVar(&opts.TTL, "ttl", time.Hour, "lease length, 1s..24h")
	fl.StringVarP(&opts.Comment, "comment", "m", "", "what the board is for (shown to everyone)")
	fl.IntVar(&opts.Priority, "priority", 0, "queue priority -100..100, higher is served first")
	return cmd
}

func checkTTL(d time.Duration) error {
	if d < time.Second || d > api.MaxTTLSeconds*time.Second || d%time.Second != 0 {
		return cmdutil.FlagErrorf("--ttl %s: use whole seconds from 1s to 24h", d)
	}
	return nil
}

// RunReserve reserves a board.
func RunReserve(ctx context.Context, opts *ReserveOptions) error {
	f := opts.Conn.Factory
	c, err := opts.Conn.Client()
	if err != nil {
		return err
	}
	r, err := c.Reserve(ctx, api.ReserveRequest{Board: opts.Board, Tag: opts.Tag, TTLSeconds: api.TTL(opts.TTL),
		Comment: opts.Comment, Priority: opts.Priority, Wait: opts.Wait > 0})
	if err != nil {
		return err
	}
	if r.Status == api.StatusQueued {
		fmt.Fprintf(f.IO.ErrOut, "reservation %d queued at position %d…\n", r.ID, r.Position)
		last := r.Position
		c.OnWait = func(q api.Reservation) {
			if q.Position != last {
				last = q.Position
				fmt.Fprintf(f.IO.ErrOut, "reservation %d queued at position %d…\n", q.ID, q.Position)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, opts.Wait)
		got, werr := c.Wait(wctx, r.ID)
		cancel()
		if werr != nil {
			// Do not leave a queued request behind.
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer ccancel()
			cr, cerr := c.Release(cctx, r.ID)
			switch {
			case cerr == nil && cr.Status == api.StatusReleased:
				// Granted just as we gave up: it was ours for a moment, now released.
				return fmt.Errorf("reservation %d was granted as the wait ended and has been released again; retry", r.ID)
			case cerr != nil && !errors.Is(werr, context.DeadlineExceeded) && ctx.Err() == nil:
				return fmt.Errorf("waiting for reservation %d: %w (cancelling it also failed: %v)", r.ID, werr, cerr)
			case cerr != nil:
				return fmt.Errorf("reservation %d was not granted within %s, and cancelling it failed: %v; cancel it with 'fpgactl lab release %d'", r.ID, opts.Wait, cerr, r.ID)
			}
			if ctx.Err() != nil {
				fmt.Fprintf(f.IO.ErrOut, "reservation %d cancelled\n", r.ID)
				return ctx.Err()
			}
			return fmt.Errorf("reservation %d was not granted within %s and has been cancelled; wait longer (--wait) or use a higher --priority", r.ID, opts.Wait)
		}
		r = got
		if r.Status != api.StatusGranted {
			return fmt.Errorf("reservation %d ended while queued (%s); see 'fpgactl lab status %d'", r.ID, r.Status, r.ID)
		}
	}
	return printReservation(f, r)
}

func printReservation(f *cmdutil.Factory, r api.Reservation) error {
	if f.JSON() {
		return cmdutil.PrintJSON(f.IO.Out, r)
	}
	fmt.Fprintln(f.IO.Out, describe(r))
	return nil
}

func describe(r api.Reservation) string {
	want := r.Board
	if r.Tag != "" {
		if r.Board != "" {
			want = fmt.Sprintf("%s (tag %s)", r.Board, r.Tag)
		} else {
			want = "tag " + r.Tag
		}
	}
	s := fmt.Sprintf("reservation %d: %s %s", r.ID, want, r.Status)
	switch {
	case r.Status == api.StatusGranted && r.ExpiresAt != nil:
		s += fmt.Sprintf(" to %s until %s", r.User, until(*r.ExpiresAt))
	case r.Status == api.StatusQueued:
		s += fmt.Sprintf(" at position %d (priority %d, since %s)", r.Position, r.Priority, r.CreatedAt.Local().Format("15:04:05"))
	case r.EndedAt != nil:
		s += " at " + r.EndedAt.Local().Format("2006-01-02 15:04:05")
	}
	if r.Comment != "" {
		s += ": " + r.Comment
	}
	return s
}

// ---- renew, release ----

// IDOptions of `fpgactl lab renew` and `release`.
type IDOptions struct {
	Conn   *Conn
	ID     int64
	TTL    time.Duration
	Reason string
}

func parseID(args []string) (int64, error) {
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, cmdutil.FlagErrorf("%q is not a reservation id (a positive number, see 'fpgactl lab status')", args[0])
	}
	return id, nil
}

// NewCmdRenew builds `fpgactl lab renew`.
func NewCmdRenew(conn *Conn, runF func(context.Context, *IDOptions) error) *cobra.Command {
	opts := &IDOptions{Conn: conn}
	cmd := &cobra.Command{
		Use:   "renew ID [--ttl D]",
		Short: "Extend the lease of a board you hold",
		Long: `Set the lease of your granted reservation ID to end --ttl from now (default
1h, at most 24h). Only the holder can renew; an ended lease cannot be renewed.

` + connHelp,
		Example: `  fpgactl lab renew 12
  fpgactl lab renew 12 --ttl 3h`,
		Args: cmdutil.ExactArgs(1, "the reservation id"),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if opts.ID, err = parseID(args); err != nil {
				return err
			}
			if err := checkTTL(opts.TTL); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunRenew(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.TTL, "ttl", time.Hour, "new lease length from now, 1s..24h")
	return cmd
}

// RunRenew renews a lease.
func RunRenew(ctx context.Context, opts *IDOptions) error {
	c, err := opts.Conn.Client()
	if err != nil {
		return err
	}
	r, err := c.Renew(ctx, opts.ID, opts.TTL)
	if err != nil {
		return err
	}
	return printReservation(opts.Conn.Factory, r)
}

// NewCmdRelease builds `fpgactl lab release`.
func NewCmdRelease(conn *Conn, runF func(context.Context, *IDOptions) error) *cobra.Command {
	opts := &IDOptions{Conn: conn}
	cmd := &cobra.Command{
		Use:   "release ID [--reason TEXT]",
		Short: "Give a board back (or leave the queue)",
		Long: `End reservation ID: a granted board is released and goes to the next in its
queue; a queued request is cancelled. A lab admin may end another user's
reservation (it is then "kicked"; --reason goes to the audit log).

` + connHelp,
		Example: `  fpgactl lab release 12
  fpgactl lab release 14 --reason "board needed for the release test"   # admin`,
		Args: cmdutil.ExactArgs(1, "the reservation id"),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if opts.ID, err = parseID(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunRelease(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why (recorded in the audit log; for admins ending another user's reservation)")
	return cmd
}

// RunRelease releases a reservation.
func RunRelease(ctx context.Context, opts *IDOptions) error {
	c, err := opts.Conn.Client()
	if err != nil {
		return err
	}
	r, err := c.Kick(ctx, opts.ID, opts.Reason)
	if err != nil {
		return err
	}
	return printReservation(opts.Conn.Factory, r)
}

// ---- status ----

// StatusOptions of `fpgactl lab status`.
type StatusOptions struct {
	Conn *Conn
	ID   int64
	All  bool
}

// NewCmdStatus builds `fpgactl lab status`.
func NewCmdStatus(conn *Conn, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{Conn: conn}
	cmd := &cobra.Command{
		Use:   "status [ID]",
		Short: "Show your reservations, or one reservation",
		Long: `Without ID: your queued and granted reservations (--all: also ended ones,
newest first). With ID: that reservation, whoever's it is.

` + connHelp,
		Example: `  fpgactl lab status
  fpgactl lab status 12
  fpgactl lab status --all --output json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return cmdutil.FlagErrorf("%q takes at most one reservation id", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if len(args) == 1 {
				if opts.ID, err = parseID(args); err != nil {
					return err
				}
				if opts.All {
					return cmdutil.FlagErrorf("--all lists your reservations; it does not go with an ID")
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunStatus(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.All, "all", "a", false, "also ended reservations")
	return cmd
}

// RunStatus shows reservations.
func RunStatus(ctx context.Context, opts *StatusOptions) error {
	f := opts.Conn.Factory
	c, err := opts.Conn.Client()
	if err != nil {
		return err
	}
	if opts.ID != 0 {
		r, err := c.Get(ctx, opts.ID)
		if err != nil {
			return err
		}
		return printReservation(f, r)
	}
	rs, err := c.Mine(ctx, opts.All)
	if err != nil {
		return err
	}
	if f.JSON() {
		return cmdutil.PrintJSON(f.IO.Out, rs)
	}
	if len(rs) == 0 {
		fmt.Fprintln(f.IO.ErrOut, "you have no reservations; reserve a board with 'fpgactl lab reserve --board NAME' (boards: 'fpgactl lab list')")
		return nil
	}
	for _, r := range rs {
		fmt.Fprintln(f.IO.Out, describe(r))
	}
	return nil
}
