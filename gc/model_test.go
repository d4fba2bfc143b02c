package gc_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/gc"
	"meshfs/internal/testrand"
)

// A model of the whole protocol of doc.go, single-threaded and driven by a
// seeded random source: clients push writes to the holders (rule P) and
// release them on commit (C2), the writer commits operations in log order,
// renders roots, marks and publishes summaries (W1-W4), and holders adopt
// summaries late (H1), sweep (H2, H3) and delete later still, after other
// pushes, with or without the recheck of H4. After every step it checks
// that every holder has every block reachable from the committed state,
// the window's roots, the pins, operations in flight and unexpired writes
// in flight. Leaves come from a small pool, so a write often pushes the
// bytes of a block that is dead and waiting, or planned for deletion.

type modelParams struct {
	steps       int
	holders     int
	k           int
	ttl, grace  time.Duration
	commitDelay time.Duration // most an operation waits for its commit
	adoptDelay  time.Duration // most a holder waits to adopt a summary
	releaseLoss float64       // chance a Release to a holder is lost
	noRecheck   bool          // break rule H4
	noExtra     bool          // break rule W1: no in-flight CIDs marked
	anyIndex    bool          // break rules H2, H3: any summary covers a Release
}

type modelOp struct {
	kind     string // "write", "cp", "rm", "pin", "unpin"
	path     string
	x        cid.Cid
	blocks   []cid.Cid // a write's blocks
	commitAt time.Time
}

type modelHolder struct {
	store   map[cid.Cid]content.Block
	leases  *gc.Leases
	dead    *gc.DeadSince
	trusted *gc.Summary
	pending []cid.Cid // deletions planned by the last sweep
}

type published struct {
	at  time.Time
	sum *gc.Summary
}

type model struct {
	t       testing.TB
	r       *rand.Rand
	p       modelParams
	now     time.Time
	made    map[cid.Cid]content.Block // every block ever made
	pool    []content.Block
	holders []*modelHolder

	index    uint64
	term     uint64
	state    map[string]cid.Cid
	pins     map[cid.Cid]bool
	log      []*modelOp
	window   []gc.Root
	rendered uint64 // index of the newest root
	sums     []published
	prevLive *gc.Live

	// in-flight writes' blocks and their lease expiry, for the invariant
	flight     map[cid.Cid]time.Time
	incomplete int
	deleted    int
	revived    int // pushes of a block a holder had found dead
	saved      int // planned deletions the recheck refused
}

func newModel(t testing.TB, r *rand.Rand, p modelParams) *model {
	m := &model{t: t, r: r, p: p, now: t0, made: map[cid.Cid]content.Block{}, state: map[string]cid.Cid{},
		pins: map[cid.Cid]bool{}, flight: map[cid.Cid]time.Time{}, term: 1}
	for i := range 8 {
		m.pool = append(m.pool, leafBlock(t, 777, i, 32))
	}
	for range p.holders {
		m.holders = append(m.holders, &modelHolder{store: map[cid.Cid]content.Block{}, leases: gc.NewLeases(), dead: gc.NewDeadSince()})
	}
	return m
}

func (m *model) remember(bs ...content.Block) []cid.Cid {
	var cs []cid.Cid
	for _, b := range bs {
		m.made[b.CID()] = b
		cs = append(cs, b.CID())
	}
	return cs
}

// push is rule P at every holder: lease, store if missing, acknowledge.
func (m *model) push(cs []cid.Cid) {
	for _, h := range m.holders {
		for _, c := range cs {
			if _, ok := h.dead.Get(c); ok {
				m.revived++
			}
		}
		must(m.t, h.leases.Add(cs, m.now.Add(m.p.ttl)))
		for _, c := range cs {
			if _, ok := h.store[c]; !ok {
				h.store[c] = m.made[c]
			}
		}
	}
	for _, c := range cs {
		if e := m.now.Add(m.p.ttl); e.After(m.flight[c]) {
			m.flight[c] = e
		}
	}
}

// release is C2: Release at each holder (unless lost), and a push of any
// block a holder lacks.
func (m *model) release(cs []cid.Cid, index uint64) {
	for _, h := range m.holders {
		if m.r.Float64() < m.p.releaseLoss {
			continue
		}
		must(m.t, h.leases.Release(cs, index))
		for _, c := range cs {
			if _, ok := h.store[c]; !ok {
				h.store[c] = m.made[c]
			}
		}
	}
}

