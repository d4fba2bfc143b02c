package peer

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"meshfs/content"
	"meshfs/internal/testrand"
)

func TestPutReachesHomeAndGetFromOthers(t *testing.T) {
	m := newTestMesh(t, 5, nil)
	rng := testrand.New(t)
	ctx := context.Background()
	data := testrand.Bytes(rng, 3<<20+12345)
	root, err := content.Import(ctx, bytes.NewReader(data), m.nodes[0], content.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Every node reads the file back byte-identical.
	for i, nd := range m.nodes {
		r, err := content.NewFileReader(ctx, nd, root.CID, 8)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		var got bytes.Buffer
		if _, err := r.WriteTo(&got); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("node %d read different bytes", i)
		}
	}
	// At least W home peers hold each block; after a repair pass, all R do
	// and nobody else does.
	for _, nd := range m.nodes {
		if _, err := nd.Repair(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for c, err := range allBlocks(t, m) {
		if err != nil {
			t.Fatal(err)
		}
		homes := m.nodes[0].Homes(c)
		holders, err := m.nodes[1].Where(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(homes)
		if !slices.Equal(holders, homes) {
			t.Errorf("block %s held by %v, home %v", c, holders, homes)
		}
	}
}

func TestPutFailsWithoutQuorum(t *testing.T) {
	m := newTestMesh(t, 1, func(c *Config) { c.Replication, c.WriteQuorum = 3, 2 })
	b, err := content.NewRawBlock([]byte("alone"))
	if err != nil {
		t.Fatal(err)
	}
	err = m.nodes[0].Put(context.Background(), b)
	var qe *QuorumError
	if !errors.As(err, &qe) || !errors.Is(err, ErrQuorum) {
		t.Fatalf("Put with one peer: %v, want a QuorumError", err)
	}
	if qe.Homes != 1 || qe.Need != 2 {
		t.Errorf("QuorumError %+v", qe)
	}
}
