package content_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// editOp is a WriteAt (n bytes at off) or, when truncate, a Truncate to
// size.
type editOp struct {
	truncate bool
	off      int64
	n        int
	size     int64
}

func (op editOp) String() string {
	if op.truncate {
		return fmt.Sprintf("truncate(%d)", op.size)
	}
	return fmt.Sprintf("write(%d bytes at %d)", op.n, op.off)
}

// apply returns old with the edit made, as POSIX makes it, and the bytes
// written.
func (op editOp) apply(r *rand.Rand, old []byte) (want, data []byte) {
	if op.truncate {
		want = make([]byte, op.size)
		copy(want, old)
		return want, nil
	}
	data = randomBytes(r, op.n)
	size := int64(len(old))
	if op.n > 0 {
		size = max(size, op.off+int64(op.n))
	}
	want = make([]byte, size)
	copy(want, old)
	if op.n > 0 {
		copy(want[op.off:], data)
	}
	return want, data
}

func (op editOp) run(g content.BlockGetter, dst content.BlockPutter, root cid.Cid, data []byte, opts content.ImportOptions) (content.FileRoot, error) {
	if op.truncate {
		return content.Truncate(context.Background(), g, dst, root, op.size, opts)
	}
	return content.WriteAt(context.Background(), g, dst, root, op.off, data, opts)
}

// checkFile fails t unless got is what Import makes of want with opts and
// reads back as want from g.
func checkFile(t *testing.T, g content.BlockGetter, got content.FileRoot, want []byte, opts content.ImportOptions) {
	t.Helper()
	exp := importBytes(t, content.Discard, want, opts)
	if got != exp {
		t.Fatalf("got root %+v, Import of the %d expected bytes gives %+v", got, len(want), exp)
	}
	fr, err := content.NewFileReader(context.Background(), g, got.CID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	back, err := io.ReadAll(fr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, want) {
		t.Fatalf("read back %d bytes, not the %d expected", len(back), len(want))
	}
}

// recordingPutter records the CIDs put through it.
type recordingPutter struct {
	content.BlockPutter
	mu  sync.Mutex
	put []cid.Cid
}

func (p *recordingPutter) Put(ctx context.Context, b content.Block) error {
	p.mu.Lock()
	p.put = append(p.put, b.CID())
	p.mu.Unlock()
	return p.BlockPutter.Put(ctx, b)
}

// dagBlocks returns the CIDs of every block in the file DAG at root.
func dagBlocks(t *testing.T, g content.BlockGetter, root cid.Cid) map[cid.Cid]bool {
	t.Helper()
	seen := map[cid.Cid]bool{}
	var walk func(c cid.Cid)
	walk = func(c cid.Cid) {
		if seen[c] {
			return
		}
		seen[c] = true
		if c.Prefix().Codec != content.CodecDagPB {
			return
		}
		b, err := g.Get(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := content.DecodePBNode(b.Data())
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range pb.Links {
			walk(l.CID)
		}
	}
	walk(root)
	return seen
}

// linkAt follows the given link indices down from c.
func linkAt(t *testing.T, g content.BlockGetter, c cid.Cid, path ...int) cid.Cid {
	t.Helper()
	for _, i := range path {
		b, err := g.Get(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := content.DecodePBNode(b.Data())
		if err != nil {
			t.Fatal(err)
		}
		c = pb.Links[i].CID
	}
	return c
}

func opts(chunk, fanout int) content.ImportOptions {
	return content.ImportOptions{ChunkSize: chunk, LinksPerNode: fanout}
}

const kib = 1024

// manyRandomBytes is randomBytes eight bytes a draw, for large files.
func manyRandomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n+7)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n]
}