func (m *model) propose() {
	paths := []string{"a", "b", "c"}
	path := paths[m.r.IntN(len(paths))]
	op := &modelOp{path: path, commitAt: m.now.Add(time.Duration(m.r.Int64N(int64(m.p.commitDelay) + 1)))}
	switch n := m.r.IntN(10); {
	case n < 6: // write a file of pool leaves: often bytes seen before
		var leaves []content.Block
		for range 1 + m.r.IntN(4) {
			leaves = append(leaves, m.pool[m.r.IntN(len(m.pool))])
		}
		var blocks []content.Block
		if len(leaves) == 1 {
			blocks = leaves
			op.x = leaves[0].CID()
		} else {
			f := buildFile(m.t, leaves, 2)
			blocks = append(slices.Clone(f.leaves), f.nodes...)
			op.x = f.root
		}
		op.kind, op.blocks = "write", m.remember(blocks...)
		m.push(op.blocks)
	case n < 7: // copy another path's content (W4: live in the state)
		src, ok := m.state[paths[m.r.IntN(len(paths))]]
		if !ok {
			return
		}
		op.kind, op.x = "cp", src
	case n < 8:
		op.kind = "rm"
	case n < 9: // pin a root of the window (W4: in the latest live set)
		if len(m.window) == 0 {
			return
		}
		op.kind, op.x = "pin", m.window[m.r.IntN(len(m.window))].CID
	default:
		if len(m.pins) == 0 {
			return
		}
		op.kind = "unpin"
		for c := range m.pins {
			op.x = c
			break
		}
	}
	m.log = append(m.log, op)
}

// commit applies the operations due, in log order.
func (m *model) commit() {
	for len(m.log) > 0 && !m.log[0].commitAt.After(m.now) {
		op := m.log[0]
		m.log = m.log[1:]
		m.index++
		switch op.kind {
		case "write":
			m.state[op.path] = op.x
			m.release(op.blocks, m.index)
			for _, c := range op.blocks {
				delete(m.flight, c)
			}
		case "cp":
			// The state machine's W4 check: X must be reachable in the
			// state the operation applies to.
			if slices.ContainsFunc(mapValues(m.state), op.x.Equals) {
				m.state[op.path] = op.x
			}
		case "rm":
			delete(m.state, op.path)
		case "pin":
			m.pins[op.x] = true
		case "unpin":
			delete(m.pins, op.x)
		}
	}
}

func mapValues(m map[string]cid.Cid) []cid.Cid {
	var out []cid.Cid
	for _, c := range m {
		out = append(out, c)
	}
	return out
}

// render is W1-W3: a new root for the state, its blocks pushed and
// released at its index, the window, a complete mark, a summary.
func (m *model) render() {
	if m.index == m.rendered {
		return
	}
	var files []file
	for _, p := range []string{"a", "b", "c"} {
		if c, ok := m.state[p]; ok {
			files = append(files, file{root: c, leaves: []content.Block{m.made[c]}})
		}
	}
	s := newStore()
	root, blocks := dir(m.t, s, files...)
	cs := m.remember(blocks...)
	m.push(cs)
	m.release(cs, m.index)
	for _, c := range cs {
		delete(m.flight, c)
	}
	var err error
	m.window, err = gc.WindowAppend(m.window, gc.Root{Term: m.term, Index: m.index, CID: root}, m.p.k)
	must(m.t, err)
	m.rendered = m.index
	cover := gc.Cover{Namespace: "model", Roots: m.window}
	for c := range m.pins {
		cover.Pins = append(cover.Pins, c)
	}
	for _, op := range m.log {
		if op.x.Defined() && !m.p.noExtra {
			cover.Extra = append(cover.Extra, op.x)
		}
	}
	roots := slices.Concat(cover.Pins, cover.Extra)
	for _, r := range m.window {
		roots = append(roots, r.CID)
	}
	live, err := gc.Mark(context.Background(), meshGetter{m}, roots, m.prevLive, gc.MarkOptions{FetchLeaves: m.r.IntN(2) == 0})
	must(m.t, err)
	if !live.Complete() {
		m.incomplete++ // W2: no summary this time
		return
	}
	m.prevLive = live
	sum, err := gc.NewSummary(live, cover, 0.05)
	must(m.t, err)
	m.sums = append(m.sums, published{at: m.now, sum: sum})
}

