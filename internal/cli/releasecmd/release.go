// Package releasecmd is `fpgactl release`: signed releases of tested
// bitstreams in the artifact store (keygen, tag, list, show, verify, fetch).
// The work is in build/release; this package reads flags and settings and
// prints.
package releasecmd

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/fpgactl/fpgactl/build/release"
	"github.com/fpgactl/fpgactl/build/store"
	"github.com/fpgactl/fpgactl/internal/cli/cmdutil"
	"github.com/fpgactl/fpgactl/internal/project"
	"github.com/fpgactl/fpgactl/labctl/client"
	"github.com/spf13/cobra"
)

// Env is where the commands look outside fpgactl.yaml (nil Getenv: the
// process's environment; empty LabTokenFile: labctl/client.TokenFile).
type Env struct {
	Getenv       func(string) string
	LabTokenFile string
}

func (e *Env) getenv(k string) string {
	if e == nil || e.Getenv == nil {
		return os.Getenv(k)
	}
	return e.Getenv(k)
}

// Options of every release subcommand; each uses the fields it needs.
type Options struct {
	Factory *cmdutil.Factory
	Env     *Env

	Version string
	// tag
	BuildID           string
	Target            string
	Seed              int
	AllowFailedTiming bool
	Message           string
	NoGitTag          bool
	// verify, fetch
	PublicKey string
	Dir       string
	Out       string
	// keygen
	KeyOut, PublicOut string
	Force             bool
}

// NewCmdRelease builds `fpgactl release` and its subcommands. runF, when
// set, replaces each subcommand's work (tests of flag handling); it gets the
// subcommand's name.
func NewCmdRelease(f *cmdutil.Factory, runF func(context.Context, string, *Options) error) *cobra.Command {
	return newCmdRelease(f, nil, runF)
}

