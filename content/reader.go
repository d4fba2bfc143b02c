package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"sync"
	"sync/atomic"

	"github.com/ipfs/go-cid"
)

// BlockGetter fetches blocks by CID; stores and (later) the network
// implement it. A getter returns only verified blocks (a Block is verified
// by construction); the reader still checks it got the block it asked for.
type BlockGetter interface {
	Get(ctx context.Context, c cid.Cid) (Block, error)
}

// DefaultReadAhead is how many blocks a FileReader fetches at once.
const DefaultReadAhead = 8

// maxCachedNodes bounds the decoded internal nodes a FileReader keeps; each
// covers up to 174 leaves (43.5 MiB of a default file).
const maxCachedNodes = 64

// FileReader reads a UnixFS file DAG: streaming (io.Reader, io.WriterTo,
// io.Seeker) with read-ahead, and at random offsets (io.ReaderAt, safe for
// concurrent calls). Only the blocks that a read covers are fetched. It
// reads files laid out by any IPFS layout: raw or dag-pb leaves, data in
// internal nodes, any fan-out.
type FileReader struct {
	ctx       context.Context
	cancel    context.CancelFunc
	getter    BlockGetter
	root      *fileNode
	readAhead int

	mu    sync.Mutex // guards nodes and free
	nodes map[cid.Cid]*fileNode
	free  [][]byte // leaf buffers to reuse, when getter is a BufferGetter

	pos    int64
	stream *stream // the sequential stream at pos, nil after a Seek
	closed atomic.Bool
}

// fileNode is a decoded file node: its own content, then its children's.
type fileNode struct {
	data  []byte   // content held in the node itself
	links []Link   // children, in order
	sizes []uint64 // content bytes under each child
	size  uint64   // len(data) + sum(sizes)
}

