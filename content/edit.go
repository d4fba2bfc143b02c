package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/ipfs/go-cid"
)

// WriteAt returns the file at root with data written at off, storing the
// new blocks in dst. Writing past the end fills the gap with zeros, as
// POSIX does; off equal to the file's size appends; an empty data leaves
// the size as it is. root may be cid.Undef, the empty file.
//
// The result is exactly what Import of the resulting bytes with the same
// opts returns, so the file stays `ipfs add --cid-version=1 --raw-leaves`
// compatible, but only the changed part is rewritten: WriteAt fetches (and
// verifies) the internal nodes on the paths to the edges of the change, the
// leaves whose old bytes it keeps partly, and reuses every other subtree by
// the CID and size its parent links it with. It stores only the new leaves,
// the nodes above them and the new right edge of the tree. Leaves fully
// covered by data are made by Import, several at once; memory use beyond
// data is a few chunks per tree level plus Import's buffers.
//
// That reuse needs the old DAG to be the one Import makes with opts'
// ChunkSize and LinksPerNode. Every node WriteAt fetches is checked against
// that layout (its children's number, sizes and codecs, and its encoding);
// if one differs (a file added with another chunker, chunk size or fan-out,
// dag-pb leaves, data in nodes, a single raw block larger than a chunk),
// WriteAt falls back to reading the whole file through g and re-importing
// it with the change applied: the same result, at the cost of a full read
// and import. The check ends where fetching ends: a reused subtree, and
// the cumulative size its parent links it with, are trusted to be what the
// importer makes, as its size suggests. Blocks the file cannot hold
// (CIDv0, identity hashes) fail as they do in NewFileReader.
//
// opts.Progress is not called. On error some new blocks may have been
// stored; nothing refers to them.
func WriteAt(ctx context.Context, g BlockGetter, dst BlockPutter, root cid.Cid, off int64, data []byte, opts ImportOptions) (FileRoot, error) {
	if off < 0 {
		return FileRoot{}, fmt.Errorf("%w: write at negative offset %d", ErrInvalidOption, off)
	}
	if int64(len(data)) > maxEditSize-off {
		return FileRoot{}, fmt.Errorf("%w: write of %d bytes at %d ends past the largest file", ErrInvalidOption, len(data), off)
	}
	return edit(ctx, g, dst, root, change{off: off, data: data, size: -1}, opts)
}

// Truncate returns the file at root cut or extended with zeros to size
// bytes, storing the new blocks in dst, as WriteAt does: the result is what
// Import of the resulting bytes returns, and only the new right edge of
// the tree is made.
func Truncate(ctx context.Context, g BlockGetter, dst BlockPutter, root cid.Cid, size int64, opts ImportOptions) (FileRoot, error) {
	if size < 0 || size > maxEditSize {
		return FileRoot{}, fmt.Errorf("%w: truncate to %d bytes", ErrInvalidOption, size)
	}
	return edit(ctx, g, dst, root, change{size: size}, opts)
}

// maxEditSize is the largest file WriteAt and Truncate make or edit; the
// margin keeps chunk-rounded offsets within int64.
const maxEditSize = math.MaxInt64 - MaxChunkSize

// errNotCanonical says that the old DAG is not the layout Import makes with
// the edit's options, so the edit falls back to a full re-import.
var errNotCanonical = errors.New("content: file not in the importer's layout")

// change is an edit: data written at off, or (size >= 0) a new size.
type change struct {
	off  int64
	data []byte
	size int64
}

// newSize returns the file's size after the change, given its old size.
func (ch change) newSize(old int64) int64 {
	switch {
	case ch.size >= 0:
		return ch.size
	case len(ch.data) == 0:
		return old
	default:
		return max(old, ch.off+int64(len(ch.data)))
	}
}

