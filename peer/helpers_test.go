package peer

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// allBlocks yields every block CID stored on any node of m, once.
func allBlocks(t *testing.T, m *testMesh) iter.Seq2[cid.Cid, error] {
	return func(yield func(cid.Cid, error) bool) {
		seen := map[cid.Cid]bool{}
		for _, st := range m.stores {
			for c, err := range st.All(context.Background()) {
				if err != nil {
					yield(cid.Undef, err)
					return
				}
				if seen[c] {
					continue
				}
				seen[c] = true
				if !yield(c, nil) {
					return
				}
			}
		}
	}
}

// newRand returns a random source seeded from MESHFS_SEED or the clock; the
// seed is logged so a failure can be replayed.
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MESHFS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MESHFS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (set MESHFS_SEED to replay)", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// testutilCounter reads a Prometheus counter's value.
func testutilCounter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// waitCandidates waits until every live node sees n candidates.
func (m *testMesh) waitCandidates(n int) {
	m.t.Helper()
	waitFor(m.t, 20*time.Second, func() error {
		for i, nd := range m.nodes {
			if nd.ctx.Err() != nil {
				continue
			}
			if got := len(nd.candidates()); got != n {
				return fmt.Errorf("node %d sees %d candidates, want %d", i, got, n)
			}
		}
		return nil
	})
}
