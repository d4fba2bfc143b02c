package peer

import (
	"bufio"
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Block-protocol streams are reused: a requester keeps streams whose last
// exchange ended cleanly and sends its next request to the same peer on
// one of them, which saves opening a stream (and its negotiation, buffers
// and resource accounting) per block.
const (
	// idleStreamsPerPeer bounds the idle streams kept per peer.
	idleStreamsPerPeer = 16
	// streamIdleTimeout is how long an idle stream is kept; responders
	// close streams idle for twice as long.
	streamIdleTimeout = 30 * time.Second
	// outboundPerPeer bounds the streams open to one peer, in use or idle;
	// it is below the responders' default inbound limit (MaxInboundPerPeer)
	// so a requester never has its streams refused by a peer configured
	// like itself.
	outboundPerPeer = 32
)

// blockStream is an outbound block-protocol stream with its buffers.
type blockStream struct {
	s    network.Stream
	r    *bufio.Reader
	w    *bufio.Writer
	idle time.Time // when it was put back
}

// ask sends a request frame and reads the first response frame, of at
// most limit bytes.
func (bs *blockStream) ask(req []byte, limit int) ([]byte, error) {
	if err := writeFrame(bs.w, req); err != nil {
		return nil, err
	}
	if err := bs.w.Flush(); err != nil {
		return nil, err
	}
	return readFrame(bs.r, limit, nil)
}

// streamPool keeps idle outbound streams per peer and bounds how many are
// open.
type streamPool struct {
	mu      sync.Mutex
	idle    map[peer.ID][]*blockStream
	slots   map[peer.ID]chan struct{} // one per open stream
	waiting map[peer.ID]int           // requesters waiting for a slot
}

func newStreamPool() *streamPool {
	return &streamPool{idle: map[peer.ID][]*blockStream{}, slots: map[peer.ID]chan struct{}{}, waiting: map[peer.ID]int{}}
}

// acquire waits for a free stream slot to p. While it waits, streams put
// back are closed rather than kept idle, so their slots come to it.
func (sp *streamPool) acquire(ctx context.Context, p peer.ID) error {
	sp.mu.Lock()
	ch := sp.slots[p]
	if ch == nil {
		ch = make(chan struct{}, outboundPerPeer)
		sp.slots[p] = ch
	}
	select {
	case ch <- struct{}{}:
		sp.mu.Unlock()
		return nil
	default:
	}
	sp.waiting[p]++
	sp.mu.Unlock()
	defer func() {
		sp.mu.Lock()
		sp.waiting[p]--
		sp.mu.Unlock()
	}()
	select {
	case ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (sp *streamPool) release(p peer.ID) {
	sp.mu.Lock()
	ch := sp.slots[p]
	sp.mu.Unlock()
	<-ch
}

// take returns an idle stream to p that is not too old, or nil.
func (sp *streamPool) take(p peer.ID, now time.Time) *blockStream {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for {
		list := sp.idle[p]
		if len(list) == 0 {
			return nil
		}
		bs := list[len(list)-1]
		sp.idle[p] = list[:len(list)-1]
		if now.Sub(bs.idle) < streamIdleTimeout && !bs.s.Conn().IsClosed() {
			return bs
		}
		bs.s.Reset()
		<-sp.slots[p]
	}
}

// put keeps bs for reuse, or closes it when p has enough idle streams.
// Idle streams keep their slot.
func (sp *streamPool) put(p peer.ID, bs *blockStream, now time.Time) {
	bs.idle = now
	sp.mu.Lock()
	if sp.waiting[p] == 0 && len(sp.idle[p]) < idleStreamsPerPeer {
		sp.idle[p] = append(sp.idle[p], bs)
		bs = nil
	}
	sp.mu.Unlock()
	if bs != nil {
		bs.s.Close()
		sp.release(p)
	}
}

// drop resets every idle stream to p (it disconnected or misbehaved).
func (sp *streamPool) drop(p peer.ID) {
	sp.mu.Lock()
	list := sp.idle[p]
	delete(sp.idle, p)
	sp.mu.Unlock()
	for _, bs := range list {
		bs.s.Reset()
		sp.release(p)
	}
}

// exchange runs one request/response with p on a pooled or new stream.
// do writes the request and reads the whole response; the stream goes back
// to the pool only if do succeeded, so a stream is never reused in the
// middle of an exchange. A cancelled ctx resets the stream at once.
func (n *Node) exchange(ctx context.Context, p peer.ID, do func(bs *blockStream) error) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	bs := n.streams.take(p, n.now())
	if bs == nil {
		if err := n.streams.acquire(ctx, p); err != nil {
			return err
		}
		s, err := n.host.NewStream(ctx, p, BlockProtocol)
		if err != nil {
			n.streams.release(p)
			return err
		}
		bs = &blockStream{s: s, r: bufio.NewReaderSize(s, 32<<10), w: bufio.NewWriterSize(s, 32<<10)}
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = bs.s.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { bs.s.Reset() })
	err := do(bs)
	if !stop() || err != nil {
		bs.s.Reset()
		n.streams.release(p)
		if ctx.Err() != nil {
			// Given up (a hedged request that lost, a caller gone) or timed
			// out: say so, rather than the stream reset it caused, so that
			// only a timeout counts against the peer.
			return ctx.Err()
		}
		return err
	}
	_ = bs.s.SetDeadline(time.Time{})
	n.streams.put(p, bs, n.now())
	return nil
}