func edit(ctx context.Context, g BlockGetter, dst BlockPutter, root cid.Cid, ch change, opts ImportOptions) (FileRoot, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return FileRoot{}, err
	}
	if opts.LinksPerNode < 2 {
		return FileRoot{}, fmt.Errorf("%w: links per node %d, want at least 2", ErrInvalidOption, opts.LinksPerNode)
	}
	opts.Progress = nil
	e := &editor{
		ctx: ctx, g: g, dst: dst, opts: opts,
		c: int64(opts.ChunkSize), f: int64(opts.LinksPerNode),
		nodes: make(map[nodeKey]*fileNode), leaves: make(map[int64][]byte), zeros: make(map[int]fileChild),
	}
	err = e.open(root, ch)
	if errors.Is(err, errNotCanonical) {
		return rewrite(ctx, g, dst, root, ch, opts)
	}
	if err != nil {
		return FileRoot{}, err
	}
	if e.newSize == 0 {
		empty, err := NewRawBlock([]byte{})
		if err != nil {
			return FileRoot{}, err
		}
		if !empty.CID().Equals(root) {
			if err := dst.Put(ctx, empty); err != nil {
				return FileRoot{}, err
			}
		}
		return FileRoot{CID: empty.CID()}, nil
	}
	// A dry walk first fetches and checks every old block the edit needs,
	// so that a layout mismatch falls back before anything is stored.
	e.dry = true
	if _, err := e.node(e.newDepth, 0); err != nil {
		if errors.Is(err, errNotCanonical) {
			return rewrite(ctx, g, dst, root, ch, opts)
		}
		return FileRoot{}, err
	}
	e.dry = false
	top, err := e.node(e.newDepth, 0)
	if err != nil {
		return FileRoot{}, err
	}
	return FileRoot{CID: top.link.CID, FileSize: top.fileSize, Tsize: top.link.Tsize}, nil
}

// editor rebuilds a file DAG in the balanced layout after a change. Node
// (h, i) is the i-th node at height h (leaves are height 0); in a file of n
// leaves it covers leaves [i*F^h, min((i+1)*F^h, n)), and the root is the
// one node at the smallest height whose span holds every leaf. A node is
// thus a function of its height and its leaves: a new node whose leaves
// and coverage are the old node's is the old node.
type editor struct {
	ctx  context.Context
	g    BlockGetter
	dst  BlockPutter
	opts ImportOptions
	c, f int64 // chunk size, links per node

	root      cid.Cid
	rootNode  *fileNode // the old root when it is a dag-pb node
	rootData  []byte    // the old root when it is a raw leaf
	rootTsize uint64

	oldSize, newSize     int64
	oldLeaves, newLeaves int64
	oldDepth, newDepth   int     // height of the root; -1 for no old leaves
	span                 []int64 // span[h] = F^h, leaves under a full node of height h
	wOff, wEnd           int64   // bytes written with data; empty for none
	data                 []byte

	dry    bool                  // fetch and check old blocks only
	nodes  map[nodeKey]*fileNode // old internal nodes fetched
	leaves map[int64][]byte      // old leaves fetched
	zeros  map[int]fileChild     // all-zero full subtrees made, by height
	buf    []byte                // a leaf being assembled
}

type nodeKey struct {
	h int
	i int64
}