func newCmdRelease(f *cmdutil.Factory, env *Env, runF func(context.Context, string, *Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release <command>",
		Short: "Sign, store and check releases of tested bitstreams",
		Long: `A release is a build's bitstream, its reports and log, and a manifest
(manifest.json: version, commit, build, target, seed, timing, test results,
SHA-256 of every file) signed with ed25519 (manifest.json.sig), kept in the
artifact store: the directory store.path (default <work_dir>/store), or the
Swift container store.swift. 'release tag' releases only a build whose
functional tests passed on the very RTL it was made from, and makes an
annotated git tag at the build's commit. The Ansible deploy role checks the
signature and hashes before it flashes anything. See docs/releases.md.`,
	}
	run := func(name string, o *Options, def func(context.Context, *Options) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				o.Version = args[0]
				if err := release.CheckVersion(o.Version); err != nil {
					return cmdutil.FlagErrorf("%v", err)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), name, o)
			}
			return def(cmd.Context(), o)
		}
	}
	version := cmdutil.ExactArgs(1, "give the release version, e.g. v1.2.3")

	{
		o := &Options{Factory: f, Env: env}
		c := &cobra.Command{
			Use:   "keygen [--out FILE] [--public FILE] [--force]",
			Short: "Make the ed25519 key pair that signs releases",
			Long: `Write a new ed25519 key pair: the private key (PKCS#8 PEM, mode 0600) to
--out (default: release.signing_key, else $FPGACTL_RELEASE_KEY, else
~/.config/fpgactl/release-key) and the public key (PKIX PEM) to --public
(default: release.public_key, i.e. release/release.pub). Commit the public
key; keep the private key out of git. Existing files are kept unless --force.`,
			Example: `  fpgactl release keygen
  fpgactl release keygen --out /secure/release-key --public release/release.pub
  openssl pkey -pubin -in release/release.pub -noout -text`,
			Args: cmdutil.NoArgs,
			RunE: run("keygen", o, runKeygen),
		}
		c.Flags().StringVar(&o.KeyOut, "out", "", "private key file")
		c.Flags().StringVar(&o.PublicOut, "public", "", "public key file")
		c.Flags().BoolVar(&o.Force, "force", false, "replace existing key files")
		cmd.AddCommand(c)
	}
	{
		o := &Options{Factory: f, Env: env}
		c := &cobra.Command{
			Use:   "tag VERSION --build ID [--target T] [--seed N] [flags]",
			Short: "Release a tested build: sign its manifest, store it, tag the commit",
			Long: `Release the best seed (or --seed N) of a build's target as VERSION
(vMAJOR.MINOR.PATCH, optionally -prerelease). Refused, with what to do, when:
the build is not done; it has several targets and --target is missing; the
seed has no bitstream; it failed timing (unless --allow-failed-timing); the
build was made from uncommitted changes or outside git; the functional suite
did not pass on the build's RTL at its width ('fpgactl ci' or 'fpgactl test
functional'); release.require_board is set and the lab service has no passing
on-board result of this bitstream; or VERSION exists in the store or as a git
tag. Artifacts are uploaded first, then manifest.json.sig, then manifest.json,
so an interrupted upload is never a visible release. Then an annotated git tag
VERSION is made at the build's commit (not HEAD); --no-git-tag skips it.`,
			Example: `  fpgactl release tag v1.2.3 --build 20261123-151500-ab12
  fpgactl release tag v1.3.0-rc.1 --build 20261123-151500-ab12 --target ecp5-10g --seed 3
  fpgactl release tag v1.2.4 --build 20261123-151500-ab12 --allow-failed-timing --message "lab only: 30 MHz"
  fpgactl release tag v1.2.3 --build 20261123-151500-ab12 --output json | jq -r .manifest_sha256`,
			Args: version,
			RunE: func(cmd *cobra.Command, args []string) error {
				if o.BuildID == "" {
					return cmdutil.FlagErrorf("--build is required: the build to release ('fpgactl build list' shows them)")
				}
				if o.Seed < 0 {
					return cmdutil.FlagErrorf("--seed must be a seed number of the build")
				}
				return run("tag", o, runTag)(cmd, args)
			},
		}
		fl := c.Flags()
		fl.StringVar(&o.BuildID, "build", "", "build ID (fpgactl build list)")
		fl.StringVarP(&o.Target, "target", "t", "", "target of the build (required when it has several)")
		fl.IntVar(&o.Seed, "seed", 0, "seed to release (default: the target's best)")
		fl.BoolVar(&o.AllowFailedTiming, "allow-failed-timing", false, "release a seed that failed timing (the manifest says timing.met: false)")
		fl.StringVarP(&o.Message, "message", "m", "", "first line(s) of the git tag's message")
		fl.BoolVar(&o.NoGitTag, "no-git-tag", false, "do not make the git tag")
		cmd.AddCommand(c)
	}
	{
		o := &Options{Factory: f, Env: env}
		cmd.AddCommand(&cobra.Command{
			Use:   "list",
			Short: "List the releases in the store",
			Example: `  fpgactl release list
  fpgactl release list --output json | jq -r '.[].version'`,
			Args: cmdutil.NoArgs,
			RunE: run("list", o, runList),
		})
	}
	{
		o := &Options{Factory: f, Env: env}
		cmd.AddCommand(&cobra.Command{
			Use:   "show VERSION",
			Short: "Show a release's manifest",
			Example: `  fpgactl release show v1.2.3
  fpgactl release show v1.2.3 --output json | jq .timing`,
			Args: version,
			RunE: run("show", o, runShow),
		})
	}
	{
		o := &Options{Factory: f, Env: env}
		c := &cobra.Command{
			Use:   "verify VERSION [--public-key FILE] [--dir DIR]",
			Short: "Check a release's signature and every file's size and SHA-256",
			Long: `Check release VERSION in the store (or in --dir, a directory written by
'release fetch'): the ed25519 signature of manifest.json with the public key
(--public-key, default release.public_key), then the size and SHA-256 of
every artifact, then that no other file is there. Every difference is
reported by file name; the exit status is 1 when there is any.`,
			Example: `  fpgactl release verify v1.2.3
  fpgactl release verify v1.2.3 --dir ./v1.2.3 --public-key release/release.pub
  openssl pkeyutl -verify -pubin -inkey release/release.pub -rawin -in manifest.json -sigfile manifest.json.sig`,
			Args: version,
			RunE: run("verify", o, runVerify),
		}
		c.Flags().StringVar(&o.PublicKey, "public-key", "", "public key, PKIX PEM (default: release.public_key)")
		c.Flags().StringVar(&o.Dir, "dir", "", "verify a fetched directory instead of the store")
		cmd.AddCommand(c)
	}
	{
		o := &Options{Factory: f, Env: env}
		c := &cobra.Command{
			Use:   "fetch VERSION --out DIR",
			Short: "Download a release and verify it",
			Long: `Download release VERSION into DIR (manifest.json, manifest.json.sig,
artifacts/...), checking each artifact's size and SHA-256 as it arrives, then
verify the directory as 'release verify --dir' does.`,
			Example: `  fpgactl release fetch v1.2.3 --out ./v1.2.3
  fpgactl release fetch v1.2.3 --out /tmp/r --public-key release/release.pub --output json`,
			Args: version,
			RunE: func(cmd *cobra.Command, args []string) error {
				if o.Out == "" {
					return cmdutil.FlagErrorf("--out is required: the directory to download into")
				}
				return run("fetch", o, runFetch)(cmd, args)
			},
		}
		c.Flags().StringVar(&o.Out, "out", "", "directory to write")
		c.Flags().StringVar(&o.PublicKey, "public-key", "", "public key, PKIX PEM (default: release.public_key)")
		cmd.AddCommand(c)
	}
	return cmd
}

