package run

import (
	"context"
	"io"
)

// CommandJob is a command run where a runner runs seeds (this machine, an
// SSH build host, an OpenStack server): an archive is unpacked into a fresh
// remote directory, the command runs there, and named outputs are fetched
// back. `fpgactl ci --shard` runs test shards this way.
type CommandJob struct {
	// BuildID groups the job's cloud resources as a build ID does (server
	// names, tags, the key pair, and what `fpgactl build reap` finds).
	BuildID string
	// Name is the job within BuildID, e.g. "unit-2": servers are named
	// fpgactl-<BuildID>-<Name>.
	Name   string
	Owner  string
	Commit string
	// Archive is a local .tar.gz unpacked into the job's remote directory
	// before Command runs.
	Archive string
	// Executable is a local fpgactl binary, uploaded (once per host per
	// content hash where the runner can keep it) and named by $FPGACTL in
	// Command.
	Executable string
	// Command is a POSIX shell command run in the job's remote directory.
	Command string
	// Fetch are files or directories, relative to the remote directory,
	// copied into LocalDir after Command exits, whatever its exit status.
	// Missing ones are left out of CommandResult.Fetched, not an error.
	Fetch    []string
	LocalDir string
	// Log receives Command's output (stdout and stderr) as it comes.
	Log io.Writer
	// Instance records where the job runs (host, server ID) once known.
	Instance func(string)
}

// CommandResult is how a CommandJob ended.
type CommandResult struct {
	ExitCode int
	// Fetched are the Fetch entries that existed and were copied.
	Fetched []string
	// Where is the host or server the job ran on.
	Where string
}

// CommandRunner runs CommandJobs. A non-zero exit status is a result, not
// an error; the error is for a job that could not be run (no server, lost
// connection beyond reconnecting, upload failed). It returns promptly once
// ctx is cancelled, having stopped (and, for cloud runners, deleted) what it
// started.
type CommandRunner interface {
	Kind() string
	RunCommand(ctx context.Context, j CommandJob) (CommandResult, error)
}
