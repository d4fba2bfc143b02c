package peer

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"meshfs/content"
)

// testMesh is n nodes on loopback with memory stores, each bootstrapped to
// the first.
type testMesh struct {
	t      testing.TB
	nodes  []*Node
	stores []*content.MemStore
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.RepairInterval = time.Hour // passes run when the test asks
	cfg.RequestTimeout = 10 * time.Second
	return cfg
}

func newTestMesh(t *testing.T, n int, tweak func(*Config)) *testMesh {
	t.Helper()
	m := &testMesh{t: t}
	for i := range n {
		m.add(tweak)
		_ = i
	}
	m.waitConnected()
	return m
}

// add starts one more node, bootstrapped to the first.
func (m *testMesh) add(tweak func(*Config)) *Node {
	m.t.Helper()
	cfg := testConfig()
	if len(m.nodes) > 0 {
		cfg.Bootstrap = []peer.AddrInfo{{ID: m.nodes[0].ID(), Addrs: m.nodes[0].Host().Addrs()}}
	}
	if tweak != nil {
		tweak(&cfg)
	}
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		m.t.Fatal(err)
	}
	st := content.NewMemStore()
	nd, err := New(context.Background(), cfg, key, st, nil)
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() { nd.Close() })
	m.nodes = append(m.nodes, nd)
	m.stores = append(m.stores, st)
	return nd
}

// waitConnected waits until every live node sees every other as a candidate.
func (m *testMesh) waitConnected() {
	m.t.Helper()
	// Everyone dials everyone, as the testnet's routing-table refreshes
	// would after a while.
	for _, a := range m.nodes {
		for _, b := range m.nodes {
			if a != b && a.ctx.Err() == nil && b.ctx.Err() == nil {
				_ = a.Host().Connect(context.Background(), peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()})
			}
		}
	}
	live := 0
	for _, nd := range m.nodes {
		if nd.ctx.Err() == nil {
			live++
		}
	}
	m.waitCandidates(live)
}

// waitFor polls cond until it returns nil or the deadline passes.
func waitFor(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
