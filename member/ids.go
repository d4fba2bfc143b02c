package member

import (
	"crypto/sha256"
	"encoding/binary"
)

// RaftID is the Raft node ID of the peer named id: 64 bits of its hash,
// never 0 (Raft's "none").
func RaftID(peer string) uint64 {
	h := sha256.Sum256([]byte(peer))
	if v := binary.BigEndian.Uint64(h[:8]); v != 0 {
		return v
	}
	return 1
}
