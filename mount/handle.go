package mount

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"meshfs/fsclient"
)

// handle is an open file: an fsclient.File, with close-to-open semantics.
// While the file has no uncommitted changes, reads go through the mount's
// block cache (read.go); once it has, through the File, which sees them.
// The File makes every request with the context it was opened with, which
// must outlive one call (a sequential read keeps one streamed answer
// across calls); so each call arms a timer that cancels that context if
// the call takes longer than the timeout, and the file then fails every
// call with EIO.
type handle struct {
	n       *node
	f       *fsclient.File
	write   bool
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timeout time.Duration

	cache     *blockCache // nil: every read through f
	readAhead int
	blocks    blockReader
}

var (
	_ gofs.FileReader   = (*handle)(nil)
	_ gofs.FileWriter   = (*handle)(nil)
	_ gofs.FileFlusher  = (*handle)(nil)
	_ gofs.FileFsyncer  = (*handle)(nil)
	_ gofs.FileReleaser = (*handle)(nil)
)

// openFlags returns the os flags fsclient gets for the FUSE open flags:
// the access mode and O_TRUNC. O_APPEND is left to the kernel, which gives
// each write its offset at the end.
func openFlags(flags uint32) int {
	return int(flags) & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR | os.O_TRUNC)
}

// openHandle opens the file at the API path p of node n through c with
// the os flags flag (and perm, for O_CREATE).
func (m *meshFS) openHandle(c *fsclient.Client, n *node, p string, flag int, perm fs.FileMode) (*handle, error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	h := &handle{n: n, write: flag&(os.O_WRONLY|os.O_RDWR) != 0, ctx: ctx, cancel: cancel, timeout: m.cfg.Timeout,
		cache: m.cache, readAhead: m.cfg.ReadAhead}
	stop := h.guard()
	f, err := c.OpenFile(ctx, p, flag, perm)
	stop()
	if err != nil {
		cancel(err)
		return nil, err
	}
	h.f = f
	return h, nil
}

// guard arms the timer that ends the file's context if the call it
// guards takes too long; call the function it returns when the call ends.
func (h *handle) guard() func() {
	t := time.AfterFunc(h.timeout, func() { h.cancel(errTimeout) })
	return func() { t.Stop() }
}

// fail returns the errno for err, a timeout if the file's context ended.
func (h *handle) fail(err error) syscall.Errno {
	if cause := context.Cause(h.ctx); cause != nil && errors.Is(err, context.Canceled) {
		return toErrno(cause)
	}
	return toErrno(err)
}

// stat describes the open file, its uncommitted changes included.
func (h *handle) stat() (fsclient.Info, error) {
	fi, err := h.f.Stat()
	if err != nil {
		return fsclient.Info{}, err
	}
	return infoOf(fi), nil
}

// truncate sets the open file's size, committed with its other changes.
func (h *handle) truncate(size int64) error {
	stop := h.guard()
	defer stop()
	return h.f.Truncate(size)
}

// Read reads at off; a short read is the end of the file.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	stop := h.guard()
	defer stop()
	n, cached, err := h.readCached(dest, off)
	if !cached {
		n, err = h.f.ReadAt(dest, off)
	}
	if err != nil && err != io.EOF {
		return nil, h.fail(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write writes at off; the bytes stay in the file until a commit.
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	stop := h.guard()
	defer stop()
	n, err := h.f.WriteAt(data, off)
	if err != nil {
		return uint32(n), h.fail(err)
	}
	return uint32(n), 0
}

// sync commits the file's changes, if any.
func (h *handle) sync() syscall.Errno {
	if !h.write {
		return 0
	}
	stop := h.guard()
	defer stop()
	if err := h.f.Sync(); err != nil {
		if _, parent := h.n.Parent(); parent == nil && errors.Is(err, fs.ErrNotExist) {
			// Unlinked while open (a temporary file): its changes stay in
			// the open file, readable until the last close drops them.
			return 0
		}
		return h.fail(err)
	}
	h.n.changed()
	return 0
}

// Flush, at every close(2) of the file, commits its changes: once close
// returns, every strong read on any peer sees them.
func (h *handle) Flush(ctx context.Context) syscall.Errno { return h.sync() }

// Fsync commits the file's changes.
func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno { return h.sync() }

// Release, after the last close, commits what is left and closes the file.
func (h *handle) Release(ctx context.Context) syscall.Errno {
	if h.write {
		h.n.dropWriter(h)
	}
	h.closeReader()
	stop := h.guard()
	err := h.f.Close()
	stop()
	var errno syscall.Errno
	if _, parent := h.n.Parent(); err != nil && (parent != nil || !errors.Is(err, fs.ErrNotExist)) {
		errno = h.fail(err)
	}
	h.cancel(fs.ErrClosed)
	return errno
}
