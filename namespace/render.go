package namespace

import (
	"fmt"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// Render lays the tree out as plain UnixFS directories (HAMT-sharded where
// IPFS would shard them) over the files' content CIDs, hands every new
// block to put (children before parents) and returns the root directory's
// CID: the CID `ipfs add -r --cid-version=1` gives for the same tree.
// Modes and times are not part of plain UnixFS. An empty file is the empty
// raw block, which put receives too.
func (s *State) Render(put func(content.Block) error) (cid.Cid, error) {
	empty, err := content.NewRawBlock(nil)
	if err != nil {
		return cid.Undef, err
	}
	if err := put(empty); err != nil {
		return cid.Undef, err
	}
	root, _, err := s.render(s.inodes[RootIno], "/", empty.CID(), put)
	return root, err
}

// render returns the CID and cumulative size of the inode n at p.
func (s *State) render(n *Inode, p string, empty cid.Cid, put func(content.Block) error) (cid.Cid, uint64, error) {
	switch n.Kind {
	case KindFile:
		if !n.CID.Defined() {
			return empty, 0, nil
		}
		return n.CID, n.Tsize, nil
	case KindSymlink:
		b, err := content.Symlink(n.Target)
		if err != nil {
			return cid.Undef, 0, fmt.Errorf("namespace: %s: %w", p, err)
		}
		if err := put(b); err != nil {
			return cid.Undef, 0, err
		}
		return b.CID(), uint64(b.Size()), nil
	}
	entries := make([]content.DirEntry, 0, len(n.entries))
	for _, name := range n.Names() {
		child := s.inodes[n.entries[name]]
		c, tsize, err := s.render(child, joinPath(p, name), empty, put)
		if err != nil {
			return cid.Undef, 0, err
		}
		entries = append(entries, content.DirEntry{Name: name, CID: c, Tsize: tsize})
	}
	root, blocks, err := content.BuildDirectory(entries, content.DirOptions{})
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("namespace: %s: %w", p, err)
	}
	for _, b := range blocks {
		if err := put(b); err != nil {
			return cid.Undef, 0, err
		}
	}
	return root.CID, root.Tsize, nil
}

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}
