package peer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/peer"

	"meshfs/content"
)

// Put batching: one put request carries up to putBatchBlocks blocks and
// putBatchBytes bytes; up to putStreams requests per peer are in flight, and
// up to putQueue blocks wait per peer (the back-pressure on writers).
const (
	putBatchBlocks = 16
	putBatchBytes  = 4 << 20
	putStreams     = 4
	putQueue       = 512
)

// blockBuffers recycles the buffers of blocks on their way to peers.
var blockBuffers = sync.Pool{New: func() any { return new([]byte) }}

// putJob is one block on its way to one peer; done gets its outcome once.
type putJob struct {
	b    content.Block
	done func(error)
}

// sender batches the put jobs bound for one peer into few requests.
type sender struct {
	mu      sync.Mutex
	pending []putJob
	active  int
	slots   chan struct{} // one per job queued or in flight
}

func (n *Node) sender(p peer.ID) *sender {
	n.sendersMu.Lock()
	defer n.sendersMu.Unlock()
	s := n.senders[p]
	if s == nil {
		s = &sender{slots: make(chan struct{}, putQueue)}
		n.senders[p] = s
	}
	return s
}

// enqueuePut queues b for p; it waits while p's queue is full.
func (n *Node) enqueuePut(ctx context.Context, p peer.ID, j putJob) error {
	s := n.sender(p)
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.ctx.Done():
		return ErrClosed
	}
	s.mu.Lock()
	s.pending = append(s.pending, j)
	start := s.active < putStreams
	if start {
		s.active++
	}
	s.mu.Unlock()
	if start && !n.spawn(func() { n.sendLoop(p, s) }) {
		// The node is closing: fail what waits here (no loop will send it).
		s.mu.Lock()
		s.active--
		jobs := s.pending
		s.pending = nil
		s.mu.Unlock()
		for _, j := range jobs {
			j.done(ErrClosed)
			<-s.slots
		}
	}
	return nil
}

// sendLoop sends batches of p's pending jobs until none are left.
func (n *Node) sendLoop(p peer.ID, s *sender) {
	for {
		s.mu.Lock()
		if len(s.pending) == 0 {
			s.active--
			s.mu.Unlock()
			return
		}
		k, size := 0, 0
		for k < len(s.pending) && k < putBatchBlocks && (k == 0 || size+s.pending[k].b.Size() <= putBatchBytes) {
			size += s.pending[k].b.Size()
			k++
		}
		batch := make([]putJob, k)
		copy(batch, s.pending)
		s.pending = s.pending[k:]
		s.mu.Unlock()

		blocks := make([]content.Block, k)
		for i, j := range batch {
			blocks[i] = j.b
		}
		errs := n.putBatch(n.ctx, p, blocks)
		for i, j := range batch {
			j.done(errs[i])
			<-s.slots
		}
	}
}

// Put stores b on its home peers and returns once W of them (this node
// counts when it is one) have acknowledged it durable; the other home peers
// get it in the background. With fewer than W acknowledgements it returns a
// *QuorumError that says how many it reached. Put implements
// content.BlockPutter and does not keep b's buffer.
func (n *Node) Put(ctx context.Context, b content.Block) error {
	return n.push(ctx, b, n.Homes(b.CID()), n.cfg.WriteQuorum)
}

// push sends b to every peer in homes and waits for need acknowledgements.
func (n *Node) push(ctx context.Context, b content.Block, homes []peer.ID, need int) error {
	if n.ctx.Err() != nil {
		return ErrClosed
	}
	qe := &QuorumError{Block: b.CID().String(), Need: need, Homes: len(homes)}
	if len(homes) < need {
		qe.Causes = append(qe.Causes, fmt.Errorf("only %d live peers known", len(homes)))
	}
	// The caller may reuse b's buffer once Put returns, but the pushes to
	// the other home peers go on: they share a copy, recycled when the last
	// of them is done.
	bufp := blockBuffers.Get().(*[]byte)
	owned := b.CopyTo(*bufp)
	*bufp = owned.Data()
	var refs atomic.Int32
	refs.Store(int32(len(homes)))
	release := func() {
		if refs.Add(-1) == 0 {
			blockBuffers.Put(bufp)
		}
	}
	results := make(chan error, len(homes))
	done := func(err error) { results <- err; release() }
	launched := 0
	for _, p := range homes {
		if p == n.host.ID() {
			if !n.spawn(func() {
				unlock := n.gc.hold(owned.CID())
				n.gc.lease(owned.CID())
				err := n.store.Put(n.ctx, owned)
				unlock()
				done(err)
			}) {
				qe.Causes = append(qe.Causes, ErrClosed)
				release()
				continue
			}
			launched++
			continue
		}
		if err := n.enqueuePut(ctx, p, putJob{b: owned, done: done}); err != nil {
			qe.Causes = append(qe.Causes, err)
			release()
			continue
		}
		launched++
	}
	// Wait for the quorum, or until it cannot be reached. When the home set
	// is too small from the start, wait for every answer so the error says
	// how many acknowledged.
	for pending := launched; pending > 0; pending-- {
		var err error
		select {
		case err = <-results:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err != nil {
			qe.Causes = append(qe.Causes, err)
		} else {
			qe.Acked++
		}
		if qe.Acked >= need {
			n.metrics.pushed.Inc()
			return nil
		}
		if qe.Acked+pending-1 < need && len(homes) >= need {
			break
		}
	}
	return qe
}