func openStore(ctx context.Context, o *Options) (*project.Settings, store.Store, error) {
	s, err := o.Factory.Project()
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, s)
	return s, st, err
}

// signingKeyFile is release.signing_key, else $FPGACTL_RELEASE_KEY, else the
// default file.
func signingKeyFile(s *project.Settings, env *Env) string {
	if s != nil && s.Release.SigningKey != "" {
		return s.Abs(s.Release.SigningKey)
	}
	if p := env.getenv(release.KeyEnv); p != "" {
		return p
	}
	return release.DefaultKeyFile()
}

func publicKey(o *Options, s *project.Settings) (ed25519.PublicKey, error) {
	p := o.PublicKey
	if p == "" {
		p = s.Abs(s.Release.PublicKey)
	}
	return release.LoadPublicKey(p)
}

func runKeygen(_ context.Context, o *Options) error {
	s, _ := o.Factory.Project() // keygen works outside a project too
	priv, pub := o.KeyOut, o.PublicOut
	if priv == "" {
		priv = signingKeyFile(s, o.Env)
	}
	if pub == "" {
		pub = "release/release.pub"
		if s != nil {
			pub = s.Abs(s.Release.PublicKey)
		}
	}
	k, err := release.GenerateKeys(priv, pub, o.Force)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Factory.IO.Out, "key %s\nprivate key: %s (mode 0600; keep it secret, out of git)\npublic key:  %s (commit it; release verify and the deploy role check with it)\n",
		release.KeyID(k), priv, pub)
	return nil
}