// TestEditMatchesImport edits files of many shapes and checks that the
// result is what Import makes of the edited bytes. old -1 is cid.Undef.
func TestEditMatchesImport(t *testing.T) {
	tests := []struct {
		name string
		old  int64
		op   editOp
		opts content.ImportOptions
	}{
		{"undef root, write", -1, editOp{off: 0, n: 100}, opts(kib, 4)},
		{"undef root, write past the end", -1, editOp{off: 5000, n: 10}, opts(kib, 4)},
		{"empty block, write", 0, editOp{off: 0, n: 3000}, opts(kib, 4)},
		{"empty block, empty write", 0, editOp{off: 10, n: 0}, opts(kib, 4)},
		{"single block, inside", 500, editOp{off: 100, n: 50}, opts(kib, 4)},
		{"single block, grows into a tree", 700, editOp{off: 700, n: 1000}, opts(kib, 4)},
		{"single full block, append one byte", kib, editOp{off: kib, n: 1}, opts(kib, 174)},
		{"inside one chunk", 10_000, editOp{off: 3000, n: 10}, opts(kib, 4)},
		{"across a chunk boundary", 10_000, editOp{off: 1000, n: 100}, opts(kib, 4)},
		{"one chunk at a boundary", 10_000, editOp{off: 2 * kib, n: kib}, opts(kib, 4)},
		{"aligned chunks", 20_000, editOp{off: 4 * kib, n: 8 * kib}, opts(kib, 4)},
		{"whole file", 10_000, editOp{off: 0, n: 10_000}, opts(kib, 4)},
		{"into the short last chunk", 10_100, editOp{off: 10_050, n: 20}, opts(kib, 4)},
		{"over the end", 10_000, editOp{off: 9_500, n: 2_000}, opts(kib, 4)},
		{"append", 10_000, editOp{off: 10_000, n: 3000}, opts(kib, 4)},
		{"append after a full chunk", 10 * kib, editOp{off: 10 * kib, n: 1}, opts(kib, 4)},
		{"append grows a level", 16 * kib, editOp{off: 16 * kib, n: 1}, opts(kib, 4)},
		{"append grows two levels", 4 * kib, editOp{off: 4 * kib, n: 20 * kib}, opts(kib, 4)},
		{"append grows a level at 174 links", 174 * kib, editOp{off: 174 * kib, n: 1}, opts(kib, 174)},
		{"write grows a level at 174 links", 200 * kib, editOp{off: 3000, n: 100_000}, opts(kib, 174)},
		{"partial last node", 21*kib + 7, editOp{off: 17*kib + 3, n: 5}, opts(kib, 4)},
		{"far past the end", 3000, editOp{off: 100_000, n: 10}, opts(kib, 4)},
		{"far past the end at 174 links", 3000, editOp{off: 5 << 20, n: 10}, opts(kib, 174)},
		{"large write inside", 200_000, editOp{off: 10_000, n: 150_000}, opts(kib, 4)},
		{"large write across the end", 50_000, editOp{off: 30_001, n: 150_000}, opts(kib, 3)},
		{"empty write", 10_000, editOp{off: 3000, n: 0}, opts(kib, 4)},
		{"empty write past the end", 10_000, editOp{off: 50_000, n: 0}, opts(kib, 4)},
		{"default chunks, middle byte", 3 << 20, editOp{off: 3 << 19, n: 1}, content.ImportOptions{}},
		{"default chunks, append", 3<<20 + 5, editOp{off: 3<<20 + 5, n: 300 * kib}, content.ImportOptions{}},

		{"undef root, truncate to 0", -1, editOp{truncate: true, size: 0}, opts(kib, 4)},
		{"undef root, extend", -1, editOp{truncate: true, size: 5000}, opts(kib, 4)},
		{"empty block, extend", 0, editOp{truncate: true, size: 20 * kib}, opts(kib, 4)},
		{"to 0", 10_000, editOp{truncate: true, size: 0}, opts(kib, 4)},
		{"inside a chunk", 10_000, editOp{truncate: true, size: 5000}, opts(kib, 4)},
		{"to a boundary", 10_000, editOp{truncate: true, size: 4 * kib}, opts(kib, 4)},
		{"to the same size", 10_000, editOp{truncate: true, size: 10_000}, opts(kib, 4)},
		{"by one byte", 10_000, editOp{truncate: true, size: 10_001}, opts(kib, 4)},
		{"extend by levels", 10_000, editOp{truncate: true, size: 200_000}, opts(kib, 4)},
		{"extend at 174 links", 10_000, editOp{truncate: true, size: 3 << 20}, opts(kib, 174)},
		{"shrink a level to a full node", 17 * kib, editOp{truncate: true, size: 16 * kib}, opts(kib, 4)},
		{"shrink a level", 17 * kib, editOp{truncate: true, size: 4*kib + 1}, opts(kib, 4)},
		{"shrink to one chunk", 17 * kib, editOp{truncate: true, size: kib}, opts(kib, 4)},
		{"shrink into the first chunk", 17 * kib, editOp{truncate: true, size: 1000}, opts(kib, 4)},
		{"single block, cut", 500, editOp{truncate: true, size: 300}, opts(kib, 4)},
		{"single block, extend", 500, editOp{truncate: true, size: 2000}, opts(kib, 4)},
		{"to a full chunk", 1023, editOp{truncate: true, size: kib}, opts(kib, 4)},
	}
	r := testRand(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := content.NewMemStore()
			var old []byte
			root := cid.Undef
			if tt.old >= 0 {
				old = randomBytes(r, int(tt.old))
				root = importBytes(t, store, old, tt.opts).CID
			}
			want, data := tt.op.apply(r, old)
			got, err := tt.op.run(store, store, root, data, tt.opts)
			if err != nil {
				t.Fatalf("%v: %v", tt.op, err)
			}
			checkFile(t, store, got, want, tt.opts)
		})
	}
}

