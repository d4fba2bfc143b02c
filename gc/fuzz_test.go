package gc_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/gc"
)

// Native fuzz targets for every decoder of bytes from a disk or the
// network: the summary (from the mesh), the lease table and the dead-since
// state (from the holder's disk), and the dag-pb nodes Mark walks (from the
// mesh). Each decoder must refuse with its sentinel or accept bytes that
// encode back to themselves. Run one with, e.g.,
//
//	go test -run '^$' -fuzz '^FuzzDecodeSummary$' -fuzztime 60s ./gc/

func FuzzDecodeSummary(f *testing.F) {
	_, valid := validSummary(f)
	f.Add(valid)
	f.Add(goodParts(f).encode())
	f.Add(valid[:len(valid)/2])
	f.Add([]byte("mfgs\x01"))
	f.Add([]byte{})
	live, root, _ := flatLive(f, 1, 100)
	for _, fp := range []float64{0.5, 0.01} {
		s, err := gc.NewSummary(live, cover1(root), fp)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := gc.DecodeSummary(b)
		if err != nil {
			if !errors.Is(err, gc.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(s.Encode(), b) {
			t.Fatal("accepted bytes that do not encode back to themselves")
		}
		if s.Bits()%64 != 0 || s.Hashes() < 1 || len(s.Cover().Roots) == 0 {
			t.Fatalf("accepted %v", s)
		}
		// Queries work on anything accepted.
		s.MayBeLive(b[:min(len(b), 34)])
		s.MayBeLiveCID(s.Newest().CID)
		_ = s.FPRate()
		_ = gc.CheckSummary(s, s.Namespace(), s.Newest(), s)
	})
}

func FuzzDecodeLeases(f *testing.F) {
	l := gc.NewLeases()
	r := testRand(f)
	var cs []cid.Cid
	for range 3 {
		cs = append(cs, randomCID(r, content.CodecRaw))
	}
	if err := l.Add(cs, t0); err != nil {
		f.Fatal(err)
	}
	if err := l.Release(cs[1:], 300); err != nil {
		f.Fatal(err)
	}
	f.Add(l.Encode())
	f.Add(gc.NewLeases().Encode())
	f.Add(slicesConcat(binary.AppendUvarint([]byte("mfgl\x01"), 1), leaseEntry(1, 5, 0)))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := gc.DecodeLeases(b)
		if err != nil {
			if !errors.Is(err, gc.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(l.Encode(), b) {
			t.Fatal("accepted bytes that do not encode back to themselves")
		}
		at := time.Unix(0, math.MaxInt64)
		n := l.Len()
		if len(l.Expired(at)) > n || l.Prune(at, 1<<63) != n || l.Len() != 0 {
			t.Fatal("pruning past every expiry and index left entries")
		}
	})
}

func FuzzDecodeDeadSince(f *testing.F) {
	f.Add(gc.NewDeadSince().Encode())
	f.Add(slicesConcat(binary.AppendUvarint([]byte("mfgd\x01"), 2), deadEntry(1, 5), deadEntry(9, 1<<62)))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := gc.DecodeDeadSince(b)
		if err != nil {
			if !errors.Is(err, gc.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(d.Encode(), b) {
			t.Fatal("accepted bytes that do not encode back to themselves")
		}
	})
}

// FuzzMark walks a fuzzed dag-pb root block over a store of valid blocks:
// the walk must end, and the live set must hold the root, be complete only
// if every linked node decoded, and agree with a second, incremental mark.
func FuzzMark(f *testing.F) {
	s := newStore()
	file := newFile(f, s, 1, 20, 16, 3)
	d, dirBlocks := dir(f, s, file)
	f.Add(s.blocks[d].Data())
	f.Add(dirBlocks[0].Data())
	f.Add(file.nodes[len(file.nodes)-1].Data())
	f.Add(content.PBNode{Links: []content.Link{{CID: file.root}, {CID: file.root}, {CID: d}}}.Encode())
	f.Add([]byte{0x12, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > content.MaxBlockSize {
			return
		}
		root, err := content.NewBlock(content.CodecDagPB, b)
		if err != nil {
			t.Fatal(err)
		}
		g := getterFunc(func(c cid.Cid) (content.Block, error) {
			if c.Equals(root.CID()) {
				return root, nil
			}
			return s.Get(context.Background(), c)
		})
		for _, opts := range []gc.MarkOptions{{}, {FetchLeaves: true}} {
			l := mark(t, g, []cid.Cid{root.CID()}, nil, opts)
			if !l.Has(root.CID()) {
				t.Fatal("the root is not live")
			}
			_, decodeErr := content.DecodePBNode(b)
			if decodeErr != nil && l.Complete() {
				t.Fatal("complete with an undecodable root")
			}
			again := mark(t, g, []cid.Cid{root.CID()}, l, opts)
			if again.Len() != l.Len() || again.Complete() != l.Complete() || again.Bytes() != l.Bytes() {
				t.Fatalf("incremental mark differs: %v, %v", again, l)
			}
			if l.Complete() {
				if _, err := gc.NewSummary(l, gc.Cover{Namespace: "f", Roots: []gc.Root{{Term: 1, Index: 1, CID: root.CID()}}}, 0.01); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// FuzzSummaryNoFalseNegative builds summaries over fuzzed leaves and
// parameters: every inserted block must test live.
func FuzzSummaryNoFalseNegative(f *testing.F) {
	f.Add([]byte("abc"), uint16(3), uint8(10))
	f.Add([]byte{}, uint16(0), uint8(1))
	f.Add(bytes.Repeat([]byte{7}, 40), uint16(500), uint8(200))
	f.Fuzz(func(t *testing.T, seed []byte, n uint16, rate uint8) {
		n %= 2000
		fp := float64(rate%100+1) / 200 // (0, 0.5]
		var links []content.Link
		var leaves []cid.Cid
		for i := range int(n) {
			c := cidOfRaw(binary.AppendUvarint(bytes.Clone(seed), uint64(i)))
			leaves = append(leaves, c)
			links = append(links, content.Link{CID: c, Tsize: uint64(i)})
		}
		root, err := content.NewBlock(content.CodecDagPB, content.PBNode{Links: links}.Encode())
		if err != nil {
			return // too many links for one block
		}
		l := mark(t, getterFunc(func(cid.Cid) (content.Block, error) { return root, nil }), []cid.Cid{root.CID()}, nil, gc.MarkOptions{})
		s, err := gc.NewSummary(l, gc.Cover{Namespace: "f", Roots: []gc.Root{{Term: 1, Index: uint64(n), CID: root.CID()}}}, fp)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := gc.DecodeSummary(s.Encode())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range append(leaves, root.CID()) {
			if !s.MayBeLive(c.Hash()) || !dec.MayBeLive(c.Hash()) {
				t.Fatalf("live %s tests dead", c)
			}
		}
	})
}

func slicesConcat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
