package content

import (
	"context"
	"iter"

	"github.com/ipfs/go-cid"
)

// Store holds blocks by CID. Implementations are safe for concurrent use.
// Get returns ErrNotFound (wrapped) for a missing block; Put of a block
// already held is a no-op; Delete of a missing block is not an error.
type Store interface {
	BlockGetter
	BlockPutter
	Has(ctx context.Context, c cid.Cid) (bool, error)
	Delete(ctx context.Context, c cid.Cid) error
	// All yields the CID of every block held, in no particular order.
	// Blocks put or deleted during the iteration may or may not be seen.
	All(ctx context.Context) iter.Seq2[cid.Cid, error]
	// Stat counts the blocks held and their bytes.
	Stat(ctx context.Context) (StoreStat, error)
	Close() error
}

// BufferGetter is an optional ability of a BlockGetter: reading a block
// into a buffer the caller owns, so that a reader streaming a large file
// reuses a few buffers instead of allocating one per block. The returned
// block's data aliases buf when cap(buf) is large enough; the caller must
// not reuse buf while it still uses the block.
type BufferGetter interface {
	GetBuffer(ctx context.Context, c cid.Cid, buf []byte) (Block, error)
}

// StoreStat is a store's size accounting.
type StoreStat struct {
	Blocks int64
	Bytes  int64
}