// NewFileReader opens the file whose DAG root is root. readAhead is the
// number of blocks in flight (0 means DefaultReadAhead). The reader stops
// fetching when ctx ends or Close is called.
func NewFileReader(ctx context.Context, g BlockGetter, root cid.Cid, readAhead int) (*FileReader, error) {
	if readAhead <= 0 {
		readAhead = DefaultReadAhead
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &FileReader{ctx: ctx, cancel: cancel, getter: g, readAhead: readAhead, nodes: make(map[cid.Cid]*fileNode)}
	blk, err := getChecked(ctx, g, root, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	if root.Prefix().Codec == CodecRaw {
		r.root = &fileNode{data: blk.Data(), size: uint64(blk.Size())}
		return r, nil
	}
	if r.root, err = decodeFileNode(blk); err != nil {
		cancel()
		return nil, err
	}
	return r, nil
}

// Size returns the file's length in bytes.
func (r *FileReader) Size() int64 { return int64(r.root.size) }

// Close stops all fetching. Reads after Close fail with fs.ErrClosed.
func (r *FileReader) Close() error {
	r.closed.Store(true)
	r.cancel()
	return nil
}

// usable returns why the reader cannot read any more: closed, or its
// context ended.
func (r *FileReader) usable() error {
	if r.closed.Load() {
		return fs.ErrClosed
	}
	return r.ctx.Err()
}

// Read implements io.Reader, with read-ahead.
func (r *FileReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s, err := r.sequential()
	if err != nil {
		return 0, err
	}
	n, err := s.Read(p)
	r.pos += int64(n)
	return n, err
}

// WriteTo implements io.WriterTo: it writes the rest of the file to w
// without an intermediate copy.
func (r *FileReader) WriteTo(w io.Writer) (int64, error) {
	s, err := r.sequential()
	if err != nil {
		return 0, err
	}
	n, err := s.WriteTo(w)
	r.pos += n
	return n, err
}

func (r *FileReader) sequential() (*stream, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if r.stream != nil && r.stream.err != nil && !errors.Is(r.stream.err, io.EOF) {
		r.stream.close() // a failed stream is not reused: the next read retries
		r.stream = nil
	}
	if r.stream == nil {
		if r.pos >= r.Size() {
			return &stream{}, nil
		}
		s, err := r.newStream(r.ctx, uint64(r.pos), r.root.size)
		if err != nil {
			return nil, err
		}
		r.stream = s
	}
	return r.stream, nil
}

// Seek implements io.Seeker. Seeking past the end is allowed; reads there
// return io.EOF.
func (r *FileReader) Seek(offset int64, whence int) (int64, error) {
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = r.pos + offset
	case io.SeekEnd:
		pos = r.Size() + offset
	default:
		return r.pos, fmt.Errorf("content: seek: bad whence %d", whence)
	}
	if pos < 0 {
		return r.pos, fmt.Errorf("content: seek to negative offset %d", pos)
	}
	if pos != r.pos && r.stream != nil {
		r.stream.close()
		r.stream = nil
	}
	r.pos = pos
	return pos, nil
}

// ReadAt implements io.ReaderAt. It fetches the blocks under [off,
// off+len(p)) several at once and nothing else; concurrent calls are safe.
func (r *FileReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("content: read at negative offset %d", off)
	}
	if err := r.usable(); err != nil {
		return 0, err
	}
	if off >= r.Size() {
		return 0, io.EOF
	}
	end := min(uint64(off)+uint64(len(p)), r.root.size)
	s, err := r.newStream(r.ctx, uint64(off), end)
	if err != nil {
		return 0, err
	}
	defer s.close()
	n, err := io.ReadFull(s, p[:end-uint64(off)])
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// Range returns a reader of n bytes from off (fewer at the end of the
// file) that reads ahead but never fetches past off+n. Close it when done.
func (r *FileReader) Range(off, n int64) (io.ReadCloser, error) {
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("content: bad range offset %d length %d", off, n)
	}
	if err := r.usable(); err != nil {
		return nil, err
	}
	if off >= r.Size() || n == 0 {
		return &stream{}, nil
	}
	end := uint64(r.Size())
	if uint64(n) < end-uint64(off) {
		end = uint64(off) + uint64(n)
	}
	s, err := r.newStream(r.ctx, uint64(off), end)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// getChecked fetches c through g (into buf if g is a BufferGetter and buf
// is not nil) and checks that g answered with the block asked for.
func getChecked(ctx context.Context, g BlockGetter, c cid.Cid, buf []byte) (Block, error) {
	var (
		b   Block
		err error
	)
	if bg, ok := g.(BufferGetter); ok && buf != nil {
		b, err = bg.GetBuffer(ctx, c, buf)
	} else {
		b, err = g.Get(ctx, c)
	}
	if err != nil {
		return Block{}, err
	}
	if !b.CID().Equals(c) {
		return Block{}, fmt.Errorf("%w: asked for %s, got %s", ErrHashMismatch, c, b.CID())
	}
	return b, nil
}

// node returns the decoded dag-pb node c, which must hold size bytes of
// content, from the cache or the getter.
func (r *FileReader) node(ctx context.Context, c cid.Cid, size uint64) (*fileNode, error) {
	r.mu.Lock()
	n, ok := r.nodes[c]
	r.mu.Unlock()
	if !ok {
		blk, err := getChecked(ctx, r.getter, c, nil)
		if err != nil {
			return nil, err
		}
		if n, err = decodeFileNode(blk); err != nil {
			return nil, err
		}
		r.mu.Lock()
		if len(r.nodes) >= maxCachedNodes {
			for k := range r.nodes { // drop an arbitrary one
				delete(r.nodes, k)
				break
			}
		}
		r.nodes[c] = n
		r.mu.Unlock()
	}
	if n.size != size {
		return nil, malformed("node %s holds %d bytes, its parent says %d", c, n.size, size)
	}
	return n, nil
}

// buffer returns a buffer of at least size bytes for a leaf, or nil if the
// getter cannot fill one.
func (r *FileReader) buffer(size uint64) []byte {
	if _, ok := r.getter.(BufferGetter); !ok {
		return nil
	}
	size = min(size, MaxBlockSize)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.free) - 1; i >= 0; i-- {
		if b := r.free[i]; uint64(cap(b)) >= size {
			r.free = append(r.free[:i], r.free[i+1:]...)
			return b[:cap(b)]
		}
	}
	return make([]byte, size)
}

