package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/gc"
)

// leased reports whether nd's collector protects c by a lease at now.
func leased(nd *Node, c cid.Cid, now time.Time) bool {
	nd.gc.mu.Lock()
	defer nd.gc.mu.Unlock()
	ok, _ := nd.gc.leases.Protects(c, now, 0)
	return ok
}

// A Leaser keeps the blocks it pushed leased at their homes past the
// lease time, and its Done says when a write quorum no longer holds them.
func TestLeaserRenewsAndChecks(t *testing.T) {
	const ttl = time.Second
	var (
		clockMu sync.Mutex
		skew    time.Duration // how far the writer's clock is ahead
	)
	first := true
	m := newTestMesh(t, 3, func(cfg *Config) {
		cfg.GC = &gc.Config{Roots: 4, FPRate: 0.01, Grace: time.Hour, LeaseTTL: ttl}
		cfg.GCNamespace, cfg.GCInterval = "lease-test", time.Hour
		if first { // the writer's clock
			first = false
			cfg.Now = func() time.Time {
				clockMu.Lock()
				defer clockMu.Unlock()
				return time.Now().Add(skew)
			}
		}
	})
	writer := m.nodes[0]
	ctx := context.Background()
	var blocks []content.Block
	for i := range 5 {
		b, err := content.NewRawBlock(fmt.Appendf(nil, "leased block %d", i))
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
	}

	l := writer.NewLeaser()
	pushed := time.Now()
	for _, b := range blocks {
		if err := l.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// The third home gets its pushes after Put returns (W = 2).
	waitFor(t, 10*time.Second, func() error {
		for _, nd := range m.nodes {
			for _, b := range blocks {
				if !leased(nd, b.CID(), time.Now()) {
					return fmt.Errorf("%s is not leased at %s yet", b.CID(), nd.ID())
				}
			}
		}
		return nil
	})
	// Past two lease times, every home still leases every block: the
	// Leaser renewed them.
	waitFor(t, 10*time.Second, func() error {
		now := time.Now()
		for _, nd := range m.nodes {
			for _, b := range blocks {
				if !leased(nd, b.CID(), now) {
					t.Fatalf("%v after the push, %s is not leased at %s", now.Sub(pushed), b.CID(), nd.ID())
				}
			}
		}
		if now.Sub(pushed) < 2*ttl+ttl/3 {
			return fmt.Errorf("only %v since the push", now.Sub(pushed))
		}
		return nil
	})
	if err := l.Committed(ctx, 7); err != nil {
		t.Fatalf("Committed with every block held: %v", err)
	}
	// Released at index 7, the blocks stay protected past any expiry
	// until a holder trusts a summary as of index 7.
	released(t, m, blocks, 7)

	// A second write whose blocks two of the three homes lose while its
	// operation waits: Done, past a third of the lease time, says so.
	l = writer.NewLeaser()
	for _, b := range blocks {
		if err := l.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range m.stores[1:] {
		for _, b := range blocks[:2] {
			if err := st.Delete(ctx, b.CID()); err != nil {
				t.Fatal(err)
			}
		}
	}
	clockMu.Lock()
	skew = time.Hour
	clockMu.Unlock()
	err := l.Committed(ctx, 8)
	if !errors.Is(err, ErrLeaseShort) {
		t.Fatalf("Committed with 2 blocks on 1 of 3 homes: %v, want ErrLeaseShort", err)
	}
	t.Log(err)
}

// released waits until every node protects every block until it trusts a
// summary as of index, however late it is.
func released(t *testing.T, m *testMesh, blocks []content.Block, index uint64) {
	t.Helper()
	late := time.Now().Add(100 * 365 * 24 * time.Hour)
	waitFor(t, 10*time.Second, func() error {
		for _, nd := range m.nodes {
			for _, b := range blocks {
				nd.gc.mu.Lock()
				before, _ := nd.gc.leases.Protects(b.CID(), late, index-1)
				after, _ := nd.gc.leases.Protects(b.CID(), late, index)
				nd.gc.mu.Unlock()
				if !before || after {
					return fmt.Errorf("%s at %s: protected under a summary as of %d: %v, of %d: %v", b.CID(), nd.ID(), index-1, before, index, after)
				}
			}
		}
		return nil
	})
}

// Committed right after the pushes returns at once, the push's leases being
// fresh, and releases the blocks in the background.
func TestLeaserCommittedSoonReturnsAtOnce(t *testing.T) {
	m := newTestMesh(t, 3, func(cfg *Config) {
		cfg.GC = &gc.Config{Roots: 4, FPRate: 0.01, Grace: time.Hour, LeaseTTL: time.Hour}
		cfg.GCNamespace, cfg.GCInterval = "lease-test", time.Hour
	})
	ctx := context.Background()
	l := m.nodes[0].NewLeaser()
	b, _ := content.NewRawBlock([]byte("fresh"))
	if err := l.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, st := range m.stores {
		if err := st.Delete(ctx, b.CID()); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Committed(ctx, 3); err != nil {
		t.Fatalf("Committed within a third of the lease time: %v (it should not have waited)", err)
	}
	released(t, m, []content.Block{b}, 3)
}
