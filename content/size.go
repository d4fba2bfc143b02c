package content

import (
	"context"

	"github.com/ipfs/go-cid"
)

// Sizer is an optional ability of a Store: a block's size without reading
// its bytes.
type Sizer interface {
	BlockSize(ctx context.Context, c cid.Cid) (int64, error)
}

// BlockSize returns the size of block c in s: through Sizer when s has it,
// else by reading the block. A missing block is ErrNotFound.
func BlockSize(ctx context.Context, s BlockGetter, c cid.Cid) (int64, error) {
	if z, ok := s.(Sizer); ok {
		return z.BlockSize(ctx, c)
	}
	b, err := s.Get(ctx, c)
	if err != nil {
		return 0, err
	}
	return int64(b.Size()), nil
}
