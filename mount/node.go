package mount

import (
	"context"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"meshfs/fsclient"
)

// node is one inode of the mount: a file, directory or symbolic link of
// the namespace, found by its path from the mount's root.
type node struct {
	gofs.Inode
	m *meshFS

	// list answers lookups in a directory right after a Readdir.
	list listing

	mu      sync.Mutex
	writers map[*handle]struct{} // open files of this inode that may write
}

var (
	_ gofs.InodeEmbedder  = (*node)(nil)
	_ gofs.NodeLookuper   = (*node)(nil)
	_ gofs.NodeGetattrer  = (*node)(nil)
	_ gofs.NodeSetattrer  = (*node)(nil)
	_ gofs.NodeReaddirer  = (*node)(nil)
	_ gofs.NodeStatfser   = (*node)(nil)
	_ gofs.NodeReadlinker = (*node)(nil)
	_ gofs.NodeOpener     = (*node)(nil)
)

// path returns the node's API path.
func (n *node) path() string { return "/" + n.Path(nil) }

// parentList returns the listing of the node's parent directory, nil for
// the root or a node that has none left.
func (n *node) parentList() *listing {
	_, p := n.Parent()
	if p == nil {
		return nil
	}
	if pn, ok := p.Operations().(*node); ok {
		return &pn.list
	}
	return nil
}

// changed forgets what the node's parent listed, after a change to it.
func (n *node) changed() {
	if l := n.parentList(); l != nil {
		l.drop()
	}
}

// child returns the inode for the entry i of n, filling out.
func (n *node) child(ctx context.Context, i fsclient.Info, out *fuse.EntryOut) *gofs.Inode {
	n.m.fillAttr(i, &out.Attr)
	out.SetEntryTimeout(n.m.cfg.AttrTTL)
	out.SetAttrTimeout(n.m.cfg.AttrTTL)
	return n.NewInode(ctx, n.m.newNode(), stableAttr(i))
}

// Lookup finds the entry name of the directory.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	i, ok, fresh := n.list.get(name, n.m.now(), n.m.cfg.AttrTTL)
	if !fresh {
		cctx, cancel := n.m.call()
		defer cancel()
		fi, err := n.m.c.Lstat(cctx, join(n.path(), name))
		if err != nil {
			return nil, n.m.errno(err)
		}
		i, ok = infoOf(fi), true
	}
	if !ok {
		return nil, syscall.ENOENT
	}
	return n.child(ctx, i, out), 0
}

// Getattr describes the inode as the daemon does, but with the size of an
// open file that may have written (the call's own, else any), which
// counts the changes not committed yet.
func (n *node) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	h, _ := f.(*handle)
	if h == nil || !h.write {
		h = n.writer()
	}
	cctx, cancel := n.m.call()
	defer cancel()
	fi, err := n.m.c.Lstat(cctx, n.path())
	var i fsclient.Info
	if err == nil {
		i = infoOf(fi)
	}
	if h != nil {
		hi, herr := h.stat()
		switch {
		case herr == nil && err == nil:
			i.Size = hi.Size
		case herr == nil: // removed or renamed while open
			i, err = hi, nil
		}
	}
	if err != nil {
		return n.m.errno(err)
	}
	n.m.fillAttr(i, &out.Attr)
	out.SetTimeout(n.m.cfg.AttrTTL)
	return 0
}

// writer returns an open file of the node that may write, nil if none.
func (n *node) writer() *handle {
	n.mu.Lock()
	defer n.mu.Unlock()
	for h := range n.writers {
		return h
	}
	return nil
}

// addWriter and dropWriter track the node's open files that may write.
func (n *node) addWriter(h *handle) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.writers == nil {
		n.writers = map[*handle]struct{}{}
	}
	n.writers[h] = struct{}{}
}

func (n *node) dropWriter(h *handle) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.writers, h)
}

// Setattr changes the size (through an open file if the call came with
// one, or if one may write, so its commit keeps it), the owner and group,
// the permission bits and the mtime. The kernel has checked that the
// caller may (default_permissions: only root changes an owner).
func (n *node) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	p := n.path()
	cctx, cancel := n.m.call()
	defer cancel()
	if size, ok := in.GetSize(); ok {
		h, _ := f.(*handle)
		if h == nil || !h.write {
			h = n.writer()
		}
		var err error
		if h != nil {
			err = h.truncate(int64(size))
		} else {
			err = n.m.c.Truncate(cctx, p, int64(size))
		}
		if err != nil {
			return n.m.errno(err)
		}
	}
	_, chmod := in.GetMode()
	_, chtimes := in.GetMTime()
	if h := n.writer(); h != nil && (chmod || chtimes) {
		// Commit what is open first, or its commit would undo the change
		// (cp -p sets the mtime before it closes the copy).
		if errno := h.sync(); errno != 0 {
			return errno
		}
	}
	uid, chown := in.GetUID()
	gid, chgrp := in.GetGID()
	if chown || chgrp {
		id := func(v uint32, set bool) int {
			if !set {
				return -1
			}
			return int(v)
		}
		// The node itself: a chown(2) through a link reaches the link's
		// target node, an lchown(2) the link's.
		if err := n.m.c.Lchown(cctx, p, id(uid, chown), id(gid, chgrp)); err != nil {
			return n.m.errno(err)
		}
	}
	if mode, ok := in.GetMode(); ok {
		if err := n.m.c.Chmod(cctx, p, fsMode(mode)); err != nil {
			return n.m.errno(err)
		}
	}
	if mtime, ok := in.GetMTime(); ok {
		if err := n.m.c.Lchtimes(cctx, p, time.Time{}, mtime); err != nil { // the node itself, a link too
			return n.m.errno(err)
		}
	}
	n.changed()
	return n.Getattr(ctx, f, out)
}

// Readlink returns a symbolic link's target.
func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	cctx, cancel := n.m.call()
	defer cancel()
	t, err := n.m.c.Readlink(cctx, n.path())
	if err != nil {
		return nil, n.m.errno(err)
	}
	return []byte(t), 0
}

// Readdir lists the directory, and keeps the listing for the lookups of a
// READDIRPLUS that follow.
func (n *node) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	cctx, cancel := n.m.call()
	defer cancel()
	at := n.m.now()
	entries, err := n.m.c.ReadDir(cctx, n.path())
	if err != nil {
		return nil, n.m.errno(err)
	}
	out := make([]fuse.DirEntry, 0, len(entries))
	kept := make(map[string]fsclient.Info, len(entries))
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			return nil, n.m.errno(err)
		}
		i := infoOf(fi)
		kept[e.Name()] = i
		out = append(out, fuse.DirEntry{Name: e.Name(), Mode: typeBits(i.Kind), Ino: i.Ino})
	}
	n.list.set(kept, at)
	return &listStream{entries: out, list: &n.list, now: n.m.now}, 0
}

// Statfs reports a large, mostly free file system: the mesh's capacity is
// not one number a peer knows.
func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	const bsize = 4096
	*out = fuse.StatfsOut{
		Blocks: 1 << 40 / bsize, Bfree: 1 << 40 / bsize, Bavail: 1 << 40 / bsize,
		Files: 1 << 32, Ffree: 1 << 32, Bsize: bsize, NameLen: 255, Frsize: bsize,
	}
	return 0
}
