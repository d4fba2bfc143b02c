package peer

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// ErrNotWebSocket is returned for a multiaddr a browser cannot dial.
var ErrNotWebSocket = errors.New("peer: not a WebSocket address")

// webSocketURL turns a daemon's WebSocket multiaddr (/ip4|ip6|dns*/…/tcp/N/ws,
// /…/tcp/N/wss or /…/tcp/N/tls/ws, optionally ending in /p2p/ID) into the
// URL a browser dials.
func webSocketURL(a ma.Multiaddr) (string, error) {
	var host, port, scheme string
	for i, c := range a {
		switch c.Protocol().Code {
		case ma.P_IP4, ma.P_IP6, ma.P_DNS, ma.P_DNS4, ma.P_DNS6:
			if i != 0 {
				return "", fmt.Errorf("%w: %s", ErrNotWebSocket, a)
			}
			host = c.Value()
		case ma.P_TCP:
			port = c.Value()
		case ma.P_TLS, ma.P_SNI:
			scheme = "wss"
		case ma.P_WS:
			if scheme == "" {
				scheme = "ws"
			}
		case ma.P_WSS:
			scheme = "wss"
		case ma.P_P2P:
		default:
			return "", fmt.Errorf("%w: %s", ErrNotWebSocket, a)
		}
	}
	if host == "" || port == "" || scheme == "" {
		return "", fmt.Errorf("%w: %s", ErrNotWebSocket, a)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("%w: port %q", ErrNotWebSocket, port)
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/", nil
}

// BrowserAddrs returns the addresses a browser can dial to join the mesh:
// this node's WebSocket listeners and those of the peers it is connected
// to, each ending in /p2p/ID, this node's first.
func (n *Node) BrowserAddrs() []string {
	var out []string
	add := func(id peer.ID, addrs []ma.Multiaddr) {
		for _, a := range addrs {
			if _, err := webSocketURL(a); err != nil {
				continue
			}
			if full, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: id, Addrs: []ma.Multiaddr{a}}); err == nil {
				out = append(out, full[0].String())
			}
		}
	}
	add(n.host.ID(), n.host.Addrs())
	for _, p := range n.host.Network().Peers() {
		add(p, n.host.Peerstore().Addrs(p))
	}
	return out
}

// IsSecureWebSocket reports whether a is a secure WebSocket address
// (/tls/ws, /tls/sni/NAME/ws or /wss).
func IsSecureWebSocket(a ma.Multiaddr) bool {
	secure, ws := false, false
	for _, c := range a {
		switch c.Protocol().Code {
		case ma.P_WSS:
			return true
		case ma.P_TLS:
			secure = true
		case ma.P_WS:
			ws = true
		}
	}
	return secure && ws
}
