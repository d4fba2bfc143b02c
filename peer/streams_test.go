package peer

import (
	"bufio"
	"context"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"meshfs/content"
)

// race returns as soon as one peer answered: the losers are cancelled, not
// waited for. A home that never answers must not hold up a Get that a
// hedged peer answered (before the fix it did, until the request timeout).
func TestRaceDoesNotWaitForLosers(t *testing.T) {
	m := newTestMesh(t, 2, nil)
	stalled := make(chan struct{})
	slow := newRogue(t, m, func(w *bufio.Writer, c cid.Cid, data []byte) error {
		<-stalled // until the test ends
		return writeFrame(w, blockHeader(statusNotFound, c))
	})
	t.Cleanup(func() { close(stalled) })
	b, err := content.NewRawBlock([]byte("review: hedged get"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.stores[1].Put(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := m.nodes[0].race(context.Background(), b.CID(), []peer.ID{slow.host.ID(), m.nodes[1].ID()})
	took := time.Since(start)
	if err != nil || !got.CID().Equals(b.CID()) {
		t.Fatalf("race: %v", err)
	}
	if took >= m.nodes[0].cfg.RequestTimeout {
		t.Errorf("race took %v: it waited for the stalled loser", took)
	}
}

// A peer that disconnected and came back must be usable at once: idle
// streams of the dead connection must not be handed out.
func TestNoStaleStreamAfterReconnect(t *testing.T) {
	m := newTestMesh(t, 2, nil)
	a, b := m.nodes[0], m.nodes[1]
	blk, _ := content.NewRawBlock([]byte("review: stale stream"))
	ctx := context.Background()
	if _, err := a.haves(ctx, b.ID(), []cid.Cid{blk.CID()}); err != nil {
		t.Fatal(err)
	}
	_ = a.Host().Network().ClosePeer(b.ID())
	// Both sides may redial at once; TLS then fails one of the two dials.
	waitFor(t, 10*time.Second, func() error {
		return a.Host().Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()})
	})
	if _, err := a.haves(ctx, b.ID(), []cid.Cid{blk.CID()}); err != nil {
		t.Errorf("first request after reconnect failed on a pooled stream of the closed connection: %v", err)
	}
}
