package browser

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	meshpeer "meshfs/peer"
)

// cachingBlocks reads blocks from the local store first (and from those
// waiting to be written to it), then from the gateways (when the node has
// them), then from the mesh, and has what it fetched cached; it writes
// blocks to their home peers (the durable copies) and has them cached.
// Every block is verified against its CID: the store's on reading, the
// gateways' here, the mesh's by the mesh node.
type cachingBlocks struct {
	store    content.Store
	mesh     meshBlocks
	gateways *Gateways      // nil: none
	hash     content.Hasher // verifies the gateways' blocks; nil: crypto/sha256
	cache    *cacheWriter
	logf     func(string, ...any)
}

var _ content.BufferGetter = (*cachingBlocks)(nil)

// meshBlocks is what cachingBlocks uses of the mesh node
// (*meshpeer.Node): Get, which verifies what it fetches, and Put, which
// pushes a block to its home peers.
type meshBlocks interface {
	content.BlockGetter
	content.BlockPutter
}

var _ meshBlocks = (*meshpeer.Node)(nil)

func (b *cachingBlocks) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	return b.GetBuffer(ctx, c, nil)
}

// GetBuffer implements content.BufferGetter: a block from the store is
// read into buf.
func (b *cachingBlocks) GetBuffer(ctx context.Context, c cid.Cid, buf []byte) (content.Block, error) {
	b.cache.begin()
	defer b.cache.end()
	if blk, ok := b.local(ctx, c, buf); ok {
		return blk, nil
	}
	return b.remote(ctx, c)
}

// local returns c from the store (into buf, if the store can) or from the
// blocks waiting to be written to it.
func (b *cachingBlocks) local(ctx context.Context, c cid.Cid, buf []byte) (content.Block, bool) {
	if blk, ok := b.cache.get(c); ok {
		return blk, true
	}
	// Has first: a miss costs no error (the store formats one).
	if ok, _ := b.store.Has(ctx, c); !ok {
		return content.Block{}, false
	}
	var blk content.Block
	var err error
	if bg, ok := b.store.(content.BufferGetter); ok && buf != nil {
		blk, err = bg.GetBuffer(ctx, c, buf)
	} else {
		blk, err = b.store.Get(ctx, c)
	}
	return blk, err == nil
}

// remote fetches c from a gateway, or else from the mesh, and has it
// cached.
func (b *cachingBlocks) remote(ctx context.Context, c cid.Cid) (content.Block, error) {
	if err := ctx.Err(); err != nil {
		return content.Block{}, err
	}
	if b.gateways != nil {
		blk, err := b.fromGateways(ctx, c)
		if err == nil {
			b.cache.keep(blk)
			return blk, nil
		}
		if ctx.Err() != nil {
			return content.Block{}, ctx.Err()
		}
		if !errors.Is(err, ErrGatewaysDown) {
			b.logf("block %s from the mesh: %v", c, err)
		}
	}
	// The mesh node looks in the store again, and verifies what it fetches.
	blk, err := b.mesh.Get(ctx, c)
	if err != nil {
		return content.Block{}, err
	}
	b.cache.keep(blk)
	return blk, nil
}

// fromGateways fetches c from the gateways and verifies it.
func (b *cachingBlocks) fromGateways(ctx context.Context, c cid.Cid) (content.Block, error) {
	if err := content.CheckCID(c); err != nil {
		return content.Block{}, err
	}
	data, err := b.gateways.FetchRaw(ctx, c)
	if err != nil {
		return content.Block{}, err
	}
	return b.verify(c, data)
}

// verify checks that data hashes to c.
func (b *cachingBlocks) verify(c cid.Cid, data []byte) (content.Block, error) {
	if b.hash != nil {
		return content.BlockFromCIDHasher(c, data, b.hash)
	}
	return content.BlockFromCID(c, data)
}

func (b *cachingBlocks) Put(ctx context.Context, blk content.Block) error {
	if err := b.mesh.Put(ctx, blk); err != nil {
		return err
	}
	b.cache.keep(blk)
	return nil
}

// streamBlocks is the getter of one read: the blocks the store does not
// hold come from a CAR stream of the bytes read, from one gateway, and
// those the stream does not give (it failed, or holds a block wrong) the
// way cachingBlocks gets them. Blocks whose bytes the stream holds outside
// Go's memory are copied into the reader's buffers (GetBuffer), which it
// uses again block after block.
type streamBlocks struct {
	*cachingBlocks
	car *carStream
}

var _ content.BufferGetter = streamBlocks{}

func (b streamBlocks) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	return b.GetBuffer(ctx, c, nil)
}

// GetBuffer implements content.BufferGetter.
func (b streamBlocks) GetBuffer(ctx context.Context, c cid.Cid, buf []byte) (content.Block, error) {
	b.cache.begin()
	defer b.cache.end()
	if blk, ok := b.local(ctx, c, buf); ok {
		return blk, nil
	}
	if cb, ok := b.car.take(ctx, c); ok {
		blk, err := b.fromCAR(c, cb, buf)
		if err == nil {
			return blk, nil
		}
		b.logf("block %s from the CAR stream: %v", c, err)
	}
	return b.remote(ctx, c)
}

// fromCAR verifies block c as the stream gave it and has it cached.
func (b streamBlocks) fromCAR(c cid.Cid, cb carBlock, buf []byte) (content.Block, error) {
	data := cb.data
	// A body is cached as it is, if the store takes one; then the block's
	// bytes may live in the reader's buffer, else in a slice of their own.
	asBody := cb.body != nil && b.cache.takesBodies()
	if cb.body != nil {
		n := cb.body.Len()
		if n > content.MaxBlockSize {
			return content.Block{}, fmt.Errorf("%w: %s is %d bytes, limit %d", content.ErrBlockTooLarge, c, n, content.MaxBlockSize)
		}
		if !asBody || cap(buf) < n {
			buf = make([]byte, n)
		}
		data = buf[:cb.body.CopyTo(buf[:n])]
	}
	var blk content.Block
	var err error
	if cb.sum != nil {
		blk, err = content.BlockFromCIDHasher(c, data, hashed(cb.sum, cb.size()))
	} else {
		blk, err = b.verify(c, data)
	}
	if err != nil {
		return content.Block{}, err
	}
	if asBody {
		b.cache.keepBody(c, cb.body, cb.sum)
	} else {
		b.cache.keep(blk)
	}
	return blk, nil
}

// hashed is the content.Hasher of bytes hashed already: sum is the SHA-256
// that the transport computed of the n bytes it then copied, unchanged,
// into the slice a Get verifies (in the browser, WebCrypto's digest of the
// very Uint8Array that is copied into Go: hashing the copy again would
// only cost the page's thread a copy back into JavaScript and a round
// trip). Any other slice is refused.
func hashed(sum *[sha256.Size]byte, n int) content.Hasher {
	return func(data []byte) ([sha256.Size]byte, error) {
		if len(data) != n {
			return [sha256.Size]byte{}, fmt.Errorf("browser: asked to hash %d bytes, hashed %d", len(data), n)
		}
		return *sum, nil
	}
}
