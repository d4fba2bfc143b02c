package content_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"meshfs/content"
)

func TestBuildDirectoryRoundTrip(t *testing.T) {
	r := testRand(t)
	ctx := context.Background()
	for _, n := range []int{0, 1, 10, 300, 3000} {
		for _, threshold := range []int{0, 1, 2000} {
			store := content.NewMemStore()
			want := map[string]content.DirEntry{}
			var entries []content.DirEntry
			for i := range n {
				b, _ := content.NewRawBlock(randomBytes(r, r.IntN(50)))
				e := content.DirEntry{Name: fmt.Sprintf("f-%d-%x", i, r.Uint32()), CID: b.CID(), Tsize: uint64(b.Size())}
				entries = append(entries, e)
				want[e.Name] = e
			}
			root, blocks, err := content.BuildDirectory(entries, content.DirOptions{ShardingThreshold: threshold, Fanout: []int{8, 16, 256}[r.IntN(3)]})
			if err != nil {
				t.Fatal(err)
			}
			// IPFS shards when len(name)+len(CID bytes) summed exceeds the threshold.
			estimate, limit := 0, threshold
			if limit == 0 {
				limit = content.DefaultShardingThreshold
			}
			for _, e := range entries {
				estimate += len(e.Name) + e.CID.ByteLen()
			}
			if wantSharded := estimate > limit; root.Sharded != wantSharded {
				t.Errorf("%d entries (estimate %d), threshold %d: sharded %v", n, estimate, limit, root.Sharded)
			}
			for _, b := range blocks {
				store.Put(ctx, b)
			}
			if !blocks[len(blocks)-1].CID().Equals(root.CID) {
				t.Error("root is not the last block")
			}
			got, err := content.ReadDirectory(ctx, store, root.CID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != n {
				t.Fatalf("%d entries read back, want %d", len(got), n)
			}
			for i, e := range got {
				if want[e.Name] != e {
					t.Fatalf("entry %q = %+v, want %+v", e.Name, e, want[e.Name])
				}
				if i > 0 && got[i-1].Name >= e.Name {
					t.Fatal("entries not sorted")
				}
			}
			// The cumulative size counts every block once.
			var sum uint64
			for _, b := range blocks {
				sum += uint64(b.Size())
			}
			for _, e := range entries {
				sum += e.Tsize
			}
			if root.Tsize != sum {
				t.Errorf("%d entries: Tsize %d, want %d", n, root.Tsize, sum)
			}
		}
	}
}

func TestBuildDirectoryRejectsBadNames(t *testing.T) {
	b, _ := content.NewRawBlock([]byte("x"))
	for _, name := range []string{"", ".", "..", "a/b", "nul\x00"} {
		_, _, err := content.BuildDirectory([]content.DirEntry{{Name: name, CID: b.CID()}}, content.DirOptions{})
		if !errors.Is(err, content.ErrInvalidOption) {
			t.Errorf("name %q: %v", name, err)
		}
	}
	_, _, err := content.BuildDirectory([]content.DirEntry{{Name: "a", CID: b.CID()}, {Name: "a", CID: b.CID()}}, content.DirOptions{})
	if !errors.Is(err, content.ErrInvalidOption) {
		t.Errorf("duplicate names: %v", err)
	}
	if _, _, err := content.BuildDirectory(nil, content.DirOptions{Fanout: 12}); !errors.Is(err, content.ErrInvalidOption) {
		t.Errorf("fanout 12: %v", err)
	}
}

func TestReadDirectoryRejectsAFile(t *testing.T) {
	store := content.NewMemStore()
	root := importBytes(t, store, randomBytes(testRand(t), 5000), content.ImportOptions{ChunkSize: 1024})
	if _, err := content.ReadDirectory(context.Background(), store, root.CID); !errors.Is(err, content.ErrMalformed) || !errors.Is(err, content.ErrNotDirectory) {
		t.Errorf("file as a directory: %v", err)
	}
}

func TestReadDirectoryRefusesSharedShards(t *testing.T) {
	ctx := context.Background()
	store := content.NewMemStore()
	b, _ := content.NewRawBlock([]byte("x"))
	var entries []content.DirEntry
	for i := range 40 {
		entries = append(entries, content.DirEntry{Name: fmt.Sprintf("e%d", i), CID: b.CID(), Tsize: 1})
	}
	root, blocks, err := content.BuildDirectory(entries, content.DirOptions{ShardingThreshold: 1, Fanout: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, blk := range blocks {
		store.Put(ctx, blk)
	}
	// Re-link the root's first sub-shard under every slot of a new root.
	node, _ := store.Get(ctx, root.CID)
	pb, _ := content.DecodePBNode(node.Data())
	var sub content.Link
	for _, l := range pb.Links {
		if len(l.Name) == 1 {
			sub = l
			break
		}
	}
	if !sub.CID.Defined() {
		t.Fatal("no sub-shard in the test HAMT")
	}
	var links []content.Link
	for slot := range 8 {
		links = append(links, content.Link{CID: sub.CID, Name: fmt.Sprintf("%X", slot), Tsize: sub.Tsize})
	}
	fsd, _ := content.DecodeFSData(pb.Data)
	fsd.Data = []byte{0xff}
	forged, _ := content.NewBlock(content.CodecDagPB, content.PBNode{Links: links, Data: fsd.Encode()}.Encode())
	store.Put(ctx, forged)
	if _, err := content.ReadDirectory(ctx, store, forged.CID()); !errors.Is(err, content.ErrMalformed) {
		t.Errorf("a HAMT with one shard under every slot: %v, want ErrMalformed", err)
	}
}
