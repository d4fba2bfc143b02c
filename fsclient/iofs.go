package fsclient

import (
	"context"
	"io/fs"
	"os"
)

// FS is a read-only io/fs view of the namespace through a Client: names
// are unrooted ("a/b.txt"; "." is the root) and symbolic links are
// followed, except by Lstat and ReadLink. Each call reads the tree as it
// is then, at the client's level, and an open file keeps the content its
// open saw. Errors are *fs.PathError with the name asked for.
type FS struct {
	c   *Client
	ctx context.Context
}

var (
	_ fs.FS         = (*FS)(nil)
	_ fs.ReadDirFS  = (*FS)(nil)
	_ fs.StatFS     = (*FS)(nil)
	_ fs.ReadFileFS = (*FS)(nil)
	_ fs.ReadLinkFS = (*FS)(nil)
)

// FS returns an io/fs view of the namespace whose requests ctx bounds.
func (c *Client) FS(ctx context.Context) *FS { return &FS{c: c, ctx: ctx} }

// Open opens the file or directory name for reading; the result is a
// *File.
func (f *FS) Open(name string) (fs.File, error) {
	p, err := fsPath("open", name)
	if err != nil {
		return nil, err
	}
	info, real, err := f.c.follow(f.ctx, f.c.level, p, true)
	if err != nil {
		return nil, pathError("open", name, err)
	}
	return f.c.newFile(f.ctx, name, real, os.O_RDONLY, info), nil
}

// ReadDir returns the entries of the directory name, sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := fsPath("readdir", name)
	if err != nil {
		return nil, err
	}
	entries, err := f.c.readDir(f.ctx, p)
	return entries, pathError("readdir", name, err)
}

// Stat describes name, following symbolic links.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	return f.stat("stat", name, true)
}

// Lstat describes name without following a symbolic link at its end.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	return f.stat("lstat", name, false)
}

func (f *FS) stat(op, name string, last bool) (fs.FileInfo, error) {
	p, err := fsPath(op, name)
	if err != nil {
		return nil, err
	}
	info, _, err := f.c.follow(f.ctx, f.c.level, p, last)
	if err != nil {
		return nil, pathError(op, name, err)
	}
	return newFileInfo(name, info), nil
}

// ReadLink returns the target of the symbolic link name.
func (f *FS) ReadLink(name string) (string, error) {
	info, err := f.stat("readlink", name, false)
	if err != nil {
		return "", err
	}
	if info.Mode().Type() != fs.ModeSymlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return info.Sys().(*Info).Target, nil
}

// ReadFile returns the bytes of the file name.
func (f *FS) ReadFile(name string) ([]byte, error) {
	p, err := fsPath("open", name)
	if err != nil {
		return nil, err
	}
	b, err := f.c.readFile(f.ctx, p)
	return b, pathError("open", name, err)
}
