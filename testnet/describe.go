package testnet

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"meshfs/internal/atomicfile"
)

// descriptionFile is the machine-readable description of the mesh in Dir.
const descriptionFile = "testnet.json"

// Description is the content of testnet.json.
type Description struct {
	Peers       []Peer   `json:"peers"`
	Voters      []string `json:"voters,omitempty"` // the namespace's first voters
	Partitioned bool     `json:"partitioned,omitempty"`
}

// Description returns the mesh as testnet.json describes it.
func (n *Net) Description() Description {
	peers := n.Peers()
	voters := n.Voters()
	n.mu.Lock()
	defer n.mu.Unlock()
	return Description{Peers: peers, Voters: voters, Partitioned: n.partitioned}
}

// writeDescription replaces Dir/testnet.json with the mesh as it is now,
// once Start has succeeded (a failed Start leaves the file alone: it may
// describe another testnet running in the folder).
func (n *Net) writeDescription() error {
	n.writeMu.Lock()
	defer n.writeMu.Unlock()
	n.mu.Lock()
	started := n.started
	n.mu.Unlock()
	if !started {
		return nil
	}
	b, err := json.MarshalIndent(n.Description(), "", "  ")
	if err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(n.dir, descriptionFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	return nil
}
