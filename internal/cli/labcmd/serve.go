package labcmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/labctl/client"
	"github.com/fpgactl/fpgactl/labctl/server"
	"github.com/fpgactl/fpgactl/labctl/store"
	"github.com/spf13/cobra"
)

// ServeOptions of `fpgactl lab serve`.
type ServeOptions struct {
	Factory   *cmdutil.Factory
	Inventory string
	DB        string
	Listen    string
	Verbose   bool
	// Ready, when set, is called with the address the service listens on.
	Ready func(addr string)
}

// NewCmdServe builds `fpgactl lab serve`.
func NewCmdServe(f *cmdutil.Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "serve --inventory FILE --db FILE [--listen ADDR]",
		Short: "Run the lab reservation service",
		Long: `Serve the lab reservation API (docs/lab-api.md) and a web page of the boards
(who holds each, until when, the queue, the last on-board test, recent
events) on --listen (default 127.0.0.1:8470; put it behind a TLS proxy to
serve beyond this machine).

The boards come from the inventory file --inventory (YAML, see
docs/lab-api.md); the service re-reads it on SIGHUP, on POST
/api/v1/admin/reload and when the file changes (checked every 2 s). A file
with errors is reported and the boards stay as they were.

State lives in the SQLite database --db (created if missing, WAL mode, every
change committed with its audit row before it is answered): a restart, even
after kill -9, loses nothing, and leases that ended meanwhile are expired at
once. Users and tokens: 'fpgactl lab user add NAME --db FILE'.

SIGINT or SIGTERM stops it gracefully: open long-polls are answered, requests
in progress finish (up to 10 s).`,
		Example: `  fpgactl lab user add admin --admin --db /var/lib/fpgactl/lab.db
  fpgactl lab serve --inventory /etc/fpgactl/boards.yaml --db /var/lib/fpgactl/lab.db
  fpgactl lab serve --inventory boards.yaml --db lab.db --listen 0.0.0.0:8470
  kill -HUP $(pidof fpgactl)     # re-read the inventory`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Inventory == "" {
				return cmdutil.FlagErrorf("--inventory FILE is required (the boards YAML, see docs/lab-api.md)")
			}
			if opts.DB == "" {
				return cmdutil.FlagErrorf("--db FILE is required (the SQLite database; created if missing)")
			}
			if _, _, err := net.SplitHostPort(opts.Listen); err != nil {
				return cmdutil.FlagErrorf("--listen %q: use HOST:PORT, e.g. 127.0.0.1:8470", opts.Listen)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunServe(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Inventory, "inventory", "i", "", "board inventory YAML file")
	fl.StringVar(&opts.DB, "db", "", "SQLite database file (created if missing)")
	fl.StringVarP(&opts.Listen, "listen", "l", DefaultListen, "address to serve on (HOST:PORT; port 0 picks a free one)")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "log every request")
	return cmd
}

// RunServe runs the service until ctx is done.
func RunServe(ctx context.Context, opts *ServeOptions) error {
	errOut := opts.Factory.IO.ErrOut
	level := slog.LevelInfo
	if opts.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: level}))
	st, err := store.Open(ctx, opts.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := server.New(ctx, st, opts.Inventory, log)
	if err != nil {
		return err
	}
	users, err := st.Users(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("lab serve: %w (is another service on that port? choose one with --listen)", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 90 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	loopDone := make(chan error, 1)
	go func() { loopDone <- srv.Run(runCtx) }()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				srv.RequestReload()
			case <-runCtx.Done():
				return
			}
		}
	}()

	addr := ln.Addr().String()
	log.Info("lab service listening", "url", "http://"+addr, "boards", len(st.Inventory().Boards), "db", st.Path(), "users", len(users))
	if len(users) == 0 {
		log.Warn("no users yet: create one with 'fpgactl lab user add NAME --admin --db " + opts.DB + "'")
	}
	if opts.Ready != nil {
		opts.Ready(addr)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case err := <-serveErr:
		stopRun()
		<-loopDone
		return fmt.Errorf("lab serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	srv.StartShutdown()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	stopRun()
	<-loopDone
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("lab serve: shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// ---- user ----

// UserOptions of `fpgactl lab user add`.
type UserOptions struct {
	Factory *cmdutil.Factory
	Name    string
	Admin   bool
	DB      string
}

func newCmdUser(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user <command>",
		Short: "Manage the lab service's users (on the service's machine)",
		Long: `Users of the lab service and their tokens, written straight into the
service's SQLite database (--db); the service may be running meanwhile.`,
		Example: `  fpgactl lab user add ana --db lab.db
  fpgactl lab user add root --admin --db lab.db
  fpgactl lab user list --db lab.db`,
		Args: cmdutil.NoArgs,
	}
	cmd.AddCommand(NewCmdUserAdd(f, nil), newCmdUserList(f))
	return cmd
}

// NewCmdUserAdd builds `fpgactl lab user add`.
func NewCmdUserAdd(f *cmdutil.Factory, runF func(context.Context, *UserOptions) error) *cobra.Command {
	opts := &UserOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "add NAME --db FILE [--admin]",
		Short: "Create a user and print its token (once)",
		Long: `Create user NAME in the lab database --db and print a new token for it on
stdout. Only the token's SHA-256 is stored: the token cannot be shown again,
so hand it over now. The user puts it in $` + client.TokenEnv + ` or in
~/.config/fpgactl/lab-token (chmod 600). --admin users may end other users'
reservations (kick) and reload the inventory.`,
		Example: `  fpgactl lab user add ana --db lab.db
  fpgactl lab user add lead --admin --db lab.db --output json`,
		Args: cmdutil.ExactArgs(1, "the user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if opts.DB == "" {
				return cmdutil.FlagErrorf("--db FILE is required (the lab service's database)")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunUserAdd(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Admin, "admin", false, "the user may kick reservations and reload the inventory")
	cmd.Flags().StringVar(&opts.DB, "db", "", "the lab service's SQLite database (created if missing)")
	return cmd
}

// RunUserAdd creates a user.
func RunUserAdd(ctx context.Context, opts *UserOptions) error {
	f := opts.Factory
	st, err := store.Open(ctx, opts.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	tok, err := st.AddUser(ctx, opts.Name, opts.Admin)
	if err != nil {
		return err
	}
	if f.JSON() {
		return cmdutil.PrintJSON(f.IO.Out, map[string]any{"name": opts.Name, "admin": opts.Admin, "token": tok})
	}
	fmt.Fprintln(f.IO.Out, tok)
	fmt.Fprintf(f.IO.ErrOut, "user %s created; this token is shown only once. %s puts it in $%s or in ~/.config/fpgactl/lab-token (chmod 600).\n",
		opts.Name, opts.Name, client.TokenEnv)
	return nil
}

func newCmdUserList(f *cmdutil.Factory) *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:     "list --db FILE",
		Short:   "List the users (never their tokens)",
		Example: `  fpgactl lab user list --db lab.db`,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if db == "" {
				return cmdutil.FlagErrorf("--db FILE is required (the lab service's database)")
			}
			st, err := store.Open(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer st.Close()
			us, err := st.Users(cmd.Context())
			if err != nil {
				return err
			}
			if f.JSON() {
				if us == nil {
					us = []store.User{}
				}
				return cmdutil.PrintJSON(f.IO.Out, us)
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tADMIN")
			for _, u := range us {
				fmt.Fprintf(tw, "%s\t%v\n", u.Name, u.Admin)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "the lab service's SQLite database")
	return cmd
}
