package peer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"meshfs/content"
)

// DHTPrefix is the protocol prefix of meshfs's DHT: "/meshfs/kad/1.0.0",
// never the public IPFS DHT.
const DHTPrefix = "/meshfs"

// dhtProtocol is the protocol DHT servers announce.
const dhtProtocol = protocol.ID(DHTPrefix + "/kad/1.0.0")

// Node is a mesh peer: host, DHT, block protocol server and client, pusher,
// fetcher and repair loop, over a durable local block store.
type Node struct {
	cfg     Config
	host    host.Host
	dht     *dht.IpfsDHT
	gater   *Gater
	store   content.Store
	cache   *blockCache
	scores  *scoreboard
	metrics *metrics
	inbound *inboundLimiter
	hedge   *latencyTracker
	now     func() time.Time

	streams *streamPool

	sendersMu sync.Mutex
	senders   map[peer.ID]*sender

	repair *repairer
	gc     *collector // nil: no collection

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// closing is set by Close under goMu; spawn refuses new goroutines then,
	// so none starts after Close waits for them.
	goMu    sync.Mutex
	closing bool
}

// spawn runs f in a goroutine that Close waits for, unless the node is
// closing; it reports whether f was started.
func (n *Node) spawn(f func()) bool {
	n.goMu.Lock()
	defer n.goMu.Unlock()
	if n.closing {
		return false
	}
	n.wg.Go(f)
	return true
}

// New starts a node with identity key over store (which the node uses but
// does not close). reg, if not nil, receives the node's Prometheus metrics.
func New(ctx context.Context, cfg Config, key crypto.PrivKey, store content.Store, reg prometheus.Registerer) (*Node, error) {
	return newNode(ctx, cfg, key, store, reg)
}

// newNode is [New] with options for the host's resource manager (tests
// apply its per-address connection limits to loopback, which libp2p
// exempts by default).
func newNode(ctx context.Context, cfg Config, key crypto.PrivKey, store content.Store, reg prometheus.Registerer, rmOpts ...rcmgr.Option) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	gater := NewGater()
	h, err := newHost(cfg, key, gater, rmOpts...)
	if err != nil {
		return nil, err
	}
	mode := dht.ModeServer
	if cfg.Client {
		mode = dht.ModeClient
	}
	d, err := dht.New(h,
		dht.Mode(mode),
		dht.ProtocolPrefix(DHTPrefix),
		dht.BootstrapPeers(cfg.Bootstrap...),
		// Added beside the default "pk" and "ipns" validators, in either mode.
		dht.NamespacedValidator(RootRecordNamespace, RootValidator{Voters: cfg.RootVoters}),
	)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("peer: dht: %w", err)
	}
	nctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n := &Node{
		cfg:     cfg,
		host:    h,
		dht:     d,
		gater:   gater,
		store:   store,
		cache:   newBlockCache(cfg.CacheBytes),
		scores:  newScoreboard(cfg.BadPeerThreshold, 10*time.Second, cfg.Now),
		inbound: newInboundLimiter(cfg.MaxInboundPerPeer),
		hedge:   newLatencyTracker(),
		now:     cfg.Now,
		senders: map[peer.ID]*sender{},
		streams: newStreamPool(),
		ctx:     nctx,
		cancel:  cancel,
	}
	n.metrics = newMetrics(n)
	if reg != nil {
		if err := n.metrics.register(reg); err != nil {
			n.Close()
			return nil, err
		}
	}
	n.repair = newRepairer(n)
	h.SetStreamHandler(BlockProtocol, n.serve)
	// Idle streams die with their connection: drop them when the peer is
	// no longer connected, so no request goes out on a dead stream.
	h.Network().Notify(&network.NotifyBundle{DisconnectedF: func(nw network.Network, c network.Conn) {
		if p := c.RemotePeer(); nw.Connectedness(p) != network.Connected {
			n.streams.drop(p)
		}
	}})

	n.wg.Add(2)
	go n.watchPeers()
	go n.keepConnected()
	// A client is home to no block: what it stores is a cache of what it
	// read or wrote, which repair would hand off and drop.
	if !cfg.Client {
		n.wg.Add(1)
		go n.repair.loop()
		if cfg.GC != nil {
			n.gc = newCollector(n, *cfg.GC, cfg.GCNamespace)
			n.wg.Add(1)
			go n.gc.loop(cfg.GCInterval)
		}
	}

	n.connectBootstrap(ctx)
	return n, nil
}

// connectBootstrap dials the bootstrap peers in parallel and refreshes the
// routing table; unreachable ones are skipped (the DHT retries them when its
// table runs low).
func (n *Node) connectBootstrap(ctx context.Context) {
	var wg sync.WaitGroup
	for _, ai := range n.cfg.Bootstrap {
		if ai.ID == n.host.ID() {
			continue
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_ = n.host.Connect(cctx, ai)
		})
	}
	wg.Wait()
	_ = n.dht.Bootstrap(n.ctx)
}

