package gc_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
	"meshfs/gc"
)

func TestMarkFindsEveryBlockOnce(t *testing.T) {
	s := newStore()
	a := newFile(t, s, 1, 100, 64, 4) // 4 levels
	b := newFile(t, s, 2, 1, 64, 4)   // a single raw leaf as the file
	root, dirBlocks := dir(t, s, a, b)
	want := cidSet(a.cids(), b.cids(), []cid.Cid{root})
	var wantBytes int64 = a.size() + b.size()
	for _, d := range dirBlocks {
		want[d.CID()] = true
		wantBytes += int64(d.Size())
	}
	for _, opts := range []gc.MarkOptions{{}, {FetchLeaves: true}} {
		t.Run(fmt.Sprintf("FetchLeaves=%v", opts.FetchLeaves), func(t *testing.T) {
			s.resetGets()
			l := mark(t, s, []cid.Cid{root}, nil, opts)
			sameKeys(t, liveSet(l), want)
			if !l.Complete() || len(l.Missing()) != 0 {
				t.Fatalf("incomplete: %v", l.Missing())
			}
			if l.Bytes() != wantBytes {
				t.Errorf("Bytes = %d, want %d", l.Bytes(), wantBytes)
			}
			wantGets := len(a.nodes) + len(dirBlocks)
			if opts.FetchLeaves {
				wantGets += len(a.leaves) + len(b.leaves)
			}
			if got := s.resetGets(); got != wantGets {
				t.Errorf("%d gets, want %d (one per block walked)", got, wantGets)
			}
			st := l.Stats()
			if st.Blocks != len(want) || st.Fetched != wantGets || st.Missing != 0 {
				t.Errorf("stats %+v", st)
			}
			for c := range want {
				if !l.Has(c) || !l.MayBeLive(c.Hash()) {
					t.Errorf("%s not live", c)
				}
				if size, ok := l.Size(c); !ok || size != int64(s.blocks[c].Size()) {
					t.Errorf("Size(%s) = %d, %v; want %d", c, size, ok, s.blocks[c].Size())
				}
			}
		})
	}
}

func TestMarkVisitsSharedSubtreesOnce(t *testing.T) {
	s := newStore()
	a := newFile(t, s, 1, 50, 32, 3)
	// Versions sharing a's blocks: a with one leaf changed, and a itself
	// under three directories.
	leaves := append([]content.Block{}, a.leaves...)
	leaves[7] = leafBlock(t, 99, 7, 32)
	a2 := buildFile(t, leaves, 3)
	s.put(t, a2.leaves...)
	s.put(t, a2.nodes...)
	d1, _ := dir(t, s, a)
	d2, _ := dir(t, s, a, a2)
	d3, _ := dir(t, s, a2, a)
	roots := []cid.Cid{d1, d2, d3, d1, a.root}
	l := mark(t, s, roots, nil, gc.MarkOptions{})
	nodes := cidSet(a.cids(), a2.cids())
	pb := 0
	for c := range nodes {
		if c.Prefix().Codec == content.CodecDagPB {
			pb++
		}
	}
	if got := s.resetGets(); got != pb+3 {
		t.Errorf("%d gets for %d distinct dag-pb nodes", got, pb+3)
	}
	if l.Len() != len(nodes)+3 {
		t.Errorf("Len = %d, want %d", l.Len(), len(nodes)+3)
	}
	if got := l.Roots(); len(got) != 4 {
		t.Errorf("Roots = %v, want 4 without repeats", got)
	}
}

