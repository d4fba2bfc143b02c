// Package namespace is meshfs's mutable file tree: inodes (files,
// directories, symbolic links) with modes, owners (POSIX uid and gid, set
// by the operations that make inodes and by [Chown]), sizes, times and,
// for files, the CID of their content, plus the namespace's access list,
// changed only by operations applied in order to a [State]. State is a deterministic state
// machine: no clock, no randomness, no I/O; an operation carries every
// value it needs (its time, its new content CID), so every replica that
// applies the same log of operations holds the same tree.
//
// File content lives in content-addressed blocks (see package content); a
// write makes new blocks first and then applies one small [SetContent]
// naming their root, optionally as a compare-and-set on the content it
// replaces. [Allow] and [Deny] edit the access list that
// [State.Allowed] answers from. [State.Render] lays the tree out as UnixFS,
// re-encoding only what changed since its last call; [State.MarshalBinary]
// and [UnmarshalState] move a whole state as one snapshot, and
// [EncodeOp] and [DecodeOp] move single operations.
//
// Errors of operations are *fs.PathError wrapping fs.ErrExist,
// fs.ErrNotExist, fs.ErrInvalid or this package's sentinels ([ErrNotDir],
// [ErrIsDir], [ErrNotEmpty], [ErrConflict]), so errors.Is works; decoding
// errors wrap [ErrBadOp] or [ErrBadSnapshot].
package namespace
