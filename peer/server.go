package peer

import (
	"bufio"
	"errors"
	"io"
	"sync"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"meshfs/content"
)

// inboundLimiter bounds the block-protocol requests each peer has in
// progress here.
type inboundLimiter struct {
	mu    sync.Mutex
	limit int
	n     map[peer.ID]int
}

func newInboundLimiter(limit int) *inboundLimiter {
	return &inboundLimiter{limit: limit, n: map[peer.ID]int{}}
}

func (l *inboundLimiter) acquire(p peer.ID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[p] >= l.limit {
		return false
	}
	l.n[p]++
	return true
}

func (l *inboundLimiter) release(p peer.ID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[p]--; l.n[p] <= 0 {
		delete(l.n, p)
	}
}

// frameBuffers recycles the buffers block frames pushed here are read into.
var frameBuffers = sync.Pool{New: func() any { return new([]byte) }}

// putParallel is how many blocks of one put request are stored at once.
const putParallel = 8

// serve answers the block-protocol requests that arrive on one stream, one
// after another, until the requester closes it or stays idle too long. A
// peer over its stream limit gets the stream reset at once; a malformed or
// oversized frame resets the stream; every block pushed here is verified
// against its CID before it is stored, and a mismatch scores the sender
// down.
func (n *Node) serve(s network.Stream) {
	p := s.Conn().RemotePeer()
	if !n.inbound.acquire(p) {
		n.metrics.refused.Inc()
		s.Reset()
		n.noteRefused(p)
		return
	}
	defer n.inbound.release(p)
	r := bufio.NewReaderSize(s, 32<<10)
	w := bufio.NewWriterSize(s, 32<<10)
	var buf []byte // reused for the blocks served
	for {
		_ = s.SetReadDeadline(n.now().Add(2 * streamIdleTimeout))
		frame, err := readFrame(r, maxRequestFrame, nil)
		if errors.Is(err, io.EOF) {
			s.Close()
			return
		}
		if err != nil {
			s.Reset()
			if errors.Is(err, errOversized) {
				n.noteRefused(p)
			}
			return
		}
		start := n.now()
		_ = s.SetDeadline(start.Add(n.cfg.RequestTimeout))
		req, err := decodeRequest(frame)
		if err != nil {
			n.metrics.requests.WithLabelValues("in", "invalid").Inc()
			s.Reset()
			return
		}
		switch req.op {
		case opHave, opLease, opRelease:
			err = n.serveHave(w, req)
		case opGet:
			buf, err = n.serveGet(w, req, buf)
		case opPut:
			err = n.servePut(s, r, w, p, req)
		}
		if err == nil {
			err = w.Flush()
		}
		n.metrics.observe("in", req.op, n.now().Sub(start), err)
		if err != nil {
			s.Reset()
			return
		}
	}
}

// serveHave answers which of the request's blocks this node holds; a
// lease request also leases each one (rule P of package gc), a release
// request releases each at its commit index (rule C2), under the block's
// lock, so that a collection pass either sees the lease or has deleted
// the block, and then says it does not hold it.
func (n *Node) serveHave(w *bufio.Writer, req request) error {
	ss := make([]status, len(req.cids))
	for i, c := range req.cids {
		ok, err := n.holdsLeased(c, req.op, req.index)
		switch {
		case err != nil:
			ss[i] = statusFailed
		case ok:
			ss[i] = statusOK
		default:
			ss[i] = statusNotFound
		}
	}
	return writeFrame(w, encodeStatuses(ss))
}

// holdsLeased reports whether the store holds c, leasing (opLease) or
// releasing it at index (opRelease) first.
func (n *Node) holdsLeased(c cid.Cid, o op, index uint64) (bool, error) {
	switch o {
	case opLease, opRelease:
		unlock := n.gc.hold(c)
		defer unlock()
		if o == opLease {
			n.gc.lease(c)
		} else {
			n.gc.release(c, index)
		}
	}
	return n.store.Has(n.ctx, c)
}

// serveGet answers a get with one block frame per CID, reading blocks into
// buf (grown as needed) and returning it for the next request.
func (n *Node) serveGet(w *bufio.Writer, req request, buf []byte) ([]byte, error) {
	for _, c := range req.cids {
		var b content.Block
		var err error
		if bg, ok := n.store.(content.BufferGetter); ok {
			b, err = bg.GetBuffer(n.ctx, c, buf)
		} else {
			b, err = n.store.Get(n.ctx, c)
		}
		if err != nil {
			// Served from the read cache when the store lacks it: a
			// non-home peer that read a block can still help others.
			cb, ok := n.cache.get(c)
			if !ok {
				st := statusFailed
				if errors.Is(err, content.ErrNotFound) {
					st = statusNotFound
				}
				if err := writeFrame(w, blockHeader(st, c)); err != nil {
					return buf, err
				}
				continue
			}
			b = cb
		} else {
			buf = b.Data()[:0]
		}
		if err := writeFrame(w, blockHeader(statusOK, c), b.Data()); err != nil {
			return buf, err
		}
		n.metrics.servedBytes.Add(float64(b.Size()))
	}
	return buf, nil
}

func (n *Node) servePut(s network.Stream, r *bufio.Reader, w *bufio.Writer, from peer.ID, req request) error {
	ss := make([]status, req.n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, putParallel)
	for i := range req.n {
		// Each block needs its own buffer: it is stored while the next is
		// read. The resource manager accounts for it.
		sem <- struct{}{}
		bufp := frameBuffers.Get().(*[]byte)
		frame, err := readFrame(r, maxBlockFrame, *bufp)
		if err != nil {
			frameBuffers.Put(bufp)
			<-sem
			wg.Wait()
			return err
		}
		*bufp = frame
		st, c, data, err := decodeBlockFrame(frame)
		if err != nil || st != statusOK {
			frameBuffers.Put(bufp)
			<-sem
			wg.Wait()
			return errors.Join(err, protoErr("put frame with status %v", st))
		}
		if err := s.Scope().ReserveMemory(len(frame), network.ReservationPriorityHigh); err != nil {
			frameBuffers.Put(bufp)
			<-sem
			ss[i] = statusFailed
			continue
		}
		wg.Go(func() {
			// Stores do not keep a block's bytes once Put returns, so the
			// frame's buffer serves the next block.
			defer func() { <-sem; s.Scope().ReleaseMemory(len(frame)); frameBuffers.Put(bufp) }()
			b, err := content.BlockFromCID(c, data)
			if err != nil {
				ss[i] = statusRejected
				n.reportCorrupt(from)
				return
			}
			// A pushed block is leased before it is stored, under its lock,
			// so a collection pass either sees the lease or has deleted
			// the block before this stores it again.
			unlock := n.gc.hold(c)
			n.gc.lease(c)
			err = n.store.Put(n.ctx, b)
			unlock()
			if err != nil {
				ss[i] = statusFailed
				return
			}
			n.metrics.receivedBytes.Add(float64(b.Size()))
		})
	}
	wg.Wait()
	return writeFrame(w, encodeStatuses(ss))
}
