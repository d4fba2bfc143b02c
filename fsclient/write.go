package fsclient

import (
	"io/fs"
	"os"
)

// Write writes p at the offset (at the end for a file opened with
// O_APPEND) and advances the offset. The bytes stay in the client until
// Sync or Close.
func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("write", false); err != nil {
		return 0, err
	}
	off := f.pos
	if f.flag&os.O_APPEND != 0 {
		off = f.size
	}
	if err := f.write(p, off); err != nil {
		return 0, err
	}
	f.pos = off + int64(len(p))
	return len(p), nil
}

// WriteString writes s, as Write does.
func (f *File) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

// WriteAt writes p at off, leaving the offset alone; past the end the gap
// reads as zeros. A file opened with O_APPEND refuses it, as os does.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("write", false); err != nil {
		return 0, err
	}
	switch {
	case f.flag&os.O_APPEND != 0:
		return 0, &fs.PathError{Op: "writeat", Path: f.name, Err: errAppendWriteAt}
	case off < 0:
		return 0, &fs.PathError{Op: "writeat", Path: f.name, Err: errNegativeOffset}
	}
	if err := f.write(p, off); err != nil {
		return 0, err
	}
	return len(p), nil
}

// write records p at off. Call with f.mu held.
func (f *File) write(p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	if err := f.dirty.write(p, off); err != nil {
		return &fs.PathError{Op: "write", Path: f.name, Err: err}
	}
	f.size = max(f.size, off+int64(len(p)))
	f.changed = true
	return nil
}

// Truncate sets the file's size, cutting it or extending it with zeros;
// the offset stays where it is.
func (f *File) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("truncate", false); err != nil {
		return err
	}
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: fs.ErrInvalid}
	}
	f.truncate(size)
	return nil
}

// truncate sets the size. Call with f.mu held.
func (f *File) truncate(size int64) {
	if size == f.size {
		return
	}
	f.dirty.truncate(size)
	f.baseLimit = min(f.baseLimit, size)
	f.size = size
	f.changed = true
}

// Sync commits the file's changes, if it has any, as one change of the
// namespace; once it returns nil, every strong read on any peer sees them.
//
// A commit is sent one of two ways. In general it is a whole-file write:
// the file's new bytes (the changes over the content the open pinned)
// stream to the daemon, which stores them and replaces the file's content,
// so the last file to commit wins, whole, as with a local rename-over.
// When the changes are small in a file that already had content, an edit
// is sent instead and the daemon rewrites only the chunks it touches: a
// Truncate alone (one POST truncate), or one contiguous run of written
// bytes, of at most 64 MiB and at most half the file's new size, with no
// truncation below the old size (one POST write?offset=N). An edit is
// only sent after a strong stat shows the file still holds the content the
// open pinned; if someone else changed it, the whole-file write is sent,
// so both ways give the same result.
//
// Sync commits to the path the file was opened at (links followed): if
// the file was removed or renamed since, it fails with fs.ErrNotExist
// rather than make it again.
func (f *File) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return &fs.PathError{Op: "sync", Path: f.name, Err: fs.ErrClosed}
	}
	if !f.changed {
		return nil
	}
	return f.commit()
}
