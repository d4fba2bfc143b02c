// Package namespace is meshfs's mutable file tree: inodes (files,
// directories, symbolic links) with modes, sizes, times and, for files, the
// CID of their content, changed only by operations applied in order to a
// [State]. State is a deterministic state machine: no clock, no randomness,
// no I/O; an operation carries every value it needs (its time, its new
// content CID), so every replica that applies the same log of operations
// holds the same tree. File content lives in content-addressed blocks (see
// package content); a write makes new blocks first and then applies one
// small [SetContent] naming their root. Errors are *fs.PathError wrapping
// fs.ErrExist, fs.ErrNotExist, fs.ErrInvalid or this package's sentinels
// ([ErrNotDir], [ErrIsDir], [ErrNotEmpty]), so errors.Is works.
package namespace