func runTag(ctx context.Context, o *Options) error {
	s, st, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	key, err := release.LoadPrivateKey(signingKeyFile(s, o.Env))
	if err != nil {
		return err
	}
	var lab release.Lab
	if s.Release.RequireBoard && s.Lab.URL != "" {
		tok, err := client.LoadToken(o.Env.getenvFunc(), o.Env.tokenFile())
		if err != nil {
			return fmt.Errorf("release.require_board: %w", err)
		}
		lab = client.New(s.Lab.URL, tok)
	}
	t, err := release.Tag(ctx, release.TagOptions{Settings: s, Store: st, Key: key, Lab: lab, Version: o.Version,
		BuildID: o.BuildID, Target: o.Target, Seed: o.Seed, AllowFailedTiming: o.AllowFailedTiming, Message: o.Message,
		NoGitTag: o.NoGitTag, Progress: o.Factory.IO.ErrOut})
	if err != nil {
		return err
	}
	if o.Factory.JSON() {
		return cmdutil.PrintJSON(o.Factory.IO.Out, t)
	}
	m := t.Manifest
	w := o.Factory.IO.Out
	fmt.Fprintf(w, "released %s: build %s target %s seed %d (timing met: %v)\n", t.Version, m.Build.ID, m.Build.Target, m.Build.Seed, m.Timing.Met)
	fmt.Fprintf(w, "store:     %s\nmanifest:  sha256 %s, signed by key %s\nbitstream: sha256 %s\n", t.Store, t.ManifestSHA256, m.Signer.KeyID, t.BitstreamSHA256)
	if t.GitTag != "" {
		fmt.Fprintf(w, "git tag:   %s at %s (push it: git push origin %s)\n", t.GitTag, m.Commit, t.GitTag)
	}
	return nil
}

func (e *Env) getenvFunc() func(string) string {
	if e == nil {
		return nil
	}
	return e.Getenv
}

func (e *Env) tokenFile() string {
	if e == nil {
		return ""
	}
	return e.LabTokenFile
}

