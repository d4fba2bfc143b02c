package mount

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"meshfs/fsclient"
)

// meshFS is what every node of one mount shares.
type meshFS struct {
	c     *fsclient.Client
	cfg   Config
	cache *blockCache // nil without one
	now   func() time.Time
	stall stall
}

// as returns the client that makes inodes owned by the user and group of
// the process whose request ctx is (the kernel's fsuid and fsgid).
func (m *meshFS) as(ctx context.Context) *fsclient.Client {
	if caller, ok := fuse.FromContext(ctx); ok {
		return m.c.As(caller.Uid, caller.Gid)
	}
	return m.c.As(0, 0) // no caller: the kernel itself, root
}

// newNode returns the node of a new inode.
func (m *meshFS) newNode() *node { return &node{m: m} }

// infoOf returns the inode an fs.FileInfo from fsclient describes.
func infoOf(fi fs.FileInfo) fsclient.Info {
	if i, ok := fi.Sys().(*fsclient.Info); ok {
		return *i
	}
	// Not from fsclient: describe it as well as fs.FileInfo can.
	kind := "file"
	switch {
	case fi.IsDir():
		kind = "dir"
	case fi.Mode()&fs.ModeSymlink != 0:
		kind = "symlink"
	}
	return fsclient.Info{Name: fi.Name(), Kind: kind, Size: uint64(fi.Size()), MtimeNS: fi.ModTime().UnixNano(), Mode: fmt.Sprintf("%o", fi.Mode().Perm())}
}

// typeBits returns the S_IF* bits of an inode's kind.
func typeBits(kind string) uint32 {
	switch kind {
	case "dir":
		return syscall.S_IFDIR
	case "symlink":
		return syscall.S_IFLNK
	}
	return syscall.S_IFREG
}

// fillAttr describes i in out.
func (m *meshFS) fillAttr(i fsclient.Info, out *fuse.Attr) {
	out.Mode = typeBits(i.Kind) | uint32(i.FileMode().Perm())
	out.Ino = i.Ino
	out.Nlink = 1
	switch i.Kind {
	case "dir":
		out.Nlink = 2
		out.Size = 4096 // the API's size of a directory is its entry count
	case "symlink":
		out.Size = uint64(len(i.Target))
	default:
		out.Size = i.Size
	}
	mt := i.ModTime()
	out.SetTimes(&mt, &mt, &mt)
	out.Owner = fuse.Owner{Uid: i.Uid, Gid: i.Gid}
	out.Blksize = 128 << 10
	out.Blocks = (out.Size + 511) / 512
}

// stableAttr returns the identity of the inode i.
func stableAttr(i fsclient.Info) gofs.StableAttr {
	return gofs.StableAttr{Mode: typeBits(i.Kind), Ino: i.Ino}
}

// join returns the API path of name in the directory at dir.
func join(dir, name string) string { return path.Join(dir, name) }
