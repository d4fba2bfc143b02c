package peer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"meshfs/content"
)

// Get returns the verified block c: from the local store, the read cache,
// the home peers (hedged: the best-ranked home first, another after the
// hedge delay or at once on a failure; the first valid answer wins), and
// last from the peers a DHT lookup finds closest to the key and the other
// connected peers. Get implements content.BlockGetter.
func (n *Node) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	if err := content.CheckCID(c); err != nil {
		return content.Block{}, err
	}
	b, err := n.store.Get(ctx, c)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, content.ErrNotFound) && !errors.Is(err, content.ErrCorruptBlock) {
		return content.Block{}, err
	}
	if b, ok := n.cache.get(c); ok {
		n.metrics.cacheHits.Inc()
		return b, nil
	}
	b, err = n.fetch(ctx, c)
	if err != nil {
		return content.Block{}, err
	}
	n.cache.put(b)
	return b, nil
}

// fetch asks the network for c.
func (n *Node) fetch(ctx context.Context, c cid.Cid) (content.Block, error) {
	self := n.host.ID()
	asked := map[peer.ID]bool{self: true}
	var homes []peer.ID
	for _, p := range n.Homes(c) {
		if !asked[p] {
			homes = append(homes, p)
			asked[p] = true
		}
	}
	b, homeErr := n.race(ctx, c, n.scores.rank(homes))
	if homeErr == nil {
		return b, nil
	}
	if ctx.Err() != nil {
		return content.Block{}, ctx.Err()
	}
	n.metrics.wideLookups.Inc()
	var wider []peer.ID
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	closest, _ := n.dht.GetClosestPeers(lctx, string(c.Hash()))
	cancel()
	for _, p := range append(closest, n.host.Network().Peers()...) {
		if !asked[p] && !n.gater.IsBlocked(p) {
			wider = append(wider, p)
			asked[p] = true
		}
	}
	b, err := n.race(ctx, c, n.scores.rank(wider))
	if err == nil {
		return b, nil
	}
	if len(homes)+len(wider) == 0 {
		return content.Block{}, fmt.Errorf("%w: %s: %w", content.ErrNotFound, c, ErrNoPeers)
	}
	return content.Block{}, fmt.Errorf("%w: %s: asked %d home and %d other peers: %w", content.ErrNotFound, c, len(homes), len(wider), errors.Join(homeErr, err))
}

// race asks peers for c, one more after each hedge delay or failure, and
// returns the first verified block.
func (n *Node) race(ctx context.Context, c cid.Cid, peers []peer.ID) (content.Block, error) {
	if len(peers) == 0 {
		return content.Block{}, ErrNoPeers
	}
	ctx, cancel := context.WithCancel(ctx)
	type result struct {
		b   content.Block
		err error
	}
	results := make(chan result, len(peers))
	var wg sync.WaitGroup
	// Cancel the requests still running, then wait for them: the answer is
	// the first one, not the slowest.
	defer func() { cancel(); wg.Wait() }()
	next, running := 0, 0
	launch := func() {
		p := peers[next]
		next++
		running++
		wg.Go(func() {
			b, err := n.getOne(ctx, p, c)
			results <- result{b, err}
		})
	}
	launch()
	hedge := time.NewTimer(n.hedge.delay())
	defer hedge.Stop()
	var errs []error
	for running > 0 {
		select {
		case r := <-results:
			running--
			if r.err == nil {
				return r.b, nil
			}
			errs = append(errs, r.err)
			if next < len(peers) {
				launch()
			}
		case <-hedge.C:
			if next < len(peers) {
				n.metrics.hedged.Inc()
				launch()
				hedge.Reset(n.hedge.delay())
			}
		case <-ctx.Done():
			return content.Block{}, ctx.Err()
		}
	}
	return content.Block{}, errors.Join(errs...)
}

// latencyTracker keeps a moving average of get latency; the hedge delay is a
// few times that, within bounds.
type latencyTracker struct {
	mu   sync.Mutex
	ewma time.Duration
}

func newLatencyTracker() *latencyTracker { return &latencyTracker{ewma: 20 * time.Millisecond} }

func (l *latencyTracker) observe(d time.Duration) {
	l.mu.Lock()
	l.ewma = (7*l.ewma + d) / 8
	l.mu.Unlock()
}

func (l *latencyTracker) delay() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return min(max(4*l.ewma, 5*time.Millisecond), 500*time.Millisecond)
}

// Where asks, live, every candidate and connected peer whether it holds c,
// and returns those that do (this node included), sorted.
func (n *Node) Where(ctx context.Context, c cid.Cid) ([]peer.ID, error) {
	if err := content.CheckCID(c); err != nil {
		return nil, err
	}
	var holders []peer.ID
	if ok, err := n.store.Has(ctx, c); err != nil {
		return nil, err
	} else if ok {
		holders = append(holders, n.host.ID())
	}
	ask := map[peer.ID]bool{}
	for _, p := range n.candidates() {
		ask[p] = true
	}
	for _, p := range n.host.Network().Peers() {
		ask[p] = true
	}
	delete(ask, n.host.ID())
	var mu sync.Mutex
	var wg sync.WaitGroup
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for p := range ask {
		wg.Go(func() {
			has, err := n.haves(qctx, p, []cid.Cid{c})
			if err == nil && has[0] {
				mu.Lock()
				holders = append(holders, p)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(holders)
	return holders, nil
}
