package gc_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/gc"
	"meshfs/internal/testrand"
)

// store is an in-memory BlockGetter that counts Gets and can be told to
// fail some CIDs. It is safe for concurrent use.
type store struct {
	mu     sync.Mutex
	blocks map[cid.Cid]content.Block
	gets   int
	fail   map[cid.Cid]error
}

func newStore() *store {
	return &store{blocks: make(map[cid.Cid]content.Block), fail: make(map[cid.Cid]error)}
}

func (s *store) Get(_ context.Context, c cid.Cid) (content.Block, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if err := s.fail[c]; err != nil {
		return content.Block{}, err
	}
	b, ok := s.blocks[c]
	if !ok {
		return content.Block{}, fmt.Errorf("%w: %s", content.ErrNotFound, c)
	}
	return b, nil
}

func (s *store) Put(_ context.Context, b content.Block) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocks[b.CID()] = b
	return nil
}

func (s *store) put(t testing.TB, bs ...content.Block) {
	t.Helper()
	for _, b := range bs {
		if err := s.Put(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *store) delete(c cid.Cid) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blocks, c)
}

func (s *store) resetGets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.gets
	s.gets = 0
	return n
}

// file is a synthetic file DAG: raw leaves under balanced dag-pb nodes.
type file struct {
	root   cid.Cid
	leaves []content.Block
	nodes  []content.Block // dag-pb nodes, the root last
}

// blocks returns every CID of the file.
func (f file) cids() []cid.Cid {
	var out []cid.Cid
	for _, b := range f.leaves {
		out = append(out, b.CID())
	}
	for _, b := range f.nodes {
		out = append(out, b.CID())
	}
	return out
}

func (f file) size() int64 {
	var n int64
	for _, b := range f.leaves {
		n += int64(b.Size())
	}
	for _, b := range f.nodes {
		n += int64(b.Size())
	}
	return n
}

// leafBlock returns a raw block of n bytes unique to (seed, i).
func leafBlock(t testing.TB, seed uint64, i, n int) content.Block {
	t.Helper()
	data := make([]byte, max(n, 16))
	binary.LittleEndian.PutUint64(data, seed)
	binary.LittleEndian.PutUint64(data[8:], uint64(i))
	b, err := content.NewRawBlock(data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// buildFile lays the given leaves out as a file DAG with the given fanout.
func buildFile(t testing.TB, leaves []content.Block, fanout int) file {
	t.Helper()
	fb, err := content.NewFileBuilder(fanout)
	if err != nil {
		t.Fatal(err)
	}
	f := file{leaves: leaves}
	for _, l := range leaves {
		nodes, err := fb.AddLeaf(l.CID(), l.Size())
		if err != nil {
			t.Fatal(err)
		}
		f.nodes = append(f.nodes, nodes...)
	}
	root, nodes, err := fb.Finish()
	if err != nil {
		t.Fatal(err)
	}
	f.nodes = append(f.nodes, nodes...)
	f.root = root.CID
	return f
}

// newFile builds and stores a file of n leaves of leafSize bytes.
func newFile(t testing.TB, s *store, seed uint64, n, leafSize, fanout int) file {
	t.Helper()
	leaves := make([]content.Block, n)
	for i := range leaves {
		leaves[i] = leafBlock(t, seed, i, leafSize)
	}
	f := buildFile(t, leaves, fanout)
	s.put(t, f.leaves...)
	s.put(t, f.nodes...)
	return f
}

// dir builds and stores a directory of the given files, named f0, f1...
func dir(t testing.TB, s *store, files ...file) (cid.Cid, []content.Block) {
	t.Helper()
	var entries []content.DirEntry
	for i, f := range files {
		entries = append(entries, content.DirEntry{Name: fmt.Sprintf("f%d", i), CID: f.root, Tsize: uint64(f.size())})
	}
	root, blocks, err := content.BuildDirectory(entries, content.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.put(t, blocks...)
	return root.CID, blocks
}

// set returns the CIDs live has, as a set.
func liveSet(l *gc.Live) map[cid.Cid]int64 {
	return maps.Collect(l.All())
}

func cidSet(cs ...[]cid.Cid) map[cid.Cid]bool {
	m := make(map[cid.Cid]bool)
	for _, c := range cs {
		for _, x := range c {
			m[x] = true
		}
	}
	return m
}

func sameKeys[V any](t *testing.T, got map[cid.Cid]V, want map[cid.Cid]bool) {
	t.Helper()
	for c := range want {
		if _, ok := got[c]; !ok {
			t.Errorf("missing %s", c)
		}
	}
	for c := range got {
		if !want[c] {
			t.Errorf("unexpected %s", c)
		}
	}
}

func mark(t testing.TB, g content.BlockGetter, roots []cid.Cid, prev *gc.Live, opts gc.MarkOptions) *gc.Live {
	t.Helper()
	l, err := gc.Mark(context.Background(), g, roots, prev, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func testRand(t testing.TB) *rand.Rand { return testrand.New(t) }

func randomCID(r *rand.Rand, codec uint64) cid.Cid {
	b, err := content.NewBlock(codec, testrand.Bytes(r, 24))
	if err != nil {
		panic(err)
	}
	return b.CID()
}

var errBoom = errors.New("boom")
