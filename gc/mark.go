package gc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
)

// MarkOptions tune [Mark].
type MarkOptions struct {
	// FetchLeaves fetches raw-codec blocks too. A raw block has no links,
	// so the walk does not need its bytes: by default it is marked live
	// from the link that reaches it, its size taken from the link's Tsize
	// (capped at content.MaxBlockSize), and it is not fetched. With
	// FetchLeaves, every raw block is fetched, its exact size recorded, and
	// a missing one reported by [Live.Missing] (for repair; it does not
	// make the mark incomplete, see [Live.Complete]).
	FetchLeaves bool
}

// MarkStats counts what a [Mark] did.
type MarkStats struct {
	Blocks  int // distinct blocks in the live set, missing ones included
	Fetched int // blocks fetched through the getter
	Reused  int // blocks taken from the previous live set, not fetched
	Assumed int // raw blocks marked from their link without fetching
	Missing int // blocks that could not be fetched or decoded
}

// Live is the live set a [Mark] computed: every block reachable from its
// roots, each with its size. It is immutable once returned and safe for
// concurrent readers. It keeps the links of every dag-pb node it decoded,
// so that the next Mark, given it as prev, walks known subtrees in memory
// without fetching them again.
type Live struct {
	roots   []cid.Cid
	leaves  map[key]uint32 // raw blocks: size, | sizeFromLink if not fetched
	nodes   map[key]pbNode // dag-pb nodes with all their links resolved
	missing map[ref]missingBlock
	// unresolved counts the dag-pb nodes in missing: nodes whose links are
	// unknown or partly unknown, so whose subtrees are not all marked.
	unresolved int
	bytes      int64
	stats      MarkStats
}

// ref is a block as the walk sees it: its digest and whether it is a dag-pb
// node (else a raw leaf). The same digest under both codecs is two refs.
type ref struct {
	k  key
	pb bool
}

func (r ref) cid() cid.Cid {
	if r.pb {
		return r.k.cid(content.CodecDagPB)
	}
	return r.k.cid(content.CodecRaw)
}

// refOf returns c as a ref, or false if it is not a CID meshfs stores.
func refOf(c cid.Cid) (ref, bool) {
	k, pb, ok := parseCID(c)
	return ref{k: k, pb: pb}, ok
}

// pbNode is a decoded dag-pb node: its size and its children.
type pbNode struct {
	size  uint32
	links []ref
}

// missingBlock is a block reached but not (fully) known.
type missingBlock struct {
	err  error
	size uint32 // bytes, if the block was fetched
}

// sizeFromLink flags a leaf whose size was taken from its parent's link
// rather than from its bytes. Sizes are at most content.MaxBlockSize, far
// below this bit.
const sizeFromLink = 1 << 31

// MissingBlock is a block a [Mark] reached but could not fetch or decode,
// or a dag-pb node with a link to a CID meshfs cannot store.
type MissingBlock struct {
	CID cid.Cid
	Err error
}

