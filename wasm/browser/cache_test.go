package browser

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"meshfs/content"
	"meshfs/wasm/blockstore"
)

// rawBlock returns a distinct raw block of size bytes numbered i.
func rawBlock(t *testing.T, i, size int) content.Block {
	t.Helper()
	data := make([]byte, size)
	binary.LittleEndian.PutUint64(data, uint64(i))
	b, err := content.NewRawBlock(data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitHeld waits until store holds each of blocks.
func waitHeld(t *testing.T, store content.Store, blocks ...content.Block) {
	t.Helper()
	for _, b := range blocks {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			if ok, _ := store.Has(context.Background(), b.CID()); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never written", b.CID())
			}
		}
	}
}

// TestCacheWriter: nothing is written while a read is in progress; what
// waits is served meanwhile (a body verified again), and written after,
// blocks and bodies alike.
func TestCacheWriter(t *testing.T) {
	store, err := blockstore.NewMemory(blockstore.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	w := newCacheWriter(store, t.Logf)
	defer w.close()
	if !w.takesBodies() {
		t.Fatal("a blockstore takes bodies")
	}
	a, b, bad := rawBlock(t, 1, 100), rawBlock(t, 2, 200), rawBlock(t, 3, 300)
	w.begin()
	w.keep(a)
	w.keepBody(b.CID(), bytesBody(b.Data()), nil)
	w.keepBody(bad.CID(), bytesBody("not its bytes"), nil)
	time.Sleep(10 * cacheQuiet)
	for _, x := range []content.Block{a, b, bad} {
		if ok, _ := store.Has(context.Background(), x.CID()); ok {
			t.Fatalf("%s written during a read", x.CID())
		}
	}
	for _, x := range []content.Block{a, b} {
		if got, ok := w.get(x.CID()); !ok || string(got.Data()) != string(x.Data()) {
			t.Fatalf("queued %s not served", x.CID())
		}
	}
	if _, ok := w.get(bad.CID()); ok {
		t.Fatal("a queued body that does not match its CID was served")
	}
	w.end()
	waitHeld(t, store, a, b)
}

// TestCacheWriterBound: past its bound the queue lets its oldest blocks go.
func TestCacheWriterBound(t *testing.T) {
	store, err := blockstore.NewMemory(blockstore.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	w := newCacheWriter(store, t.Logf)
	defer w.close()
	w.mu.Lock()
	w.max = 3000
	w.mu.Unlock()
	var blocks []content.Block
	w.begin()
	for i := range 5 {
		blocks = append(blocks, rawBlock(t, i, 1000))
		w.keep(blocks[i])
	}
	w.end()
	waitHeld(t, store, blocks[2:]...)
	for _, b := range blocks[:2] {
		if ok, _ := store.Has(context.Background(), b.CID()); ok {
			t.Fatalf("%s kept past the bound", b.CID())
		}
	}
}

// TestCacheWriterPlainStore: a store without PutMany nor PutBodies gets
// one Put per block.
func TestCacheWriterPlainStore(t *testing.T) {
	ms := content.NewMemStore()
	w := newCacheWriter(ms, t.Logf)
	defer w.close()
	if w.takesBodies() {
		t.Fatal("a MemStore takes no bodies")
	}
	a, b := rawBlock(t, 1, 100), rawBlock(t, 2, 100)
	w.keep(a)
	w.keep(b)
	waitHeld(t, ms, a, b)
}
