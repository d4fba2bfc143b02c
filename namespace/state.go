package namespace

import (
	"maps"

	"github.com/ipfs/go-cid"
)

// State is the tree: an inode table, the next inode number and the access
// list. The zero value is not usable; start from New (or UnmarshalState).
//
// A State is not safe for concurrent use: Apply and Render change it (Render
// remembers what it rendered), so callers serialise every method.
type State struct {
	inodes map[Ino]*Inode
	next   Ino
	// access lists the peers allowed in the namespace; AnyPeer admits all.
	access map[string]struct{}
	// pins keep DAGs live for the garbage collector, by label.
	pins map[string]cid.Cid
	// rendered is what Render remembers between calls; it is not part of
	// the tree (Clone and snapshots leave it out).
	rendered renderCache
}

// New returns a tree holding only the root directory (mode 0755, time 0)
// and an empty access list.
func New() *State {
	s := &State{inodes: map[Ino]*Inode{}, next: RootIno + 1, access: map[string]struct{}{}, pins: map[string]cid.Cid{}}
	s.inodes[RootIno] = &Inode{Ino: RootIno, Kind: KindDir, Perm: 0o755, entries: map[string]Ino{}}
	return s
}

// Apply applies op. An operation that fails changes nothing.
func (s *State) Apply(op Op) error { return op.apply(s) }

// Clone returns a deep copy of s's tree and access list. The copy starts
// with nothing rendered: its first Render hands every block to put.
func (s *State) Clone() *State {
	c := &State{inodes: make(map[Ino]*Inode, len(s.inodes)), next: s.next, access: make(map[string]struct{}, len(s.access)), pins: maps.Clone(s.pins)}
	for ino, n := range s.inodes {
		c.inodes[ino] = n.clone()
	}
	for p := range s.access {
		c.access[p] = struct{}{}
	}
	return c
}

// Stat returns a copy of the inode at path p (symbolic links are not
// followed).
func (s *State) Stat(p string) (Inode, error) {
	n, err := s.lookup("stat", p)
	if err != nil {
		return Inode{}, err
	}
	c := n.meta()
	if n.Kind == KindDir {
		c.Size = uint64(len(n.entries))
	}
	return *c, nil
}

// DirEntry is one name in a directory.
type DirEntry struct {
	Name string
	Ino  Ino
	Kind Kind
}

// ReadDir returns the entries of the directory at p, sorted by name.
func (s *State) ReadDir(p string) ([]DirEntry, error) {
	n, err := s.lookup("readdir", p)
	if err != nil {
		return nil, err
	}
	if n.Kind != KindDir {
		return nil, pathErr("readdir", p, ErrNotDir)
	}
	out := make([]DirEntry, 0, len(n.entries))
	for _, name := range n.Names() {
		ino := n.entries[name]
		out = append(out, DirEntry{Name: name, Ino: ino, Kind: s.inodes[ino].Kind})
	}
	return out, nil
}

// Len returns how many inodes the tree holds, the root included.
func (s *State) Len() int { return len(s.inodes) }

// add makes a new inode and links it as name in dir.
func (s *State) add(dir *Inode, name string, n *Inode, mtime int64) *Inode {
	n.Ino = s.next
	s.next++
	s.inodes[n.Ino] = n
	dir.entries[name] = n.Ino
	dir.Mtime = mtime
	return n
}

// removeTree deletes the inode ino and, for a directory, all below it.
func (s *State) removeTree(ino Ino) {
	n := s.inodes[ino]
	for _, child := range n.entries {
		s.removeTree(child)
	}
	s.forget(ino)
	delete(s.inodes, ino)
}

// isBelow reports whether the inode ino is dir or lies below it.
func (s *State) isBelow(ino Ino, dir *Inode) bool {
	if ino == dir.Ino {
		return true
	}
	for _, child := range dir.entries {
		if c := s.inodes[child]; c.Kind == KindDir && s.isBelow(ino, c) {
			return true
		}
	}
	return false
}
