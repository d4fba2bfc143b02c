package mount

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/internal/fixture"
)

// countingSource is a block source that counts its fetches.
type countingSource struct {
	blocks  *content.MemStore
	fetches atomic.Int64
}

func (s *countingSource) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	s.fetches.Add(1)
	return s.blocks.Get(ctx, c)
}

// newSource returns a source of n distinct raw blocks of size bytes.
func newSource(t *testing.T, n, size int) (*countingSource, []content.Block) {
	t.Helper()
	src := &countingSource{blocks: content.NewMemStore()}
	var blocks []content.Block
	for i := range n {
		data := bytes.Repeat([]byte{byte(i + 1)}, size)
		b, err := content.NewRawBlock(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := src.blocks.Put(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
	}
	return src, blocks
}

// get reads b through k, checking the bytes, and returns how many
// fetches of src it took.
func get(t *testing.T, k *blockCache, src *countingSource, b content.Block) int64 {
	t.Helper()
	before := src.fetches.Load()
	got, err := k.Get(context.Background(), b.CID())
	if err != nil {
		t.Fatalf("get %s: %v", b.CID(), err)
	}
	if !bytes.Equal(got.Data(), b.Data()) {
		t.Fatalf("get %s: wrong bytes", b.CID())
	}
	k.puts.Wait() // the background write to the store is done
	return src.fetches.Load() - before
}

func openTestCache(t *testing.T, dir string, limit int64, src content.BlockGetter) *blockCache {
	t.Helper()
	k, err := openCache(dir, limit, src)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestCacheEvictsLeastRecentlyUsed fills a cache of three blocks on disk
// and in memory: a fourth evicts the least recently used, not the oldest,
// and the bytes held never pass the bound.
func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	for _, dir := range []string{"disk", ""} {
		t.Run("dir="+dir, func(t *testing.T) {
			const size = 1000
			if dir != "" {
				dir = t.TempDir()
			}
			src, b := newSource(t, 5, size)
			k := openTestCache(t, dir, 3*size, src)
			defer k.close()
			for i := range 3 {
				if n := get(t, k, src, b[i]); n != 1 {
					t.Fatalf("first get of block %d: %d fetches, want 1", i, n)
				}
			}
			if n := get(t, k, src, b[0]); n != 0 { // now b[1] is the least recently used
				t.Fatalf("second get of block 0: %d fetches, want 0", n)
			}
			get(t, k, src, b[3])
			st := k.snapshot()
			if st.Blocks != 3 || st.Bytes != 3*size || st.Evictions != 1 {
				t.Fatalf("after 4 blocks: %+v, want 3 blocks, %d bytes, 1 eviction", st, 3*size)
			}
			for i, want := range []bool{true, false, true, true} {
				has, err := k.store.Has(context.Background(), b[i].CID())
				if err != nil || has != want {
					t.Errorf("store holds block %d: %v %v, want %v", i, has, err, want)
				}
			}
			if n := get(t, k, src, b[1]); n != 1 {
				t.Fatalf("get of evicted block 1: %d fetches, want 1", n)
			}
			// That evicted block 2, the least recently used now.
			for i, want := range []bool{true, true, false, true} {
				if has, _ := k.store.Has(context.Background(), b[i].CID()); has != want {
					t.Errorf("after refetching block 1, the store holds block %d: %v, want %v", i, has, want)
				}
			}
			for i, want := range []int64{0, 0, 1} {
				if n := get(t, k, src, b[i]); n != want {
					t.Errorf("get of block %d: %d fetches, want %d", i, n, want)
				}
			}
			// A block over the bound is served but not kept.
			big, err := content.NewRawBlock(bytes.Repeat([]byte{9}, 4*size))
			if err != nil {
				t.Fatal(err)
			}
			src.blocks.Put(context.Background(), big)
			get(t, k, src, big)
			if n := get(t, k, src, big); n != 1 {
				t.Errorf("a block over the bound: %d fetches for the second get, want 1", n)
			}
			if st := k.snapshot(); st.Bytes > 3*size {
				t.Errorf("cache holds %d bytes, bound %d", st.Bytes, 3*size)
			}
		})
	}
}

// TestCacheReopen keeps the blocks of a folder across a close: they count
// against the bound, and a smaller bound evicts some at once.
func TestCacheReopen(t *testing.T) {
	const size = 1000
	dir := t.TempDir()
	src, b := newSource(t, 4, size)
	k := openTestCache(t, dir, 10*size, src)
	for _, blk := range b {
		get(t, k, src, blk)
	}
	if err := k.close(); err != nil {
		t.Fatal(err)
	}
	k = openTestCache(t, dir, 10*size, src)
	if st := k.snapshot(); st.Blocks != 4 || st.Bytes != 4*size {
		t.Fatalf("reopened: %+v, want 4 blocks of %d bytes", st, size)
	}
	for i, blk := range b {
		if n := get(t, k, src, blk); n != 0 {
			t.Errorf("block %d after reopening: %d fetches, want 0", i, n)
		}
	}
	k.close()
	k = openTestCache(t, dir, 2*size, src)
	defer k.close()
	if st := k.snapshot(); st.Blocks != 2 || st.Bytes != 2*size {
		t.Fatalf("reopened with a bound of 2 blocks: %+v", st)
	}
	left := 0
	for _, blk := range b {
		if has, _ := k.store.Has(context.Background(), blk.CID()); has {
			left++
		}
	}
	if left != 2 {
		t.Errorf("the folder holds %d blocks, want 2", left)
	}
}

// blockFile returns the file that holds c in the cache folder dir.
func blockFile(t *testing.T, dir string, c cid.Cid) string {
	t.Helper()
	var found string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == c.String() {
			found = p
		}
		return nil
	})
	if found == "" {
		t.Fatalf("no file for %s in %s", c, dir)
	}
	return found
}