func TestMarkIncrementalFetchesOnlyNewNodes(t *testing.T) {
	s := newStore()
	var versions []file
	leaves := make([]content.Block, 300)
	for i := range leaves {
		leaves[i] = leafBlock(t, 0, i, 48)
	}
	var roots []cid.Cid
	for v := range 6 {
		leaves = append([]content.Block{}, leaves...)
		leaves[v*40] = leafBlock(t, uint64(v+1), v*40, 48)
		f := buildFile(t, leaves, 8)
		s.put(t, f.leaves...)
		s.put(t, f.nodes...)
		versions = append(versions, f)
		d, _ := dir(t, s, f)
		roots = append(roots, d)
	}
	for _, opts := range []gc.MarkOptions{{}, {FetchLeaves: true}} {
		t.Run(fmt.Sprintf("FetchLeaves=%v", opts.FetchLeaves), func(t *testing.T) {
			prev := mark(t, s, roots[0:4], nil, opts)
			s.resetGets()
			next := mark(t, s, roots[2:6], prev, opts)
			gets := s.resetGets()
			fresh := mark(t, s, roots[2:6], nil, opts)
			s.resetGets()
			got, want := liveSet(next), liveSet(fresh)
			if len(got) != len(want) {
				t.Fatalf("incremental mark has %d blocks, a fresh one %d", len(got), len(want))
			}
			for c, size := range want {
				if got[c] != size {
					t.Errorf("%s: size %d incremental, %d fresh", c, got[c], size)
				}
			}
			if next.Bytes() != fresh.Bytes() {
				t.Errorf("Bytes %d incremental, %d fresh", next.Bytes(), fresh.Bytes())
			}
			// Blocks of versions 0 and 1 only are gone.
			if next.Has(roots[0]) || next.Has(versions[0].root) {
				t.Error("dropped root still live")
			}
			// Only the blocks of versions 4 and 5 that prev did not know are
			// fetched.
			newBlocks := 2 // the two directories
			for c := range cidSet(versions[4].cids(), versions[5].cids()) {
				if (opts.FetchLeaves || c.Prefix().Codec == content.CodecDagPB) && !prev.Has(c) {
					newBlocks++
				}
			}
			if gets != newBlocks || next.Stats().Fetched != newBlocks {
				t.Errorf("%d gets (stats %+v), want %d", gets, next.Stats(), newBlocks)
			}
			if next.Stats().Reused == 0 {
				t.Error("nothing reused")
			}
		})
	}
}

func TestMarkMissingBlocks(t *testing.T) {
	type setup struct {
		s     *store
		f     file
		root  cid.Cid
		inner content.Block // an internal node of f, not its root
	}
	mk := func(t *testing.T) setup {
		s := newStore()
		f := newFile(t, s, 1, 30, 32, 3)
		root, _ := dir(t, s, f)
		return setup{s: s, f: f, root: root, inner: f.nodes[0]}
	}
	tests := []struct {
		name         string
		opts         gc.MarkOptions
		break_       func(su setup) cid.Cid // returns the broken CID
		complete     bool
		reportMissed bool
	}{
		{"leaf not fetched", gc.MarkOptions{}, func(su setup) cid.Cid {
			su.s.delete(su.f.leaves[3].CID())
			return su.f.leaves[3].CID()
		}, true, false},
		{"leaf fetched", gc.MarkOptions{FetchLeaves: true}, func(su setup) cid.Cid {
			su.s.delete(su.f.leaves[3].CID())
			return su.f.leaves[3].CID()
		}, true, true},
		{"leaf errors", gc.MarkOptions{FetchLeaves: true}, func(su setup) cid.Cid {
			su.s.fail[su.f.leaves[3].CID()] = errBoom
			return su.f.leaves[3].CID()
		}, true, true},
		{"internal node", gc.MarkOptions{}, func(su setup) cid.Cid {
			su.s.delete(su.inner.CID())
			return su.inner.CID()
		}, false, true},
		{"root", gc.MarkOptions{}, func(su setup) cid.Cid {
			su.s.delete(su.root)
			return su.root
		}, false, true},
		{"node errors", gc.MarkOptions{}, func(su setup) cid.Cid {
			su.s.fail[su.inner.CID()] = errBoom
			return su.inner.CID()
		}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			su := mk(t)
			broken := tt.break_(su)
			l := mark(t, su.s, []cid.Cid{su.root}, nil, tt.opts)
			if l.Complete() != tt.complete {
				t.Errorf("Complete = %v, want %v", l.Complete(), tt.complete)
			}
			missing := l.Missing()
			if tt.reportMissed != (len(missing) == 1 && missing[0].CID.Equals(broken)) || tt.reportMissed && missing[0].Err == nil {
				t.Errorf("Missing = %v, want only %s: %v", missing, broken, tt.reportMissed)
			}
			if !l.Has(broken) {
				t.Error("the broken block itself is not live")
			}
			// Everything outside the broken subtree is still marked.
			for _, b := range su.f.leaves[len(su.f.leaves)-3:] {
				if broken != su.root && !l.Has(b.CID()) {
					t.Errorf("leaf %s beside the break not marked", b.CID())
				}
			}
			if _, err := gc.NewSummary(l, gc.Cover{Namespace: "ns", Roots: []gc.Root{{Term: 1, Index: 1, CID: su.root}}}, 0.01); tt.complete != (err == nil) {
				t.Errorf("NewSummary: %v", err)
			} else if err != nil && !errors.Is(err, gc.ErrIncompleteMark) {
				t.Errorf("NewSummary: %v, want ErrIncompleteMark", err)
			}
		})
	}
}

