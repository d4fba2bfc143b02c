package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Put implements BlockPutter; the block is durable when it returns. It
// writes the block to a temporary file and waits for the committer to make
// it durable and rename it into place, together with the other Puts of
// its batch (diskstore_commit.go). If ctx ends first, Put returns ctx's
// error and the block may or may not be stored.
func (s *DiskStore) Put(ctx context.Context, b Block) error {
	if !b.Defined() {
		return fmt.Errorf("%w: undefined block", ErrUnsupportedCID)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.opts.volatile {
		if err := s.putVolatile(b); err != nil {
			return fmt.Errorf("content: put %s: %w", b.cid, err)
		}
		return nil
	}
	r, err := s.submit(b)
	if err != nil {
		return fmt.Errorf("content: put %s: %w", b.cid, err)
	}
	select {
	case err := <-r.done:
		if err != nil {
			return fmt.Errorf("content: put %s: %w", b.cid, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("content: put %s: %w", b.cid, ctx.Err())
	}
}

// submit writes b to a temporary file, unless the store already holds
// exactly these bytes under b's name, and hands the request to the
// committer.
func (s *DiskStore) submit(b Block) (*putRequest, error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed.Load() {
		return nil, ErrStoreClosed
	}
	if err := s.failure(); err != nil {
		return nil, err
	}
	r, err := s.prepare(b)
	if err != nil {
		return nil, err
	}
	s.commits <- r
	return r, nil
}

// putVolatile puts b in place at once, not durable (OpenCacheStore).
func (s *DiskStore) putVolatile(b Block) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed.Load() {
		return ErrStoreClosed
	}
	r, err := s.prepare(b)
	if err != nil {
		return err
	}
	if err := s.install(r); err != nil {
		os.Remove(r.tmp)
		return fmt.Errorf("renaming into place: %w", err)
	}
	return nil
}

// prepare returns the request for b, with its temporary file written.
func (s *DiskStore) prepare(b Block) (*putRequest, error) {
	key := b.cid.String()
	r := &putRequest{cid: b.cid, final: s.path(key), done: make(chan error, 1)}
	held, err := s.holds(r.final, b.data)
	if err != nil {
		return nil, err
	}
	if held {
		// Still a request, which waits for a commit: another Put may have
		// renamed the file in a batch whose sync has not ended.
		return r, nil
	}
	// Not there, or another size, or other bytes (a corrupt copy, which
	// the rename replaces).
	if r.tmp, err = s.writeTemp(r.final, diskTmpPrefix+key+".*", b.data); err != nil {
		return nil, err
	}
	r.size = int64(len(b.data))
	return r, nil
}

// holds reports whether the file at p has exactly data; if so it hands
// the file to the syncer as if Put had written it.
func (s *DiskStore) holds(p string, data []byte) (bool, error) {
	fi, err := os.Lstat(p)
	if err != nil || fi.Size() != int64(len(data)) {
		return false, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	got := make([]byte, len(data)+1)
	n, err := io.ReadFull(f, got)
	if !errors.Is(err, io.ErrUnexpectedEOF) || !bytes.Equal(got[:n], data) {
		return false, nil // not the same bytes: the caller writes them anew
	}
	return true, s.written(f)
}

// written hands f, just written, to the syncer; a cache store
// (OpenCacheStore) syncs nothing.
func (s *DiskStore) written(f *os.File) error {
	if s.opts.volatile {
		return nil
	}
	return s.syncer.written(f)
}

// writeTemp writes data to a new temporary file beside final (named by
// the os.CreateTemp pattern tmpPattern), making the shard folder if it is
// not there yet, and returns its path. The committer renames it; keeping
// it in the block's folder means the rename touches one folder only. (The
// new folder's name is made durable with the batch: the batchSyncer syncs
// the store's folder too.)
func (s *DiskStore) writeTemp(final, tmpPattern string, data []byte) (name string, err error) {
	shard := filepath.Dir(final)
	f, err := os.CreateTemp(shard, tmpPattern)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(shard, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		f, err = os.CreateTemp(shard, tmpPattern)
	}
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return "", err
	}
	if err = s.written(f); err != nil {
		return "", err
	}
	if err = f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}