// meshGetter reads a block from any holder.
type meshGetter struct{ m *model }

func (g meshGetter) Get(_ context.Context, c cid.Cid) (content.Block, error) {
	for _, h := range g.m.holders {
		if b, ok := h.store[c]; ok {
			return b, nil
		}
	}
	return content.Block{}, fmt.Errorf("%w: %s", content.ErrNotFound, c)
}

func (m *model) policy(h *modelHolder) gc.Policy {
	p := gc.Policy{Leases: h.leases, Grace: m.p.grace}
	if h.trusted != nil {
		p.Live, p.Index = h.trusted, h.trusted.Index()
		if m.p.anyIndex {
			p.Index = math.MaxUint64
		}
	}
	return p
}

func (m *model) holderStep(h *modelHolder) {
	// H1: adopt the newest summary published long enough ago.
	delay := time.Duration(m.r.Int64N(int64(m.p.adoptDelay) + 1))
	for i := len(m.sums) - 1; i >= 0; i-- {
		if s := m.sums[i]; !s.at.After(m.now.Add(-delay)) {
			if gc.CheckSummary(s.sum, "model", s.sum.Newest(), h.trusted) == nil {
				h.trusted = s.sum
			}
			break
		}
	}
	switch m.r.IntN(3) {
	case 0: // H4: carry out the last sweep's plan, rechecking each block.
		p := m.policy(h)
		for _, c := range h.pending {
			if _, ok := h.store[c]; !ok {
				continue
			}
			since, _ := h.dead.Get(c)
			if m.p.noRecheck || p.Decide(c, 0, since, m.now).Verdict == gc.Delete {
				delete(h.store, c)
				m.deleted++
			} else {
				m.saved++
			}
		}
		h.pending = nil
	case 1: // H2, H3: sweep and plan.
		p := m.policy(h)
		var held []gc.Held
		for c := range h.store {
			held = append(held, gc.Held{CID: c})
		}
		rep, next, err := p.Sweep(m.now, slices.Values(held), h.dead)
		must(m.t, err)
		h.dead, h.pending = next, rep.ToDelete()
		if h.trusted != nil {
			h.leases.Prune(m.now, p.Index)
		}
	}
}

// check returns an error naming a protected block some holder lacks.
func (m *model) check() error {
	need := map[cid.Cid]string{}
	var walk func(c cid.Cid, why string)
	walk = func(c cid.Cid, why string) {
		if _, ok := need[c]; ok {
			return
		}
		need[c] = why
		if c.Prefix().Codec != content.CodecDagPB {
			return
		}
		pb, err := content.DecodePBNode(m.made[c].Data())
		if err != nil {
			m.t.Fatal(err)
		}
		for _, l := range pb.Links {
			walk(l.CID, why)
		}
	}
	for p, c := range m.state {
		walk(c, "state "+p)
	}
	for _, r := range m.window {
		walk(r.CID, fmt.Sprintf("root at %d", r.Index))
	}
	for c := range m.pins {
		walk(c, "pin")
	}
	for _, op := range m.log {
		if op.x.Defined() && op.kind != "write" {
			walk(op.x, op.kind+" in flight")
		}
	}
	for c, exp := range m.flight {
		if m.now.Before(exp) {
			walk(c, "write in flight")
		}
	}
	for c, why := range need {
		for i, h := range m.holders {
			if _, ok := h.store[c]; !ok {
				return fmt.Errorf("at %v (index %d): holder %d lost %s (%s)", m.now.Sub(t0), m.index, i, c, why)
			}
		}
	}
	return nil
}

func (m *model) run() error {
	for range m.p.steps {
		m.now = m.now.Add(time.Duration(m.r.Int64N(int64(30 * time.Second))))
		if m.r.IntN(3) == 0 {
			m.propose()
		}
		m.commit()
		if m.r.IntN(6) == 0 {
			m.render()
		}
		for _, h := range m.holders {
			m.holderStep(h)
		}
		if err := m.check(); err != nil {
			return err
		}
	}
	return nil
}

