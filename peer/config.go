package peer

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"meshfs/gc"
)

// Config is a node's configuration. Start from [DefaultConfig].
type Config struct {
	// ListenAddrs are the multiaddrs the host listens on (TCP, QUIC and
	// WebSocket ones).
	ListenAddrs []string
	// WebSocketTLS holds the certificate that secure WebSocket listen
	// addresses (/tcp/N/tls/ws, /tcp/N/wss) present, which pages served
	// over https need: they may open only wss:// connections. nil means no
	// certificate, and then such a listen address makes [New] fail. It is
	// used only for listening; dialling checks a peer's certificate
	// against the system's roots. A browser node ignores it.
	WebSocketTLS *tls.Config
	// Bootstrap are the peers dialled at start to join the mesh.
	Bootstrap []peer.AddrInfo
	// Replication is R: how many home peers hold each block.
	Replication int
	// WriteQuorum is W: how many home peers must acknowledge a block durable
	// before Put returns.
	WriteQuorum int
	// RepairInterval is how often the repair pass walks the local blocks;
	// a pass also runs shortly after the set of live peers changes.
	RepairInterval time.Duration
	// CacheBytes bounds the in-memory cache of blocks fetched for reads.
	CacheBytes int64
	// RequestTimeout bounds one block-protocol request.
	RequestTimeout time.Duration
	// MaxInboundPerPeer bounds the block-protocol requests one peer may have
	// in progress here; more are refused at once.
	MaxInboundPerPeer int
	// BadPeerThreshold is how many corrupt blocks make a peer bad:
	// disconnected, blocked and never asked again.
	BadPeerThreshold int
	// MemoryLimit and MaxFDs bound the libp2p resource manager.
	MemoryLimit int64
	MaxFDs      int
	// Client makes the node a DHT client that is never home to blocks: it
	// reads and writes through the servers and stores only what it reads,
	// in its cache (a reader, a browser).
	Client bool
	// RootVoters returns the peers that may sign namespace ns's root records
	// (its Raft voters): the DHT stores and returns only records one of
	// them signed. nil means no namespace's records are accepted.
	RootVoters func(ns string) []peer.ID
	// GC, if set, makes this node collect garbage (package gc): it leases
	// every block pushed to it, trusts the collection summary that the
	// newest signed root record of namespace GCNamespace names, and every
	// GCInterval deletes the blocks dead for GC.Grace. Nil: it deletes
	// nothing but the copies repair hands off.
	GC          *gc.Config
	GCNamespace string
	GCInterval  time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns the defaults: listen on all interfaces on TCP 4101,
// QUIC 4101 and WebSocket 4102; R=3, W=2; repair every 30 s; a 256 MiB read
// cache.
func DefaultConfig() Config {
	return Config{
		ListenAddrs: []string{
			"/ip4/0.0.0.0/tcp/4101",
			"/ip4/0.0.0.0/udp/4101/quic-v1",
			"/ip4/0.0.0.0/tcp/4102/ws",
		},
		Replication:       3,
		WriteQuorum:       2,
		RepairInterval:    30 * time.Second,
		CacheBytes:        256 << 20,
		RequestTimeout:    30 * time.Second,
		MaxInboundPerPeer: 64,
		BadPeerThreshold:  3,
		MemoryLimit:       2 << 30,
		MaxFDs:            4096,
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Replication < 1:
		return fmt.Errorf("%w: replication %d, need at least 1", ErrInvalidConfig, c.Replication)
	case c.WriteQuorum < 1 || c.WriteQuorum > c.Replication:
		return fmt.Errorf("%w: write quorum %d must be between 1 and the replication %d", ErrInvalidConfig, c.WriteQuorum, c.Replication)
	case c.RepairInterval <= 0:
		return fmt.Errorf("%w: repair interval %v", ErrInvalidConfig, c.RepairInterval)
	case c.CacheBytes < 0:
		return fmt.Errorf("%w: cache size %d", ErrInvalidConfig, c.CacheBytes)
	case c.RequestTimeout <= 0:
		return fmt.Errorf("%w: request timeout %v", ErrInvalidConfig, c.RequestTimeout)
	case c.MaxInboundPerPeer < 1:
		return fmt.Errorf("%w: max inbound requests per peer %d", ErrInvalidConfig, c.MaxInboundPerPeer)
	case c.BadPeerThreshold < 1:
		return fmt.Errorf("%w: bad-peer threshold %d", ErrInvalidConfig, c.BadPeerThreshold)
	case c.MemoryLimit < 64<<20:
		return fmt.Errorf("%w: memory limit %d, need at least 64 MiB", ErrInvalidConfig, c.MemoryLimit)
	case c.GC != nil && c.GC.Validate() != nil:
		return fmt.Errorf("%w: %w", ErrInvalidConfig, c.GC.Validate())
	case c.GC != nil && (c.GCNamespace == "" || c.GCInterval <= 0):
		return fmt.Errorf("%w: collection needs a namespace and an interval", ErrInvalidConfig)
	case c.MaxFDs < 64:
		return fmt.Errorf("%w: max file descriptors %d", ErrInvalidConfig, c.MaxFDs)
	}
	return nil
}