// release returns a leaf buffer for reuse; the free list holds a little
// more than one read-ahead window.
func (r *FileReader) release(b []byte) {
	if b == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.free) < 2*r.readAhead {
		r.free = append(r.free, b)
	}
}

// decodeFileNode decodes a dag-pb UnixFS file (or raw) node and checks that
// its sizes add up.
func decodeFileNode(b Block) (*fileNode, error) {
	if b.CID().Prefix().Codec != CodecDagPB {
		return nil, fmt.Errorf("%w: %s is not dag-pb", ErrNotFile, b.CID())
	}
	pb, err := DecodePBNode(b.Data())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.CID(), err)
	}
	if pb.Data == nil {
		return nil, fmt.Errorf("%w: %s has no UnixFS data", ErrNotFile, b.CID())
	}
	fsd, err := DecodeFSData(pb.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.CID(), err)
	}
	if fsd.Type != TypeFile && fsd.Type != TypeRaw {
		return nil, fmt.Errorf("%w: %s is a UnixFS %s", ErrNotFile, b.CID(), fsd.Type)
	}
	if len(fsd.BlockSizes) != len(pb.Links) {
		return nil, malformed("%s has %d links but %d block sizes", b.CID(), len(pb.Links), len(fsd.BlockSizes))
	}
	n := &fileNode{data: fsd.Data, links: pb.Links, sizes: fsd.BlockSizes, size: uint64(len(fsd.Data))}
	for i, s := range fsd.BlockSizes {
		if err := CheckCID(pb.Links[i].CID); err != nil {
			return nil, fmt.Errorf("%s link %d: %w", b.CID(), i, err)
		}
		if pb.Links[i].CID.Prefix().Codec == CodecRaw && s > MaxBlockSize {
			return nil, malformed("%s says raw leaf %d holds %d bytes, over the block limit", b.CID(), i, s)
		}
		if s > math.MaxInt64-n.size {
			return nil, malformed("%s sizes add up past the largest file", b.CID())
		}
		n.size += s
	}
	if fsd.FileSize != nil && *fsd.FileSize != n.size {
		return nil, malformed("%s says filesize %d, its parts add up to %d", b.CID(), *fsd.FileSize, n.size)
	}
	return n, nil
}

// piece is a run of file content: bytes already in hand, or a raw leaf to
// fetch of which the bytes [skip, skip+size) are wanted.
type piece struct {
	data   []byte
	leaf   cid.Cid
	skip   uint64
	size   uint64 // bytes wanted
	full   uint64 // the leaf's whole size, to check what arrives
	result chan pieceResult
}

type pieceResult struct {
	data []byte
	buf  []byte // the reader's buffer data lives in, to release when consumed
	err  error
}

// frame is a node on the cursor's path from the root.
type frame struct {
	n          *fileNode
	inlineFrom uint64 // first byte of n.data still to emit; len(n.data) when done
	next       int    // next child to visit
}

// stream reads [off, end) of the file: a cursor walks the DAG in order,
// and up to readAhead pieces are being fetched at once.
type stream struct {
	r      *FileReader
	ctx    context.Context
	cancel context.CancelFunc
	path   []frame
	skip   uint64 // bytes to skip at the start of the next piece
	left   uint64 // bytes the cursor has yet to hand out
	queue  []*piece
	cur    []byte // unread part of the head piece
	curBuf []byte // the buffer cur lives in, released once cur is used up
	err    error
}

func (r *FileReader) newStream(ctx context.Context, off, end uint64) (*stream, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{r: r, ctx: ctx, cancel: cancel, left: end - off}
	// Descend from the root to the piece that holds off.
	n := r.root
	for {
		if off < uint64(len(n.data)) {
			s.path = append(s.path, frame{n: n, inlineFrom: off})
			return s, nil
		}
		off -= uint64(len(n.data))
		i := 0
		for ; i < len(n.sizes) && off >= n.sizes[i]; i++ {
			off -= n.sizes[i]
		}
		if i == len(n.sizes) {
			cancel()
			return nil, malformed("offset past the end of a node")
		}
		if n.links[i].CID.Prefix().Codec == CodecRaw {
			s.path = append(s.path, frame{n: n, inlineFrom: uint64(len(n.data)), next: i})
			s.skip = off
			return s, nil
		}
		s.path = append(s.path, frame{n: n, inlineFrom: uint64(len(n.data)), next: i + 1})
		child, err := r.node(ctx, n.links[i].CID, n.sizes[i])
		if err != nil {
			cancel()
			return nil, err
		}
		n = child
	}
}

