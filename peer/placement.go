package peer

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Key is a point of the placement ring: sha256 of a block's multihash or of
// a peer ID, as the Kademlia routing table uses them (go-libp2p-kbucket's
// ConvertKey and ConvertPeerID).
type Key [sha256.Size]byte

// BlockKey returns the ring point of the block with CID c.
func BlockKey(c cid.Cid) Key { return sha256.Sum256(c.Hash()) }

// PeerKey returns the ring point of peer p.
func PeerKey(p peer.ID) Key { return sha256.Sum256([]byte(p)) }

// closer reports whether a is XOR-closer to k than b.
func closer(k, a, b Key) bool {
	for i := range k {
		da, db := a[i]^k[i], b[i]^k[i]
		if da != db {
			return da < db
		}
	}
	return false
}

// HomeSet returns the r peers of candidates XOR-closest to k, closest first.
// Duplicates count once. It is pure: the same inputs give the same home on
// every peer.
func HomeSet(k Key, candidates []peer.ID, r int) []peer.ID {
	type ranked struct {
		id  peer.ID
		key Key
	}
	rs := make([]ranked, 0, len(candidates))
	for _, p := range candidates {
		rs = append(rs, ranked{p, PeerKey(p)})
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		switch {
		case closer(k, a.key, b.key):
			return -1
		case closer(k, b.key, a.key):
			return 1
		}
		return bytes.Compare([]byte(a.id), []byte(b.id))
	})
	out := make([]peer.ID, 0, min(r, len(rs)))
	for i, x := range rs {
		if len(out) == r {
			break
		}
		if i > 0 && x.id == rs[i-1].id {
			continue
		}
		out = append(out, x.id)
	}
	return out
}

// HomeOf is HomeSet for peer IDs in their string form, for callers outside
// the network layer (tests, tools) that know the mesh's peers by name.
func HomeOf(c cid.Cid, peerIDs []string, r int) ([]string, error) {
	ids := make([]peer.ID, len(peerIDs))
	for i, s := range peerIDs {
		id, err := peer.Decode(s)
		if err != nil {
			return nil, fmt.Errorf("peer: %q: %w", s, err)
		}
		ids[i] = id
	}
	home := HomeSet(BlockKey(c), ids, r)
	out := make([]string, len(home))
	for i, p := range home {
		out[i] = p.String()
	}
	return out, nil
}
