package content_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// testRand returns a seeded source and logs the seed so a failure can be
// rerun (MESHFS_SEED=N go test ...).
func testRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(rand.Int64())
	if s := os.Getenv("MESHFS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MESHFS_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (rerun with MESHFS_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

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
