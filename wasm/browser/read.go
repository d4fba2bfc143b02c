package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/member"
)

// ErrNotFile reports a read of something that is not a file.
var ErrNotFile = errors.New("not a file")

// readAt runs read at the strong level, and at the eventual level when
// no voter confirms it within the read timeout; it returns the level that
// answered.
func readAt[T any](ctx context.Context, n *Node, read func(context.Context, member.Level) (T, error)) (T, member.Level, error) {
	return strongOrEventual(ctx, n.cfg.ReadTimeout, n.cfg.Logf, read)
}

// strongOrEventual is readAt's policy: only a strong read that no voter
// confirmed in time falls back; its answers (a missing file, say) stand.
func strongOrEventual[T any](ctx context.Context, timeout time.Duration, logf func(string, ...any), read func(context.Context, member.Level) (T, error)) (T, member.Level, error) {
	sctx, cancel := context.WithTimeout(ctx, timeout)
	v, err := read(sctx, member.Strong)
	cancel()
	if err == nil || !errors.Is(err, member.ErrNoWriter) && !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return v, member.Strong, err
	}
	logf("no voter answered (%v): reading the last signed root", err)
	v, err = read(ctx, member.Eventual)
	return v, member.Eventual, err
}

// Stat describes path.
func (n *Node) Stat(ctx context.Context, path string) (member.Info, member.Level, error) {
	return readAt(ctx, n, func(ctx context.Context, l member.Level) (member.Info, error) {
		return n.ns.Stat(ctx, l, path)
	})
}

// List returns the entries of directory path.
func (n *Node) List(ctx context.Context, path string) ([]member.Info, member.Level, error) {
	return readAt(ctx, n, func(ctx context.Context, l member.Level) ([]member.Info, error) {
		return n.ns.List(ctx, l, path)
	})
}

// Root returns the namespace's current root.
func (n *Node) Root(ctx context.Context) (member.RootInfo, member.Level, error) {
	return readAt(ctx, n, func(ctx context.Context, l member.Level) (member.RootInfo, error) {
		return n.ns.Root(ctx, l)
	})
}

// Open returns a reader of file path (streaming, seekable, verified block
// by block) and its description. Its blocks come one by one; ReadFile and
// ReadRange fetch a whole range at once.
func (n *Node) Open(ctx context.Context, path string) (*content.FileReader, member.Info, error) {
	info, c, err := n.fileCID(ctx, path)
	if err != nil {
		return nil, info, err
	}
	r, err := n.OpenCID(ctx, c)
	return r, info, err
}

// fileCID describes file path and returns its content's root CID.
func (n *Node) fileCID(ctx context.Context, path string) (member.Info, cid.Cid, error) {
	info, _, err := n.Stat(ctx, path)
	if err != nil {
		return info, cid.Undef, err
	}
	if info.Kind != "file" {
		return info, cid.Undef, fmt.Errorf("open %s: %w", path, ErrNotFile)
	}
	c := info.ContentCID()
	if !c.Defined() {
		// A file created without content yet reads as empty.
		c, err = emptyFile()
	}
	return info, c, err
}

// OpenCID returns a reader of the file with root CID c.
func (n *Node) OpenCID(ctx context.Context, c cid.Cid) (*content.FileReader, error) {
	return content.NewFileReader(ctx, n.blocks, c, n.readAhead)
}

// ReadFile returns the whole content of file path.
func (n *Node) ReadFile(ctx context.Context, path string) ([]byte, error) {
	return n.ReadRange(ctx, path, 0, -1)
}

// ReadRange returns length bytes of file path from offset off (fewer at
// its end; length < 0: up to its end).
func (n *Node) ReadRange(ctx context.Context, path string, off, length int64) ([]byte, error) {
	r, size, err := n.OpenRange(ctx, path, off, length)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return buf.Bytes(), nil
}

