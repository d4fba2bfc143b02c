package namespace

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"meshfs/content"
)

// maxSymlinkHops bounds how many symbolic links Open follows, as Linux does.
const maxSymlinkHops = 40

// FS is a read-only io/fs view of one state of the tree: it implements
// fs.FS, fs.ReadDirFS and fs.StatFS, follows symbolic links that stay in
// the tree, and reads file content through a block getter, verified.
type FS struct {
	ctx context.Context
	s   *State
	g   content.BlockGetter
}

var (
	_ fs.FS        = FS{}
	_ fs.ReadDirFS = FS{}
	_ fs.StatFS    = FS{}
)

// FS returns an io/fs view of the tree as it is now (later operations do
// not show in it), reading content through g with ctx.
func (s *State) FS(ctx context.Context, g content.BlockGetter) FS {
	return FS{ctx: ctx, s: s.Clone(), g: g}
}

// resolve returns the inode for the io/fs name, following symbolic links.
func (f FS) resolve(op, name string) (*Inode, string, error) {
	if !fs.ValidPath(name) {
		return nil, "", pathErr(op, name, fs.ErrInvalid)
	}
	p := "/"
	if name != "." {
		p = "/" + name
	}
	for hops := 0; ; hops++ {
		names, _ := splitPath(op, p)
		n := f.s.inodes[RootIno]
		for i, nm := range names {
			if n.Kind != KindDir {
				return nil, "", pathErr(op, name, fs.ErrNotExist)
			}
			ino, ok := n.entries[nm]
			if !ok {
				return nil, "", pathErr(op, name, fs.ErrNotExist)
			}
			n = f.s.inodes[ino]
			if n.Kind == KindSymlink {
				if hops == maxSymlinkHops {
					return nil, "", pathErr(op, name, errors.New("too many levels of symbolic links"))
				}
				dir := "/" + strings.Join(names[:i], "/")
				target := n.Target
				if !strings.HasPrefix(target, "/") {
					target = path.Join(dir, target)
				}
				rest := strings.Join(names[i+1:], "/")
				p = path.Clean(path.Join(target, rest))
				if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/..") {
					return nil, "", pathErr(op, name, fs.ErrNotExist)
				}
				n = nil
				break
			}
		}
		if n != nil {
			return n, p, nil
		}
	}
}

// Open opens the file or directory name.
func (f FS) Open(name string) (fs.File, error) {
	n, _, err := f.resolve("open", name)
	if err != nil {
		return nil, err
	}
	info := fileInfo{name: path.Base(name), n: n.meta()}
	if n.Kind == KindDir {
		entries, err := f.readDir(n)
		if err != nil {
			return nil, err
		}
		return &dirFile{info: info, entries: entries}, nil
	}
	if !n.CID.Defined() || n.Size == 0 {
		return &regularFile{info: info, r: io.NewSectionReader(strings.NewReader(""), 0, 0)}, nil
	}
	fr, err := content.NewFileReader(f.ctx, f.g, n.CID, 0)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	if uint64(fr.Size()) != n.Size {
		fr.Close()
		return nil, pathErr("open", name, errors.New("content size differs from the inode's"))
	}
	return &regularFile{info: info, r: fr, closer: fr}, nil
}

// ReadDir returns the entries of the directory name, sorted.
func (f FS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, _, err := f.resolve("readdir", name)
	if err != nil {
		return nil, err
	}
	if n.Kind != KindDir {
		return nil, pathErr("readdir", name, ErrNotDir)
	}
	return f.readDir(n)
}

func (f FS) readDir(n *Inode) ([]fs.DirEntry, error) {
	out := make([]fs.DirEntry, 0, len(n.entries))
	for _, nm := range n.Names() {
		out = append(out, fs.FileInfoToDirEntry(fileInfo{name: nm, n: f.s.inodes[n.entries[nm]].meta()}))
	}
	return out, nil
}

// Stat describes name (following symbolic links).
func (f FS) Stat(name string) (fs.FileInfo, error) {
	n, _, err := f.resolve("stat", name)
	if err != nil {
		return nil, err
	}
	return fileInfo{name: path.Base(name), n: n.meta()}, nil
}

// fileInfo is an inode as fs.FileInfo.
type fileInfo struct {
	name string
	n    *Inode
}

func (i fileInfo) Name() string {
	if i.name == "." || i.name == "/" {
		return "."
	}
	return i.name
}
func (i fileInfo) Size() int64 {
	if i.n.Kind == KindDir {
		return 0
	}
	return int64(i.n.Size)
}
func (i fileInfo) Mode() fs.FileMode  { return i.n.Mode() }
func (i fileInfo) ModTime() time.Time { return time.Unix(0, i.n.Mtime).UTC() }
func (i fileInfo) IsDir() bool        { return i.n.Kind == KindDir }
func (i fileInfo) Sys() any           { return nil }

// contentReader is what a regular file reads through.
type contentReader interface {
	io.Reader
	io.ReaderAt
	io.Seeker
}

type regularFile struct {
	info   fileInfo
	r      contentReader
	closer io.Closer
}

func (f *regularFile) Stat() (fs.FileInfo, error)                { return f.info, nil }
func (f *regularFile) Read(p []byte) (int, error)                { return f.r.Read(p) }
func (f *regularFile) ReadAt(p []byte, off int64) (int, error)   { return f.r.ReadAt(p, off) }
func (f *regularFile) Seek(off int64, whence int) (int64, error) { return f.r.Seek(off, whence) }
func (f *regularFile) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

type dirFile struct {
	info    fileInfo
	entries []fs.DirEntry
	pos     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, pathErr("read", d.info.Name(), ErrIsDir)
}
func (d *dirFile) Close() error { return nil }

// ReadDir returns the next n entries (all that are left if n <= 0).
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	left := d.entries[d.pos:]
	if n <= 0 {
		d.pos = len(d.entries)
		return left, nil
	}
	if len(left) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(left))
	d.pos += k
	return left[:k], nil
}
