package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ErrNoStream reports a request that could not open a stream to its peer:
// it certainly did not reach it.
var ErrNoStream = errors.New("peer: no stream to peer")

// Serve answers requests on proto: one request and one answer per stream,
// each at most MaxMessage bytes; handle gets the sender's authenticated
// peer ID.
func (n *Node) Serve(proto protocol.ID, handle func(ctx context.Context, from peer.ID, req []byte) []byte) {
	n.host.SetStreamHandler(proto, func(s network.Stream) {
		defer s.Close()
		_ = s.SetReadDeadline(time.Now().Add(n.cfg.RequestTimeout))
		req, err := readFrame(bufio.NewReader(s), MaxMessage, nil)
		if err != nil {
			s.Reset()
			if errors.Is(err, errOversized) {
				n.noteRefused(s.Conn().RemotePeer())
			}
			return
		}
		_ = s.SetReadDeadline(time.Time{})
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
		ans := handle(ctx, s.Conn().RemotePeer(), req)
		cancel()
		if len(ans) > MaxMessage {
			s.Reset()
			return
		}
		_ = s.SetWriteDeadline(time.Now().Add(n.cfg.RequestTimeout))
		w := bufio.NewWriter(s)
		if writeFrame(w, ans) != nil || w.Flush() != nil {
			s.Reset()
		}
	})
}

// Request sends req to p on proto and returns p's answer. A failure to
// open the stream wraps ErrNoStream; after that, the request may have
// reached p.
func (n *Node) Request(ctx context.Context, p peer.ID, proto protocol.ID, req []byte) ([]byte, error) {
	if len(req) > MaxMessage {
		return nil, fmt.Errorf("%w: request of %d bytes, limit %d", ErrProtocol, len(req), MaxMessage)
	}
	s, err := n.host.NewStream(ctx, p, proto)
	if err != nil {
		return nil, fmt.Errorf("peer %s: %s: %w: %w", shortID(p), proto, ErrNoStream, err)
	}
	// A peer that stops reading (paused, or hostile) fills the stream's
	// window, and a write, or the frame a close or reset sends, would then
	// wait for it: so the stream's deadline is ctx's, ctx's end moves it to
	// now, the request's end is its frame (no half-close is sent), and
	// resets go out off this goroutine.
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	reset := func() {
		_ = s.SetDeadline(time.Now())
		go s.Reset()
	}
	stop := context.AfterFunc(ctx, reset)
	defer stop()
	w := bufio.NewWriter(s)
	if err := writeFrame(w, req); err != nil {
		reset()
		return nil, fmt.Errorf("peer %s: %s: %w", shortID(p), proto, err)
	}
	if err := w.Flush(); err != nil {
		reset()
		return nil, fmt.Errorf("peer %s: %s: %w", shortID(p), proto, err)
	}
	ans, err := readFrame(bufio.NewReader(s), MaxMessage, nil)
	if err != nil {
		reset()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("peer %s: %s: %w", shortID(p), proto, err)
	}
	go s.Close()
	return ans, nil
}
