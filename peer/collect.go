package peer

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/gc"
)

// ErrNoSummary reports that no collection summary can be trusted yet: the
// namespace's newest root record names none, or it did not check out.
var ErrNoSummary = errors.New("peer: no trusted collection summary")

// collector is a holder's side of garbage collection (package gc, rules P
// and H1-H5): it leases every block pushed to it, trusts the summary that
// the namespace's newest signed root record names, and deletes a block only
// once that summary, the summary file's own blocks, and every lease have
// left it dead for the whole grace period, rechecking under the block's
// lock, which pushes take too.
//
// Its state (leases, when each block was first seen dead) lives in memory:
// a restart restarts every grace clock, which only delays collection.
type collector struct {
	n   *Node
	cfg gc.Config
	ns  string

	seed    maphash.Seed
	stripes [64]sync.Mutex // one per group of blocks: pushes against deletes

	mu          sync.Mutex
	leases      *gc.Leases
	dead        *gc.DeadSince
	trusted     *gc.Summary
	trustedFile cid.Cid
	pins        *gc.Live // the blocks of the trusted summary's own file
	last        GCReport
	total       gc.Tally // deleted since start

	run sync.Mutex // one pass at a time
}

func newCollector(n *Node, cfg gc.Config, ns string) *collector {
	return &collector{n: n, cfg: cfg, ns: ns, seed: maphash.MakeSeed(), leases: gc.NewLeases(), dead: gc.NewDeadSince()}
}

// hold locks block c against a delete; the caller runs the returned unlock.
// A nil collector holds nothing.
func (c *collector) hold(id cid.Cid) func() {
	if c == nil {
		return func() {}
	}
	m := &c.stripes[maphash.Bytes(c.seed, id.Hash())%uint64(len(c.stripes))]
	m.Lock()
	return m.Unlock
}

// lease protects block id, being pushed here, for the lease time from now
// (rule P); the caller holds id.
func (c *collector) lease(id cid.Cid) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.leases.Add([]cid.Cid{id}, c.n.now().Add(c.cfg.LeaseTTL))
}

// release hands block id's protection over to the summary at commit
// index (rule C2); the caller holds id.
func (c *collector) release(id cid.Cid, index uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.leases.Release([]cid.Cid{id}, index)
}

// GCReport is one collection pass, for `meshfs gc`, status and metrics.
type GCReport struct {
	Time      time.Time     `json:"time"`
	Duration  time.Duration `json:"duration"`
	DryRun    bool          `json:"dry_run,omitempty"`
	Namespace string        `json:"namespace"`
	// Summary is the trusted summary file, Index the log index it is as of.
	Summary string `json:"summary,omitempty"`
	Index   uint64 `json:"index,omitempty"`
	// Roots are the roots the trusted summary keeps live (the last K),
	// oldest first.
	Roots []string `json:"roots,omitempty"`
	// Idle, when set, says why nothing was judged (no trusted summary).
	Idle string `json:"idle,omitempty"`
	// The blocks held, by what keeps them or what happens to them.
	Held     gc.Tally `json:"held"`
	Live     gc.Tally `json:"live"`
	Pinned   gc.Tally `json:"pinned"`
	Leased   gc.Tally `json:"leased"`
	Waiting  gc.Tally `json:"waiting"`  // dead, in their grace period
	Deleted  gc.Tally `json:"deleted"`  // deleted by this pass
	Deletion gc.Tally `json:"deletion"` // would be deleted (a dry run)
	// DeletedSinceStart counts what every pass deleted since the daemon
	// started.
	DeletedSinceStart gc.Tally `json:"deleted_since_start"`
	// Dead lists the dead blocks (the first MaxReportDead), with reasons.
	Dead []GCDecision `json:"dead,omitempty"`
}

// GCDecision is one dead block in a report.
type GCDecision struct {
	CID       string    `json:"cid"`
	Size      int64     `json:"size"`
	Verdict   string    `json:"verdict"`
	Reason    string    `json:"reason"`
	NotBefore time.Time `json:"not_before"`
}

// MaxReportDead bounds the dead blocks a report lists.
const MaxReportDead = 1000

// trust adopts the summary that namespace's newest root record names, if
// it is newer than the one trusted (rule H1).
func (c *collector) trust(ctx context.Context) error {
	rec, _, err := c.n.FindRoot(ctx, c.ns)
	if err != nil {
		return err
	}
	if !rec.Summary.Defined() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.trusted == nil {
			return fmt.Errorf("%w: the root record at index %d names none", ErrNoSummary, rec.Index)
		}
		return nil // keep the one trusted
	}
	c.mu.Lock()
	same := rec.Summary == c.trustedFile
	trusted := c.trusted
	c.mu.Unlock()
	if same {
		return nil
	}
	s, err := gc.LoadSummary(ctx, c.n, rec.Summary)
	if err != nil {
		return err
	}
	if err := gc.CheckSummary(s, c.ns, gc.Root{Term: rec.Term, Index: rec.Index, CID: rec.Root}, trusted); err != nil {
		return err
	}
	pins, err := gc.SummaryBlocks(ctx, c.n, rec.Summary)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.trusted != nil && gc.CheckSummary(s, c.ns, s.Newest(), c.trusted) != nil {
		return nil // another pass adopted a newer one meanwhile
	}
	c.trusted, c.trustedFile, c.pins = s, rec.Summary, pins
	return nil
}

