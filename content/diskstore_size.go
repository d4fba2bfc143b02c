package content

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ipfs/go-cid"
)

// BlockSize implements Sizer: the size of block c's file, not read or
// verified.
func (s *DiskStore) BlockSize(_ context.Context, c cid.Cid) (int64, error) {
	if err := s.usable(c); err != nil {
		return 0, err
	}
	fi, err := os.Lstat(s.path(c.String()))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, c)
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