// Close stops the node: its loops, its DHT and its host. It waits for pushes
// in flight to end.
func (n *Node) Close() error {
	n.goMu.Lock()
	n.closing = true
	n.goMu.Unlock()
	n.cancel()
	err := errors.Join(n.dht.Close(), n.host.Close())
	n.wg.Wait()
	return err
}

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Host returns the libp2p host, for the daemon's other protocols.
func (n *Node) Host() host.Host { return n.host }

// DHT returns the node's DHT.
func (n *Node) DHT() *dht.IpfsDHT { return n.dht }

// Store returns the node's durable block store.
func (n *Node) Store() content.Store { return n.store }

// Config returns the node's configuration.
func (n *Node) Config() Config { return n.cfg }

// Addrs returns the node's listen addresses with its peer ID.
func (n *Node) Addrs() []ma.Multiaddr {
	ai := peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
	out, err := peer.AddrInfoToP2pAddrs(&ai)
	if err != nil {
		return nil
	}
	return out
}

// Connect dials the peer at a multiaddr that ends in /p2p/ID.
func (n *Node) Connect(ctx context.Context, addr ma.Multiaddr) error {
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return fmt.Errorf("peer: %s: %w", addr, err)
	}
	return n.host.Connect(ctx, *ai)
}

// candidates returns the peers that may be home to a block right now: this
// node (unless it is a client) and the DHT servers it is connected to, not
// blocked and not avoided. A server is a peer in the routing table or one
// that announces the DHT protocol (the table adds a new peer only after a
// query to it succeeds, which can lag behind the connection).
func (n *Node) candidates() []peer.ID {
	var out []peer.ID
	if !n.cfg.Client {
		out = append(out, n.host.ID())
	}
	seen := map[peer.ID]bool{n.host.ID(): true}
	consider := func(p peer.ID) {
		if seen[p] {
			return
		}
		seen[p] = true
		if n.host.Network().Connectedness(p) == network.Connected && !n.gater.IsBlocked(p) && !n.scores.avoid(p) {
			out = append(out, p)
		}
	}
	for _, p := range n.dht.RoutingTable().ListPeers() {
		consider(p)
	}
	for _, p := range n.host.Network().Peers() {
		if ok, _ := n.host.Peerstore().SupportsProtocols(p, dhtProtocol); len(ok) > 0 {
			consider(p)
		}
	}
	return out
}

// Homes returns the home set of the block with CID c as this node sees the
// mesh now: the R candidates XOR-closest to the block's key.
func (n *Node) Homes(c cid.Cid) []peer.ID {
	return HomeSet(BlockKey(c), n.candidates(), n.cfg.Replication)
}

// LookupHomes asks the DHT for the R peers closest to the block's key
// (a network lookup, not the local view).
func (n *Node) LookupHomes(ctx context.Context, c cid.Cid) ([]peer.ID, error) {
	ps, err := n.dht.GetClosestPeers(ctx, string(c.Hash()))
	if err != nil {
		return nil, fmt.Errorf("peer: lookup %s: %w", c, err)
	}
	if !n.cfg.Client {
		ps = append(ps, n.host.ID())
	}
	return HomeSet(BlockKey(c), ps, n.cfg.Replication), nil
}

// watchPeers schedules a repair pass when the set of candidate peers
// changes (a peer joined the routing table, connected, disconnected, was
// blocked), so the mesh converges without waiting for the interval.
func (n *Node) watchPeers() {
	defer n.wg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	var last []peer.ID
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		now := n.candidates()
		slices.Sort(now)
		if !slices.Equal(now, last) {
			if last != nil {
				n.repair.poke()
			}
			last = now
		}
	}
}

// keepConnected redials routing-table peers that are not connected (the DHT
// keeps peers in its table long after they leave), so a returning peer is a
// candidate again within seconds.
func (n *Node) keepConnected() {
	defer n.wg.Done()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		// The bootstrap peers too, with their configured addresses: a peer
		// that restarted on new ports finds the mesh again through them.
		var wg sync.WaitGroup
		dial := func(ai peer.AddrInfo) {
			if ai.ID == n.host.ID() || n.host.Network().Connectedness(ai.ID) == network.Connected ||
				n.gater.IsBlocked(ai.ID) || n.scores.avoid(ai.ID) {
				return
			}
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
				defer cancel()
				if err := n.host.Connect(ctx, ai); err != nil {
					n.scores.failure(ai.ID)
				}
			})
		}
		for _, p := range n.dht.RoutingTable().ListPeers() {
			dial(peer.AddrInfo{ID: p})
		}
		for _, ai := range n.cfg.Bootstrap {
			dial(ai)
		}
		wg.Wait()
	}
}

// Partition blocks the given peers in the gater and closes connections with
// them (a test control); Heal unblocks them.
func (n *Node) Partition(ps ...peer.ID) {
	for _, p := range ps {
		if p == n.host.ID() {
			continue
		}
		n.gater.Block(p, "partition")
		n.streams.drop(p)
		_ = n.host.Network().ClosePeer(p)
	}
	n.repair.poke()
}

