// Package member runs one daemon's part in a namespace: for a voter, the
// Raft replica (package namespace) with its durable log, its tick, its
// messages and the writer's duties (taking operations, fencing them by
// term, rendering and publishing signed root records); for every daemon,
// voter or not, the front door that takes namespace requests and forwards
// them to the writer, and reads at the three consistency levels: strong
// (a Raft ReadIndex), sequential (a replica's applied state, never older
// than what this member has seen) and eventual (the newest valid root
// record, walked as plain UnixFS). The network and the records are behind
// small interfaces (Transport, Records, Blocks), so members run over
// libp2p in the daemon and over an in-memory network in tests.
package member