// Mark walks the DAGs under roots (namespace roots, pins, other CIDs to
// keep) through g and returns every block reachable from them: its live
// set. Each block is visited once, however many parents link to it.
//
// Given prev, the live set of an earlier Mark (over any roots), Mark does
// not fetch again a dag-pb node prev decoded: a CID names immutable bytes,
// so a node prev knows has the same links now, and its subtree is walked in
// memory. Successive namespace roots share most of their blocks, so a mark
// after one more commit fetches only the new nodes. prev is only read.
//
// Raw-codec blocks have no links and are not fetched unless
// opts.FetchLeaves (see [MarkOptions]).
//
// A block Mark cannot get (the getter's error wraps content.ErrNotFound, or
// any other error that is not the context's), whose bytes do not match its
// CID, or whose dag-pb encoding does not decode, is recorded in
// [Live.Missing] and the walk goes on past it; a dag-pb node with a link to
// a CID meshfs cannot store is recorded the same way (its other links are
// walked). When a recorded block is a dag-pb node, the blocks below it are
// unknown and [Live.Complete] reports false: such a live set must not be
// used to collect anything ([NewSummary] refuses it). The block itself is
// in the live set all the same. A root that is not a CID meshfs stores is
// an error, and so is the context's end.
func Mark(ctx context.Context, g content.BlockGetter, roots []cid.Cid, prev *Live, opts MarkOptions) (*Live, error) {
	l := &Live{
		leaves:  make(map[key]uint32, prev.hint(true)),
		nodes:   make(map[key]pbNode, prev.hint(false)),
		missing: make(map[ref]missingBlock),
	}
	w := walker{ctx: ctx, g: g, prev: prev, opts: opts, l: l}
	seen := make(map[ref]bool, len(roots))
	for _, c := range roots {
		r, ok := refOf(c)
		if !ok {
			return nil, fmt.Errorf("gc: mark: root %s: %w", c, content.CheckCID(c))
		}
		if !seen[r] {
			seen[r] = true
			l.roots = append(l.roots, c)
		}
		w.reach(r, 0)
	}
	for n := 0; len(w.stack) > 0; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("gc: mark: %w", err)
			}
		}
		it := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		if err := w.visit(it); err != nil {
			return nil, fmt.Errorf("gc: mark: %w", err)
		}
	}
	l.stats.Blocks = l.Len()
	l.stats.Missing = len(l.missing)
	return l, nil
}

// walker is one Mark's walk: a depth-first traversal with its own stack.
type walker struct {
	ctx   context.Context
	g     content.BlockGetter
	prev  *Live
	opts  MarkOptions
	l     *Live
	stack []item
}

// item is a block to visit and the size its link gave.
type item struct {
	r    ref
	size uint32
}

// reach handles a link to r: a raw leaf that needs no fetch is marked at
// once, anything else is stacked.
func (w *walker) reach(r ref, linkSize uint64) {
	size := uint32(min(linkSize, content.MaxBlockSize))
	if !r.pb && !w.opts.FetchLeaves {
		if !w.l.has(r) && !w.reuseLeaf(r.k) {
			w.l.addLeaf(r.k, size|sizeFromLink)
			w.l.stats.Assumed++
		}
		return
	}
	if !w.l.has(r) {
		w.stack = append(w.stack, item{r: r, size: size})
	}
}

// reuseLeaf copies leaf k from prev if prev knows it well enough.
func (w *walker) reuseLeaf(k key) bool {
	if w.prev == nil {
		return false
	}
	s, ok := w.prev.leaves[k]
	if !ok || w.opts.FetchLeaves && s&sizeFromLink != 0 {
		return false
	}
	w.l.addLeaf(k, s)
	w.l.stats.Reused++
	return true
}

func (w *walker) visit(it item) error {
	l, r := w.l, it.r
	if l.has(r) {
		return nil // stacked twice before its first visit
	}
	if !r.pb {
		if w.reuseLeaf(r.k) {
			return nil
		}
		blk, err := w.fetch(r)
		if err != nil {
			return l.addMissing(r, err, 0)
		}
		l.addLeaf(r.k, uint32(blk.Size()))
		return nil
	}
	if w.prev != nil {
		if n, ok := w.prev.nodes[r.k]; ok {
			l.nodes[r.k] = n
			l.bytes += int64(n.size)
			l.stats.Reused++
			for _, c := range n.links {
				w.reachKnown(c)
			}
			return nil
		}
	}
	blk, err := w.fetch(r)
	if err != nil {
		return l.addMissing(r, err, 0)
	}
	pb, err := content.DecodePBNode(blk.Data())
	if err != nil {
		return l.addMissing(r, err, uint32(blk.Size()))
	}
	n := pbNode{size: uint32(blk.Size()), links: make([]ref, 0, len(pb.Links))}
	var bad error
	for _, link := range pb.Links {
		c, ok := refOf(link.CID)
		if !ok {
			if bad == nil {
				bad = fmt.Errorf("link %q to %s: %w", link.Name, link.CID, content.CheckCID(link.CID))
			}
			continue
		}
		n.links = append(n.links, c)
		w.reach(c, link.Tsize)
	}
	if bad != nil {
		// Not kept in nodes, so that the next mark fetches it again and
		// finds it incomplete again.
		return l.addMissing(r, bad, n.size)
	}
	l.nodes[r.k] = n
	l.bytes += int64(n.size)
	return nil
}