// TestEditLevelGrowthAt174Links appends past 174*174 chunks of 1 KiB, where
// the default fan-out's tree grows from two levels to three.
func TestEditLevelGrowthAt174Links(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 31 MiB")
	}
	o := opts(kib, 174)
	old := manyRandomBytes(testRand(t), 174*174*kib)
	store := content.NewMemStore()
	root := importBytes(t, store, old, o)
	dst := &recordingPutter{BlockPutter: store}
	got, err := content.WriteAt(context.Background(), store, dst, root.CID, int64(len(old)), []byte("x"), o)
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, store, got, append(old, 'x'), o)
	// The new leaf, its chain of three nodes and a new root.
	if len(dst.put) != 4 {
		t.Errorf("appending one byte put %d blocks, want 4", len(dst.put))
	}
}

// TestEditRandomSequences applies random writes and truncations in turn to
// files of random shapes, checking each result against Import, and that
// every block fetched is in the old DAG and every block put in the new.
func TestEditRandomSequences(t *testing.T) {
	r := testRand(t)
	for round := range 40 {
		o := opts([]int{kib, 2 * kib}[r.IntN(2)], []int{2, 3, 4, 174}[r.IntN(4)])
		store := content.NewMemStore()
		cur := randomBytes(r, r.IntN(40*kib))
		root := importBytes(t, store, cur, o).CID
		if r.IntN(4) == 0 {
			cur, root = nil, cid.Undef
		}
		for step := range 25 {
			size := int64(len(cur))
			var op editOp
			switch r.IntN(5) {
			case 0:
				op = editOp{truncate: true, size: r.Int64N(size + 4*int64(o.ChunkSize) + 1)}
			case 1:
				op = editOp{off: r.Int64N(size + 1), n: r.IntN(20 * kib)} // large
			case 2:
				op = editOp{off: size + r.Int64N(8*int64(o.ChunkSize)), n: r.IntN(3 * o.ChunkSize)} // past the end
			default:
				op = editOp{off: r.Int64N(size + 1), n: r.IntN(3 * o.ChunkSize)}
			}
			want, data := op.apply(r, cur)
			g := newCountingGetter(store)
			dst := &recordingPutter{BlockPutter: store}
			got, err := op.run(g, dst, root, data, o)
			if err != nil {
				t.Fatalf("round %d step %d: %v of %d bytes: %v", round, step, op, size, err)
			}
			t.Run(fmt.Sprintf("round %d step %d %v of %d bytes", round, step, op, size), func(t *testing.T) {
				checkFile(t, store, got, want, o)
				oldDAG := map[cid.Cid]bool{}
				if root.Defined() {
					oldDAG = dagBlocks(t, store, root)
				}
				leaves := 0
				for c := range g.reset() {
					if !oldDAG[c] {
						t.Errorf("fetched %s, not in the old DAG", c)
					}
					if c.Prefix().Codec == content.CodecRaw {
						leaves++
					}
				}
				// At most the leaves at the two ends of the write and the
				// old last leaf, never the file (the fallback's full read).
				if leaves > 3 {
					t.Errorf("fetched %d leaves", leaves)
				}
				newDAG := dagBlocks(t, store, got.CID)
				for _, c := range dst.put {
					if !newDAG[c] {
						t.Errorf("put %s, not in the new DAG", c)
					}
				}
			})
			cur, root = want, got.CID
		}
	}
}

