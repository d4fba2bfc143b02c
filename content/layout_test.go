package content_test

import (
	"testing"

	"meshfs/content"
)

// TestFileBuilderShape checks the balanced layout's shape for leaf counts
// around the fan-out's powers: how many internal nodes it makes, and that
// the root covers every byte.
func TestFileBuilderShape(t *testing.T) {
	leaf, _ := content.NewRawBlock([]byte("0123456789"))
	tests := []struct {
		leaves, fanout, nodes int
	}{
		{1, 174, 0},   // the leaf is the root
		{2, 174, 1},   // one node
		{174, 174, 1}, // one full node
		{175, 174, 3}, // a full node, a one-leaf node, a root over both
		{174 * 174, 174, 175},
		{174*174 + 1, 174, 175 + 1 + 1 + 1}, // plus a chain down to the extra leaf, and a new root
		{8, 2, 7},                           // a complete binary tree
		{9, 2, 7 + 1 + 1 + 1 + 1},
	}
	for _, tt := range tests {
		b, err := content.NewFileBuilder(tt.fanout)
		if err != nil {
			t.Fatal(err)
		}
		made := 0
		for range tt.leaves {
			nodes, err := b.AddLeaf(leaf.CID(), leaf.Size())
			if err != nil {
				t.Fatal(err)
			}
			made += len(nodes)
		}
		root, nodes, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		made += len(nodes)
		if made != tt.nodes {
			t.Errorf("%d leaves, fan-out %d: %d nodes, want %d", tt.leaves, tt.fanout, made, tt.nodes)
		}
		if root.FileSize != uint64(10*tt.leaves) {
			t.Errorf("%d leaves: root covers %d bytes", tt.leaves, root.FileSize)
		}
		if tt.leaves == 1 && !root.CID.Equals(leaf.CID()) {
			t.Errorf("one leaf: root %s is not the leaf", root.CID)
		}
		if _, err := b.AddLeaf(leaf.CID(), 10); err == nil {
			t.Error("AddLeaf after Finish accepted")
		}
	}
	if _, err := content.NewFileBuilder(1); err == nil {
		t.Error("fan-out 1 accepted")
	}
}