// TestCacheRefusesCorruptBlock corrupts a block in the cache folder: the
// cache refuses it, fetches the block again, keeps the good copy, and
// leaves nothing of the bad one behind.
func TestCacheRefusesCorruptBlock(t *testing.T) {
	const size = 1000
	dir := t.TempDir()
	src, b := newSource(t, 2, size)
	k := openTestCache(t, dir, 10*size, src)
	get(t, k, src, b[0])
	get(t, k, src, b[1])
	k.close()
	bad := bytes.Repeat([]byte{0xEE}, size)
	if err := os.WriteFile(blockFile(t, dir, b[0].CID()), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	k = openTestCache(t, dir, 10*size, src)
	if n := get(t, k, src, b[0]); n != 1 {
		t.Fatalf("corrupt block: %d fetches, want 1 (refetched)", n)
	}
	if n := get(t, k, src, b[1]); n != 0 {
		t.Fatalf("good block: %d fetches, want 0", n)
	}
	if st := k.snapshot(); st.Corrupt != 1 || st.Blocks != 2 || st.Bytes != 2*size {
		t.Fatalf("after the corrupt block: %+v", st)
	}
	if n := get(t, k, src, b[0]); n != 0 {
		t.Fatalf("refetched block: %d fetches, want 0", n)
	}
	k.close()
	if got, err := os.ReadFile(blockFile(t, dir, b[0].CID())); err != nil || !bytes.Equal(got, b[0].Data()) {
		t.Fatalf("the folder's copy after the refetch: %v, good %v", err, bytes.Equal(got, b[0].Data()))
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && bytes.Contains([]byte(d.Name()), []byte(b[0].CID().String()+".")) {
			t.Errorf("the corrupt copy is left at %s", p)
		}
		return nil
	})
}

// lyingSource answers every block with the bytes of another.
type lyingSource struct{ b content.Block }

func (s lyingSource) Get(context.Context, cid.Cid) (content.Block, error) { return s.b, nil }

// TestCacheFileReader reads a multi-block file through the cache: bytes
// match, a second read fetches nothing, and a source that answers with
// the wrong block fails the read.
func TestCacheFileReader(t *testing.T) {
	ctx := context.Background()
	data := fixture.Bytes(3<<20 + 12345)
	blocks := content.NewMemStore()
	fr, err := content.Import(ctx, bytes.NewReader(data), blocks, content.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root := fr.CID
	src := &countingSource{blocks: blocks}
	k := openTestCache(t, t.TempDir(), 64<<20, src)
	defer k.close()
	for i := range 2 {
		before := src.fetches.Load()
		r, err := content.NewFileReader(ctx, k, root, 4)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d: %v, %d bytes, match %v", i, err, len(got), bytes.Equal(got, data))
		}
		k.puts.Wait()
		if n := src.fetches.Load() - before; i == 1 && n != 0 {
			t.Fatalf("second read: %d fetches, want 0", n)
		}
	}
	other, _ := content.NewRawBlock([]byte("other"))
	liar := openTestCache(t, "", 64<<20, lyingSource{other})
	defer liar.close()
	if _, err := content.NewFileReader(ctx, liar, root, 4); !errors.Is(err, content.ErrHashMismatch) {
		t.Fatalf("a source answering with the wrong block: %v, want ErrHashMismatch", err)
	}
}
