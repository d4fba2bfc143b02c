package mount

import (
	"context"
	"io/fs"
	"os"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

var (
	_ gofs.NodeCreater   = (*node)(nil)
	_ gofs.NodeMkdirer   = (*node)(nil)
	_ gofs.NodeRmdirer   = (*node)(nil)
	_ gofs.NodeUnlinker  = (*node)(nil)
	_ gofs.NodeRenamer   = (*node)(nil)
	_ gofs.NodeSymlinker = (*node)(nil)
)

// fsMode returns the permission bits of a FUSE mode.
func fsMode(mode uint32) fs.FileMode { return fs.FileMode(mode).Perm() }

// Open opens the file for reading, writing or both.
func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	h, err := n.m.openHandle(n.m.c, n, n.path(), openFlags(flags), 0)
	if err != nil {
		return nil, 0, toErrno(err)
	}
	if h.write {
		n.addWriter(h)
	}
	return h, 0, 0
}

// Create makes the file name (at once, empty, owned by the caller) and
// opens it.
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	flag := openFlags(flags) | os.O_CREATE | int(flags)&os.O_EXCL
	h, err := n.m.openHandle(n.m.as(ctx), nil, join(n.path(), name), flag, fsMode(mode))
	if err != nil {
		return nil, nil, 0, toErrno(err)
	}
	i, err := h.stat()
	if err != nil {
		h.Release(ctx)
		return nil, nil, 0, toErrno(err)
	}
	n.list.drop()
	child := n.child(ctx, i, out)
	cn := child.Operations().(*node)
	h.n = cn
	if h.write {
		cn.addWriter(h)
	}
	return child, h, 0, 0
}

// Mkdir makes the directory name, owned by the caller.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	c := n.m.as(ctx)
	return n.make(ctx, name, out, func(cctx context.Context, p string) error { return c.Mkdir(cctx, p, fsMode(mode)) })
}

// Symlink makes name a symbolic link to target, owned by the caller.
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	c := n.m.as(ctx)
	return n.make(ctx, name, out, func(cctx context.Context, p string) error { return c.Symlink(cctx, target, p) })
}

// make makes the entry name with do and returns its inode, as it is now.
func (n *node) make(ctx context.Context, name string, out *fuse.EntryOut, do func(context.Context, string) error) (*gofs.Inode, syscall.Errno) {
	p := join(n.path(), name)
	cctx, cancel := n.m.call()
	defer cancel()
	if err := do(cctx, p); err != nil {
		return nil, n.m.errno(err)
	}
	n.list.drop()
	fi, err := n.m.c.Lstat(cctx, p)
	if err != nil {
		return nil, n.m.errno(err)
	}
	return n.child(ctx, infoOf(fi), out), 0
}

// remove removes the entry name, which the kernel checked is a directory
// (Rmdir) or is not (Unlink).
func (n *node) remove(name string) syscall.Errno {
	cctx, cancel := n.m.call()
	defer cancel()
	err := n.m.c.Remove(cctx, join(n.path(), name))
	n.list.drop()
	return n.m.errno(err)
}

// Rmdir removes the empty directory name.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno { return n.remove(name) }

// Unlink removes the file or symbolic link name.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno { return n.remove(name) }

// renameNoReplace is RENAME_NOREPLACE of renameat2(2).
const renameNoReplace = 0x1

// Rename moves name to newName in newParent, replacing a file there (or
// an empty directory, when name is one). With RENAME_NOREPLACE it fails
// with EEXIST if newName exists; RENAME_EXCHANGE is not supported.
func (n *node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	switch {
	case !ok:
		return syscall.EXDEV
	case flags&gofs.RENAME_EXCHANGE != 0:
		return syscall.EINVAL
	case flags&^renameNoReplace != 0:
		return syscall.EINVAL
	}
	from, to := join(n.path(), name), join(np.path(), newName)
	cctx, cancel := n.m.call()
	defer cancel()
	var err error
	if flags&renameNoReplace != 0 {
		err = n.m.c.RenameNoReplace(cctx, from, to) // one change: no race
	} else {
		err = n.m.c.Rename(cctx, from, to)
	}
	n.list.drop()
	np.list.drop()
	return n.m.errno(err)
}
