package fsclient

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sync"
)

// File is an open file or directory of the namespace, like an *os.File.
// Its methods may be called from several goroutines. It makes its requests
// with the context it was opened with.
//
// A file is pinned to the content its open saw: reads fetch that content
// by CID, so they never mix two versions, whatever others write meanwhile.
// Writes, WriteAt and Truncate change the file only in the client until
// Sync or Close commits them (see Sync); reads of the open file see them at
// once.
type File struct {
	c    *Client
	ctx  context.Context
	name string // as the caller gave it
	path string // the API path it was found at, links followed
	flag int

	mu     sync.Mutex
	closed bool
	info   Info // as of the open, or of the last commit

	// A directory's entries, read at the first ReadDir.
	dir     bool
	entries []fs.DirEntry
	listed  bool

	// A regular file: the committed content, the changes on top of it, and
	// the offset.
	base      *content
	dirty     dirtySet
	size      int64 // the size with the changes
	baseLimit int64 // bytes of base at and past this were truncated away
	changed   bool  // something to commit
	pos       int64
}

var (
	_ fs.File        = (*File)(nil)
	_ fs.ReadDirFile = (*File)(nil)
	_ io.ReaderAt    = (*File)(nil)
	_ io.WriterAt    = (*File)(nil)
	_ io.Seeker      = (*File)(nil)
)

// newFile returns the open file for the inode info found at the API path
// p, asked for as name.
func (c *Client) newFile(ctx context.Context, name, p string, flag int, info Info) *File {
	f := &File{c: c, ctx: ctx, name: name, path: p, flag: flag, info: info, dir: info.Kind == "dir"}
	if !f.dir {
		f.base = &content{c: c, ctx: ctx, cid: info.CID, size: int64(info.Size)}
		f.size, f.baseLimit = int64(info.Size), int64(info.Size)
		f.dirty.limit = c.memLimit
	}
	return f
}

// Name returns the name the file was opened with.
func (f *File) Name() string { return f.name }

// canRead and canWrite say what the open mode allows.
func (f *File) canRead() bool  { return f.flag&(os.O_WRONLY|os.O_RDWR) != os.O_WRONLY }
func (f *File) canWrite() bool { return f.flag&(os.O_WRONLY|os.O_RDWR) != 0 }

// check returns the error for op on f if it is closed, or if op is a read
// (read) or a write (!read) its mode does not allow.
func (f *File) check(op string, read bool) error {
	switch {
	case f.closed:
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	case f.dir && op != "readdir" && op != "stat" && op != "seek":
		return &fs.PathError{Op: op, Path: f.name, Err: errIsDir}
	case !f.dir && op == "readdir":
		return &fs.PathError{Op: op, Path: f.name, Err: errNotDir}
	case read && !f.canRead(), !read && !f.canWrite():
		return &fs.PathError{Op: op, Path: f.name, Err: ErrAccessMode}
	}
	return nil
}

// Stat describes the file; its size includes the changes not yet
// committed.
func (f *File) Stat() (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("stat", true); err != nil && !errors.Is(err, ErrAccessMode) {
		return nil, err
	}
	info := f.info
	if !f.dir {
		info.Size = uint64(f.size)
	}
	return newFileInfo(f.name, info), nil
}

// Committed returns the content a file open for reading reads while it
// has no uncommitted changes: its CID ("" for empty content) and size, so
// a caller may read those bytes elsewhere (a block cache). ok is false for
// a file with changes not yet committed, which only Read and ReadAt see,
// and for a directory, a closed file or one opened write-only.
func (f *File) Committed() (cid string, size int64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.dir || f.changed || !f.canRead() {
		return "", 0, false
	}
	return f.base.cid, f.base.size, true
}

// Read reads up to len(p) bytes at the offset and advances it; at the end
// it returns 0, io.EOF.
func (f *File) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("read", true); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := f.readAt(p, f.pos, true)
	f.pos += int64(n)
	if n > 0 && err == io.EOF {
		err = nil
	}
	return n, err
}

