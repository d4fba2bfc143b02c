package peer

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Gater is the host's connection gater: it refuses connections to and from
// blocked peers. Peers are blocked for serving corrupt blocks (for good),
// for flooding this node with requests (for a while) and, in tests, to
// partition the mesh (until Unblock).
type Gater struct {
	mu      sync.RWMutex
	blocked map[peer.ID]string // peer → reason
}

// NewGater returns a gater that blocks nobody.
func NewGater() *Gater { return &Gater{blocked: map[peer.ID]string{}} }

// Block refuses every connection with p from now on.
func (g *Gater) Block(p peer.ID, reason string) {
	g.mu.Lock()
	g.blocked[p] = reason
	g.mu.Unlock()
}

// UnblockIf lets p connect again if it is blocked for reason (and not for
// another since).
func (g *Gater) UnblockIf(p peer.ID, reason string) {
	g.mu.Lock()
	if g.blocked[p] == reason {
		delete(g.blocked, p)
	}
	g.mu.Unlock()
}

// Unblock lets p connect again.
func (g *Gater) Unblock(p peer.ID) {
	g.mu.Lock()
	delete(g.blocked, p)
	g.mu.Unlock()
}

// Blocked returns the blocked peers and why.
func (g *Gater) Blocked() map[peer.ID]string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make(map[peer.ID]string, len(g.blocked))
	for p, r := range g.blocked {
		out[p] = r
	}
	return out
}

// IsBlocked reports whether p is blocked.
func (g *Gater) IsBlocked(p peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	_, ok := g.blocked[p]
	return ok
}

// InterceptPeerDial refuses dials to blocked peers.
func (g *Gater) InterceptPeerDial(p peer.ID) bool { return !g.IsBlocked(p) }

// InterceptAddrDial refuses dials to blocked peers.
func (g *Gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !g.IsBlocked(p) }

// InterceptAccept accepts every inbound connection: the peer is not known
// until the security handshake.
func (g *Gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses connections with blocked peers once their identity
// is known.
func (g *Gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.IsBlocked(p)
}

// InterceptUpgraded accepts every upgraded connection that got this far.
func (g *Gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
