package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"meshfs/content"
)

// openRequest opens a block-protocol stream to p bounded by the request
// timeout.
func (n *Node) openRequest(ctx context.Context, p peer.ID) (network.Stream, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	s, err := n.host.NewStream(ctx, p, BlockProtocol)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	// Reset the stream as soon as the caller gives up.
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	return s, func() { stop(); cancel() }, nil
}

// requestFailed records a failed exchange with p and wraps err.
func (n *Node) requestFailed(p peer.ID, o op, err error) error {
	if !errors.Is(err, context.Canceled) {
		n.scores.failure(p)
	}
	return fmt.Errorf("peer %s: %v: %w", shortID(p), o, err)
}

func shortID(p peer.ID) string {
	s := p.String()
	if len(s) > 12 {
		return "…" + s[len(s)-8:]
	}
	return s
}

// haves asks p which of cids it holds.
func (n *Node) haves(ctx context.Context, p peer.ID, cids []cid.Cid) ([]bool, error) {
	start := n.now()
	s, done, err := n.openRequest(ctx, p)
	if err != nil {
		return nil, n.requestFailed(p, opHave, err)
	}
	defer done()
	ss, err := func() ([]status, error) {
		w := bufio.NewWriter(s)
		if err := writeFrame(w, encodeRequest(opHave, cids, 0)); err != nil {
			return nil, err
		}
		if err := w.Flush(); err != nil {
			return nil, err
		}
		if err := s.CloseWrite(); err != nil {
			return nil, err
		}
		frame, err := readFrame(bufio.NewReader(s), maxStatusFrame, nil)
		if err != nil {
			return nil, err
		}
		return decodeStatuses(frame, len(cids))
	}()
	n.metrics.observe("out", opHave, n.now().Sub(start), err)
	if err != nil {
		s.Reset()
		return nil, n.requestFailed(p, opHave, err)
	}
	s.Close()
	n.scores.success(p)
	out := make([]bool, len(ss))
	for i, st := range ss {
		out[i] = st == statusOK
	}
	return out, nil
}

// getOne fetches the block c from p and verifies it. A block whose bytes do
// not match c is dropped and scores p down.
func (n *Node) getOne(ctx context.Context, p peer.ID, c cid.Cid) (content.Block, error) {
	start := n.now()
	n.scores.begin(p)
	defer n.scores.end(p)
	s, done, err := n.openRequest(ctx, p)
	if err != nil {
		return content.Block{}, n.requestFailed(p, opGet, err)
	}
	defer done()
	b, err := func() (content.Block, error) {
		w := bufio.NewWriter(s)
		if err := writeFrame(w, encodeRequest(opGet, []cid.Cid{c}, 0)); err != nil {
			return content.Block{}, err
		}
		if err := w.Flush(); err != nil {
			return content.Block{}, err
		}
		if err := s.CloseWrite(); err != nil {
			return content.Block{}, err
		}
		frame, err := readFrame(bufio.NewReaderSize(s, 64<<10), maxBlockFrame, nil)
		if err != nil {
			return content.Block{}, err
		}
		st, got, data, err := decodeBlockFrame(frame)
		if err != nil {
			return content.Block{}, err
		}
		if !got.Equals(c) {
			return content.Block{}, protoErr("answered %s for %s", got, c)
		}
		switch st {
		case statusOK:
		case statusNotFound:
			return content.Block{}, fmt.Errorf("%w: %s at %s", content.ErrNotFound, c, shortID(p))
		default:
			return content.Block{}, fmt.Errorf("%w: %v", ErrRefused, st)
		}
		return content.BlockFromCID(c, data)
	}()
	n.metrics.observe("out", opGet, n.now().Sub(start), err)
	switch {
	case err == nil:
		s.Close()
		n.scores.success(p)
		n.hedge.observe(n.now().Sub(start))
		return b, nil
	case errors.Is(err, content.ErrHashMismatch):
		s.Reset()
		n.reportCorrupt(p)
		return content.Block{}, fmt.Errorf("peer %s: get: %w", shortID(p), err)
	case errors.Is(err, content.ErrNotFound):
		s.Close()
		n.scores.success(p)
		return content.Block{}, err
	}
	s.Reset()
	return content.Block{}, n.requestFailed(p, opGet, err)
}

// putBatch pushes blocks to p in one request and returns each block's
// outcome: nil once p acknowledged it durable.
func (n *Node) putBatch(ctx context.Context, p peer.ID, blocks []content.Block) []error {
	start := n.now()
	errs := make([]error, len(blocks))
	fail := func(err error) []error {
		err = n.requestFailed(p, opPut, err)
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	s, done, err := n.openRequest(ctx, p)
	if err != nil {
		return fail(err)
	}
	defer done()
	ss, err := func() ([]status, error) {
		w := bufio.NewWriterSize(s, 64<<10)
		if err := writeFrame(w, encodeRequest(opPut, nil, len(blocks))); err != nil {
			return nil, err
		}
		for _, b := range blocks {
			if err := writeFrame(w, blockHeader(statusOK, b.CID()), b.Data()); err != nil {
				return nil, err
			}
		}
		if err := w.Flush(); err != nil {
			return nil, err
		}
		if err := s.CloseWrite(); err != nil {
			return nil, err
		}
		frame, err := readFrame(bufio.NewReader(s), maxStatusFrame, nil)
		if err != nil {
			return nil, err
		}
		return decodeStatuses(frame, len(blocks))
	}()
	n.metrics.observe("out", opPut, n.now().Sub(start), err)
	if err != nil {
		s.Reset()
		return fail(err)
	}
	s.Close()
	n.scores.success(p)
	for i, st := range ss {
		if st != statusOK {
			errs[i] = fmt.Errorf("peer %s: put %s: %w: %v", shortID(p), blocks[i].CID(), ErrRefused, st)
		}
	}
	return errs
}