// TestEditFetchesAndPutsOnlyThePath makes one small edit in a large file
// and counts the blocks fetched and put: the path to the change, not the
// file.
func TestEditFetchesAndPutsOnlyThePath(t *testing.T) {
	tests := []struct {
		name  string
		size  int64
		opts  content.ImportOptions
		depth int
	}{
		{"64 MiB at 256 KiB", 64 << 20, content.ImportOptions{}, 2},
		{"31 MiB at 1 KiB", 174*174*kib + 1000, opts(kib, 174), 3},
		{"4 MiB at 1 KiB, 4 links", 4<<20 + 1000, opts(kib, 4), 7},
	}
	r := testRand(t)
	for _, tt := range tests {
		if testing.Short() && tt.size > 8<<20 {
			continue
		}
		old := manyRandomBytes(r, int(tt.size))
		store := content.NewMemStore()
		root := importBytes(t, store, old, tt.opts).CID
		ops := []struct {
			op                  editOp
			maxFetched, maxPuts int
		}{
			{editOp{off: tt.size / 2, n: 1}, tt.depth + 1, tt.depth + 1},
			{editOp{off: tt.size, n: 1}, tt.depth + 1, tt.depth + 1},
			{editOp{truncate: true, size: tt.size/2 + 1}, tt.depth + 1, tt.depth + 1},
		}
		for _, o := range ops {
			t.Run(fmt.Sprintf("%s %v", tt.name, o.op), func(t *testing.T) {
				want, data := o.op.apply(r, old)
				g := newCountingGetter(store)
				dst := &recordingPutter{BlockPutter: store}
				got, err := o.op.run(g, dst, root, data, tt.opts)
				if err != nil {
					t.Fatal(err)
				}
				fetched := g.reset()
				t.Logf("fetched %d blocks, put %d", len(fetched), len(dst.put))
				for c, n := range fetched {
					if n > 1 {
						t.Errorf("fetched %s %d times", c, n)
					}
				}
				if len(fetched) > o.maxFetched || len(dst.put) > o.maxPuts {
					t.Errorf("fetched %d blocks and put %d, want at most %d and %d", len(fetched), len(dst.put), o.maxFetched, o.maxPuts)
				}
				// Import's root is enough here: reading 64 MiB back three
				// times tests the reader, not the edit.
				if exp := importBytes(t, content.Discard, want, tt.opts); got != exp {
					t.Fatalf("got root %+v, Import of the expected bytes gives %+v", got, exp)
				}
			})
		}
	}
}

// TestEditFailsOnBadBlocks corrupts a block on the path of an edit.
func TestEditFailsOnBadBlocks(t *testing.T) {
	ctx := context.Background()
	r := testRand(t)
	o := opts(kib, 4)
	// 40 leaves: the root over nodes of 16, 16 and 8 leaves. A write at
	// leaf 20 goes root -> link 1 -> link 1 -> link 0.
	old := randomBytes(r, 40*kib)
	off := int64(20*kib + 5)
	tests := []struct {
		name string
		path []int
	}{
		{"root", nil},
		{"internal node", []int{1}},
		{"lowest node", []int{1, 1}},
		{"partly overwritten leaf", []int{1, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "blocks")
			store, err := content.OpenDiskStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			root := importBytes(t, store, old, o).CID
			target := linkAt(t, store, root, tt.path...)
			p := blockFile(t, dir, target)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = content.WriteAt(ctx, store, content.Discard, root, off, []byte("xy"), o)
			if !errors.Is(err, content.ErrCorruptBlock) {
				t.Fatalf("WriteAt over a corrupt %s: %v, want ErrCorruptBlock", tt.name, err)
			}
		})
	}
	t.Run("wrong block", func(t *testing.T) {
		store := content.NewMemStore()
		root := importBytes(t, store, old, o).CID
		other, _ := content.NewRawBlock(randomBytes(r, kib))
		g := lyingGetter{BlockGetter: store, swap: map[cid.Cid]content.Block{linkAt(t, store, root, 1, 1, 0): other}}
		if _, err := content.WriteAt(ctx, g, content.Discard, root, off, []byte("xy"), o); !errors.Is(err, content.ErrHashMismatch) {
			t.Fatalf("WriteAt given a wrong leaf: %v, want ErrHashMismatch", err)
		}
	})
}

