package namespace

import (
	"fmt"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// Render lays the tree out as plain UnixFS directories (HAMT-sharded where
// IPFS would shard them) over the files' content CIDs and returns the root
// directory's CID: the CID `ipfs add -r --cid-version=1` gives for the same
// tree. Modes and times are not part of plain UnixFS. An empty file is the
// empty raw block.
//
// Render is incremental: the state remembers the CID of every directory
// and symbolic link it rendered, and an operation forgets only the
// directories above what it changed. So Render re-encodes, and hands to
// put (children before parents), only the blocks that are new since the
// last Render of this State; the first Render (of a New, cloned or
// unmarshalled State) hands them all. A caller that needs every block,
// say for another store, calls RenderAll. If put fails, what was put before
// stays remembered and the rest is rendered again next time.
func (s *State) Render(put func(content.Block) error) (cid.Cid, error) {
	empty, err := content.NewRawBlock(nil)
	if err != nil {
		return cid.Undef, err
	}
	if !s.rendered.emptyPut {
		if err := put(empty); err != nil {
			return cid.Undef, err
		}
		s.rendered.emptyPut = true
	}
	if s.rendered.nodes == nil {
		s.rendered.nodes = map[Ino]rendering{}
	}
	root, _, err := s.render(s.inodes[RootIno], "/", empty.CID(), put)
	return root, err
}

// RenderAll forgets what was rendered and renders the whole tree, handing
// every block to put; it returns the same CID as Render.
func (s *State) RenderAll(put func(content.Block) error) (cid.Cid, error) {
	s.rendered = renderCache{}
	return s.Render(put)
}

// renderCache is what Render remembers between calls.
type renderCache struct {
	// nodes holds the rendering of each directory and symbolic link whose
	// blocks were put and whose subtree has not changed since.
	nodes map[Ino]rendering
	// emptyPut says the empty raw block (every empty file) was put.
	emptyPut bool
}

// rendering is a rendered directory's or symbolic link's root.
type rendering struct {
	cid   cid.Cid
	tsize uint64
}

// changed records that the entry at the valid path p appeared, went or
// changed its rendering: every directory above it must be rendered again.
func (s *State) changed(p string) {
	if len(s.rendered.nodes) == 0 {
		return
	}
	names, _ := splitPath("", p)
	n := s.inodes[RootIno]
	delete(s.rendered.nodes, RootIno)
	for i := 0; i < len(names)-1; i++ {
		ino, ok := n.entries[names[i]]
		if !ok {
			return
		}
		n = s.inodes[ino]
		delete(s.rendered.nodes, ino)
	}
}

// forget drops the rendering of the inode ino, which is going away.
func (s *State) forget(ino Ino) { delete(s.rendered.nodes, ino) }

// render returns the CID and cumulative size of the inode n at p.
func (s *State) render(n *Inode, p string, empty cid.Cid, put func(content.Block) error) (cid.Cid, uint64, error) {
	if n.Kind == KindFile {
		if !n.CID.Defined() {
			return empty, 0, nil
		}
		return n.CID, n.Tsize, nil
	}
	if r, ok := s.rendered.nodes[n.Ino]; ok {
		return r.cid, r.tsize, nil
	}
	var r rendering
	var err error
	if n.Kind == KindSymlink {
		r, err = s.renderSymlink(n, p, put)
	} else {
		r, err = s.renderDir(n, p, empty, put)
	}
	if err != nil {
		return cid.Undef, 0, err
	}
	s.rendered.nodes[n.Ino] = r
	return r.cid, r.tsize, nil
}

func (s *State) renderSymlink(n *Inode, p string, put func(content.Block) error) (rendering, error) {
	b, err := content.Symlink(n.Target)
	if err != nil {
		return rendering{}, fmt.Errorf("namespace: %s: %w", p, err)
	}
	if err := put(b); err != nil {
		return rendering{}, err
	}
	return rendering{cid: b.CID(), tsize: uint64(b.Size())}, nil
}

func (s *State) renderDir(n *Inode, p string, empty cid.Cid, put func(content.Block) error) (rendering, error) {
	entries := make([]content.DirEntry, 0, len(n.entries))
	for _, name := range n.Names() {
		child := s.inodes[n.entries[name]]
		c, tsize, err := s.render(child, joinPath(p, name), empty, put)
		if err != nil {
			return rendering{}, err
		}
		entries = append(entries, content.DirEntry{Name: name, CID: c, Tsize: tsize})
	}
	root, blocks, err := content.BuildDirectory(entries, content.DirOptions{})
	if err != nil {
		return rendering{}, fmt.Errorf("namespace: %s: %w", p, err)
	}
	for _, b := range blocks {
		if err := put(b); err != nil {
			return rendering{}, err
		}
	}
	return rendering{cid: root.CID, tsize: root.Tsize}, nil
}

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}