// policy returns the decision rules as they are now.
func (c *collector) policy() gc.Policy {
	p := gc.Policy{Leases: c.leases, Grace: c.cfg.Grace}
	if c.trusted != nil {
		p.Live, p.Index, p.Pins = c.trusted, c.trusted.Index(), c.pins
	}
	return p
}

// isDead reports whether the holder judges block id dead now (it may be
// collected): repair does not spread such blocks, so two holders never
// hand a dead block back and forth.
func (c *collector) isDead(id cid.Cid) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.policy()
	return p.Decide(id, 0, time.Time{}, c.n.now()).Why == gc.WhyDead
}

// pass judges every block held and, unless dryRun, deletes the dead ones
// whose grace period is over, each rechecked under its lock (rule H4).
func (c *collector) pass(ctx context.Context, dryRun bool) (GCReport, error) {
	c.run.Lock()
	defer c.run.Unlock()
	start := c.n.now()
	rep := GCReport{Time: start, DryRun: dryRun, Namespace: c.ns}
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	err := c.trust(tctx)
	cancel()
	if err != nil {
		rep.Idle = err.Error()
	}
	held, herr := c.held(ctx)
	if herr != nil {
		return rep, herr
	}
	c.mu.Lock()
	p := c.policy()
	if c.trusted != nil {
		rep.Summary, rep.Index = c.trustedFile.String(), c.trusted.Index()
		for _, r := range c.trusted.Cover().Roots {
			rep.Roots = append(rep.Roots, r.CID.String())
		}
	}
	c.leases.Prune(start, p.Index)
	r, next, err := p.Sweep(start, slices.Values(held), c.dead)
	if err == nil && !dryRun {
		c.dead = next
	}
	c.mu.Unlock()
	if err != nil {
		return rep, err
	}
	for _, h := range held {
		rep.Held.Blocks++
		rep.Held.Bytes += h.Size
	}
	rep.Live, rep.Pinned, rep.Leased = r.By[gc.WhyLive], r.By[gc.WhyPinned], r.By[gc.WhyLeased]
	rep.Waiting = r.Waiting
	for _, d := range r.Dead {
		if len(rep.Dead) < MaxReportDead {
			rep.Dead = append(rep.Dead, GCDecision{CID: d.CID.String(), Size: d.Size, Verdict: d.Verdict.String(), Reason: d.Reason, NotBefore: d.NotBefore})
		}
	}
	if dryRun {
		rep.Deletion = r.Deletable
	} else {
		for _, d := range r.Dead {
			if d.Verdict != gc.Delete {
				continue
			}
			if c.remove(ctx, d) {
				rep.Deleted.Blocks++
				rep.Deleted.Bytes += d.Size
			}
		}
	}
	rep.Duration = c.n.now().Sub(start)
	c.mu.Lock()
	c.total.Blocks += rep.Deleted.Blocks
	c.total.Bytes += rep.Deleted.Bytes
	rep.DeletedSinceStart = c.total
	if !dryRun {
		c.last = rep
	}
	c.mu.Unlock()
	return rep, nil
}

// remove deletes d's block if, under its lock and with the state as it is
// then, it is still to be deleted.
func (c *collector) remove(ctx context.Context, d gc.Decision) bool {
	unlock := c.hold(d.CID)
	defer unlock()
	c.mu.Lock()
	p := c.policy()
	again := p.Decide(d.CID, d.Size, d.DeadSince, c.n.now())
	c.mu.Unlock()
	if again.Verdict != gc.Delete {
		return false
	}
	return c.n.store.Delete(ctx, d.CID) == nil
}

// held lists the blocks of the store with their sizes.
func (c *collector) held(ctx context.Context) ([]gc.Held, error) {
	var out []gc.Held
	for id, err := range c.n.store.All(ctx) {
		if err != nil {
			return nil, err
		}
		size, err := content.BlockSize(ctx, c.n.store, id)
		if errors.Is(err, content.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, gc.Held{CID: id, Size: size})
	}
	return out, nil
}

// loop runs a pass every interval.
func (c *collector) loop(interval time.Duration) {
	defer c.n.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.n.ctx.Done():
			return
		case <-t.C:
		}
		if _, err := c.pass(c.n.ctx, false); err != nil && c.n.ctx.Err() == nil {
			c.mu.Lock()
			c.last.Idle = err.Error()
			c.mu.Unlock()
		}
	}
}

// CollectGarbage runs a collection pass now (dry: judge, delete nothing).
// It fails with ErrNoCollector when the node does not collect.
func (n *Node) CollectGarbage(ctx context.Context, dryRun bool) (GCReport, error) {
	if n.gc == nil {
		return GCReport{}, ErrNoCollector
	}
	return n.gc.pass(ctx, dryRun)
}

// LastGC returns the last pass that deleted (or could have deleted).
func (n *Node) LastGC() (GCReport, bool) {
	if n.gc == nil {
		return GCReport{}, false
	}
	n.gc.mu.Lock()
	defer n.gc.mu.Unlock()
	return n.gc.last, !n.gc.last.Time.IsZero()
}

// ErrNoCollector reports a node that collects no garbage (no namespace,
// or collection turned off).
var ErrNoCollector = errors.New("peer: this node does not collect garbage")