// OpenRange returns a reader of length bytes of file path from offset off
// (fewer at its end; length < 0: up to its end), and how many it reads, as
// OpenRangeCID does. Close it when done.
func (n *Node) OpenRange(ctx context.Context, path string, off, length int64) (io.ReadCloser, int64, error) {
	_, c, err := n.fileCID(ctx, path)
	if err != nil {
		return nil, 0, err
	}
	return n.OpenRangeCID(ctx, c, off, length)
}

// OpenRangeCID returns a reader of length bytes of the file with root CID
// c from offset off (fewer at its end; length < 0: up to its end), and how
// many it reads; it reads ahead but never past the range. With gateways,
// the blocks the store does not hold come as one CAR stream of the range,
// from the first gateway that answers; each block is verified as it is
// used, and one the stream does not give is fetched as Get fetches it.
// Close it when done.
func (n *Node) OpenRangeCID(ctx context.Context, c cid.Cid, off, length int64) (io.ReadCloser, int64, error) {
	if off < 0 {
		return nil, 0, fmt.Errorf("read at negative offset %d", off)
	}
	ctx, cancel := context.WithCancel(ctx)
	// The blocks read are cached once the read is over.
	n.blocks.cache.begin()
	rr := &rangeReader{cancel: cancel, cacheEnd: n.blocks.cache.end, logf: n.cfg.Logf, root: c}
	var g content.BlockGetter = n.blocks
	if rr.car = n.streamCAR(ctx, c, off, length); rr.car != nil {
		g = streamBlocks{n.blocks, rr.car}
	}
	fr, err := content.NewFileReader(ctx, g, c, n.readAhead)
	if err != nil {
		rr.Close()
		return nil, 0, err
	}
	rr.file = fr
	size := max(fr.Size()-off, 0)
	if length >= 0 {
		size = min(size, length)
	}
	if rr.ReadCloser, err = fr.Range(off, size); err != nil {
		rr.Close()
		return nil, 0, err
	}
	return rr, size, nil
}

// rangeReader is a FileReader's range, and the CAR stream that feeds it.
type rangeReader struct {
	io.ReadCloser
	file     *content.FileReader
	car      *carStream // nil: none
	cancel   context.CancelFunc
	cacheEnd func()
	logf     func(string, ...any)
	root     cid.Cid
	closed   bool
}

// WriteTo implements io.WriterTo, without a copy between the range and w.
func (r *rangeReader) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := r.ReadCloser.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, struct{ io.Reader }{r.ReadCloser})
}

func (r *rangeReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.ReadCloser != nil {
		r.ReadCloser.Close()
	}
	if r.file != nil {
		r.file.Close()
	}
	if r.car != nil {
		if err := r.car.failure(); err != nil && !errors.Is(err, context.Canceled) {
			r.logf("file %s: the CAR stream failed (%v): its other blocks came one by one", r.root, err)
		}
		r.car.stop()
	}
	r.cancel()
	r.cacheEnd()
	return nil
}

// streamCAR starts a CAR stream of [off, off+length) of file c from the
// gateways, or returns nil: without gateways, when none answers, or when
// the store holds c (then likely its other blocks too, which a stream
// would fetch again).
func (n *Node) streamCAR(ctx context.Context, c cid.Cid, off, length int64) *carStream {
	if n.blocks.gateways == nil || length == 0 {
		return nil
	}
	if _, ok := n.blocks.local(ctx, c, nil); ok {
		return nil
	}
	to := int64(-1)
	if length > 0 {
		to = off + length - 1
	}
	sr, err := n.blocks.gateways.StreamCAR(ctx, c, off, to)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, ErrGatewaysDown) {
			n.cfg.Logf("file %s from the mesh: %v", c, err)
		}
		return nil
	}
	// Room for the blocks the reader asks for at once, however large.
	return newCARStream(ctx, sr, max(carWindow, int64(n.readAhead+1)*content.MaxBlockSize))
}

// emptyFile is the CID of no bytes.
func emptyFile() (cid.Cid, error) {
	b, err := content.NewRawBlock(nil)
	return b.CID(), err
}