// quiesce stops writes, lets everything settle, and checks that the
// holders keep no block the newest summary calls dead.
func (m *model) quiesce() error {
	for m.now = m.now.Add(m.p.commitDelay); len(m.log) > 0; m.now = m.now.Add(time.Second) {
		m.commit()
	}
	m.render()
	m.now = m.now.Add(m.p.ttl + m.p.adoptDelay + time.Second)
	for range 4 {
		for _, h := range m.holders {
			m.adoptNewest(h)
			p := m.policy(h)
			rep, next, err := p.Sweep(m.now, slices.Values(heldOf(mapKeys(h.store))), h.dead)
			must(m.t, err)
			h.dead = next
			h.leases.Prune(m.now, h.trusted.Index())
			for _, c := range rep.ToDelete() {
				delete(h.store, c)
			}
		}
		if err := m.check(); err != nil {
			return err
		}
		m.now = m.now.Add(m.p.grace + time.Second)
	}
	newest := m.sums[len(m.sums)-1].sum
	for i, h := range m.holders {
		for c := range h.store {
			if !newest.MayBeLive(c.Hash()) {
				return fmt.Errorf("holder %d still holds dead %s", i, c)
			}
		}
	}
	return nil
}

func (m *model) adoptNewest(h *modelHolder) {
	if s := m.sums[len(m.sums)-1].sum; gc.CheckSummary(s, "model", s.Newest(), h.trusted) == nil {
		h.trusted = s
	}
}

func mapKeys[V any](m map[cid.Cid]V) []cid.Cid {
	var out []cid.Cid
	for c := range m {
		out = append(out, c)
	}
	return out
}

// modelRuns is how many seeded runs each model test makes
// (MESHFS_MODEL_RUNS overrides it).
var modelRuns = envInt("MESHFS_MODEL_RUNS", 8)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func safeParams() modelParams {
	return modelParams{steps: 600, holders: 2, k: 3, ttl: 10 * time.Minute, grace: 5 * time.Minute,
		commitDelay: 5 * time.Minute, adoptDelay: 20 * time.Minute}
}

func TestModelLosesNothing(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*modelParams)
	}{
		{"rules kept", func(*modelParams) {}},
		// With every Release delivered, no clock matters: no grace at all,
		// summaries adopted an hour late.
		{"no grace period", func(p *modelParams) { p.grace, p.adoptDelay = 0, time.Hour }},
		{"K = 1", func(p *modelParams) { p.k = 1 }},
		// Lost Releases are covered by the grace period when
		// commit + adoption fit in TTL + grace.
		{"lost releases within the grace period", func(p *modelParams) {
			p.releaseLoss, p.grace, p.adoptDelay = 0.3, 45*time.Minute, 20*time.Minute
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testrand.New(t)
			var total model
			for range modelRuns {
				p := safeParams()
				tt.mod(&p)
				m := newModel(t, r, p)
				if err := m.run(); err != nil {
					t.Fatal(err)
				}
				if err := m.quiesce(); err != nil {
					t.Fatal(err)
				}
				if m.incomplete > 0 {
					t.Errorf("%d incomplete marks", m.incomplete)
				}
				total.deleted += m.deleted
				total.revived += m.revived
				total.saved += m.saved
			}
			if total.deleted == 0 || total.revived == 0 {
				t.Error("nothing was deleted or pushed again")
			}
			t.Logf("%d runs: %d blocks deleted, %d dead blocks pushed again, %d planned deletions refused by the recheck",
				modelRuns, total.deleted, total.revived, total.saved)
		})
	}
}

// Breaking a rule loses blocks, so the model can see a loss: without the
// recheck (H4), a block re-pushed after the sweep planned its deletion;
// with lost Releases and no grace period, a committed block whose lease
// expired before its holder adopted a summary that covers it.
func TestModelCatchesBrokenRules(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*modelParams)
	}{
		{"no recheck", func(p *modelParams) { p.noRecheck, p.grace = true, 0 }},
		{"in-flight CIDs not marked", func(p *modelParams) { p.noExtra, p.grace, p.adoptDelay = true, 0, 0 }},
		{"a Release covered by any summary", func(p *modelParams) { p.anyIndex, p.grace = true, 0 }},
		{"lost releases, no grace", func(p *modelParams) {
			p.releaseLoss, p.grace, p.adoptDelay, p.ttl = 0.5, 0, time.Hour, 5*time.Minute
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testrand.New(t)
			for range 40 {
				p := safeParams()
				tt.mod(&p)
				if err := newModel(t, r, p).run(); err != nil {
					t.Logf("caught: %v", err)
					return
				}
			}
			t.Error("40 runs with a broken rule lost nothing")
		})
	}
}
