package gc_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/gc"
)

// synthetic is a namespace-like DAG: a directory of files, each a balanced
// UnixFS DAG of 174 links per node over small unique raw leaves.
type synthetic struct {
	s      *store
	root   cid.Cid
	files  []file
	blocks int
}

// newSynthetic builds files×leaves leaves; with storeLeaves false only the
// dag-pb nodes are stored (a mark that does not fetch leaves needs no
// more), which keeps a million-block DAG small in memory.
func newSynthetic(tb testing.TB, files, leaves int, storeLeaves bool) *synthetic {
	tb.Helper()
	syn := &synthetic{s: newStore()}
	for f := range files {
		ls := make([]content.Block, leaves)
		for i := range ls {
			var d [16]byte
			binary.LittleEndian.PutUint64(d[:], uint64(f))
			binary.LittleEndian.PutUint64(d[8:], uint64(i))
			b, err := content.NewRawBlock(d[:])
			if err != nil {
				tb.Fatal(err)
			}
			ls[i] = b
		}
		fl := buildFile(tb, ls, content.DefaultLinksPerNode)
		if storeLeaves {
			syn.s.put(tb, fl.leaves...)
		}
		syn.s.put(tb, fl.nodes...)
		syn.blocks += len(fl.leaves) + len(fl.nodes)
		fl.leaves = nil
		syn.files = append(syn.files, fl)
	}
	root, dirBlocks := dir(tb, syn.s, syn.files...)
	syn.root = root
	syn.blocks += len(dirBlocks)
	return syn
}

func benchMark(b *testing.B, syn *synthetic, opts gc.MarkOptions) *gc.Live {
	var l *gc.Live
	b.ResetTimer()
	for b.Loop() {
		var err error
		if l, err = gc.Mark(context.Background(), syn.s, []cid.Cid{syn.root}, nil, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if l.Len() != syn.blocks || !l.Complete() {
		b.Fatalf("marked %d of %d blocks", l.Len(), syn.blocks)
	}
	b.ReportMetric(float64(syn.blocks)*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
	b.ReportMetric(float64(l.Stats().Fetched), "fetched/op")
	return l
}

// BenchmarkMark measures a mark from scratch of 1M blocks (100 files of
// 10,000 leaves) without fetching leaves, and of 200,000 blocks fetching
// every one, over an in-memory getter.
func BenchmarkMark(b *testing.B) {
	b.Run("1M blocks", func(b *testing.B) {
		benchMark(b, newSynthetic(b, 100, 10_000, false), gc.MarkOptions{})
	})
	b.Run("200k blocks fetching leaves", func(b *testing.B) {
		benchMark(b, newSynthetic(b, 20, 10_000, true), gc.MarkOptions{FetchLeaves: true})
	})
}

// BenchmarkMarkIncremental re-marks the 1M-block DAG after one leaf of one
// file changed, given the previous mark: the walk fetches only the new
// nodes (the file's path and the directory) and walks the rest in memory.
func BenchmarkMarkIncremental(b *testing.B) {
	syn := newSynthetic(b, 100, 10_000, false)
	prev, err := gc.Mark(context.Background(), syn.s, []cid.Cid{syn.root}, nil, gc.MarkOptions{})
	if err != nil {
		b.Fatal(err)
	}
	// A new version of file 0: its leaves rebuilt with one changed.
	ls := make([]content.Block, 10_000)
	for i := range ls {
		var d [16]byte
		binary.LittleEndian.PutUint64(d[8:], uint64(i))
		if i == 5000 {
			d[0] = 0xff
		}
		ls[i], _ = content.NewRawBlock(d[:])
	}
	f0 := buildFile(b, ls, content.DefaultLinksPerNode)
	syn.s.put(b, f0.nodes...)
	files := append([]file{f0}, syn.files[1:]...)
	root, _ := dir(b, syn.s, files...)
	var l *gc.Live
	b.ResetTimer()
	for b.Loop() {
		if l, err = gc.Mark(context.Background(), syn.s, []cid.Cid{syn.root, root}, prev, gc.MarkOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(l.Len())*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
	b.ReportMetric(float64(l.Stats().Fetched), "fetched/op")
	b.ReportMetric(float64(l.Len()), "blocks")
}

// BenchmarkSummary builds, encodes, decodes and queries the summary of
// 1M blocks at 1%.
func BenchmarkSummary(b *testing.B) {
	syn := newSynthetic(b, 100, 10_000, false)
	live, err := gc.Mark(context.Background(), syn.s, []cid.Cid{syn.root}, nil, gc.MarkOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cover := gc.Cover{Namespace: "meshfs", Roots: []gc.Root{{Term: 1, Index: 1, CID: syn.root}}}
	var s *gc.Summary
	b.Run("build 1M at 1%", func(b *testing.B) {
		for b.Loop() {
			if s, err = gc.NewSummary(live, cover, 0.01); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(s.Encode())), "bytes")
		b.ReportMetric(float64(s.Hashes()), "hashes")
		b.ReportMetric(s.FPRate(), "fprate")
	})
	enc := s.Encode()
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			if _, err := gc.DecodeSummary(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MayBeLive", func(b *testing.B) {
		r := testRand(b)
		var ms [][]byte
		for range 1024 {
			ms = append(ms, randomCID(r, content.CodecRaw).Hash())
		}
		i := 0
		for b.Loop() {
			s.MayBeLive(ms[i%len(ms)])
			i++
		}
	})
}

// BenchmarkSweep judges 1M held blocks against a 1M-block summary.
func BenchmarkSweep(b *testing.B) {
	live, root, leaves := flatLive(b, 1, 1_000_000)
	s, err := gc.NewSummary(live, cover1(root), 0.01)
	if err != nil {
		b.Fatal(err)
	}
	held := make([]gc.Held, len(leaves))
	for i, c := range leaves {
		held[i] = gc.Held{CID: c, Size: 16}
	}
	p := gc.Policy{Live: s, Index: s.Index(), Leases: gc.NewLeases(), Grace: 1}
	b.ResetTimer()
	for b.Loop() {
		rep, _, err := p.Sweep(t0, func(yield func(gc.Held) bool) {
			for _, h := range held {
				if !yield(h) {
					return
				}
			}
		}, nil)
		if err != nil || rep.By[gc.WhyLive].Blocks != int64(len(held)) {
			b.Fatal(err, fmt.Sprint(rep.By))
		}
	}
	b.ReportMetric(float64(len(held))*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
}