// open fetches the old root, checks it and sizes the old and new trees.
func (e *editor) open(root cid.Cid, ch change) error {
	e.root = root
	switch {
	case !root.Defined():
	case CheckCID(root) != nil:
		return errNotCanonical // the fallback reports what the reader makes of it
	default:
		blk, err := getChecked(e.ctx, e.g, root, nil)
		if err != nil {
			return err
		}
		if root.Prefix().Codec == CodecRaw {
			e.rootData, e.oldSize, e.rootTsize = blk.Data(), int64(blk.Size()), uint64(blk.Size())
			if e.oldSize > e.c {
				return errNotCanonical
			}
			break
		}
		if e.rootNode, err = decodeFileNode(blk); err != nil {
			return err
		}
		if e.rootNode.size > maxEditSize {
			return fmt.Errorf("%w: %s holds %d bytes, past the largest file", ErrInvalidOption, root, e.rootNode.size)
		}
		e.oldSize, e.rootTsize = int64(e.rootNode.size), uint64(blk.Size())
		for _, l := range e.rootNode.links {
			e.rootTsize += l.Tsize
		}
	}
	e.newSize = ch.newSize(e.oldSize)
	e.data = ch.data
	e.wOff, e.wEnd = e.newSize, e.newSize
	if len(ch.data) > 0 {
		e.wOff, e.wEnd = ch.off, ch.off+int64(len(ch.data))
	}
	e.oldLeaves, e.newLeaves = ceilDiv(e.oldSize, e.c), ceilDiv(e.newSize, e.c)
	e.span = []int64{1}
	e.oldDepth, e.newDepth = e.depth(e.oldLeaves), e.depth(e.newLeaves)
	if e.rootNode != nil {
		if e.oldDepth < 1 {
			return errNotCanonical // a dag-pb node over fewer than two leaves
		}
		return e.check(e.rootNode, root, e.oldDepth, 0)
	}
	return nil
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// depth returns the height of the root over n leaves (-1 for none), and
// extends span up to it.
func (e *editor) depth(n int64) int {
	if n == 0 {
		return -1
	}
	h := 0
	for ; e.span[h] < n; h++ {
		if h+1 == len(e.span) {
			next := int64(math.MaxInt64) // a span past every file
			if e.span[h] <= math.MaxInt64/e.f {
				next = e.span[h] * e.f
			}
			e.span = append(e.span, next)
		}
	}
	return h
}

// leafRange returns node (h, i)'s leaves [lo, hi) in a file of n leaves.
func (e *editor) leafRange(h int, i, n int64) (lo, hi int64) {
	lo = i * e.span[h]
	return lo, min(lo+e.span[h], n)
}

// newRange returns the leaves [lo, hi) and the bytes [a, b) under new
// node (h, i).
func (e *editor) newRange(h int, i int64) (lo, hi, a, b int64) {
	lo, hi = e.leafRange(h, i, e.newLeaves)
	return lo, hi, lo * e.c, min(hi*e.c, e.newSize)
}

// oldEnd returns the end of the bytes under old node (h, i), or -1 if the
// old tree has no such node.
func (e *editor) oldEnd(h int, i int64) int64 {
	if h > e.oldDepth || i*e.span[h] >= e.oldLeaves {
		return -1
	}
	_, hi := e.leafRange(h, i, e.oldLeaves)
	return min(hi*e.c, e.oldSize)
}

// written reports whether data overlaps [a, b).
func (e *editor) written(a, b int64) bool { return e.wOff < e.wEnd && a < e.wEnd && e.wOff < b }

// node returns new node (h, i), made or reused; in a dry walk it only
// fetches the old blocks that needs and returns a zero fileChild.
func (e *editor) node(h int, i int64) (fileChild, error) {
	if err := e.ctx.Err(); err != nil {
		return fileChild{}, err
	}
	lo, hi, a, b := e.newRange(h, i)
	switch {
	case !e.written(a, b) && e.oldEnd(h, i) == b:
		return e.oldChild(h, i) // same leaves, same bytes: the old node
	case h == 0:
		return e.leaf(i, a, b)
	case e.dry && (a >= e.oldSize || e.wOff <= a && b <= e.wEnd):
		return fileChild{}, nil // no old bytes below
	case e.wOff <= a && b <= e.wEnd:
		return e.importData(h, a, b)
	case a >= e.oldSize && !e.written(a, b) && hi-lo == e.span[h] && b-a == (hi-lo)*e.c:
		return e.zeroTree(h)
	}
	var kids []fileChild
	for k := range e.f {
		j := i*e.f + k
		if j*e.span[h-1] >= e.newLeaves {
			break
		}
		kid, err := e.node(h-1, j)
		if err != nil {
			return fileChild{}, err
		}
		kids = append(kids, kid)
	}
	if e.dry {
		return fileChild{}, nil
	}
	return e.put(kids)
}

// put makes and stores the file node over kids.
func (e *editor) put(kids []fileChild) (fileChild, error) {
	blk, fc, err := fileNodeBlock(kids)
	if err == nil {
		err = e.dst.Put(e.ctx, blk)
	}
	return fc, err
}

// fileNodeBlock returns the file node over children, encoded as the
// FileBuilder encodes it.
func fileNodeBlock(children []fileChild) (Block, fileChild, error) {
	b := FileBuilder{levels: [][]fileChild{children}}
	return b.closeLevel(0)
}

// leaf returns new leaf i, bytes [a, b): old bytes where kept, data where
// written, zeros past the old end.
func (e *editor) leaf(i, a, b int64) (fileChild, error) {
	needOld := a < e.oldSize && !(e.wOff <= a && min(b, e.oldSize) <= e.wEnd)
	if e.dry {
		if needOld {
			_, err := e.oldLeaf(i)
			return fileChild{}, err
		}
		return fileChild{}, nil
	}
	if a >= e.oldSize && !e.written(a, b) && b-a == e.c {
		return e.zeroTree(0)
	}
	var blk Block
	var err error
	if e.wOff <= a && b <= e.wEnd {
		blk, err = NewRawBlock(e.data[a-e.wOff : b-e.wOff])
	} else {
		if e.buf == nil {
			e.buf = make([]byte, e.c)
		}
		buf := e.buf[:b-a]
		clear(buf)
		if needOld {
			old, err := e.oldLeaf(i)
			if err != nil {
				return fileChild{}, err
			}
			copy(buf, old)
		}
		if e.written(a, b) {
			from, to := max(a, e.wOff), min(b, e.wEnd)
			copy(buf[from-a:], e.data[from-e.wOff:to-e.wOff])
		}
		blk, err = NewRawBlock(buf)
	}
	if err == nil {
		err = e.dst.Put(e.ctx, blk)
	}
	if err != nil {
		return fileChild{}, err
	}
	return fileChild{link: Link{CID: blk.CID(), Tsize: uint64(b - a)}, fileSize: uint64(b - a)}, nil
}

// importData returns new node (h, ...) over bytes [a, b), all written
// with data: Import of those bytes, under a chain of one-child nodes when
// they are too few leaves to need height h.
func (e *editor) importData(h int, a, b int64) (fileChild, error) {
	leaves := ceilDiv(b-a, e.c)
	opts := e.opts
	opts.Parallel = int(min(int64(opts.Parallel), leaves))
	r, err := Import(e.ctx, bytes.NewReader(e.data[a-e.wOff:b-e.wOff]), e.dst, opts)
	if err != nil {
		return fileChild{}, err
	}
	fc := fileChild{link: Link{CID: r.CID, Tsize: r.Tsize}, fileSize: r.FileSize}
	for range h - e.depth(leaves) {
		if fc, err = e.put([]fileChild{fc}); err != nil {
			return fileChild{}, err
		}
	}
	return fc, nil
}

// zeroTree returns the full subtree of height h holding only zeros, made
// and stored once per edit.
func (e *editor) zeroTree(h int) (fileChild, error) {
	if fc, ok := e.zeros[h]; ok {
		return fc, nil
	}
	var fc fileChild
	if h == 0 {
		blk, err := NewRawBlock(make([]byte, e.c))
		if err == nil {
			err = e.dst.Put(e.ctx, blk)
		}
		if err != nil {
			return fileChild{}, err
		}
		fc = fileChild{link: Link{CID: blk.CID(), Tsize: uint64(e.c)}, fileSize: uint64(e.c)}
	} else {
		kid, err := e.zeroTree(h - 1)
		if err != nil {
			return fileChild{}, err
		}
		kids := make([]fileChild, e.f)
		for k := range kids {
			kids[k] = kid
		}
		if fc, err = e.put(kids); err != nil {
			return fileChild{}, err
		}
	}
	e.zeros[h] = fc
	return fc, nil
}

// oldChild returns old node (h, i) as its parent links it.
func (e *editor) oldChild(h int, i int64) (fileChild, error) {
	if h == e.oldDepth {
		return fileChild{link: Link{CID: e.root, Tsize: e.rootTsize}, fileSize: uint64(e.oldSize)}, nil
	}
	parent, err := e.oldNode(h+1, i/e.f)
	if err != nil {
		return fileChild{}, err
	}
	l := parent.links[i%e.f]
	return fileChild{link: Link{CID: l.CID, Tsize: l.Tsize}, fileSize: parent.sizes[i%e.f]}, nil
}

// oldNode returns old internal node (h, i), fetched and checked once.
func (e *editor) oldNode(h int, i int64) (*fileNode, error) {
	if h == e.oldDepth {
		return e.rootNode, nil
	}
	key := nodeKey{h, i}
	if n, ok := e.nodes[key]; ok {
		return n, nil
	}
	fc, err := e.oldChild(h, i)
	if err != nil {
		return nil, err
	}
	blk, err := getChecked(e.ctx, e.g, fc.link.CID, nil)
	if err != nil {
		return nil, err
	}
	n, err := decodeFileNode(blk)
	if err != nil {
		return nil, err
	}
	if err := e.check(n, blk.CID(), h, i); err != nil {
		return nil, err
	}
	e.nodes[key] = n
	return n, nil
}

// oldLeaf returns the bytes of old leaf i, fetched once.
func (e *editor) oldLeaf(i int64) ([]byte, error) {
	if e.oldDepth == 0 {
		return e.rootData, nil
	}
	if d, ok := e.leaves[i]; ok {
		return d, nil
	}
	fc, err := e.oldChild(0, i)
	if err != nil {
		return nil, err
	}
	blk, err := getChecked(e.ctx, e.g, fc.link.CID, nil)
	if err != nil {
		return nil, err
	}
	if uint64(blk.Size()) != fc.fileSize {
		return nil, malformed("leaf %s is %d bytes, its parent says %d", blk.CID(), blk.Size(), fc.fileSize)
	}
	e.leaves[i] = blk.Data()
	return blk.Data(), nil
}

// check returns errNotCanonical unless n, fetched as c, is old node (h, i)
// as the importer lays it out: the expected children, raw leaves under
// height 1 and dag-pb nodes above, encoded as FileBuilder encodes them.
func (e *editor) check(n *fileNode, c cid.Cid, h int, i int64) error {
	lo, hi := e.leafRange(h, i, e.oldLeaves)
	if len(n.data) != 0 || int64(len(n.links)) != ceilDiv(hi-lo, e.span[h-1]) {
		return fmt.Errorf("%w: %s", errNotCanonical, c)
	}
	kids := make([]fileChild, len(n.links))
	for k, l := range n.links {
		j := i*e.f + int64(k)
		klo, khi := e.leafRange(h-1, j, e.oldLeaves)
		size := uint64(min(khi*e.c, e.oldSize) - klo*e.c)
		codec := l.CID.Prefix().Codec
		switch {
		case n.sizes[k] != size,
			h == 1 && (codec != CodecRaw || l.Tsize != size),
			h > 1 && codec != CodecDagPB:
			return fmt.Errorf("%w: %s child %d", errNotCanonical, c, k)
		}
		kids[k] = fileChild{link: Link{CID: l.CID, Tsize: l.Tsize}, fileSize: size}
	}
	blk, _, err := fileNodeBlock(kids)
	if err != nil {
		return err
	}
	if !blk.CID().Equals(c) {
		return fmt.Errorf("%w: %s is encoded differently", errNotCanonical, c)
	}
	return nil
}

// rewrite applies ch by reading the whole old file through g and importing
// the result: the fallback for files in another layout.
func rewrite(ctx context.Context, g BlockGetter, dst BlockPutter, root cid.Cid, ch change, opts ImportOptions) (FileRoot, error) {
	var (
		fr      *FileReader
		oldSize int64
		err     error
	)
	if root.Defined() {
		if fr, err = NewFileReader(ctx, g, root, 0); err != nil {
			return FileRoot{}, err
		}
		defer fr.Close()
		oldSize = fr.Size()
	}
	newSize := ch.newSize(oldSize)
	if newSize > maxEditSize {
		return FileRoot{}, fmt.Errorf("%w: %d bytes, past the largest file", ErrInvalidOption, newSize)
	}
	wOff, wEnd := newSize, newSize
	if len(ch.data) > 0 {
		wOff, wEnd = ch.off, ch.off+int64(len(ch.data))
	}
	keep := min(oldSize, newSize) // old bytes that stay, unless overwritten
	var (
		parts   []io.Reader
		closers []io.Closer
	)
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	old := func(from, to int64) error {
		if from >= to {
			return nil
		}
		r, err := fr.Range(from, to-from)
		if err != nil {
			return err
		}
		parts, closers = append(parts, r), append(closers, r)
		return nil
	}
	zeros := func(from, to int64) {
		if from < to {
			parts = append(parts, io.LimitReader(zeroReader{}, to-from))
		}
	}
	if err := old(0, min(wOff, keep)); err != nil {
		return FileRoot{}, err
	}
	zeros(min(wOff, keep), wOff)
	parts = append(parts, bytes.NewReader(ch.data))
	if err := old(wEnd, keep); err != nil {
		return FileRoot{}, err
	}
	zeros(max(wEnd, keep), newSize)
	return Import(ctx, io.MultiReader(parts...), dst, opts)
}

// zeroReader reads zeros forever.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