// nextPiece moves the cursor to the next piece of content, or returns nil
// at the end of the range.
func (s *stream) nextPiece() (*piece, error) {
	for s.left > 0 && len(s.path) > 0 {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		f := &s.path[len(s.path)-1]
		if f.inlineFrom < uint64(len(f.n.data)) {
			data := f.n.data[f.inlineFrom:]
			f.inlineFrom = uint64(len(f.n.data))
			data = data[:min(uint64(len(data)), s.left)]
			s.left -= uint64(len(data))
			return &piece{data: data, size: uint64(len(data))}, nil
		}
		if f.next >= len(f.n.links) {
			s.path = s.path[:len(s.path)-1]
			continue
		}
		i := f.next
		f.next++
		l, size := f.n.links[i].CID, f.n.sizes[i]
		if size == 0 {
			// No content below: never walk it (a DAG can link one empty
			// subtree many times over, to make a walk of it explode).
			continue
		}
		if l.Prefix().Codec == CodecRaw {
			p := &piece{leaf: l, skip: s.skip, full: size}
			s.skip = 0
			if p.skip > size {
				return nil, malformed("skip past the end of a leaf")
			}
			p.size = min(size-p.skip, s.left)
			s.left -= p.size
			return p, nil
		}
		child, err := s.r.node(s.ctx, l, size)
		if err != nil {
			return nil, err
		}
		s.path = append(s.path, frame{n: child})
	}
	return nil, nil
}

// fill starts fetches until readAhead pieces are queued or the range ends.
func (s *stream) fill() error {
	for len(s.queue) < s.r.readAhead {
		p, err := s.nextPiece()
		if err != nil || p == nil {
			return err
		}
		if p.data == nil && p.size > 0 {
			p.result = make(chan pieceResult, 1)
			go func() {
				buf := s.r.buffer(p.full)
				b, err := getChecked(s.ctx, s.r.getter, p.leaf, buf)
				res := pieceResult{buf: buf}
				switch {
				case err != nil:
					res.err = err
				case uint64(b.Size()) != p.full:
					res.err = malformed("leaf %s is %d bytes, its parent says %d", p.leaf, b.Size(), p.full)
				default:
					res.data = b.Data()[p.skip : p.skip+p.size]
				}
				p.result <- res
			}()
		}
		s.queue = append(s.queue, p)
	}
	return nil
}

// head waits for the first queued piece and makes it current.
func (s *stream) head() error {
	if s.err != nil {
		return s.err
	}
	for len(s.cur) == 0 {
		s.r.release(s.curBuf)
		s.curBuf = nil
		if err := s.fill(); err != nil {
			s.err = err
			s.close()
			return err
		}
		if len(s.queue) == 0 {
			s.err = io.EOF
			return io.EOF
		}
		p := s.queue[0]
		s.queue = s.queue[1:]
		if p.result != nil {
			res := <-p.result
			if res.err != nil {
				s.err = res.err
				s.close()
				return res.err
			}
			s.cur, s.curBuf = res.data, res.buf
		} else {
			s.cur = p.data
		}
	}
	return nil
}

func (s *stream) Read(p []byte) (int, error) {
	if s.r == nil {
		return 0, io.EOF
	}
	if err := s.head(); err != nil {
		return 0, err
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

func (s *stream) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for s.r != nil {
		if err := s.head(); err != nil {
			if errors.Is(err, io.EOF) {
				return total, nil
			}
			return total, err
		}
		n, err := w.Write(s.cur)
		total += int64(n)
		s.cur = s.cur[n:]
		if err != nil {
			s.close()
			return total, err
		}
	}
	return total, nil
}

func (s *stream) Close() error {
	s.close()
	return nil
}

func (s *stream) close() {
	if s.cancel != nil {
		s.cancel()
	}
}
