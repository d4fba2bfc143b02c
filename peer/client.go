package peer

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"meshfs/content"
)

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
	return n.askHeld(ctx, p, opHave, 0, cids)
}

// askHeld asks p which of cids it holds, with a have, lease or release
// (at index) request.
func (n *Node) askHeld(ctx context.Context, p peer.ID, o op, index uint64, cids []cid.Cid) ([]bool, error) {
	start := n.now()
	var ss []status
	err := n.exchange(ctx, p, func(bs *blockStream) error {
		frame, err := bs.ask(encodeRequestAt(o, index, cids, 0), maxStatusFrame)
		if err != nil {
			return err
		}
		ss, err = decodeStatuses(frame, len(cids))
		return err
	})
	n.metrics.observe("out", o, n.now().Sub(start), err)
	if err != nil {
		return nil, n.requestFailed(p, o, err)
	}
	n.scores.success(p)
	out := make([]bool, len(ss))
	for i, st := range ss {
		out[i] = st == statusOK
	}
	return out, nil
}

// errAnswer marks a well-formed answer that is not a block (not found,
// refused, or bytes that do not match the CID): the stream stays usable.
type answerError struct{ err error }

func (e answerError) Error() string { return e.err.Error() }
func (e answerError) Unwrap() error { return e.err }

// getOne fetches the block c from p and verifies it. A block whose bytes do
// not match c is dropped and scores p down.
func (n *Node) getOne(ctx context.Context, p peer.ID, c cid.Cid) (content.Block, error) {
	start := n.now()
	n.scores.begin(p)
	defer n.scores.end(p)
	var b content.Block
	var answer error
	err := n.exchange(ctx, p, func(bs *blockStream) error {
		frame, err := bs.ask(encodeRequest(opGet, []cid.Cid{c}, 0), maxBlockFrame)
		if err != nil {
			return err
		}
		st, got, data, err := decodeBlockFrame(frame)
		if err != nil {
			return err
		}
		if !got.Equals(c) {
			return protoErr("answered %s for %s", got, c)
		}
		switch st {
		case statusOK:
			b, answer = content.BlockFromCID(c, data)
		case statusNotFound:
			answer = fmt.Errorf("%w: %s at %s", content.ErrNotFound, c, shortID(p))
		default:
			answer = fmt.Errorf("%w: %v", ErrRefused, st)
		}
		if errors.Is(answer, content.ErrHashMismatch) {
			return answer // a corrupt sender's stream is not reused
		}
		return nil
	})
	if err == nil {
		err = answer
	}
	n.metrics.observe("out", opGet, n.now().Sub(start), err)
	switch {
	case err == nil:
		n.scores.success(p)
		n.hedge.observe(n.now().Sub(start))
		return b, nil
	case errors.Is(err, content.ErrHashMismatch):
		n.reportCorrupt(p)
		return content.Block{}, fmt.Errorf("peer %s: get: %w", shortID(p), err)
	case errors.Is(err, content.ErrNotFound), errors.Is(err, ErrRefused):
		n.scores.success(p)
		return content.Block{}, err
	}
	return content.Block{}, n.requestFailed(p, opGet, err)
}

// putBatch pushes blocks to p in one request and returns each block's
// outcome: nil once p acknowledged it durable.
func (n *Node) putBatch(ctx context.Context, p peer.ID, blocks []content.Block) []error {
	start := n.now()
	errs := make([]error, len(blocks))
	var ss []status
	err := n.exchange(ctx, p, func(bs *blockStream) error {
		if err := writeFrame(bs.w, encodeRequest(opPut, nil, len(blocks))); err != nil {
			return err
		}
		for _, b := range blocks {
			if err := writeFrame(bs.w, blockHeader(statusOK, b.CID()), b.Data()); err != nil {
				return err
			}
		}
		if err := bs.w.Flush(); err != nil {
			return err
		}
		frame, err := readFrame(bs.r, maxStatusFrame, nil)
		if err != nil {
			return err
		}
		ss, err = decodeStatuses(frame, len(blocks))
		return err
	})
	n.metrics.observe("out", opPut, n.now().Sub(start), err)
	if err != nil {
		err = n.requestFailed(p, opPut, err)
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	n.scores.success(p)
	for i, st := range ss {
		if st != statusOK {
			errs[i] = fmt.Errorf("peer %s: put %s: %w: %v", shortID(p), blocks[i].CID(), ErrRefused, st)
		}
	}
	return errs
}