// reachKnown handles a link of a node taken from prev; a raw leaf's size
// comes from prev too.
func (w *walker) reachKnown(r ref) {
	if !r.pb {
		if w.l.has(r) || w.reuseLeaf(r.k) {
			return
		}
		if !w.opts.FetchLeaves {
			// prev knew the node but recorded this leaf missing (it was
			// marked with FetchLeaves). Without the link's Tsize at hand
			// the leaf's size is unknown.
			w.l.addLeaf(r.k, sizeFromLink)
			w.l.stats.Assumed++
			return
		}
	}
	if !w.l.has(r) {
		w.stack = append(w.stack, item{r: r})
	}
}

// fetch gets r's block; errors other than the context's are returned for
// the caller to record, the context's end stops the mark.
func (w *walker) fetch(r ref) (content.Block, error) {
	c := r.cid()
	w.l.stats.Fetched++
	blk, err := w.g.Get(w.ctx, c)
	if err == nil && !blk.CID().Equals(c) {
		err = fmt.Errorf("%w: asked for %s, got %s", content.ErrHashMismatch, c, blk.CID())
	}
	if err != nil {
		if cerr := w.ctx.Err(); cerr != nil {
			return content.Block{}, ctxError{cerr}
		}
		return content.Block{}, err
	}
	return blk, nil
}

// ctxError carries the end of the context through addMissing, which
// returns it instead of recording a missing block.
type ctxError struct{ err error }

func (e ctxError) Error() string { return e.err.Error() }
func (e ctxError) Unwrap() error { return e.err }

func (l *Live) has(r ref) bool {
	if _, ok := l.missing[r]; ok {
		return true
	}
	if r.pb {
		_, ok := l.nodes[r.k]
		return ok
	}
	_, ok := l.leaves[r.k]
	return ok
}

func (l *Live) addLeaf(k key, s uint32) {
	l.leaves[k] = s
	l.bytes += int64(s &^ sizeFromLink)
}

// addMissing records r as missing, or returns err if it is the context's.
func (l *Live) addMissing(r ref, err error, size uint32) error {
	var ce ctxError
	if errors.As(err, &ce) {
		return ce.err
	}
	l.missing[r] = missingBlock{err: err, size: size}
	l.bytes += int64(size)
	if r.pb {
		l.unresolved++
	}
	return nil
}

// hint sizes a new Mark's maps after prev's.
func (l *Live) hint(leaves bool) int {
	if l == nil {
		return 0
	}
	if leaves {
		return len(l.leaves)
	}
	return len(l.nodes)
}

// Complete reports whether every dag-pb node under the roots was fetched
// and decoded, so that every reachable block is in the set. Only a
// complete live set may be used to collect. A missing raw block does not
// make a mark incomplete: it has no links, so nothing below it can be
// missed.
func (l *Live) Complete() bool { return l.unresolved == 0 }

// Missing returns the blocks the mark could not fetch or decode, ordered
// by CID bytes.
func (l *Live) Missing() []MissingBlock {
	out := make([]MissingBlock, 0, len(l.missing))
	for r, m := range l.missing {
		out = append(out, MissingBlock{CID: r.cid(), Err: m.err})
	}
	slices.SortFunc(out, func(a, b MissingBlock) int { return bytes.Compare(a.CID.Bytes(), b.CID.Bytes()) })
	return out
}

