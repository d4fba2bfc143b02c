package content

import (
	"context"
	"iter"
	"sync"

	"github.com/ipfs/go-cid"
)

var _ Store = (*MemStore)(nil)

// MemStore is a Store in memory, for tests and caches. It copies blocks on
// Put, so callers may reuse their buffers.
type MemStore struct {
	mu     sync.RWMutex
	blocks map[cid.Cid][]byte
	bytes  int64
	closed bool
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{blocks: make(map[cid.Cid][]byte)} }

// Get implements BlockGetter.
func (s *MemStore) Get(_ context.Context, c cid.Cid) (Block, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return Block{}, ErrStoreClosed
	}
	d, ok := s.blocks[c]
	if !ok {
		return Block{}, notFound(c)
	}
	return Block{cid: c, data: d}, nil
}

// Put implements BlockPutter.
func (s *MemStore) Put(_ context.Context, b Block) error {
	if !b.Defined() {
		return ErrUnsupportedCID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStoreClosed
	}
	if _, ok := s.blocks[b.cid]; ok {
		return nil
	}
	s.blocks[b.cid] = append([]byte{}, b.data...)
	s.bytes += int64(len(b.data))
	return nil
}

// Has implements Store.
func (s *MemStore) Has(_ context.Context, c cid.Cid) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false, ErrStoreClosed
	}
	_, ok := s.blocks[c]
	return ok, nil
}

// Delete implements Store.
func (s *MemStore) Delete(_ context.Context, c cid.Cid) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStoreClosed
	}
	if d, ok := s.blocks[c]; ok {
		s.bytes -= int64(len(d))
		delete(s.blocks, c)
	}
	return nil
}

// All implements Store; it yields a snapshot of the keys.
func (s *MemStore) All(ctx context.Context) iter.Seq2[cid.Cid, error] {
	return func(yield func(cid.Cid, error) bool) {
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			yield(cid.Undef, ErrStoreClosed)
			return
		}
		keys := make([]cid.Cid, 0, len(s.blocks))
		for c := range s.blocks {
			keys = append(keys, c)
		}
		s.mu.RUnlock()
		for _, c := range keys {
			if err := ctx.Err(); err != nil {
				yield(cid.Undef, err)
				return
			}
			if !yield(c, nil) {
				return
			}
		}
	}
}

// Stat implements Store.
func (s *MemStore) Stat(context.Context) (StoreStat, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return StoreStat{}, ErrStoreClosed
	}
	return StoreStat{Blocks: int64(len(s.blocks)), Bytes: s.bytes}, nil
}

// Close implements Store; the blocks are dropped.
func (s *MemStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed, s.blocks = true, nil
	return nil
}
