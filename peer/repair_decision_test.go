package peer

import (
	"slices"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestDecideRepair(t *testing.T) {
	ids := testPeerIDs(t, 3, 5)
	a, b, c, d, self := ids[0], ids[1], ids[2], ids[3], ids[4]
	for _, tc := range []struct {
		name  string
		homes []peer.ID
		holds []peer.ID
		r     int
		push  []peer.ID
		drop  bool
	}{
		{"home, others hold", []peer.ID{self, a, b}, []peer.ID{a, b}, 3, nil, false},
		{"home, one lacks", []peer.ID{a, self, b}, []peer.ID{a}, 3, []peer.ID{b}, false},
		{"home, all lack", []peer.ID{a, b, self}, nil, 3, []peer.ID{a, b}, false},
		{"not home, all hold: drop", []peer.ID{a, b, c}, []peer.ID{a, b, c}, 3, nil, true},
		{"not home, one lacks: push, keep", []peer.ID{a, b, c}, []peer.ID{a, c}, 3, []peer.ID{b}, false},
		{"not home, none hold", []peer.ID{a, b, c}, []peer.ID{d}, 3, []peer.ID{a, b, c}, false},
		{"not home, small mesh: keep", []peer.ID{a, b}, []peer.ID{a, b}, 3, nil, false},
		{"only self", []peer.ID{self}, nil, 3, nil, false},
		{"R=1 not home, holder has it: drop", []peer.ID{a}, []peer.ID{a}, 1, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DecideRepair(self, tc.homes, func(p peer.ID) bool { return slices.Contains(tc.holds, p) }, tc.r)
			if !slices.Equal(got.PushTo, tc.push) || got.Drop != tc.drop {
				t.Fatalf("got push %v drop %v; want push %v drop %v", got.PushTo, got.Drop, tc.push, tc.drop)
			}
		})
	}
}
