package fsclient

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

const (
	// smallContent is the size up to which an open file reads its whole
	// content with its first read and serves every later read from memory.
	smallContent = 256 << 10
	// maxSkip is how far forward a sequential read discards bytes of the
	// stream it has rather than starting another.
	maxSkip = 256 << 10
	// window is the aligned span a small ReadAt fetches and keeps, and
	// windows how many of them an open file keeps: random reads of a few
	// bytes cost one request per window, not one each.
	window  = 256 << 10
	windows = 4
)

// content reads one version of a file's bytes, named by its CID, through
// the daemon's /api/v0/cat: small content whole with the first read,
// sequential reads from one streamed answer, other reads as ranges of at
// least a window, kept for the reads after. Content is immutable, so what
// it keeps never goes stale. It is not safe for concurrent use.
type content struct {
	c    *Client
	ctx  context.Context
	cid  string // "" for empty content
	size int64

	whole  []byte        // all of it, once read (small content)
	stream io.ReadCloser // a streamed answer, positioned at pos
	pos    int64
	kept   []keptWindow // the latest windows read, oldest first
	// lastEnd is where the last read ended.
	lastEnd int64
}

// keptWindow is the content at off.
type keptWindow struct {
	off  int64
	data []byte
}

// readFull fills p with the bytes at off (off+len(p) must not pass the
// end); sequential says the caller reads on from there.
func (r *content) readFull(p []byte, off int64, sequential bool) error {
	if len(p) == 0 {
		return nil
	}
	if off < 0 || off+int64(len(p)) > r.size {
		return fmt.Errorf("fsclient: read of %d bytes at %d past the end of %d", len(p), off, r.size)
	}
	if r.size <= smallContent {
		if r.whole == nil {
			b, err := r.fetch(0, -1)
			if err != nil {
				return err
			}
			r.whole = b
		}
		copy(p, r.whole[off:])
		return nil
	}
	// Reads that pick up where the last one ended (a kernel reading a
	// mounted file in order, with ReadAt) stream too.
	if !sequential && off > 0 && (off == r.lastEnd || r.stream != nil && off == r.pos) {
		sequential = true
	}
	r.lastEnd = off + int64(len(p))
	if !sequential && len(p) >= window {
		b, err := r.fetch(off, int64(len(p)))
		if err != nil {
			return err
		}
		copy(p, b)
		return nil
	}
	if !sequential {
		return r.readWindows(p, off)
	}
	if r.stream != nil && off > r.pos && off-r.pos <= maxSkip {
		n, err := io.CopyN(io.Discard, r.stream, off-r.pos)
		r.pos += n
		if err != nil {
			r.closeStream()
		}
	}
	if r.stream == nil || r.pos != off {
		r.closeStream()
		resp, err := r.open(off, -1)
		if err != nil {
			return err
		}
		r.stream, r.pos = resp.Body, off
	}
	n, err := io.ReadFull(r.stream, p)
	r.pos += int64(n)
	if err != nil {
		r.closeStream()
		return r.short(err)
	}
	return nil
}

// readWindows fills p from the windows it spans, fetching those not kept.
func (r *content) readWindows(p []byte, off int64) error {
	for len(p) > 0 {
		start := off / window * window
		w, err := r.windowAt(start)
		if err != nil {
			return err
		}
		n := copy(p, w[off-start:])
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// windowAt returns the window at start, fetching it if it is not kept.
func (r *content) windowAt(start int64) ([]byte, error) {
	for _, k := range r.kept {
		if k.off == start {
			return k.data, nil
		}
	}
	b, err := r.fetch(start, window)
	if err != nil {
		return nil, err
	}
	if len(r.kept) == windows {
		r.kept = append(r.kept[:0], r.kept[1:]...)
	}
	r.kept = append(r.kept, keptWindow{off: start, data: b})
	return b, nil
}

// fetch reads n bytes at off (n < 0: to the end) in one request.
func (r *content) fetch(off, n int64) ([]byte, error) {
	resp, err := r.open(off, n)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	want := r.size - off
	if n >= 0 {
		want = min(want, n)
	}
	b := make([]byte, want)
	if _, err := io.ReadFull(resp.Body, b); err != nil {
		return nil, r.short(err)
	}
	return b, nil
}

// open asks for n bytes at off (n < 0: to the end) and checks the size the
// answer gives for the content.
func (r *content) open(off, n int64) (*http.Response, error) {
	q := url.Values{"arg": {r.cid}, "offset": {strconv.FormatInt(off, 10)}}
	if n >= 0 {
		q.Set("length", strconv.FormatInt(n, 10))
	}
	resp, err := r.c.do(r.ctx, request{method: http.MethodGet, path: apiCat, query: q})
	if err != nil {
		return nil, err
	}
	if s := resp.Header.Get("X-Meshfs-Size"); s != "" && s != strconv.FormatInt(r.size, 10) {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: content %s holds %s bytes, its inode says %d", ErrBadAnswer, r.cid, s, r.size)
	}
	return resp, nil
}

// short reports an answer that ended early.
func (r *content) short(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: content %s ended early", ErrBadAnswer, r.cid)
	}
	return err
}

func (r *content) closeStream() {
	if r.stream != nil {
		r.stream.Close()
		r.stream = nil
	}
}
