// Package peer is meshfs's network layer: a libp2p host (TCP, QUIC and
// WebSocket, Noise, Yamux, a resource manager with explicit limits and a
// connection gater), a Kademlia DHT on the "/meshfs" protocol prefix whose
// keyspace is the placement ring, and the block protocol that moves verified
// blocks between peers.
//
// A block's key is its multihash; its home is the R live DHT server peers
// XOR-closest to sha256(key) ([HomeSet]). [Node.Put] pushes a block to its
// home and returns once W of them have acknowledged it durable; [Node.Get]
// asks the home first (hedged, fastest wins), then a wider DHT lookup, and
// verifies every byte; a repair loop keeps R copies on the current home as
// peers die and join ([DecideRepair] is its pure core). A write's blocks go
// through a [Leaser], which keeps them leased at their holders until the
// write's operation commits and then releases them at its log index, so
// that garbage collection (package gc) never takes them in between. Peers
// that flood this node with refused requests are banned for a while. Only
// this package and the daemon assembly import go-libp2p.
package peer
