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

// ErrLeaseShort is returned by [Leaser.Committed] and [Leaser.Keep] when
// some of a write's blocks are held by fewer than W of the peers they were
// pushed to: the write's operation may have committed, but its content may
// not last.
var ErrLeaseShort = errors.New("peer: blocks held by fewer than the write quorum")

// Leaser is the content.BlockPutter of one write: it pushes each block as
// [Node.Put] does, remembers where, and keeps every block it pushed leased
// there (lease requests: a have that also leases, no bytes), renewing the
// leases every third of the lease time, until the write's operation is
// done. So collection cannot take a write's blocks between their push and
// the commit of the write's operation, however long that commit takes (an
// election, a paused writer). [Leaser.Committed] then releases them at the
// commit's index, which hands their protection over to the collection
// summaries: they stay protected until a holder trusts a summary as of
// that index or later, which has them if anything still reaches them
// (package gc, rules C1, C2 and P). [Leaser.Done] ends a write that did
// not commit. Daemons of one mesh should share their lease time.
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

// NewLeaser starts a Leaser for one write; call Committed when the
// write's operation has committed, Done when it has not.
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

// Keep leases blocks that are in the mesh already (a write that reuses
// them, such as a pin of content added earlier: package gc, rule W4) at
// their home peers at once, without pushing them, and keeps them leased
// with the others. It returns ErrLeaseShort (wrapped) if fewer than W home
// peers hold one of them.
func (l *Leaser) Keep(ctx context.Context, cids []cid.Cid) error {
	now := l.n.now()
	l.mu.Lock()
	for _, c := range cids {
		if !l.seen[c] {
			l.seen[c] = true
			l.blocks = append(l.blocks, leasedBlock{c: c, homes: l.n.Homes(c), pushed: now})
		}
	}
	l.mu.Unlock()
	short, example := l.round(ctx, opLease, 0)
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.shortError(short, example)
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
			l.round(ctx, opLease, 0)
			cancel()
		}
	}
}

// Done stops the renewals of a write that did not commit: its blocks are
// garbage once their leases expire.
func (l *Leaser) Done() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

// Committed stops the renewals and releases every block at index, the log
// index the write's operation committed at. When every lease is fresh
// (taken less than a third of the lease time ago) the releases go out in
// the background and Committed returns at once: the leases protect the
// blocks meanwhile. Otherwise it waits for them, and returns
// ErrLeaseShort (wrapped, with a count) if some block is held by fewer
// than W of the peers it was pushed to and of its home peers now.
func (l *Leaser) Committed(ctx context.Context, index uint64) error {
	if index == 0 {
		return errors.New("peer: release at commit index 0")
	}
	l.Done()
	if oldest, any := l.oldestLease(); !any {
		return nil
	} else if l.n.now().Sub(oldest) < l.period {
		if l.n.spawn(func() {
			ctx, cancel := context.WithTimeout(l.n.ctx, l.period)
			defer cancel()
			l.round(ctx, opRelease, index)
		}) {
			return nil
		}
	}
	short, example := l.round(ctx, opRelease, index)
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.shortError(short, example)
}

func (l *Leaser) shortError(short int, example cid.Cid) error {
	if short == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d of %d blocks (such as %s) held by fewer than %d peers",
		ErrLeaseShort, short, l.count(), example, l.n.cfg.WriteQuorum)
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

// round leases (opLease) or releases at index (opRelease) every block
// pushed so far at the peers it was pushed to and at its home peers now,
// and returns how many blocks fewer than W of them hold, and one such
// block.
func (l *Leaser) round(ctx context.Context, o op, index uint64) (short int, example cid.Cid) {
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
				got := l.askAt(ctx, p, o, index, blocks, batch)
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
	if ctx.Err() == nil && o == opLease {
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

// askAt leases or releases the blocks at batch's indexes at p and says
// which p holds (none when p cannot be asked).
func (l *Leaser) askAt(ctx context.Context, p peer.ID, o op, index uint64, blocks []leasedBlock, batch []int) []bool {
	if p == l.n.host.ID() {
		out := make([]bool, len(batch))
		for k, i := range batch {
			ok, err := l.n.holdsLeased(blocks[i].c, o, index)
			out[k] = err == nil && ok
		}
		return out
	}
	cids := make([]cid.Cid, len(batch))
	for k, i := range batch {
		cids[k] = blocks[i].c
	}
	got, err := l.n.askHeld(ctx, p, o, index, cids)
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
