package namespace

import (
	"io/fs"
	"slices"

	"github.com/ipfs/go-cid"
)

// Ino numbers an inode; the root directory is RootIno.
type Ino uint64

// RootIno is the root directory's inode number.
const RootIno Ino = 1

// Kind is what an inode is.
type Kind uint8

// The kinds of inode.
const (
	KindFile Kind = iota + 1
	KindDir
	KindSymlink
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindDir:
		return "dir"
	case KindSymlink:
		return "symlink"
	}
	return "unknown"
}

// Inode is one file, directory or symbolic link.
type Inode struct {
	Ino    Ino
	Kind   Kind
	Perm   fs.FileMode // permission bits only
	Uid    uint32      // owner, a POSIX user ID (never KeepID)
	Gid    uint32      // group, a POSIX group ID (never KeepID)
	Size   uint64      // file: content bytes; symlink: len(Target); dir: entries
	Mtime  int64       // Unix nanoseconds, from the operation that set it
	CID    cid.Cid     // file content; cid.Undef for an empty file
	Tsize  uint64      // file: cumulative size of its DAG's blocks (for links)
	Target string      // symlink target
	// entries of a directory: name → inode.
	entries map[string]Ino
}

// Mode returns the inode's fs.FileMode: its kind bits and permissions.
func (n *Inode) Mode() fs.FileMode {
	switch n.Kind {
	case KindDir:
		return fs.ModeDir | n.Perm
	case KindSymlink:
		return fs.ModeSymlink | n.Perm
	}
	return n.Perm
}

// Names returns a directory's entry names, sorted.
func (n *Inode) Names() []string {
	names := make([]string, 0, len(n.entries))
	for name := range n.entries {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// meta returns a copy of n without its entries: what Stat and io/fs show.
func (n *Inode) meta() *Inode {
	c := *n
	c.entries = nil
	return &c
}

// clone returns a copy of n that shares nothing mutable with it.
func (n *Inode) clone() *Inode {
	c := *n
	if n.entries != nil {
		c.entries = make(map[string]Ino, len(n.entries))
		for k, v := range n.entries {
			c.entries[k] = v
		}
	}
	return &c
}
