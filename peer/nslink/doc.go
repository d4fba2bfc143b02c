// Package nslink joins a mesh node to a namespace: it carries a member's
// Raft messages and requests over the node's libp2p protocols, signs,
// publishes and finds root records in the node's DHT, and tells the DHT's
// root-record validator who the namespace's voters are. Daemons and the
// browser node use it alike; the member itself knows nothing of libp2p.
package nslink
