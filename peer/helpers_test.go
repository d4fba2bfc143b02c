package peer

import (
	"context"
	"fmt"
	"iter"
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
