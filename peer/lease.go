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
	"golang.org/x/sync/errgroup"

	"meshfs/content"
	"meshfs/gc"
)

// ErrLeaseShort is returned by [Leaser.Done] when some of a write's blocks
// are held by fewer than W of the peers they were pushed to: the write's
// operation may have committed, but its content may not last.
var ErrLeaseShort = errors.New("peer: blocks held by fewer than the write quorum")

// Leaser is the content.BlockPutter of one write: it pushes each block as
// [Node.Put] does, remembers where, and keeps every block it pushed leased
// there (lease requests: a have that also leases, no bytes), renewing the
// leases every third of the lease time, until [Leaser.Done]. So collection
// cannot take a write's blocks between their push and the commit of the
// write's operation, however long that commit takes (an election, a paused
// writer); Done leases them once more, so that they stay protected while
// the writer publishes a collection summary that has them (package gc,
// rules C1 and P). Daemons of one mesh should share their lease time.
type Leaser struct {
	n      *Node
	period time.Duration

	mu      sync.Mutex
	blocks  []leasedBlock
	seen    map[cid.Cid]bool
	renewed int       // blocks[:renewed] were leased again at renewedAt
	renewAt time.Time // when the last renewal began

	stop chan struct{}
	done chan struct{}
}

// leasedBlock is a block a Leaser pushed, the peers it pushed it to and
// when.
type leasedBlock struct {
	c      cid.Cid
	homes  []peer.ID
	pushed time.Time
}

// NewLeaser starts a Leaser for one write; call Done when the write's
// operation has committed or failed.
func (n *Node) NewLeaser() *Leaser {
	ttl := gc.DefaultConfig().LeaseTTL
	if n.cfg.GC != nil {
		ttl = n.cfg.GC.LeaseTTL
	}
	l := &Leaser{n: n, period: max(ttl/3, time.Millisecond), seen: map[cid.Cid]bool{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if !n.spawn(l.renewLoop) {
		close(l.done)
	}
	return l
}

// Put implements content.BlockPutter: Node.Put, then b is kept leased.
func (l *Leaser) Put(ctx context.Context, b content.Block) error {
	start := l.n.now()
	homes := l.n.Homes(b.CID())
	if err := l.n.push(ctx, b, homes, l.n.cfg.WriteQuorum); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.seen[b.CID()] {
		l.seen[b.CID()] = true
		l.blocks = append(l.blocks, leasedBlock{c: b.CID(), homes: homes, pushed: start})
	}
	return nil
}

// renewLoop renews the leases every period until Done or the node closes.
func (l *Leaser) renewLoop() {
	defer close(l.done)
	t := time.NewTicker(l.period)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.n.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(l.n.ctx, l.period)
			l.renew(ctx)
			cancel()
		}
	}
}

// Done stops the renewals and, unless every lease was taken less than a
// third of the lease time ago, leases every block once more. It returns
// ErrLeaseShort (wrapped, with a count) if that finds some block held by
// fewer than W of the peers it was pushed to and of its home peers now.
func (l *Leaser) Done(ctx context.Context) error {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	if oldest, any := l.oldestLease(); !any || l.n.now().Sub(oldest) < l.period {
		return nil // the leases taken at the push still have most of their time
	}
	short, example := l.renew(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	if short > 0 {
		return fmt.Errorf("%w: %d of %d blocks (such as %s) held by fewer than %d peers",
			ErrLeaseShort, short, l.count(), example, l.n.cfg.WriteQuorum)
	}
	return nil
}

// oldestLease returns when the oldest of the blocks' leases was taken.
func (l *Leaser) oldestLease() (t time.Time, any bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.renewed > 0 {
		t, any = l.renewAt, true
	}
	for _, b := range l.blocks[l.renewed:] {
		if !any || b.pushed.Before(t) {
			t, any = b.pushed, true
		}
	}
	return t, any
}

func (l *Leaser) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.blocks)
}

// renew leases every block pushed so far at the peers it was pushed to and
// at its home peers now, and returns how many blocks fewer than W of them
// hold, and one such block.
func (l *Leaser) renew(ctx context.Context) (short int, example cid.Cid) {
	start := l.n.now()
	l.mu.Lock()
	blocks := l.blocks[:len(l.blocks):len(l.blocks)]
	l.mu.Unlock()
	if len(blocks) == 0 {
		return 0, cid.Undef
	}
	// Which blocks to ask each peer about.
	asks := map[peer.ID][]int{}
	for i, b := range blocks {
		for _, p := range unionPeers(b.homes, l.n.Homes(b.c)) {
			asks[p] = append(asks[p], i)
		}
	}
	held := make([]int, len(blocks))
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(8)
	for p, idx := range asks {
		g.Go(func() error {
			for start := 0; start < len(idx); start += MaxBatch {
				batch := idx[start:min(start+MaxBatch, len(idx))]
				got := l.leaseAt(ctx, p, blocks, batch)
				mu.Lock()
				for k, ok := range got {
					if ok {
						held[batch[k]]++
					}
				}
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	if ctx.Err() == nil {
		l.mu.Lock()
		l.renewed, l.renewAt = len(blocks), start
		l.mu.Unlock()
	}
	for i, h := range held {
		if h < l.n.cfg.WriteQuorum {
			if short == 0 {
				example = blocks[i].c
			}
			short++
		}
	}
	return short, example
}

// leaseAt leases the blocks at batch's indexes at p and says which p holds
// (none when p cannot be asked).
func (l *Leaser) leaseAt(ctx context.Context, p peer.ID, blocks []leasedBlock, batch []int) []bool {
	if p == l.n.host.ID() {
		out := make([]bool, len(batch))
		for k, i := range batch {
			ok, err := l.n.holdsLeased(blocks[i].c, true)
			out[k] = err == nil && ok
		}
		return out
	}
	cids := make([]cid.Cid, len(batch))
	for k, i := range batch {
		cids[k] = blocks[i].c
	}
	got, err := l.n.askHeld(ctx, p, opLease, cids)
	if err != nil {
		return make([]bool, len(batch))
	}
	return got
}

// unionPeers returns the peers of a and b, each once.
func unionPeers(a, b []peer.ID) []peer.ID {
	out := append([]peer.ID(nil), a...)
	for _, p := range b {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
