package content_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/internal/testrand"
)

func testRand(t *testing.T) *rand.Rand { return testrand.New(t) }

func randomBytes(r *rand.Rand, n int) []byte { return testrand.Bytes(r, n) }

// countingGetter counts the blocks fetched through it.
type countingGetter struct {
	content.BlockGetter
	mu      sync.Mutex
	fetched map[cid.Cid]int
}

func newCountingGetter(g content.BlockGetter) *countingGetter {
	return &countingGetter{BlockGetter: g, fetched: map[cid.Cid]int{}}
}

func (g *countingGetter) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	g.mu.Lock()
	g.fetched[c]++
	g.mu.Unlock()
	return g.BlockGetter.Get(ctx, c)
}

func (g *countingGetter) reset() map[cid.Cid]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.fetched
	g.fetched = map[cid.Cid]int{}
	return f
}

// bufferStore is a MemStore that is also a content.BufferGetter, like
// DiskStore, so that readers take their buffer-reuse path in tests.
type bufferStore struct{ *content.MemStore }

func newBufferStore() bufferStore { return bufferStore{content.NewMemStore()} }

func (s bufferStore) GetBuffer(ctx context.Context, c cid.Cid, buf []byte) (content.Block, error) {
	b, err := s.Get(ctx, c)
	if err != nil || cap(buf) < b.Size() {
		return b, err
	}
	return content.BlockFromCID(c, append(buf[:0], b.Data()...))
}
