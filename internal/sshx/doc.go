// Package sshx is fpgactl's SSH client: the build runners use it for remote
// place and route on build hosts and OpenStack instances, and the lab for
// on-board tests on lab hosts.
//
// It is a thin layer over golang.org/x/crypto/ssh that behaves like the
// OpenSSH client people already use:
//
//   - [ParseConfig] and [LoadUserConfig] read ~/.ssh/config (Host blocks,
//     HostName, Port, User, IdentityFile, UserKnownHostsFile, ...), so an alias
//     that works with ssh works with fpgactl.
//   - [Dial] always checks the host key, against known_hosts files or a key
//     pinned by the caller; there is no way to turn the check off. Unknown and
//     changed keys give errors that say what to do.
//   - [Client.Run] runs one command with a context: cancelling it stops the
//     remote command, and a dropped connection is reported as
//     [ErrConnectionLost] (noticed within seconds when KeepAlive is set).
//   - [Client.RunJob] runs long remote work in its own process group with a
//     PID file, so it can be killed from another session, also after the
//     connection that started it was lost.
//   - [Client.Upload] and [Client.Download] copy files with sh, cat and mv (no
//     sftp subsystem needed), atomically and with a size check.
package sshx