// Roots returns the roots the set was marked from, without repeats, in
// the order given.
func (l *Live) Roots() []cid.Cid { return slices.Clone(l.roots) }

// Len returns the number of distinct blocks (CIDs) in the set, missing
// ones included.
func (l *Live) Len() int { return len(l.leaves) + len(l.nodes) + len(l.missing) }

// Bytes returns the blocks' total size: exact for fetched blocks, from the
// parent's link for raw blocks not fetched.
func (l *Live) Bytes() int64 { return l.bytes }

// Stats returns what the mark did.
func (l *Live) Stats() MarkStats { return l.stats }

// Has reports whether block c is in the set.
func (l *Live) Has(c cid.Cid) bool {
	r, ok := refOf(c)
	return ok && l.has(r)
}

// Size returns the size of block c if it is in the set. For a raw block
// not fetched it is its link's Tsize (0 if the link gave none).
func (l *Live) Size(c cid.Cid) (int64, bool) {
	r, ok := refOf(c)
	if !ok {
		return 0, false
	}
	if m, ok := l.missing[r]; ok {
		return int64(m.size), true
	}
	if r.pb {
		n, ok := l.nodes[r.k]
		return int64(n.size), ok
	}
	s, ok := l.leaves[r.k]
	return int64(s &^ sizeFromLink), ok
}

// MayBeLive implements [LiveSet] exactly: it is false only for a sha2-256
// multihash of full length that no block in the set has. Any other bytes
// (another hash function, a truncated digest) are answered true, since
// only a meshfs block can be judged dead.
func (l *Live) MayBeLive(m mh.Multihash) bool {
	k, ok := keyOfMultihash(m)
	if !ok {
		return true
	}
	return l.hasKey(k)
}

func (l *Live) hasKeyMaybe(k key) bool { return l.hasKey(k) }

func (l *Live) hasKey(k key) bool {
	if _, ok := l.leaves[k]; ok {
		return true
	}
	if _, ok := l.nodes[k]; ok {
		return true
	}
	if len(l.missing) > 0 {
		if _, ok := l.missing[ref{k: k}]; ok {
			return true
		}
		if _, ok := l.missing[ref{k: k, pb: true}]; ok {
			return true
		}
	}
	return false
}

// All yields every block in the set with its size ([Live.Size]), in no
// particular order.
func (l *Live) All() iter.Seq2[cid.Cid, int64] {
	return func(yield func(cid.Cid, int64) bool) {
		for k, s := range l.leaves {
			if !yield(k.cid(content.CodecRaw), int64(s&^sizeFromLink)) {
				return
			}
		}
		for k, n := range l.nodes {
			if !yield(k.cid(content.CodecDagPB), int64(n.size)) {
				return
			}
		}
		for r, m := range l.missing {
			if !yield(r.cid(), int64(m.size)) {
				return
			}
		}
	}
}

// keys yields every digest in the set, a digest under both codecs twice.
func (l *Live) keys(yield func(key)) {
	for k := range l.leaves {
		yield(k)
	}
	for k := range l.nodes {
		yield(k)
	}
	for r := range l.missing {
		yield(r.k)
	}
}

// digests counts the distinct digests in the set.
func (l *Live) digests() int {
	n := l.Len()
	for k := range l.nodes {
		if _, ok := l.leaves[k]; ok {
			n--
		}
	}
	for r := range l.missing {
		if !r.pb {
			if _, ok := l.nodes[r.k]; ok {
				n--
			} else if _, ok := l.missing[ref{k: r.k, pb: true}]; ok {
				n--
			}
		} else if _, ok := l.leaves[r.k]; ok {
			n--
		}
	}
	return n
}

func (l *Live) String() string {
	s := fmt.Sprintf("live set of %d roots: %d blocks, %d bytes", len(l.roots), l.Len(), l.bytes)
	if !l.Complete() {
		s += fmt.Sprintf(", incomplete (%d nodes unresolved)", l.unresolved)
	}
	return s
}
