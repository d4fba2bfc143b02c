// Package mount serves a meshfs namespace as a FUSE file system: a
// go-fuse v2 node tree ([github.com/hanwen/go-fuse/v2/fs]) over an
// [fsclient.Client], so plain programs (cp, diff, git) read and write the
// shared tree through the kernel.
//
// [Mount] mounts a client's namespace at a directory and returns the
// running server; [Config] says how long each call may take and how long
// the kernel may cache what it was told. Every operation maps onto one or
// a few calls of the daemon's API, each bounded by [Config.Timeout]: a
// daemon that does not answer makes the call fail with EIO, never hang.
//
// # Semantics
//
// Files have close-to-open semantics, those of [fsclient.File]: an open
// file is pinned to the content its open saw; writes stay in the mount
// process (in memory, in a temporary file past fsclient's memory limit)
// until fsync(2) or close(2) commits them as one change of the namespace,
// which every strong read on any peer sees once the call returns. The last
// file to commit wins, whole. A commit goes to the path the file was
// opened at: if the file was renamed or removed while open, the commit
// fails (EIO or ENOENT at close) rather than make it again.
//
// Reads of a file with no uncommitted changes go through the mount's
// block cache: the file's blocks, named by its content CID, come from the
// daemon's trustless gateway ([fsclient.Client.Blocks]), are verified
// against their CIDs and kept in a content.DiskStore in
// [Config.CacheDir] (in memory without one), at most [Config.CacheSize]
// bytes, least recently used evicted first. Each open file reads with a
// content.FileReader of its own: sequential reads stream with
// [Config.ReadAhead] blocks in flight, random reads fetch only the blocks
// they cover. A file with uncommitted changes reads through its
// fsclient.File, which sees them.
//
// The kernel caches attributes and directory entries for
// [Config.AttrTTL] (1s by default), so a change made through another
// peer may take that long to show; the page cache is dropped at every
// open, so an open always reads what the daemon holds.
//
// # Owners and permissions
//
// Inodes carry an owner and a group (POSIX uid and gid) and permission
// bits, and the mount behaves like a local file system for every user:
// it mounts with default_permissions, so the kernel checks each access
// against them; a file, directory or link is made owned by the fsuid and
// fsgid of the process that makes it; chown and chgrp change them (the
// kernel lets only root change an owner, and the owner change the group
// to one of its own). [Config.AllowOther] lets users other than the one
// who mounted in (allow_other); without it the kernel refuses them even a
// stat. Owners are numbers: the same uid may name different people on
// two machines that mount one namespace. Only the permission bits are
// kept: setuid, setgid and sticky bits are dropped, so there are no
// sticky directories (a shared /tmp) and no group inheritance from a
// setgid directory; there are no ACLs.
//
// The namespace keeps no access time: atime reads as the mtime, and
// setting it does nothing. There are no hard links, device files, FIFOs
// or extended attributes.
//
// Errors map to errnos: ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY,
// EINVAL, ELOOP, EACCES for a change the namespace does not allow this
// peer, EIO for the rest: no writer reachable, a timeout.
package mount
