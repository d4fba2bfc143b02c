package peer

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// repairScan is how many local blocks one step of a pass considers at once.
const repairScan = 4096

// repairer runs repair passes: on an interval, shortly after the set of
// peers changes, and on demand. One pass at a time.
type repairer struct {
	n     *Node
	pokes chan struct{}
	run   sync.Mutex // held during a pass

	mu         sync.Mutex
	backlog    int
	lastPass   time.Time
	passes     atomic.Int64
	pushed     atomic.Int64
	dropped    atomic.Int64
	lastReport RepairReport
}

// RepairReport sums up one repair pass.
type RepairReport struct {
	Blocks   int           `json:"blocks"`  // local blocks considered
	Missing  int           `json:"missing"` // (block, home peer) pairs that lacked the block
	Pushed   int           `json:"pushed"`  // of those, pushed and acknowledged
	Dropped  int           `json:"dropped"` // local copies dropped (not home, R holders confirmed)
	Failed   int           `json:"failed"`  // pushes or checks that failed
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
}

func newRepairer(n *Node) *repairer {
	return &repairer{n: n, pokes: make(chan struct{}, 1)}
}

// poke asks for a pass soon.
func (r *repairer) poke() {
	select {
	case r.pokes <- struct{}{}:
	default:
	}
}

func (r *repairer) stat() (backlog int, passes int64, last time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.backlog, r.passes.Load(), r.lastPass
}

func (r *repairer) last() RepairReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastReport
}

// loop runs a pass every interval, and one second after a poke (so a burst
// of peer events makes one pass).
func (r *repairer) loop() {
	defer r.n.wg.Done()
	tick := time.NewTicker(r.n.cfg.RepairInterval)
	defer tick.Stop()
	const settle = time.Second
	var soon <-chan time.Time
	for {
		select {
		case <-r.n.ctx.Done():
			return
		case <-r.pokes:
			if soon == nil {
				soon = time.After(settle)
			}
			continue
		case <-soon:
			soon = nil
		case <-tick.C:
		}
		_, _ = r.pass(r.n.ctx)
	}
}

// Repair runs a repair pass now and reports it.
func (n *Node) Repair(ctx context.Context) (RepairReport, error) { return n.repair.pass(ctx) }

// pass walks the local blocks in steps of repairScan.
func (r *repairer) pass(ctx context.Context) (RepairReport, error) {
	r.run.Lock()
	defer r.run.Unlock()
	start := r.n.now()
	rep := RepairReport{Started: start}
	var batch []cid.Cid
	var err error
	for c, e := range r.n.store.All(ctx) {
		if e != nil {
			err = e
			break
		}
		batch = append(batch, c)
		if len(batch) == repairScan {
			r.step(ctx, batch, &rep)
			batch = batch[:0]
		}
	}
	if err == nil && len(batch) > 0 {
		r.step(ctx, batch, &rep)
	}
	rep.Duration = r.n.now().Sub(start)
	r.mu.Lock()
	r.backlog = rep.Missing - rep.Pushed
	r.lastPass = r.n.now()
	r.lastReport = rep
	r.mu.Unlock()
	r.passes.Add(1)
	r.pushed.Add(int64(rep.Pushed))
	r.dropped.Add(int64(rep.Dropped))
	r.n.metrics.repairPass.Observe(rep.Duration.Seconds())
	return rep, err
}

// step repairs one batch of local blocks: it asks each home peer which of
// its blocks it holds, pushes the missing ones, and drops local copies that
// a full home set now holds.
func (r *repairer) step(ctx context.Context, cids []cid.Cid, rep *RepairReport) {
	n := r.n
	self := n.host.ID()
	cands := n.candidates()
	homes := make([][]peer.ID, len(cids))
	ask := map[peer.ID][]int{} // peer → indexes into cids
	for i, c := range cids {
		homes[i] = HomeSet(BlockKey(c), cands, n.cfg.Replication)
		for _, p := range homes[i] {
			if p != self {
				ask[p] = append(ask[p], i)
			}
		}
	}
	rep.Blocks += len(cids)

	// Which home peers hold which blocks, asked in batches, peers in parallel.
	var mu sync.Mutex
	holds := map[peer.ID]map[int]bool{}
	var wg sync.WaitGroup
	for p, idx := range ask {
		wg.Go(func() {
			got := map[int]bool{}
			failed := 0
			for lo := 0; lo < len(idx); lo += MaxBatch {
				part := idx[lo:min(lo+MaxBatch, len(idx))]
				q := make([]cid.Cid, len(part))
				for j, i := range part {
					q[j] = cids[i]
				}
				has, err := n.haves(ctx, p, q)
				if err != nil {
					failed += len(part)
					continue
				}
				for j, i := range part {
					got[i] = has[j]
				}
			}
			mu.Lock()
			holds[p] = got
			rep.Failed += failed
			mu.Unlock()
		})
	}
	wg.Wait()

	// Push what is missing; each acknowledgement is a confirmation.
	type pushResult struct {
		i   int
		p   peer.ID
		err error
	}
	results := make(chan pushResult, 64)
	pending := 0
	var drops []int
	collect := func(pr pushResult) {
		pending--
		if pr.err != nil {
			rep.Failed++
			return
		}
		rep.Pushed++
		mu.Lock()
		holds[pr.p][pr.i] = true
		mu.Unlock()
	}
	for i, c := range cids {
		a := DecideRepair(self, homes[i], func(p peer.ID) bool { return holds[p][i] }, n.cfg.Replication)
		if a.Drop {
			drops = append(drops, i)
			continue
		}
		if len(a.PushTo) == 0 || n.gc.isDead(c) {
			continue // (a dead block is collected, not spread)
		}
		rep.Missing += len(a.PushTo)
		b, err := n.store.Get(ctx, c)
		if err != nil {
			rep.Failed += len(a.PushTo)
			continue
		}
		for _, p := range a.PushTo {
			for pending >= cap(results) {
				collect(<-results)
			}
			pending++
			err := n.enqueuePut(ctx, p, putJob{b: b, done: func(err error) { results <- pushResult{i, p, err} }})
			if err != nil {
				pending--
				rep.Failed++
			}
		}
		if !slices.Contains(homes[i], self) {
			drops = append(drops, i)
		}
	}
	for pending > 0 {
		collect(<-results)
	}

	// Drop local copies held by a full home set.
	for _, i := range drops {
		a := DecideRepair(self, homes[i], func(p peer.ID) bool { return holds[p][i] }, n.cfg.Replication)
		if !a.Drop {
			continue
		}
		if err := n.store.Delete(ctx, cids[i]); err == nil {
			rep.Dropped++
		}
	}
}
