package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// MaxMessage bounds one message of a message channel.
const MaxMessage = 8 << 20

// Channel is a one-way stream of length-prefixed messages to each peer on
// its own protocol (the namespace's Raft messages travel on one). Messages
// to a peer keep their order; a message is dropped, never half delivered,
// when the stream breaks; the receiver's handler sees whole messages only,
// each at most MaxMessage bytes.
type Channel struct {
	n     *Node
	proto protocol.ID

	mu    sync.Mutex
	conns map[peer.ID]*channelStream
}

type channelStream struct {
	mu sync.Mutex
	s  network.Stream
	w  *bufio.Writer
}

// Channel starts a message channel on proto: handle gets every message that
// peers send on it, in order per peer, on one goroutine per peer stream.
func (n *Node) Channel(proto protocol.ID, handle func(from peer.ID, msg []byte)) *Channel {
	c := &Channel{n: n, proto: proto, conns: map[peer.ID]*channelStream{}}
	n.host.SetStreamHandler(proto, func(s network.Stream) {
		from := s.Conn().RemotePeer()
		r := bufio.NewReaderSize(s, 64<<10)
		for {
			msg, err := readFrame(r, MaxMessage, nil)
			if err != nil {
				if errors.Is(err, io.EOF) {
					s.Close()
				} else {
					s.Reset()
				}
				if errors.Is(err, errOversized) {
					n.noteRefused(from)
				}
				return
			}
			handle(from, msg)
		}
	})
	return c
}

// Send sends msgs to p in order, on the channel's stream to p (opened on
// first use, and again after a failure). It returns once they are written
// to the stream, not when p has handled them.
func (c *Channel) Send(ctx context.Context, p peer.ID, msgs ...[]byte) error {
	for _, m := range msgs {
		if len(m) > MaxMessage {
			return fmt.Errorf("%w: message of %d bytes, limit %d", ErrProtocol, len(m), MaxMessage)
		}
	}
	c.mu.Lock()
	cs := c.conns[p]
	if cs == nil {
		cs = &channelStream{}
		c.conns[p] = cs
	}
	c.mu.Unlock()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.s == nil || cs.s.Conn().IsClosed() {
		s, err := c.n.host.NewStream(ctx, p, c.proto)
		if err != nil {
			return fmt.Errorf("peer %s: %s: %w", shortID(p), c.proto, err)
		}
		cs.s, cs.w = s, bufio.NewWriterSize(s, 64<<10)
	}
	_ = cs.s.SetWriteDeadline(time.Now().Add(c.n.cfg.RequestTimeout))
	for _, m := range msgs {
		if err := writeFrame(cs.w, m); err != nil {
			return c.broken(cs, p, err)
		}
	}
	if err := cs.w.Flush(); err != nil {
		return c.broken(cs, p, err)
	}
	return nil
}

// broken resets a failed stream so the next Send opens a new one.
func (c *Channel) broken(cs *channelStream, p peer.ID, err error) error {
	cs.s.Reset()
	cs.s, cs.w = nil, nil
	return fmt.Errorf("peer %s: %s: %w", shortID(p), c.proto, err)
}
