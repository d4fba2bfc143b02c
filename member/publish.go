package member

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"golang.org/x/sync/errgroup"

	"meshfs/content"
)

// publication is one rendering of the tree: its new blocks to push into
// the mesh, in order after every earlier rendering's, and, for the
// writer's periodic one, a root record to publish once they are in.
type publication struct {
	record RootRecord
	blocks []content.Block
	pins   []cid.Cid     // pinned in the state the record is as of
	sign   bool          // publish the record
	done   chan struct{} // closed when this and every earlier push ended
	err    error         // set before done is closed
}

// render renders the applied tree and queues its new blocks for the mesh.
func (l *loop) render(sign bool) (*publication, error) {
	var blocks collect
	render := l.rep.State().Render
	if l.renderAll {
		render = l.rep.State().RenderAll // a rendering was dropped: all again
	}
	root, err := render(blocks.put)
	if err != nil {
		return nil, err
	}
	p := &publication{
		record: RootRecord{
			// The term of the entry the tree is as of, which only grows
			// along the log (a new writer behind its predecessor must not
			// outrank the predecessor's records).
			Namespace: l.m.cfg.Namespace, Root: root, Term: l.rep.AppliedTerm(),
			Index: l.rep.AppliedIndex(), Time: l.m.cfg.Now().UnixNano(), Writer: l.m.cfg.Self,
		},
		blocks: blocks, pins: l.systemPins(), sign: sign, done: make(chan struct{}),
	}
	select {
	case l.publisher <- p:
		l.renderAll = false
		return p, nil
	default:
		// Dropped: the next rendering hands over every block, not only
		// those new since this one.
		l.renderAll = true
		return nil, fmt.Errorf("member: %d renderings waiting for the mesh", cap(l.publisher))
	}
}

// systemPins are the CIDs the namespace keeps live besides its roots: its
// pins, and its last snapshot's state file, which a voter far behind
// fetches.
func (l *loop) systemPins() []cid.Cid {
	pins := l.rep.State().Pins()
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if l.m.snapState.Defined() {
		pins = append(pins, l.m.snapState)
	}
	return pins
}

// republishTicks is how often the writer publishes its root record again
// while the tree does not change (DHT servers drop records after 48 h).
const republishTicks = 12000

// maybePublish has the writer publish a root record every PublishEvery
// ticks while the tree changes, and now and then while it does not.
func (l *loop) maybePublish() {
	if !l.rep.IsWriter() || l.m.cfg.Records == nil {
		return
	}
	applied := l.rep.AppliedIndex()
	since := l.tick - l.publishAt
	if since < uint64(l.m.cfg.PublishEvery) || applied == l.published && since < republishTicks {
		return
	}
	if _, err := l.render(true); err != nil {
		return
	}
	l.published, l.publishAt = applied, l.tick
}

// publishLoop pushes each rendering's blocks in order and publishes the
// records asked for.
func (m *Member) publishLoop(q <-chan *publication) {
	defer m.wg.Done()
	// Blocks of a failed push go again with the next rendering: renders
	// after it hand over only blocks that are new to them.
	var carry []content.Block
	for {
		select {
		case p := <-q:
			blocks := append(carry, p.blocks...)
			p.err = m.pushBlocks(blocks)
			carry = nil
			if p.err != nil {
				carry = blocks
			}
			close(p.done)
			if p.err == nil && p.sign {
				ctx, cancel := context.WithTimeout(m.ctx, 30*time.Second)
				if m.cfg.Summarize != nil {
					// Without a summary (a mark that could not complete)
					// the record still goes out; holders keep the one
					// they trust.
					s, err := m.cfg.Summarize(ctx, p.record, p.pins)
					if err != nil {
						m.cfg.Logf("gc summary as of %d: %v", p.record.Index, err)
					}
					p.record.Summary = s
				}
				if err := m.cfg.Records.Publish(ctx, p.record); err == nil {
					m.mu.Lock()
					m.view.Published = max(m.view.Published, p.record.Index)
					m.mu.Unlock()
				}
				cancel()
			}
		case <-m.ctx.Done():
			return
		}
	}
}

// pushBlocks puts blocks into the mesh, several at a time.
func (m *Member) pushBlocks(blocks []content.Block) error {
	if m.cfg.Blocks == nil || len(blocks) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(m.ctx, time.Minute)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, b := range blocks {
		g.Go(func() error { return m.cfg.Blocks.Put(gctx, b) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("member: pushing the tree's blocks: %w", err)
	}
	return nil
}

// RootInfo is a committed state's root.
type RootInfo struct {
	CID    cid.Cid
	Term   uint64
	Index  uint64
	Writer string
}
