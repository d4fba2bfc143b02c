package peer

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"meshfs/content"
)

// testPeerIDs returns n Ed25519 peer IDs derived from seed.
func testPeerIDs(t testing.TB, seed uint64, n int) []peer.ID {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	ids := make([]peer.ID, n)
	for i := range ids {
		var s [ed25519.SeedSize]byte
		for j := range s {
			s[j] = byte(rng.Uint32())
		}
		k, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(s[:]))
		if err != nil {
			t.Fatal(err)
		}
		if ids[i], err = peer.IDFromPrivateKey(k); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// kbucketHome is the oracle: the r peers closest to the block's key by
// go-libp2p-kbucket's own distance (sha256 of the multihash and of the ID).
func kbucketHome(c content.Block, ps []peer.ID, r int) []peer.ID {
	key := string(c.CID().Hash())
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b peer.ID) int {
		switch {
		case kb.Closer(a, b, key):
			return -1
		case kb.Closer(b, a, key):
			return 1
		}
		return 0
	})
	return out[:min(r, len(out))]
}

func TestHomeSetIsTheRClosestByXOR(t *testing.T) {
	for _, tc := range []struct {
		peers, r int
	}{{1, 3}, {2, 3}, {3, 3}, {5, 3}, {10, 3}, {20, 5}, {50, 3}, {7, 1}} {
		t.Run(fmt.Sprintf("%dpeers_R%d", tc.peers, tc.r), func(t *testing.T) {
			ids := testPeerIDs(t, uint64(tc.peers*100+tc.r), tc.peers)
			for i := range 50 {
				b, err := content.NewRawBlock(fmt.Appendf(nil, "block %d", i))
				if err != nil {
					t.Fatal(err)
				}
				got := HomeSet(BlockKey(b.CID()), ids, tc.r)
				want := kbucketHome(b, ids, tc.r)
				if !slices.Equal(got, want) {
					t.Fatalf("block %d: home %v, kbucket says %v", i, got, want)
				}
				// The order of the candidates does not matter.
				shuffled := slices.Clone(ids)
				rand.New(rand.NewPCG(uint64(i), 1)).Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
				if again := HomeSet(BlockKey(b.CID()), shuffled, tc.r); !slices.Equal(again, got) {
					t.Fatalf("block %d: home depends on candidate order", i)
				}
			}
		})
	}
}

func TestHomeSetIgnoresDuplicates(t *testing.T) {
	ids := testPeerIDs(t, 7, 4)
	b, _ := content.NewRawBlock([]byte("x"))
	got := HomeSet(BlockKey(b.CID()), append(slices.Clone(ids), ids...), 3)
	if len(got) != 3 || got[0] == got[1] || got[1] == got[2] {
		t.Fatalf("home with duplicates: %v", got)
	}
}

func TestHomeSetSpreadsBlocks(t *testing.T) {
	// Over many blocks every peer is home to about R/N of them.
	ids := testPeerIDs(t, 11, 10)
	count := map[peer.ID]int{}
	const blocks, r = 3000, 3
	for i := range blocks {
		b, _ := content.NewRawBlock(fmt.Appendf(nil, "%d", i))
		for _, p := range HomeSet(BlockKey(b.CID()), ids, r) {
			count[p]++
		}
	}
	want := blocks * r / len(ids)
	for p, n := range count {
		if n < want/2 || n > want*2 {
			t.Errorf("peer %s is home to %d blocks, expected about %d", p, n, want)
		}
	}
}
