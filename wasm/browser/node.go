package browser

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"meshfs/content"
	"meshfs/member"
	meshpeer "meshfs/peer"
	"meshfs/peer/nslink"
)

// Config describes a browser node.
type Config struct {
	// Namespace and Voters name the namespace and its voters as the
	// daemon that served the page knows them.
	Namespace string
	Voters    []string
	// Daemons are the multiaddrs (with /p2p/ID) of the daemons to join
	// through: WebSocket ones in a browser.
	Daemons []string
	// Key is the node's identity; Store its local block cache (IndexedDB in
	// a browser), written in batches ([meshfs/wasm/blockstore.Store.PutMany]
	// when it has it) when no read is in progress. Neither is closed by the
	// node.
	Key   crypto.PrivKey
	Store content.Store
	// Gateways, if set, are asked for the blocks the store does not hold
	// before the mesh is: the daemons' HTTP gateways, which a browser
	// reads several times faster than it reads the mesh. A read of a
	// range of a file (ReadFile, ReadRange, OpenRange, OpenRangeCID)
	// takes its blocks as one CAR stream, other reads one block per
	// request; a block they do not give, or give wrong, comes from the
	// mesh.
	Gateways *Gateways
	// Hash, if set, is the SHA-256 that verifies the gateways' blocks
	// ([content.BlockFromCIDHasher]); crypto/sha256 if nil.
	Hash content.Hasher
	// Replication and WriteQuorum are the mesh's R and W (3 and 2 if 0).
	Replication, WriteQuorum int
	// ReadTimeout bounds a strong read before it falls back to an
	// eventual one (4 s if 0).
	ReadTimeout time.Duration
	// ChangeTimeout bounds the wait for a writer to take a change (20 s if
	// 0): then the change fails with member.ErrNoWriter.
	ChangeTimeout time.Duration
	// Logf, if set, gets one line per event worth a log.
	Logf func(format string, args ...any)
}

// ErrNoDaemon reports a configuration without a daemon to join through.
var ErrNoDaemon = errors.New("browser: no daemon address")

// Node is a running browser node.
type Node struct {
	cfg       Config
	mesh      *meshpeer.Node
	ns        *member.Member
	blocks    *cachingBlocks
	readAhead int // blocks a file reader fetches at once
}

// Read-ahead of a file reader: through the gateways a block outside a CAR
// stream takes one HTTP request, and a browser runs several at once.
const (
	readAheadMesh     = 8
	readAheadGateways = 16
)

// Start joins the mesh through cfg.Daemons and the namespace.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Key == nil || cfg.Store == nil {
		return nil, errors.New("browser: no key or no store")
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 4 * time.Second
	}
	if cfg.ChangeTimeout == 0 {
		cfg.ChangeTimeout = 20 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	boot, err := parseDaemons(cfg.Daemons)
	if err != nil {
		return nil, err
	}
	pc := meshpeer.DefaultConfig()
	pc.ListenAddrs = nil
	pc.Client = true
	pc.Bootstrap = boot
	pc.CacheBytes = 32 << 20
	pc.MemoryLimit = 256 << 20
	pc.MaxFDs = 256
	if cfg.Replication > 0 {
		pc.Replication = cfg.Replication
	}
	if cfg.WriteQuorum > 0 {
		pc.WriteQuorum = cfg.WriteQuorum
	}
	ref := &nslink.Ref{}
	pc.RootVoters = ref.Voters
	mesh, err := meshpeer.New(ctx, pc, cfg.Key, cfg.Store, nil)
	if err != nil {
		return nil, err
	}
	ns, err := nslink.Join(mesh, member.Config{Namespace: cfg.Namespace, Voters: cfg.Voters, Logf: cfg.Logf}, ref)
	if err != nil {
		mesh.Close()
		return nil, fmt.Errorf("browser: namespace %q: %w", cfg.Namespace, err)
	}
	n := &Node{cfg: cfg, mesh: mesh, ns: ns, readAhead: readAheadMesh}
	n.blocks = &cachingBlocks{
		store: cfg.Store, mesh: mesh, gateways: cfg.Gateways, hash: cfg.Hash,
		cache: newCacheWriter(cfg.Store, cfg.Logf), logf: cfg.Logf,
	}
	if cfg.Gateways != nil {
		n.readAhead = readAheadGateways
	}
	return n, nil
}

// parseDaemons reads the daemons' addresses, grouped by peer.
func parseDaemons(addrs []string) ([]peer.AddrInfo, error) {
	var mas []ma.Multiaddr
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("browser: daemon address %q: %w", s, err)
		}
		mas = append(mas, a)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return nil, fmt.Errorf("browser: daemon addresses: %w", err)
	}
	if len(infos) == 0 {
		return nil, ErrNoDaemon
	}
	return infos, nil
}

// Close leaves the namespace and the mesh.
func (n *Node) Close() error {
	err := errors.Join(n.ns.Close(), n.mesh.Close())
	n.blocks.cache.close()
	return err
}

// ID returns the node's peer ID.
func (n *Node) ID() string { return n.mesh.ID().String() }

// Peer is a connected peer as the page shows it.
type Peer struct {
	ID    string `json:"id"`
	Addr  string `json:"addr"`
	Voter bool   `json:"voter"`
}

// Peers returns the peers the node is connected to now.
func (n *Node) Peers() []Peer {
	voters := map[string]bool{}
	for _, v := range n.ns.Voters() {
		voters[v] = true
	}
	var out []Peer
	h := n.mesh.Host()
	for _, p := range h.Network().Peers() {
		pp := Peer{ID: p.String(), Voter: voters[p.String()]}
		if cs := h.Network().ConnsToPeer(p); len(cs) > 0 {
			pp.Addr = cs[0].RemoteMultiaddr().String()
		}
		out = append(out, pp)
	}
	return out
}

// View is the namespace as this node sees it: its name, the writer and
// term a voter gave now (or last, when none answers in time), and the
// voters.
func (n *Node) View(ctx context.Context) member.View {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ReadTimeout)
	defer cancel()
	v, _ := n.ns.Writer(ctx)
	return v
}
