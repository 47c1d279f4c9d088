// Package osdouble is a stateful OpenStack API double for tests that must run
// without a cloud. It serves, on 127.0.0.1, the parts of Keystone v3, Nova
// v2.1 and Glance v2 that fpgactl's OpenStack runner uses, closely enough that
// the real gophercloud v2 client works against it unmodified:
//
//   - Keystone v3: version discovery, POST/GET/HEAD/DELETE /v3/auth/tokens with
//     password, application-credential and token methods, and a catalog that
//     lists identity, compute, image and object-store endpoints.
//   - Nova v2.1 with microversions up to MaxMicroversion: servers (create,
//     get, list, list detail, delete, forceDelete), server tags, flavors,
//     os-keypairs and limits, with quota enforcement.
//   - Glance v2: image list and show, which is what gophercloud looks images
//     up with (v2 has no compute image proxy).
//   - Swift (object-store v1, account AUTH_<project id>), kept in memory:
//     containers (PUT, HEAD, DELETE — 409 while not empty — and listings
//     with format=json, prefix, marker, end_marker and limit) and objects
//     (PUT with ETag checked against the body's MD5 — 422 when they differ —
//     GET, HEAD, DELETE; X-Object-Meta-* kept). [Cloud.Objects],
//     [Cloud.PutObject] and [Cloud.DeleteObject] see and change them behind a
//     client's back.
//
// Servers move BUILD → ACTIVE after a boot delay. An ACTIVE server is a real
// SSH endpoint: an in-process golang.org/x/crypto/ssh server on 127.0.0.1 with
// its own host key ([Cloud.HostKey], [Cloud.WriteKnownHosts]) that accepts
// the key of the keypair named at create time, for any user name, and runs
// exec requests with /bin/sh -c in a per-server directory, streaming stdout
// and stderr and returning the exit status or signal. Files go up through
// stdin ("cat > file"); there is no sftp, pty or forwarding. Closing a
// session kills its command's process group; deleting the server kills
// everything it started. Before ACTIVE the port accepts and closes
// connections, like a VM whose sshd is not up yet. Nova has no port field,
// so the port is in the server's metadata as "ssh_port" and available from
// [Cloud.SSHAddr]; every address is 127.0.0.1.
//
// Faults are injected per test: [Cloud.Fail] and [Cloud.Inject] make the next
// requests of a route fail (500, 503, 429 with Retry-After, or a slow answer),
// [Cloud.SetQuota] makes creates fail with Nova's 403 quota error, and
// [Cloud.NextServer] gives the next server a [Behavior]: boot into ERROR,
// never boot, drop SSH connections, or take a while to delete.
//
// [Cloud.Servers] and [Cloud.Requests] let a test check what a client did,
// including servers it deleted or leaked.
package osdouble
