package testnet

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestCutGroups: who blocks whom, for groups and for a bridge, without
// daemons.
func TestCutGroups(t *testing.T) {
	newNet := func() *Net {
		n := &Net{}
		for i := range 5 {
			n.members = append(n.members, &member{info: Peer{Index: i, ID: fmt.Sprintf("p%d", i)}, state: Running})
		}
		return n
	}
	blocks := func(n *Net) [][]string {
		var out [][]string
		for i := range n.members {
			ids := n.outsiders(i)
			slices.Sort(ids)
			out = append(out, ids)
		}
		return out
	}

	n := newNet()
	if err := n.assignGroups([][]int{{0, 1}}, -1); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"p2", "p3", "p4"}, {"p2", "p3", "p4"}, {"p0", "p1"}, {"p0", "p1"}, {"p0", "p1"}}
	if got := blocks(n); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("groups {0 1} | rest: %v, want %v", got, want)
	}
	if err := n.assignGroups([][]int{{0}}, -1); !errors.Is(err, ErrPartitioned) {
		t.Errorf("cut of a cut mesh: %v", err)
	}

	// Bridge 2 between {0, 3} and {1, 4}: the bridge blocks no one and no
	// one blocks it.
	n = newNet()
	if err := n.assignGroups([][]int{{0, 3}}, 2); err != nil {
		t.Fatal(err)
	}
	want = [][]string{{"p1", "p4"}, {"p0", "p3"}, nil, {"p1", "p4"}, {"p0", "p3"}}
	if got := blocks(n); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("bridge 2 between {0 3} and {1 4}: %v, want %v", got, want)
	}
	v := func(i int) meshView {
		m := n.members[i]
		return meshView{index: i, group: m.group, bridge: m.bridge}
	}
	if !v(0).reaches(v(2)) || !v(2).reaches(v(1)) || v(0).reaches(v(1)) || !v(0).reaches(v(3)) {
		t.Errorf("WaitMesh's view of the bridge is wrong")
	}

	n = newNet()
	if err := n.assignGroups([][]int{{0}}, 7); !errors.Is(err, ErrNoSuchPeer) {
		t.Errorf("bridge 7 of 5 peers: %v", err)
	}
	if err := n.Bridge(t.Context(), 1, []int{1, 2}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("bridge on a side: %v", err)
	}
}
