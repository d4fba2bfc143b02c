package gateway

import (
	"context"
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
)

// getFunc fetches one block; the handler's fetcher adds a timeout and
// checks that the block is the one asked for.
type getFunc func(ctx context.Context, c cid.Cid) (content.Block, error)

// Get makes a getFunc a content.BlockGetter.
func (f getFunc) Get(ctx context.Context, c cid.Cid) (content.Block, error) { return f(ctx, c) }

// itemKind is how much of the DAG below a block a walk takes.
type itemKind int

const (
	itemBlock  itemKind = iota // the block alone
	itemAll                    // the block and everything it links to
	itemShards                 // a directory node and, if it is a HAMT, its sub-shards: not the entries
	itemFile                   // a file node and what holds the content bytes [from, to) below it
)

// walkItem is one block of a walk, with how much below it to take.
type walkItem struct {
	c        cid.Cid
	kind     itemKind
	from, to uint64 // itemFile: content bytes wanted, [from, to), relative to this node
	size     uint64 // itemFile: content bytes under the node, as its parent says

	emit    bool // false for a block already written, visited again for a part of a file below it
	fetched bool // blk (or err) is set; only the walk loop reads this
	blk     content.Block
	err     error
}

// full reports whether the item takes its whole subtree (in its kind).
func (it *walkItem) full() bool {
	return it.kind != itemFile || (it.from == 0 && it.to == it.size)
}

// mayHaveChildren reports whether expanding the item can add items.
func (it *walkItem) mayHaveChildren() bool {
	return it.kind != itemBlock && it.c.Prefix().Codec == content.CodecDagPB
}

// Block states in a walk without duplicates.
const (
	stateSent = 1 // written, or queued to be written
	stateFull = 2 // its whole subtree (in the walk's kind) is queued
)

// walker writes a DAG's blocks in depth-first pre-order (links in the
// order their node lists them) while fetching up to window blocks ahead.
//
// The order of the blocks ahead is known up to the first dag-pb node not
// yet fetched: its children come right after it. So the walker fetches
// only up to (and including) such a node, and lists its children as soon
// as it arrives, even while blocks before it are still being fetched or
// written. A fetched block never has to wait behind blocks found later,
// and at most window blocks are held at once.
type walker struct {
	get    getFunc
	window int
	dups   bool              // write a block each time the walk meets it
	state  map[cid.Cid]uint8 // without dups: what has been queued
}

func newWalker(get getFunc, window int, dups bool) *walker {
	return &walker{get: get, window: max(window, 1), dups: dups, state: make(map[cid.Cid]uint8)}
}

// claim is for a block written before the walk (one of a path's): it
// reports whether to write it, and if so the walk will not write it again.
func (w *walker) claim(c cid.Cid) bool {
	if w.dups {
		return true
	}
	if w.state[c] != 0 {
		return false
	}
	w.state[c] = stateSent
	return true
}

// admit decides whether the walk takes it and whether it writes its block.
func (w *walker) admit(it *walkItem) bool {
	if w.dups {
		it.emit = true
		return true
	}
	s := w.state[it.c]
	if s&stateFull != 0 || (s&stateSent != 0 && !it.mayHaveChildren()) {
		return false
	}
	it.emit = s&stateSent == 0
	s |= stateSent
	if it.full() {
		s |= stateFull
	}
	w.state[it.c] = s
	return true
}

// walk writes, through emit, root's block and the blocks below it that
// root's kind takes. root may come fetched. Before it waits for a fetch,
// it calls idle (if not nil), so that what it wrote can be flushed.
func (w *walker) walk(ctx context.Context, root *walkItem, emit func(content.Block) error, idle func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Every fetch reports here once; at most window are in flight.
	results := make(chan *walkItem, w.window)
	var (
		rest    = []*walkItem{root} // not yet queued, the next one last
		queue   []*walkItem         // fetched or being fetched, in write order
		pending *walkItem           // the last queued item, while its children are unknown
		err     error
	)
	for {
		for pending == nil && len(queue) < w.window && len(rest) > 0 {
			it := rest[len(rest)-1]
			rest[len(rest)-1] = nil
			rest = rest[:len(rest)-1]
			if !w.admit(it) {
				continue
			}
			queue = append(queue, it)
			if it.fetched {
				if rest, err = w.expand(it, rest); err != nil {
					return err
				}
				continue
			}
			go func() {
				it.blk, it.err = w.get(ctx, it.c)
				results <- it
			}()
			if it.mayHaveChildren() {
				pending = it
			}
		}
		if len(queue) == 0 {
			return nil
		}
		if head := queue[0]; head.fetched {
			queue[0] = nil
			queue = queue[1:]
			if head.emit {
				if err := emit(head.blk); err != nil {
					return err
				}
			}
			head.blk = content.Block{}
			continue
		}
		if idle != nil {
			idle()
		}
		var it *walkItem
		select {
		case it = <-results:
		case <-ctx.Done():
			return ctx.Err()
		}
		if it.err != nil {
			return it.err
		}
		it.fetched = true
		if it == pending {
			pending = nil
			if rest, err = w.expand(it, rest); err != nil {
				return err
			}
		}
	}
}

// expand pushes the items below the fetched it onto rest, so that its
// first child is the next one popped.
func (w *walker) expand(it *walkItem, rest []*walkItem) ([]*walkItem, error) {
	if !it.mayHaveChildren() {
		return rest, nil
	}
	if it.kind == itemAll { // any dag-pb node: only its links matter
		pb, err := content.DecodePBNode(it.blk.Data())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.c, err)
		}
		for i := len(pb.Links) - 1; i >= 0; i-- {
			if c := pb.Links[i].CID; !isIdentity(c) { // an identity CID's bytes are in the CID: never a block of a CAR
				rest = append(rest, &walkItem{c: c, kind: itemAll})
			}
		}
		return rest, nil
	}
	n, err := decodeNode(it.blk)
	if err != nil {
		return nil, err
	}
	var children []*walkItem
	switch it.kind {
	case itemShards:
		if n.kind != kindHAMT {
			break // a basic directory, or a link where a shard belongs: no shards below
		}
		shape, err := n.shape()
		if err != nil {
			return nil, err
		}
		for _, l := range n.pb.Links {
			if len(l.Name) == shape.pad && !isIdentity(l.CID) {
				children = append(children, &walkItem{c: l.CID, kind: itemShards})
			}
		}
	case itemFile:
		size, err := n.fileSize()
		if err != nil {
			return nil, err
		}
		if size != it.size {
			return nil, fmt.Errorf("%w: node %s holds %d bytes, its parent says %d", content.ErrMalformed, it.c, size, it.size)
		}
		off := uint64(len(n.fsd.Data))
		for i, l := range n.pb.Links {
			cs := n.fsd.BlockSizes[i]
			lo, hi := max(it.from, off), min(it.to, off+cs)
			if lo < hi && !isIdentity(l.CID) {
				children = append(children, &walkItem{c: l.CID, kind: itemFile, from: lo - off, to: hi - off, size: cs})
			}
			off += cs
		}
	}
	for i := len(children) - 1; i >= 0; i-- {
		rest = append(rest, children[i])
	}
	return rest, nil
}

func isIdentity(c cid.Cid) bool {
	h := c.Hash()
	return len(h) > 0 && h[0] == mh.IDENTITY
}
