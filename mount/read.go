package mount

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"meshfs/content"
)

// maxSkip is how far past the stream's position a read may start and
// still continue the stream, the bytes between discarded: the kernel
// sends the reads of a sequential reader several at once, and they may
// arrive out of order. The reads skipped over are served by ReadAt, from
// the blocks the stream put in the cache.
const maxSkip = 4 << 20

// blockReader reads an open file's committed content, by CID, through the
// mount's block cache: reads that carry on from the last stream on with
// read-ahead (several blocks in flight), others fetch only the blocks
// they cover.
type blockReader struct {
	mu        sync.Mutex
	cid       string
	r         *content.FileReader
	pos       int64 // where r's stream is
	streaming bool  // whether r's stream has been read
	lastEnd   int64 // where the last read not behind the stream ended
}

// readAt fills p from the content at off, reading it with r, which must
// be open on the content. It returns the bytes read, fewer only at the end.
func (b *blockReader) readAt(r *content.FileReader, p []byte, off int64) (int, error) {
	b.mu.Lock()
	ahead := b.streaming && off > b.pos && off-b.pos <= maxSkip
	if off != b.pos && off != b.lastEnd && !ahead {
		// A random read, or one the stream already passed.
		behind := b.streaming && off < b.pos && b.pos-off <= maxSkip
		b.mu.Unlock()
		n, err := r.ReadAt(p, off)
		if !behind {
			b.mu.Lock()
			b.lastEnd = off + int64(n)
			b.mu.Unlock()
		}
		return n, err
	}
	defer b.mu.Unlock()
	if ahead {
		n, err := io.CopyN(io.Discard, r, off-b.pos)
		b.pos += n
		if err != nil {
			return 0, err
		}
	}
	if off != b.pos || !b.streaming {
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			return 0, err
		}
		b.pos, b.streaming = off, true
	}
	n, err := io.ReadFull(r, p)
	b.pos += int64(n)
	b.lastEnd = b.pos
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// reader returns the file reader of the content cid, opening it (and
// closing the one of other content) if needed.
func (h *handle) reader(cid string) (*content.FileReader, error) {
	b := &h.blocks
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.r != nil && b.cid == cid {
		return b.r, nil
	}
	if b.r != nil {
		b.r.Close()
		b.r = nil
	}
	root, err := content.ParseCID(cid)
	if err != nil {
		return nil, fmt.Errorf("mount: content %q: %w", cid, err)
	}
	r, err := content.NewFileReader(h.ctx, h.cache, root, h.readAhead)
	if err != nil {
		return nil, err
	}
	b.cid, b.r, b.pos, b.streaming, b.lastEnd = cid, r, 0, false, 0
	return r, nil
}

// readCached reads at off through the block cache, if the file has no
// uncommitted changes; ok is false if it has (or there is no cache), and
// the caller reads it from the file.
func (h *handle) readCached(dest []byte, off int64) (n int, ok bool, err error) {
	if h.cache == nil {
		return 0, false, nil
	}
	cid, size, clean := h.f.Committed()
	if !clean {
		return 0, false, nil
	}
	if off >= size || cid == "" {
		return 0, true, io.EOF
	}
	r, err := h.reader(cid)
	if err != nil {
		return 0, true, err
	}
	if r.Size() != size {
		return 0, true, fmt.Errorf("mount: content %s holds %d bytes, its inode says %d", cid, r.Size(), size)
	}
	n, err = h.blocks.readAt(r, dest[:min(int64(len(dest)), size-off)], off)
	return n, true, err
}

// closeReader stops the file reader, if any.
func (h *handle) closeReader() {
	h.blocks.mu.Lock()
	defer h.blocks.mu.Unlock()
	if h.blocks.r != nil {
		h.blocks.r.Close()
		h.blocks.r = nil
	}
}
