package browser

import (
	"context"
	"errors"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	meshpeer "meshfs/peer"
)

// cachingBlocks reads blocks from the local store first and from the mesh
// otherwise, keeping what it fetched; and writes blocks to their home peers
// (the durable copies) and to the local store (a cache). The mesh verifies
// every block it fetches and the store every block it returns.
type cachingBlocks struct {
	store content.Store
	mesh  *meshpeer.Node
	logf  func(string, ...any)
}

func (b *cachingBlocks) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	// The mesh node looks in the store first itself.
	blk, err := b.mesh.Get(ctx, c)
	if err != nil {
		return content.Block{}, err
	}
	if ok, _ := b.store.Has(ctx, c); !ok {
		b.keep(ctx, blk)
	}
	return blk, nil
}

func (b *cachingBlocks) Put(ctx context.Context, blk content.Block) error {
	if err := b.mesh.Put(ctx, blk); err != nil {
		return err
	}
	b.keep(ctx, blk)
	return nil
}

// keep caches blk locally; a full or failing cache costs only speed.
func (b *cachingBlocks) keep(ctx context.Context, blk content.Block) {
	if err := b.store.Put(ctx, blk); err != nil && !errors.Is(err, context.Canceled) {
		b.logf("cache %s: %v", blk.CID(), err)
	}
}