func TestMarkMalformedNode(t *testing.T) {
	s := newStore()
	leaf := leafBlock(t, 1, 1, 16)
	bad, err := content.NewBlock(content.CodecDagPB, []byte{0xff, 0xff})
	if err != nil {
		t.Fatal(err)
	}
	top, err := content.NewBlock(content.CodecDagPB, content.PBNode{Links: []content.Link{
		{CID: bad.CID(), Tsize: 2}, {CID: leaf.CID(), Tsize: 16},
	}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	s.put(t, leaf, bad, top)
	l := mark(t, s, []cid.Cid{top.CID()}, nil, gc.MarkOptions{})
	if l.Complete() {
		t.Fatal("complete with a malformed node")
	}
	if m := l.Missing(); len(m) != 1 || !m[0].CID.Equals(bad.CID()) || !errors.Is(m[0].Err, content.ErrMalformed) {
		t.Errorf("Missing = %v", m)
	}
	if !l.Has(bad.CID()) || !l.Has(leaf.CID()) || l.Bytes() != int64(top.Size()+bad.Size()+leaf.Size()) {
		t.Errorf("live set %v", l)
	}
}

func TestMarkRetriesWhatPrevMissed(t *testing.T) {
	s := newStore()
	f := newFile(t, s, 1, 30, 32, 3)
	inner := f.nodes[0]
	s.delete(inner.CID())
	prev := mark(t, s, []cid.Cid{f.root}, nil, gc.MarkOptions{})
	if prev.Complete() {
		t.Fatal("complete without a node")
	}
	again := mark(t, s, []cid.Cid{f.root}, prev, gc.MarkOptions{})
	if again.Complete() {
		t.Fatal("complete while the node is still missing")
	}
	s.put(t, inner)
	s.resetGets()
	next := mark(t, s, []cid.Cid{f.root}, again, gc.MarkOptions{})
	if !next.Complete() {
		t.Fatalf("still incomplete: %v", next.Missing())
	}
	if got := s.resetGets(); got != 1 {
		t.Errorf("%d gets, want 1 (the node found again)", got)
	}
	sameKeys(t, liveSet(next), cidSet(f.cids()))
}

func TestMarkUnsupportedLinks(t *testing.T) {
	s := newStore()
	leaf := leafBlock(t, 1, 1, 16)
	s.put(t, leaf)
	v0, err := cid.Decode("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	if err != nil {
		t.Fatal(err)
	}
	idHash, err := mh.Sum([]byte("inline"), mh.IDENTITY, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []cid.Cid{v0, cid.NewCidV1(content.CodecRaw, idHash), cid.NewCidV1(cid.DagCBOR, leaf.CID().Hash())} {
		t.Run(bad.String(), func(t *testing.T) {
			node, err := content.NewBlock(content.CodecDagPB, content.PBNode{Links: []content.Link{
				{CID: bad, Tsize: 6}, {CID: leaf.CID(), Tsize: 16},
			}}.Encode())
			if err != nil {
				t.Fatal(err)
			}
			s.put(t, node)
			for _, prev := range []*gc.Live{nil, mark(t, s, []cid.Cid{node.CID()}, nil, gc.MarkOptions{})} {
				l := mark(t, s, []cid.Cid{node.CID()}, prev, gc.MarkOptions{})
				if l.Complete() {
					t.Fatal("complete with a link to an unsupported CID")
				}
				if m := l.Missing(); len(m) != 1 || !m[0].CID.Equals(node.CID()) {
					t.Fatalf("Missing = %v", m)
				}
				if !l.Has(node.CID()) || !l.Has(leaf.CID()) {
					t.Error("the node or its good link is not live")
				}
			}
			if _, err := gc.Mark(context.Background(), s, []cid.Cid{bad}, nil, gc.MarkOptions{}); !errors.Is(err, content.ErrUnsupportedCID) {
				t.Errorf("Mark(bad root) = %v, want ErrUnsupportedCID", err)
			}
		})
	}
}

// A raw block and a dag-pb node with the same bytes have one digest but
// two CIDs: marking the raw one must not hide the node's links.
func TestMarkRawAndDagPBOfTheSameBytes(t *testing.T) {
	s := newStore()
	leaf := leafBlock(t, 1, 1, 16)
	node, err := content.NewBlock(content.CodecDagPB, content.PBNode{Links: []content.Link{{CID: leaf.CID(), Tsize: 16}}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := content.NewRawBlock(node.Data())
	if err != nil {
		t.Fatal(err)
	}
	top, err := content.NewBlock(content.CodecDagPB, content.PBNode{Links: []content.Link{
		{CID: raw.CID(), Tsize: uint64(raw.Size())}, {CID: node.CID(), Tsize: uint64(node.Size() + 16)},
	}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	s.put(t, leaf, node, raw, top)
	for _, opts := range []gc.MarkOptions{{}, {FetchLeaves: true}} {
		l := mark(t, s, []cid.Cid{top.CID()}, nil, opts)
		if !l.Has(leaf.CID()) {
			t.Errorf("%+v: the node's leaf is not live", opts)
		}
		if l.Len() != 4 {
			t.Errorf("%+v: Len = %d, want 4", opts, l.Len())
		}
		sum, err := gc.NewSummary(l, gc.Cover{Namespace: "ns", Roots: []gc.Root{{Term: 1, Index: 1, CID: top.CID()}}}, 0.01)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Blocks() != 3 {
			t.Errorf("summary counts %d digests, want 3", sum.Blocks())
		}
	}
}

func TestMarkStopsWithTheContext(t *testing.T) {
	s := newStore()
	f := newFile(t, s, 1, 30, 32, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := gc.Mark(ctx, s, []cid.Cid{f.root}, nil, gc.MarkOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Mark = %v, want context.Canceled", err)
	}
	// A getter that sees the context end mid-walk.
	ctx, cancel = context.WithCancel(context.Background())
	g := getterFunc(func(c cid.Cid) (content.Block, error) {
		cancel()
		return content.Block{}, context.Canceled
	})
	if _, err := gc.Mark(ctx, g, []cid.Cid{f.root}, nil, gc.MarkOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Mark = %v, want context.Canceled", err)
	}
}

func TestMarkRefusesAWrongBlock(t *testing.T) {
	s := newStore()
	f := newFile(t, s, 1, 30, 32, 3)
	other := leafBlock(t, 5, 5, 16)
	g := getterFunc(func(c cid.Cid) (content.Block, error) {
		if c.Equals(f.nodes[0].CID()) {
			return other, nil
		}
		return s.Get(context.Background(), c)
	})
	l := mark(t, g, []cid.Cid{f.root}, nil, gc.MarkOptions{})
	if l.Complete() {
		t.Fatal("complete with a wrong block")
	}
	if m := l.Missing(); len(m) != 1 || !errors.Is(m[0].Err, content.ErrHashMismatch) {
		t.Errorf("Missing = %v", m)
	}
}

type getterFunc func(cid.Cid) (content.Block, error)

func (f getterFunc) Get(_ context.Context, c cid.Cid) (content.Block, error) { return f(c) }

func TestLiveMayBeLiveOnForeignBytes(t *testing.T) {
	l := mark(t, newStore(), nil, nil, gc.MarkOptions{})
	if l.Len() != 0 || !l.Complete() {
		t.Fatalf("empty mark: %v", l)
	}
	for _, m := range []mh.Multihash{nil, {0x12}, {0x13, 0x20}, make(mh.Multihash, 34)} {
		if got := l.MayBeLive(m); got != (len(m) != 34 || m[0] != 0x12) {
			t.Errorf("MayBeLive(%x) = %v", []byte(m), got)
		}
	}
}