// ReadAt reads len(p) bytes at off, leaving the offset alone; fewer only
// at the end, with io.EOF.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("read", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.name, Err: errNegativeOffset}
	}
	return f.readAt(p, off, false)
}

// readAt reads the file as changed: changed bytes from the dirty set,
// others from the base content up to where it was truncated, zeros past
// that. Call with f.mu held.
func (f *File) readAt(p []byte, off int64, sequential bool) (int, error) {
	n := 0
	baseEnd := min(f.baseLimit, f.base.size)
	for n < len(p) && off < f.size {
		q := p[n:min(int64(len(p)), int64(n)+f.size-off)]
		i := f.dirty.find(off)
		next := f.size // where this piece must end: the next extent
		if i < len(f.dirty.ext) {
			e := f.dirty.ext[i]
			if e.off <= off {
				q = q[:min(int64(len(q)), e.end-off)]
				if err := f.dirty.readAt(i, q, off); err != nil {
					return n, &fs.PathError{Op: "read", Path: f.name, Err: err}
				}
				n, off = n+len(q), off+int64(len(q))
				continue
			}
			next = e.off
		}
		q = q[:min(int64(len(q)), next-off)]
		if off < baseEnd {
			q = q[:min(int64(len(q)), baseEnd-off)]
			if err := f.base.readFull(q, off, sequential); err != nil {
				return n, &fs.PathError{Op: "read", Path: f.name, Err: err}
			}
		} else {
			clear(q)
		}
		n, off = n+len(q), off+int64(len(q))
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Seek sets the offset for the next Read or Write: relative to the start
// (io.SeekStart), the offset (io.SeekCurrent) or the end, changes included
// (io.SeekEnd).
func (f *File) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("seek", true); err != nil && !errors.Is(err, ErrAccessMode) {
		return 0, err
	}
	var at int64
	switch whence {
	case io.SeekStart:
		at = offset
	case io.SeekCurrent:
		at = f.pos + offset
	case io.SeekEnd:
		at = f.size + offset
	default:
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	if at < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: errNegativeOffset}
	}
	f.pos = at
	if f.dir && at == 0 {
		f.entries, f.listed = nil, false // read the directory again
	}
	return at, nil
}

// ReadDir reads the directory's entries, sorted by name: at most n of them
// when n > 0 (an empty slice and io.EOF at the end), all the rest when
// n <= 0. The entries are read with the first call, as of that moment.
func (f *File) ReadDir(n int) ([]fs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("readdir", true); err != nil {
		return nil, err
	}
	if !f.listed {
		entries, err := f.c.list(f.ctx, f.path)
		if err != nil {
			return nil, pathError("readdir", f.name, err)
		}
		f.entries, f.listed = entries, true
	}
	if n <= 0 {
		out := f.entries
		f.entries = nil
		return out, nil
	}
	if len(f.entries) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(f.entries))
	out := f.entries[:k:k]
	f.entries = f.entries[k:]
	return out, nil
}

// list describes the entries of the directory at the API path p.
func (c *Client) list(ctx context.Context, p string) ([]fs.DirEntry, error) {
	var answer struct {
		Entries []Info `json:"entries"`
	}
	if err := c.get(ctx, "ls", url.Values{"arg": {p}}, &answer); err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, len(answer.Entries))
	for i, e := range answer.Entries {
		out[i] = newFileInfo(path.Join(p, e.Name), e)
	}
	return out, nil
}

// Close commits the file's changes, as Sync does, and closes it. The file
// is closed even if the commit fails, and its changes are then lost: call
// Sync first to be able to try again. Closing twice returns an error
// wrapping fs.ErrClosed.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	var err error
	if f.changed {
		err = f.commit()
	}
	f.closed = true
	if f.base != nil {
		f.base.closeStream()
		f.base.whole, f.base.kept = nil, nil
	}
	f.dirty.reset()
	f.entries = nil
	return err
}