func runList(ctx context.Context, o *Options) error {
	_, st, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	ms, err := release.List(ctx, st)
	if o.Factory.JSON() {
		type row struct {
			Version   string    `json:"version"`
			Created   time.Time `json:"created"`
			Commit    string    `json:"commit"`
			Build     string    `json:"build"`
			Target    string    `json:"target"`
			Seed      int       `json:"seed"`
			Met       bool      `json:"timing_met"`
			Bitstream string    `json:"bitstream_sha256"`
		}
		rows := []row{}
		for _, m := range ms {
			rows = append(rows, row{m.Version, m.Created, m.Commit, m.Build.ID, m.Build.Target, m.Build.Seed, m.Timing.Met, m.Bitstream().SHA256})
		}
		if perr := cmdutil.PrintJSON(o.Factory.IO.Out, rows); perr != nil {
			return perr
		}
		return err
	}
	if len(ms) == 0 && err == nil {
		fmt.Fprintf(o.Factory.IO.ErrOut, "no releases in %s; make one with 'fpgactl release tag VERSION --build ID'\n", st)
		return nil
	}
	tw := tabwriter.NewWriter(o.Factory.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCREATED\tCOMMIT\tTARGET\tSEED\tTIMING\tBITSTREAM")
	for _, m := range ms {
		timing := "met"
		if !m.Timing.Met {
			timing = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.Version, m.Created.Format(time.RFC3339), m.Commit[:12], m.Build.Target, m.Build.Seed, timing, m.Bitstream().SHA256[:16])
	}
	tw.Flush()
	return err
}

func runShow(ctx context.Context, o *Options) error {
	_, st, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	m, data, err := release.ReadManifest(ctx, st, o.Version)
	if err != nil {
		return err
	}
	if o.Factory.JSON() {
		_, err := o.Factory.IO.Out.Write(data) // the manifest exactly as signed
		return err
	}
	w := o.Factory.IO.Out
	fmt.Fprintf(w, "version:   %s (created %s)\ncommit:    %s\n", m.Version, m.Created.Format(time.RFC3339), m.Commit)
	fmt.Fprintf(w, "build:     %s target %s seed %d (%s, %s flow, %s, %d bits, runner %s)\n", m.Build.ID, m.Build.Target, m.Build.Seed, m.Build.Design, m.Build.Flow, m.Build.Device, m.Build.Width, m.Build.Runner)
	fmt.Fprintf(w, "timing:    met %v at %g MHz, Fmax %s MHz, WNS %s ns, TNS %s ns\n", m.Timing.Met, m.Timing.ClockMHz, num(m.Timing.FmaxMHz), num(m.Timing.WNSns), num(m.Timing.TNSns))
	fn := m.Tests.Functional
	fmt.Fprintf(w, "tests:     functional %d passed, %d failed, %d frames (commit %.12s)\n", fn.Passed, fn.Failed, fn.Frames, fn.Commit)
	if b := m.Tests.Board; b != nil {
		fmt.Fprintf(w, "           board %s passed, %d frames (lab result %d)\n", b.Board, b.Frames, b.ResultID)
	}
	fmt.Fprintf(w, "signer:    %s key %s\n", m.Signer.Algorithm, m.Signer.KeyID)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ARTIFACT\tKIND\tSIZE\tSHA256")
	for _, a := range m.Artifacts {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", a.Name, a.Kind, a.Size, a.SHA256)
	}
	return tw.Flush()
}

func num(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%g", *v)
}

func runVerify(ctx context.Context, o *Options) error {
	s, err := o.Factory.Project()
	if err != nil {
		return err
	}
	pub, err := publicKey(o, s)
	if err != nil {
		return err
	}
	var st store.Store
	prefix := release.Prefix(o.Version)
	if o.Dir != "" {
		if _, err := os.Stat(o.Dir); err != nil {
			return fmt.Errorf("--dir: %w", err)
		}
		if st, err = store.NewLocal(o.Dir); err != nil {
			return err
		}
		prefix = ""
	} else if st, err = store.Open(ctx, s); err != nil {
		return err
	}
	v, err := release.Verify(ctx, st, prefix, o.Version, pub)
	if err != nil {
		return err
	}
	return report(o.Factory, v)
}

// report prints a verification; differences make the command fail.
func report(f *cmdutil.Factory, v *release.Verified) error {
	if f.JSON() {
		if err := cmdutil.PrintJSON(f.IO.Out, v); err != nil {
			return err
		}
		if !v.OK {
			return cmdutil.SilentError
		}
		return nil
	}
	if err := v.Err(); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.Out, "release %s in %s: signature by key %s valid, %d artifacts match the manifest\n", v.Version, v.From, v.KeyID, v.Artifacts)
	return nil
}

func runFetch(ctx context.Context, o *Options) error {
	s, st, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	pub, err := publicKey(o, s)
	if err != nil {
		return err
	}
	if entries, err := os.ReadDir(o.Out); err == nil && len(entries) > 0 {
		return fmt.Errorf("--out %s is not empty; fetch into a new directory so that no other file is taken for part of the release", o.Out)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fetched, err := release.Fetch(ctx, st, o.Version, o.Out, o.Factory.IO.ErrOut)
	if err != nil {
		return err
	}
	ds, err := store.NewLocal(fetched.Dir)
	if err != nil {
		return err
	}
	v, err := release.Verify(ctx, ds, "", o.Version, pub)
	if err != nil {
		return err
	}
	if o.Factory.JSON() {
		return printFetch(o.Factory.IO.Out, fetched, v)
	}
	if err := v.Err(); err != nil {
		return err
	}
	fmt.Fprintf(o.Factory.IO.Out, "fetched %s into %s (%d files); signature by key %s valid, artifacts match\n", o.Version, fetched.Dir, len(fetched.Files), v.KeyID)
	return nil
}

func printFetch(w io.Writer, f *release.Fetched, v *release.Verified) error {
	if err := cmdutil.PrintJSON(w, struct {
		*release.Fetched
		Verify *release.Verified `json:"verify"`
	}{f, v}); err != nil {
		return err
	}
	if !v.OK {
		return cmdutil.SilentError
	}
	return nil
}
