package peer

import (
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// RepairAction is what a holder of a block must do for it in a repair pass.
type RepairAction struct {
	// PushTo are the home peers that do not hold the block.
	PushTo []peer.ID
	// Drop is true when this holder is not a home peer and all R home peers
	// have confirmed they hold the block: the local copy may go.
	Drop bool
}

// DecideRepair is the pure core of repair. self holds the block; homes is
// its current home set (closest first); holds reports which peers have
// confirmed they hold it; r is the replication factor. A holder outside the
// home drops its copy only once a full home set of r peers holds it, so the
// number of confirmed copies never falls below r because of a drop.
func DecideRepair(self peer.ID, homes []peer.ID, holds func(peer.ID) bool, r int) RepairAction {
	var a RepairAction
	confirmed := 0
	for _, p := range homes {
		if p == self {
			confirmed++
			continue
		}
		if holds(p) {
			confirmed++
		} else {
			a.PushTo = append(a.PushTo, p)
		}
	}
	a.Drop = !slices.Contains(homes, self) && len(homes) >= r && confirmed == len(homes)
	return a
}