// TestEditFallsBackForOtherLayouts edits files the importer would not lay
// out so with the edit's options; the result is still Import's, and no
// block is stored that the result does not hold.
func TestEditFallsBackForOtherLayouts(t *testing.T) {
	ctx := context.Background()
	r := testRand(t)
	o := opts(kib, 4)
	put := func(t *testing.T, s content.BlockPutter, blocks ...content.Block) {
		for _, b := range blocks {
			if err := s.Put(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	raw := func(n int) content.Block {
		b, _ := content.NewRawBlock(randomBytes(r, n))
		return b
	}
	link := func(b content.Block, tsize int) content.Link {
		return content.Link{CID: b.CID(), Tsize: uint64(tsize)}
	}
	tests := []struct {
		name string
		make func(t *testing.T, s content.BlockPutter) cid.Cid // returns the old root
		op   editOp
	}{
		{"chunk size 4096", func(t *testing.T, s content.BlockPutter) cid.Cid {
			return importBytes(t, s, randomBytes(r, 50_000), opts(4096, 4)).CID
		}, editOp{off: 20_000, n: 10}},
		{"chunk size 4096, truncate", func(t *testing.T, s content.BlockPutter) cid.Cid {
			return importBytes(t, s, randomBytes(r, 50_000), opts(4096, 4)).CID
		}, editOp{truncate: true, size: 30_000}},
		{"one raw block over a chunk", func(t *testing.T, s content.BlockPutter) cid.Cid {
			return importBytes(t, s, randomBytes(r, 3000), opts(4096, 4)).CID
		}, editOp{off: 3000, n: 10}},
		{"fan-out 174", func(t *testing.T, s content.BlockPutter) cid.Cid {
			return importBytes(t, s, randomBytes(r, 20*kib), opts(kib, 174)).CID
		}, editOp{off: 5000, n: 10}},
		{"inline data", func(t *testing.T, s content.BlockPutter) cid.Cid {
			leaf := raw(kib)
			size := uint64(5 + kib)
			n, _ := content.NewBlock(content.CodecDagPB, content.PBNode{
				Links: []content.Link{link(leaf, kib)},
				Data:  content.FSData{Type: content.TypeFile, Data: []byte("head "), FileSize: &size, BlockSizes: []uint64{kib}}.Encode(),
			}.Encode())
			put(t, s, leaf, n)
			return n.CID()
		}, editOp{off: 3, n: 4}},
		{"dag-pb leaves", func(t *testing.T, s content.BlockPutter) cid.Cid {
			var leaves []content.Block
			var links []content.Link
			for range 2 {
				d := randomBytes(r, kib)
				size := uint64(kib)
				l, _ := content.NewBlock(content.CodecDagPB, content.PBNode{
					Data: content.FSData{Type: content.TypeRaw, Data: d, FileSize: &size}.Encode(),
				}.Encode())
				leaves = append(leaves, l)
				links = append(links, link(l, l.Size()))
			}
			n := fileNode(t, links, []uint64{kib, kib})
			put(t, s, append(leaves, n)...)
			return n.CID()
		}, editOp{off: 1500, n: 4}},
		{"a node over one leaf", func(t *testing.T, s content.BlockPutter) cid.Cid {
			leaf := raw(500)
			n := fileNode(t, []content.Link{link(leaf, 500)}, []uint64{500})
			put(t, s, leaf, n)
			return n.CID()
		}, editOp{off: 100, n: 4}},
		{"an empty file node", func(t *testing.T, s content.BlockPutter) cid.Cid {
			n := fileNode(t, nil, nil)
			put(t, s, n)
			return n.CID()
		}, editOp{off: 100, n: 4}},
		{"smaller chunks below the root", func(t *testing.T, s content.BlockPutter) cid.Cid {
			// A root as the importer makes it over two nodes of 4 KiB; the
			// second holds eight chunks of 512 bytes, which only a fetch of
			// it shows.
			var mid []content.Block
			for _, chunk := range []int{kib, kib / 2} {
				var links []content.Link
				var sizes []uint64
				for range 4 * kib / chunk {
					l := raw(chunk)
					put(t, s, l)
					links, sizes = append(links, link(l, chunk)), append(sizes, uint64(chunk))
				}
				n := fileNode(t, links, sizes)
				put(t, s, n)
				mid = append(mid, n)
			}
			root := fileNode(t, []content.Link{link(mid[0], mid[0].Size()+4*kib), link(mid[1], mid[1].Size()+4*kib)}, []uint64{4 * kib, 4 * kib})
			put(t, s, root)
			return root.CID()
		}, editOp{off: 5*kib + 1, n: 4}},
		{"named links", func(t *testing.T, s content.BlockPutter) cid.Cid {
			// Not the importer's encoding; rewriting the node drops them.
			var links []content.Link
			for range 3 {
				l := raw(kib)
				put(t, s, l)
				links = append(links, content.Link{CID: l.CID(), Tsize: kib, Name: "x"})
			}
			n := fileNode(t, links, []uint64{kib, kib, kib})
			put(t, s, n)
			return n.CID()
		}, editOp{off: 5, n: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := content.NewMemStore()
			root := tt.make(t, store)
			fr, err := content.NewFileReader(ctx, store, root, 0)
			if err != nil {
				t.Fatal(err)
			}
			old, err := io.ReadAll(fr)
			fr.Close()
			if err != nil {
				t.Fatal(err)
			}
			want, data := tt.op.apply(r, old)
			dst := &recordingPutter{BlockPutter: store}
			got, err := tt.op.run(store, dst, root, data, o)
			if err != nil {
				t.Fatalf("%v: %v", tt.op, err)
			}
			checkFile(t, store, got, want, o)
			newDAG := dagBlocks(t, store, got.CID)
			for _, c := range dst.put {
				if !newDAG[c] {
					t.Errorf("put %s, not in the result", c)
				}
			}
		})
	}
}

func TestEditRejects(t *testing.T) {
	ctx := context.Background()
	store := content.NewMemStore()
	root := importBytes(t, store, randomBytes(testRand(t), 5000), opts(kib, 4)).CID
	dir, blocks, err := content.BuildDirectory([]content.DirEntry{{Name: "f", CID: root, Tsize: 5000}}, content.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		store.Put(ctx, b)
	}
	tests := []struct {
		name string
		edit func() error
		want error
	}{
		{"negative offset", func() error {
			_, err := content.WriteAt(ctx, store, store, root, -1, []byte("x"), opts(kib, 4))
			return err
		}, content.ErrInvalidOption},
		{"negative size", func() error {
			_, err := content.Truncate(ctx, store, store, root, -1, opts(kib, 4))
			return err
		}, content.ErrInvalidOption},
		{"chunk size", func() error {
			_, err := content.WriteAt(ctx, store, store, root, 0, []byte("x"), opts(100, 4))
			return err
		}, content.ErrInvalidOption},
		{"fan-out", func() error {
			_, err := content.Truncate(ctx, store, store, root, 10, opts(kib, 1))
			return err
		}, content.ErrInvalidOption},
		{"a directory", func() error {
			_, err := content.WriteAt(ctx, store, store, dir.CID, 0, []byte("x"), opts(kib, 4))
			return err
		}, content.ErrNotFile},
		{"a missing root", func() error {
			_, err := content.Truncate(ctx, content.NewMemStore(), store, root, 10, opts(kib, 4))
			return err
		}, content.ErrNotFound},
	}
	for _, tt := range tests {
		if err := tt.edit(); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// BenchmarkWriteAtMiddle writes 4 KiB at random places in a 256 MiB file
// of default chunks.
func BenchmarkWriteAtMiddle(b *testing.B) {
	const size = 256 << 20
	r := rand.New(rand.NewPCG(1, 2))
	store := content.NewMemStore()
	root, err := content.Import(context.Background(), bytes.NewReader(manyRandomBytes(r, size)), store, content.ImportOptions{})
	if err != nil {
		b.Fatal(err)
	}
	data := randomBytes(r, 4096)
	for b.Loop() {
		if _, err := content.WriteAt(context.Background(), store, content.Discard, root.CID, r.Int64N(size-4096), data, content.ImportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