// Heal unblocks every peer blocked by Partition and redials them in the
// background.
func (n *Node) Heal() {
	var healed []peer.ID
	for p, reason := range n.gater.Blocked() {
		if reason == "partition" {
			n.gater.Unblock(p)
			n.scores.success(p)
			healed = append(healed, p)
		}
	}
	for _, p := range healed {
		n.spawn(func() {
			ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
			defer cancel()
			_ = n.host.Connect(ctx, peer.AddrInfo{ID: p})
		})
	}
	n.repair.poke()
}

// floodBan is how long a flooding peer stays blocked.
const floodBan = 10 * time.Minute

// reasonFlood is why a flooding peer is blocked.
const reasonFlood = "flooding requests"

// noteRefused counts a request of p refused here, and bans p once it is
// flooding (scoreboard.refused).
func (n *Node) noteRefused(p peer.ID) {
	if n.scores.refused(p) {
		n.banFlooder(p)
	}
}

// banFlooder blocks p, which keeps sending requests this node refuses
// (scoreboard.refused), for floodBan, and disconnects it: the streams it
// opens cost this node CPU before any handler refuses them, so refusing
// them one by one would leave honest peers waiting.
func (n *Node) banFlooder(p peer.ID) {
	n.gater.Block(p, reasonFlood)
	n.streams.drop(p)
	_ = n.host.Network().ClosePeer(p)
	time.AfterFunc(floodBan, func() { n.gater.UnblockIf(p, reasonFlood) })
}

// reportCorrupt scores p down for a corrupt block and blocks it for good after it served or pushed too many corrupt
// blocks, and disconnects it.
func (n *Node) reportCorrupt(p peer.ID) {
	n.metrics.corrupt.Inc()
	if n.scores.corrupt(p) {
		n.gater.Block(p, "corrupt blocks")
		n.streams.drop(p)
		_ = n.host.Network().ClosePeer(p)
	}
}

// PeerInfo describes a connected peer.
type PeerInfo struct {
	ID      string   `json:"id"`
	Addrs   []string `json:"addrs"`
	Latency string   `json:"latency,omitempty"`
	InTable bool     `json:"in_routing_table"`
	Blocked string   `json:"blocked,omitempty"`
}

// Peers lists the connected peers and the blocked ones.
func (n *Node) Peers() []PeerInfo {
	inRT := map[peer.ID]bool{}
	for _, p := range n.dht.RoutingTable().ListPeers() {
		inRT[p] = true
	}
	blocked := n.gater.Blocked()
	seen := map[peer.ID]bool{}
	var out []PeerInfo
	add := func(p peer.ID) {
		if seen[p] {
			return
		}
		seen[p] = true
		pi := PeerInfo{ID: p.String(), InTable: inRT[p], Blocked: blocked[p]}
		for _, c := range n.host.Network().ConnsToPeer(p) {
			pi.Addrs = append(pi.Addrs, c.RemoteMultiaddr().String())
		}
		if l := n.host.Peerstore().LatencyEWMA(p); l > 0 {
			pi.Latency = l.String()
		}
		out = append(out, pi)
	}
	for _, p := range n.host.Network().Peers() {
		add(p)
	}
	for p := range blocked {
		add(p)
	}
	slices.SortFunc(out, func(a, b PeerInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Status is a snapshot of the node.
type Status struct {
	ID            string    `json:"id"`
	Addrs         []string  `json:"addrs"`
	Connected     int       `json:"connected_peers"`
	RoutingTable  int       `json:"routing_table"`
	Blocks        int64     `json:"blocks"`
	Bytes         int64     `json:"bytes"`
	CacheBlocks   int       `json:"cache_blocks"`
	CacheBytes    int64     `json:"cache_bytes"`
	Replication   int       `json:"replication"`
	WriteQuorum   int       `json:"write_quorum"`
	RepairBacklog int       `json:"repair_backlog"`
	RepairPasses  int64     `json:"repair_passes"`
	LastRepair    time.Time `json:"last_repair,omitzero"`
	// LastReport is the last repair pass's report.
	LastReport RepairReport `json:"last_repair_report"`
	// Client is true for a node that is never home to blocks.
	Client bool `json:"client,omitempty"`
	// GC is the last garbage-collection pass, if this node collects.
	GC *GCReport `json:"gc,omitempty"`
}

// Status returns the node's status.
func (n *Node) Status(ctx context.Context) (Status, error) {
	st, err := n.store.Stat(ctx)
	if err != nil {
		return Status{}, err
	}
	s := Status{
		ID:           n.host.ID().String(),
		Connected:    len(n.host.Network().Peers()),
		RoutingTable: n.dht.RoutingTable().Size(),
		Blocks:       st.Blocks,
		Bytes:        st.Bytes,
		Replication:  n.cfg.Replication,
		WriteQuorum:  n.cfg.WriteQuorum,
	}
	s.CacheBlocks, s.CacheBytes = n.cache.stat()
	for _, a := range n.Addrs() {
		s.Addrs = append(s.Addrs, a.String())
	}
	s.RepairBacklog, s.RepairPasses, s.LastRepair = n.repair.stat()
	s.LastReport = n.repair.last()
	s.Client = n.cfg.Client
	if r, ok := n.LastGC(); ok {
		r.Dead = nil // the status carries the tallies only
		s.GC = &r
	}
	return s, nil
}
