//go:build js

package peer

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/coder/websocket"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/transport"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// browserWebSocket is a dial-only libp2p transport over the browser's
// WebSocket API (coder/websocket's js implementation): it opens a binary
// WebSocket to a daemon's /ws or /wss address and hands the byte stream to
// the upgrader for Noise and Yamux.
type browserWebSocket struct {
	upgrader transport.Upgrader
	rcmgr    network.ResourceManager
}

func newBrowserWebSocket(up transport.Upgrader, rm network.ResourceManager) *browserWebSocket {
	return &browserWebSocket{upgrader: up, rcmgr: rm}
}

var errCannotListen = errors.New("peer: a browser cannot listen")

func (t *browserWebSocket) CanDial(a ma.Multiaddr) bool {
	_, err := webSocketURL(a)
	return err == nil
}

func (t *browserWebSocket) Listen(ma.Multiaddr) (transport.Listener, error) {
	return nil, errCannotListen
}

func (t *browserWebSocket) Protocols() []int { return []int{ma.P_WS, ma.P_WSS} }

func (t *browserWebSocket) Proxy() bool { return false }

func (t *browserWebSocket) Dial(ctx context.Context, raddr ma.Multiaddr, p peer.ID) (transport.CapableConn, error) {
	url, err := webSocketURL(raddr)
	if err != nil {
		return nil, err
	}
	scope, err := t.rcmgr.OpenConnection(network.DirOutbound, true, raddr)
	if err != nil {
		return nil, err
	}
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		scope.Done()
		return nil, fmt.Errorf("peer: websocket %s: %w", url, err)
	}
	// The connection outlives the dial's context: it ends when it is closed.
	nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	conn, err := t.upgrader.Upgrade(ctx, t, &browserConn{Conn: nc, remote: raddr}, network.DirOutbound, p, scope)
	if err != nil {
		nc.Close()
		scope.Done()
		return nil, err
	}
	return conn, nil
}

// browserConn gives a WebSocket byte stream the multiaddrs libp2p wants.
type browserConn struct {
	net.Conn
	remote ma.Multiaddr
}

var _ manet.Conn = (*browserConn)(nil)

// browserLocalAddr stands for the browser's side, which has no address it
// can know or be reached at.
var browserLocalAddr = ma.StringCast("/ip4/0.0.0.0/tcp/0/ws")

func (c *browserConn) LocalMultiaddr() ma.Multiaddr  { return browserLocalAddr }
func (c *browserConn) RemoteMultiaddr() ma.Multiaddr { return c.remote }
