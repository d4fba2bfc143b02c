package blockstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/internal/testrand"
)

// opener opens stores for one test; stores opened with the same database
// name through one opener share their blocks, as reloading a page does.
type opener func(db string, maxBytes int64) (*Store, error)

// harness is a backend the Store tests run over. harnesses (one file per
// platform) lists them: memory everywhere, IndexedDB under js/wasm.
type harness struct {
	name string
	env  func(t *testing.T) opener
}

// memHarness keeps one memBackend per database name for the test's length.
func memHarness() harness {
	return harness{"memory", func(*testing.T) opener {
		var mu sync.Mutex
		dbs := map[string]*memBackend{}
		return func(db string, maxBytes int64) (*Store, error) {
			mu.Lock()
			b := dbs[db]
			if b == nil {
				b = newMemBackend()
				dbs[db] = b
			}
			mu.Unlock()
			return newStore(context.Background(), keepOnClose{b}, Config{Name: db, MaxBytes: maxBytes})
		}
	}}
}

// keepOnClose is a memBackend that survives its Store's Close, for reopening.
type keepOnClose struct{ *memBackend }

func (keepOnClose) close() error { return nil }

// eachBackend runs f once per harness.
func eachBackend(t *testing.T, f func(t *testing.T, open opener)) {
	for _, h := range harnesses() {
		t.Run(h.name, func(t *testing.T) { f(t, h.env(t)) })
	}
}

// mustOpen opens db and closes it when the test ends.
func mustOpen(t *testing.T, open opener, db string, maxBytes int64) *Store {
	t.Helper()
	s, err := open(db, maxBytes)
	if err != nil {
		t.Fatalf("open %s: %v", db, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// block returns a distinct raw block of size bytes (at least 8) numbered i.
func block(t testing.TB, i, size int) content.Block {
	t.Helper()
	data := make([]byte, size)
	binary.LittleEndian.PutUint64(data, uint64(i))
	b, err := content.NewRawBlock(data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// quarter is a block size of which the smallest bound holds four.
const quarter = content.MaxBlockSize / 4

// rawPut writes data under c's key behind the account's back, as a bug or
// a bad disk would.
func rawPut(t *testing.T, s *Store, c cid.Cid, data []byte) {
	t.Helper()
	s.mu.Lock()
	wait := s.b.write(writeOp{puts: []putOp{{rec: record[string]{key: c.String(), size: int64(len(data)), stamp: 1}, data: data}}})
	s.mu.Unlock()
	if err := wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// rawDelete deletes c's block behind the account's back.
func rawDelete(t *testing.T, s *Store, c cid.Cid) {
	t.Helper()
	s.mu.Lock()
	wait := s.b.write(writeOp{del: []string{c.String()}})
	s.mu.Unlock()
	if err := wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// rawHas reports whether the backend itself holds c's bytes.
func rawHas(t *testing.T, s *Store, c cid.Cid) bool {
	t.Helper()
	s.mu.Lock()
	read := s.b.read(c.String())
	s.mu.Unlock()
	_, ok, err := read(context.Background(), nil)
	if err != nil && !errors.Is(err, errBadRecord) {
		t.Fatal(err)
	}
	return ok
}

// checkConsistent checks that the account and the backend agree: the same
// keys, sizes adding up to Stat, within the bound, every block readable.
func checkConsistent(t *testing.T, s *Store, maxBytes int64) {
	t.Helper()
	ctx := context.Background()
	st, err := s.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes > maxBytes {
		t.Errorf("Stat %d bytes, over the bound %d", st.Bytes, maxBytes)
	}
	recs, err := s.b.load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var inBackend []string
	var bytes int64
	for _, r := range recs {
		inBackend = append(inBackend, r.key)
		bytes += r.size
	}
	var inAccount []string
	for c, err := range s.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		inAccount = append(inAccount, c.String())
		b, err := s.Get(ctx, c)
		if err != nil {
			t.Errorf("Get %s listed by All: %v", c, err)
			continue
		}
		if b.CID() != c {
			t.Errorf("Get %s returned %s", c, b.CID())
		}
	}
	slices.Sort(inBackend)
	slices.Sort(inAccount)
	if !slices.Equal(inBackend, inAccount) {
		t.Errorf("backend holds %d keys, account %d:\nbackend %v\naccount %v", len(inBackend), len(inAccount), inBackend, inAccount)
	}
	if st.Blocks != int64(len(recs)) || st.Bytes != bytes {
		t.Errorf("Stat %+v, backend %d blocks, %d bytes", st, len(recs), bytes)
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := mustOpen(t, open, "roundtrip", DefaultMaxBytes)
		b := block(t, 1, 5000)
		if _, err := s.Get(ctx, b.CID()); !errors.Is(err, content.ErrNotFound) {
			t.Fatalf("Get of a missing block: %v, want ErrNotFound", err)
		}
		if err := s.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, b.CID())
		if err != nil {
			t.Fatal(err)
		}
		if got.CID() != b.CID() || string(got.Data()) != string(b.Data()) {
			t.Fatalf("Get returned %v, want %v", got, b)
		}
		// Put of a held block is a no-op.
		if err := s.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Stat(ctx); st != (content.StoreStat{Blocks: 1, Bytes: 5000}) {
			t.Fatalf("Stat after a second Put: %+v", st)
		}
		// GetBuffer reads into the caller's array when it is large enough.
		buf := make([]byte, 0, 8000)
		got, err = s.GetBuffer(ctx, b.CID(), buf)
		if err != nil {
			t.Fatal(err)
		}
		if &got.Data()[0] != &buf[:1][0] || string(got.Data()) != string(b.Data()) {
			t.Fatal("GetBuffer did not read into the buffer")
		}
		got, err = s.GetBuffer(ctx, b.CID(), make([]byte, 10))
		if err != nil || string(got.Data()) != string(b.Data()) {
			t.Fatalf("GetBuffer with a short buffer: %v", err)
		}
		// An empty block and a dag-pb block.
		empty, _ := content.NewRawBlock(nil)
		pb, _ := content.NewBlock(content.CodecDagPB, []byte{0x0a, 0x02, 0x08, 0x01})
		for _, x := range []content.Block{empty, pb} {
			if err := s.Put(ctx, x); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(ctx, x.CID()); err != nil || string(got.Data()) != string(x.Data()) {
				t.Fatalf("round trip of %v: %v", x, err)
			}
		}
		// CIDs meshfs does not store are refused.
		v0 := cid.NewCidV0(b.CID().Hash())
		if _, err := s.Get(ctx, v0); !errors.Is(err, content.ErrUnsupportedCID) {
			t.Fatalf("Get of a CIDv0: %v", err)
		}
		if err := s.Put(ctx, content.Block{}); !errors.Is(err, content.ErrUnsupportedCID) {
			t.Fatalf("Put of the zero Block: %v", err)
		}
		checkConsistent(t, s, DefaultMaxBytes)
	})
}

func TestHasDeleteAllStat(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := mustOpen(t, open, "has-delete", DefaultMaxBytes)
		var want []string
		var bytes int64
		for i := range 10 {
			b := block(t, i, 1000+i)
			if err := s.Put(ctx, b); err != nil {
				t.Fatal(err)
			}
			want = append(want, b.CID().String())
			bytes += int64(b.Size())
		}
		if st, err := s.Stat(ctx); err != nil || st != (content.StoreStat{Blocks: 10, Bytes: bytes}) {
			t.Fatalf("Stat = %+v, %v; want 10 blocks, %d bytes", st, err, bytes)
		}
		var got []string
		for c, err := range s.All(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, c.String())
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("All = %v, want %v", got, want)
		}
		// All stops when asked.
		n := 0
		for range s.All(ctx) {
			n++
			break
		}
		if n != 1 {
			t.Fatal("All went on after break")
		}
		b3 := block(t, 3, 1003)
		if ok, err := s.Has(ctx, b3.CID()); err != nil || !ok {
			t.Fatalf("Has = %v, %v", ok, err)
		}
		if err := s.Delete(ctx, b3.CID()); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.Has(ctx, b3.CID()); ok {
			t.Fatal("Has after Delete")
		}
		if rawHas(t, s, b3.CID()) {
			t.Fatal("Delete left the block in the backend")
		}
		if _, err := s.Get(ctx, b3.CID()); !errors.Is(err, content.ErrNotFound) {
			t.Fatalf("Get after Delete: %v", err)
		}
		if err := s.Delete(ctx, b3.CID()); err != nil {
			t.Fatalf("Delete of a missing block: %v", err)
		}
		if st, _ := s.Stat(ctx); st != (content.StoreStat{Blocks: 9, Bytes: bytes - 1003}) {
			t.Fatalf("Stat after Delete: %+v", st)
		}
		// A cancelled context stops All.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		for _, err := range s.All(cctx) {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("All with a cancelled context yielded %v", err)
			}
			break
		}
		if _, err := s.Get(cctx, block(t, 1, 1001).CID()); !errors.Is(err, context.Canceled) {
			t.Fatalf("Get with a cancelled context: %v", err)
		}
		checkConsistent(t, s, DefaultMaxBytes)
	})
}

func TestEvictionOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		const max = content.MaxBlockSize // four quarters
		s := mustOpen(t, open, "eviction", max)
		b := make([]content.Block, 7)
		for i := range b {
			b[i] = block(t, i, quarter)
		}
		held := func(want ...int) {
			t.Helper()
			var got []string
			for c, err := range s.All(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, c.String())
			}
			var w []string
			for _, i := range want {
				w = append(w, b[i].CID().String())
			}
			if !slices.Equal(got, w) {
				t.Fatalf("held (most recent first) %v, want blocks %v = %v", got, want, w)
			}
			for i := range b {
				if rawHas(t, s, b[i].CID()) != slices.Contains(want, i) {
					t.Fatalf("block %d: backend disagrees with the account", i)
				}
			}
		}
		for i := range 4 {
			if err := s.Put(ctx, b[i]); err != nil {
				t.Fatal(err)
			}
		}
		held(3, 2, 1, 0)
		if st, _ := s.Stat(ctx); st.Bytes != max || st.Blocks != 4 {
			t.Fatalf("Stat = %+v, want 4 blocks, %d bytes", st, max)
		}
		// A Get refreshes block 0, so block 1 is the least recently used.
		if _, err := s.Get(ctx, b[0].CID()); err != nil {
			t.Fatal(err)
		}
		held(0, 3, 2, 1)
		if err := s.Put(ctx, b[4]); err != nil {
			t.Fatal(err)
		}
		held(4, 0, 3, 2)
		// A Put of a held block refreshes it too.
		if err := s.Put(ctx, b[2]); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, b[5]); err != nil {
			t.Fatal(err)
		}
		held(5, 2, 4, 0)
		// Has does not count as a use.
		if ok, _ := s.Has(ctx, b[0].CID()); !ok {
			t.Fatal("Has(0) false")
		}
		if err := s.Put(ctx, b[6]); err != nil {
			t.Fatal(err)
		}
		held(6, 5, 2, 4)
		if _, err := s.Get(ctx, b[1].CID()); !errors.Is(err, content.ErrNotFound) {
			t.Fatalf("Get of an evicted block: %v", err)
		}
		// A largest block evicts as many as it needs.
		big := block(t, 99, content.MaxBlockSize)
		if err := s.Put(ctx, big); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Stat(ctx); st.Blocks != 1 || st.Bytes != content.MaxBlockSize {
			t.Fatalf("Stat after the largest block: %+v", st)
		}
		checkConsistent(t, s, max)
	})
}

// TestPutMany: one write adds the new blocks in order, touches the held
// ones, ignores repeats, and evicts past the bound, its own blocks too.
func TestPutMany(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		const max = content.MaxBlockSize // four quarters
		s := mustOpen(t, open, "many", max)
		b := make([]content.Block, 10)
		for i := range b {
			b[i] = block(t, i, quarter)
		}
		// held checks the order, then the backend (whose Gets reorder).
		held := func(want ...int) {
			t.Helper()
			var w []cid.Cid
			for _, i := range want {
				w = append(w, b[i].CID())
			}
			if got := s.lru.keys(); !slices.Equal(got, w) {
				var gi []int
				for _, c := range got {
					gi = append(gi, slices.IndexFunc(b, func(x content.Block) bool { return x.CID() == c }))
				}
				t.Fatalf("held (most recent first) blocks %v, want %v", gi, want)
			}
			checkConsistent(t, s, max)
		}
		if err := s.PutMany(ctx, b[:2]); err != nil {
			t.Fatal(err)
		}
		held(1, 0)
		if err := s.PutMany(ctx, []content.Block{b[2], b[0], b[3], b[2]}); err != nil {
			t.Fatal(err)
		}
		held(3, 0, 2, 1)
		// Six new quarters: everything else goes, then the batch's first two.
		if err := s.PutMany(ctx, b[4:10]); err != nil {
			t.Fatal(err)
		}
		held(9, 8, 7, 6)
		if err := s.PutMany(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.PutMany(ctx, []content.Block{b[0], {}}); !errors.Is(err, content.ErrUnsupportedCID) {
			t.Fatalf("PutMany with an undefined block: %v", err)
		}
		checkConsistent(t, s, max)
	})
}

// bytesBody is a Body over a slice.
type bytesBody []byte

func (b bytesBody) Len() int              { return len(b) }
func (b bytesBody) CopyTo(dst []byte) int { return copy(dst, b) }

// TestPutBodies: blocks put from bodies read back verified; a body that
// does not hash to its CID is stored but never served.
func TestPutBodies(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := mustOpen(t, open, "bodies", DefaultMaxBytes)
		a, b, bad := block(t, 1, 1000), block(t, 2, quarter), block(t, 3, 100)
		err := s.PutBodies(ctx, []BodyBlock{{a.CID(), bytesBody(a.Data())}, {b.CID(), bytesBody(b.Data())}, {bad.CID(), bytesBody("not its bytes")}})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []content.Block{a, b} {
			got, err := s.Get(ctx, want.CID())
			if err != nil || string(got.Data()) != string(want.Data()) {
				t.Fatalf("Get %s: %v", want.CID(), err)
			}
		}
		if _, err := s.Get(ctx, bad.CID()); !errors.Is(err, content.ErrCorruptBlock) {
			t.Fatalf("Get of a wrong body: %v", err)
		}
		if ok, _ := s.Has(ctx, bad.CID()); ok {
			t.Fatal("a wrong body is still held")
		}
		if err := s.PutBodies(ctx, []BodyBlock{{a.CID(), nil}}); err == nil {
			t.Fatal("PutBodies with no body succeeded")
		}
		big := make(bytesBody, content.MaxBlockSize+1)
		if err := s.PutBodies(ctx, []BodyBlock{{bad.CID(), big}}); !errors.Is(err, content.ErrBlockTooLarge) {
			t.Fatalf("PutBodies of an oversized body: %v", err)
		}
		checkConsistent(t, s, DefaultMaxBytes)
	})
}

func TestRecencySurvivesReopen(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		const max = content.MaxBlockSize
		b := make([]content.Block, 6)
		for i := range b {
			b[i] = block(t, i, quarter)
		}
		s := mustOpen(t, open, "recency", max)
		for i := range 4 {
			if err := s.Put(ctx, b[i]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Get(ctx, b[0].CID()); err != nil { // 1 is now the oldest
			t.Fatal(err)
		}
		if err := s.Close(); err != nil { // writes the Get's stamp
			t.Fatal(err)
		}
		s = mustOpen(t, open, "recency", max)
		if err := s.Put(ctx, b[4]); err != nil {
			t.Fatal(err)
		}
		for i, want := range []bool{true, false, true, true, true} {
			if ok, _ := s.Has(ctx, b[i].CID()); ok != want {
				t.Fatalf("after reopen and a Put: Has(%d) = %v, want %v", i, ok, want)
			}
		}
		// Flush persists the stamps of an open store: a second store over
		// the same data (as after a tab is killed) sees them.
		if _, err := s.Get(ctx, b[2].CID()); err != nil { // 3 is now the oldest
			t.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		s2 := mustOpen(t, open, "recency", max)
		if err := s2.Put(ctx, b[5]); err != nil {
			t.Fatal(err)
		}
		for i, want := range []bool{true, false, true, false, true, true} {
			if ok, _ := s2.Has(ctx, b[i].CID()); ok != want {
				t.Fatalf("after Flush and a second store's Put: Has(%d) = %v, want %v", i, ok, want)
			}
		}
		checkConsistent(t, s2, max)
	})
}

// TestGetsPersistStamps: Gets write their stamps every flushEvery distinct
// blocks, without Flush or Close, so a killed tab keeps most of its recency.
func TestGetsPersistStamps(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := mustOpen(t, open, "get-stamps", DefaultMaxBytes)
		n := flushEvery + 6
		var blocks []content.Block
		for i := range n {
			b := block(t, i, 64)
			blocks = append(blocks, b)
			if err := s.Put(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		// Get the newest first: after flushEvery Gets, the oldest are newest.
		for i := n - 1; i >= n-flushEvery; i-- {
			if _, err := s.Get(ctx, blocks[i].CID()); err != nil {
				t.Fatal(err)
			}
		}
		other := mustOpen(t, open, "get-stamps", DefaultMaxBytes)
		var want []cid.Cid
		for i := n - flushEvery; i < n; i++ {
			want = append(want, blocks[i].CID())
		}
		for i := n - flushEvery - 1; i >= 0; i-- {
			want = append(want, blocks[i].CID())
		}
		if got := other.lru.keys(); !slices.Equal(got, want) {
			t.Fatalf("a second store sees the order\n%v\nwant\n%v", got, want)
		}
	})
}

func TestReopenKeepsBlocks(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := mustOpen(t, open, "reopen", DefaultMaxBytes)
		var blocks []content.Block
		for i := range 12 {
			b := block(t, i, quarter/4+i)
			blocks = append(blocks, b)
			if err := s.Put(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		// Use the first ones last, so the later ones are the oldest.
		for _, b := range blocks[:4] {
			if _, err := s.Get(ctx, b.CID()); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := s.Stat(ctx)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, blocks[0].CID()); !errors.Is(err, content.ErrStoreClosed) {
			t.Fatalf("Get after Close: %v", err)
		}
		s = mustOpen(t, open, "reopen", DefaultMaxBytes)
		if after, _ := s.Stat(ctx); after != before {
			t.Fatalf("Stat after reopen %+v, before %+v", after, before)
		}
		for _, b := range blocks {
			got, err := s.Get(ctx, b.CID())
			if err != nil || string(got.Data()) != string(b.Data()) {
				t.Fatalf("Get %v after reopen: %v", b, err)
			}
		}
		// Reading them all again in order makes the last ones the newest.
		for _, b := range blocks[:4] {
			if _, err := s.Get(ctx, b.CID()); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// Reopening under a lower bound evicts the least recently used.
		small := mustOpen(t, open, "reopen", content.MaxBlockSize)
		var keep int64
		var kept []int
		for i := 3; i >= 0; i-- {
			keep += int64(blocks[i].Size())
			kept = append(kept, i)
		}
		for i := 11; i >= 4 && keep+int64(blocks[i].Size()) <= content.MaxBlockSize; i-- {
			keep += int64(blocks[i].Size())
			kept = append(kept, i)
		}
		st, _ := small.Stat(ctx)
		if st.Bytes != keep || st.Blocks != int64(len(kept)) {
			t.Fatalf("Stat under the lower bound %+v, want %d blocks, %d bytes", st, len(kept), keep)
		}
		for _, i := range kept {
			if ok, _ := small.Has(ctx, blocks[i].CID()); !ok {
				t.Fatalf("block %d, among the most recent, evicted", i)
			}
		}
		checkConsistent(t, small, content.MaxBlockSize)
	})
}

func TestCorruptBlockRefusedAndRemoved(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := mustOpen(t, open, "corrupt", DefaultMaxBytes)
		good, other := block(t, 1, 3000), block(t, 2, 2000)
		for _, x := range []content.Block{good, other} {
			if err := s.Put(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		flipped := append([]byte(nil), good.Data()...)
		flipped[1234] ^= 1
		for name, bad := range map[string][]byte{
			"bit flip":        flipped,
			"truncated":       good.Data()[:100],
			"another's bytes": other.Data(),
			"empty":           {},
		} {
			rawPut(t, s, good.CID(), bad)
			_, err := s.Get(ctx, good.CID())
			var cerr *content.CorruptBlockError
			if !errors.Is(err, content.ErrCorruptBlock) || !errors.Is(err, content.ErrHashMismatch) || !errors.As(err, &cerr) || cerr.CID != good.CID() {
				t.Fatalf("%s: Get = %v, want a CorruptBlockError for %s", name, err, good.CID())
			}
			if ok, _ := s.Has(ctx, good.CID()); ok {
				t.Fatalf("%s: Has after a corrupt Get", name)
			}
			if rawHas(t, s, good.CID()) {
				t.Fatalf("%s: the corrupt block is still in the backend", name)
			}
			if _, err := s.Get(ctx, good.CID()); !errors.Is(err, content.ErrNotFound) {
				t.Fatalf("%s: second Get = %v, want ErrNotFound", name, err)
			}
			if st, _ := s.Stat(ctx); st != (content.StoreStat{Blocks: 1, Bytes: 2000}) {
				t.Fatalf("%s: Stat = %+v", name, st)
			}
			// The good copy can be stored again.
			if err := s.Put(ctx, good); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, good.CID()); err != nil {
				t.Fatalf("%s: Get after a new Put: %v", name, err)
			}
		}
		checkConsistent(t, s, DefaultMaxBytes)
	})
}

// TestLostBlockForgotten: a block the account holds but the backend lost
// is reported missing and forgotten.
func TestLostBlockForgotten(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := mustOpen(t, open, "lost", DefaultMaxBytes)
		b := block(t, 1, 100)
		if err := s.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
		rawDelete(t, s, b.CID())
		if _, err := s.Get(ctx, b.CID()); !errors.Is(err, content.ErrNotFound) {
			t.Fatalf("Get of a lost block: %v", err)
		}
		if ok, _ := s.Has(ctx, b.CID()); ok {
			t.Fatal("lost block still held")
		}
		checkConsistent(t, s, DefaultMaxBytes)
	})
}

func TestClosed(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s, err := open("closed", DefaultMaxBytes)
		if err != nil {
			t.Fatal(err)
		}
		b := block(t, 1, 100)
		if err := s.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		checks := map[string]error{}
		_, checks["Get"] = s.Get(ctx, b.CID())
		checks["Put"] = s.Put(ctx, b)
		_, checks["Has"] = s.Has(ctx, b.CID())
		checks["Delete"] = s.Delete(ctx, b.CID())
		_, checks["Stat"] = s.Stat(ctx)
		checks["Flush"] = s.Flush(ctx)
		for _, err := range s.All(ctx) {
			checks["All"] = err
			break
		}
		for op, err := range checks {
			if !errors.Is(err, content.ErrStoreClosed) {
				t.Errorf("%s after Close: %v, want ErrStoreClosed", op, err)
			}
		}
	})
}

// TestConcurrentUse has several goroutines put, get, check and delete an
// overlapping set of blocks under a bound that keeps evicting; then the
// account and the backend must agree.
func TestConcurrentUse(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		const max = content.MaxBlockSize
		s := mustOpen(t, open, "concurrent", max)
		r := testrand.New(t)
		var blocks []content.Block
		for i := range 24 {
			blocks = append(blocks, block(t, i, quarter/2+r.IntN(1000)))
		}
		const workers, ops = 8, 60
		seeds := make([]uint64, workers)
		for i := range seeds {
			seeds[i] = r.Uint64()
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(seeds[w], seeds[w]))
				for range ops {
					b := blocks[r.IntN(len(blocks))]
					var err error
					switch op := r.IntN(10); {
					case op < 4:
						err = s.Put(ctx, b)
					case op < 8:
						var got content.Block
						got, err = s.Get(ctx, b.CID())
						if errors.Is(err, content.ErrNotFound) {
							err = nil // evicted or deleted meanwhile
						} else if err == nil && string(got.Data()) != string(b.Data()) {
							err = fmt.Errorf("Get %s returned other bytes", b.CID())
						}
					case op < 9:
						_, err = s.Has(ctx, b.CID())
					default:
						err = s.Delete(ctx, b.CID())
					}
					if err != nil {
						t.Errorf("worker %d: %v", w, err)
						return
					}
				}
			})
		}
		wg.Wait()
		checkConsistent(t, s, max)
	})
}

// faultyBackend fails writes when told to, without applying any of them;
// with a gate, a failing write reports its failure once the gate closes.
type faultyBackend struct {
	*memBackend
	mu   sync.Mutex
	fail bool
	gate chan struct{}
}

func (f *faultyBackend) write(op writeOp) func(context.Context) error {
	f.mu.Lock()
	fail, gate := f.fail, f.gate
	f.mu.Unlock()
	if !fail {
		return f.memBackend.write(op)
	}
	return func(ctx context.Context) error {
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return errors.New("injected write failure")
	}
}

func (f *faultyBackend) set(fail bool, gate chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail, f.gate = fail, gate
}

func TestFailedWritesAreUndone(t *testing.T) {
	ctx := context.Background()
	const max = content.MaxBlockSize
	fb := &faultyBackend{memBackend: newMemBackend()}
	s, err := newStore(ctx, fb, Config{Name: "faulty", MaxBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := make([]content.Block, 5)
	for i := range b {
		b[i] = block(t, i, quarter)
		if i < 4 {
			if err := s.Put(ctx, b[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.Get(ctx, b[0].CID()); err != nil {
		t.Fatal(err)
	}
	order := s.lru.keys()
	before, _ := s.Stat(ctx)

	fb.set(true, nil)
	if err := s.Put(ctx, b[4]); err == nil {
		t.Fatal("Put succeeded with failing writes")
	}
	if err := s.Delete(ctx, b[2].CID()); err == nil {
		t.Fatal("Delete succeeded with failing writes")
	}
	if after, _ := s.Stat(ctx); after != before {
		t.Fatalf("Stat after failed writes %+v, before %+v", after, before)
	}
	if got := s.lru.keys(); !slices.Equal(got, order) {
		t.Fatalf("order after failed writes %v, before %v", got, order)
	}
	checkLRU(t, s.lru)

	// Nor does a failed PutMany, even one that evicts its own blocks.
	more := []content.Block{b[4], block(t, 5, quarter), block(t, 6, quarter), block(t, 7, quarter), block(t, 8, quarter)}
	for _, batch := range [][]content.Block{more[:2], more} {
		if err := s.PutMany(ctx, batch); err == nil {
			t.Fatal("PutMany succeeded with failing writes")
		}
		if after, _ := s.Stat(ctx); after != before {
			t.Fatalf("Stat after a failed PutMany of %d %+v, before %+v", len(batch), after, before)
		}
		if got := s.lru.keys(); !slices.Equal(got, order) {
			t.Fatalf("order after a failed PutMany of %d %v, before %v", len(batch), got, order)
		}
		checkLRU(t, s.lru)
	}

	fb.set(false, nil)
	if err := s.Put(ctx, b[4]); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Has(ctx, b[1].CID()); ok {
		t.Fatal("the least recently used block survived the retried Put")
	}
	checkConsistent(t, s, max)
}

// TestPutWaitsForPutInFlight: a Put of a block whose Put is in progress
// waits for it, and takes over when it fails.
func TestPutWaitsForPutInFlight(t *testing.T) {
	ctx := context.Background()
	fb := &faultyBackend{memBackend: newMemBackend()}
	s, err := newStore(ctx, fb, Config{Name: "flight", MaxBytes: DefaultMaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := block(t, 1, 100)
	gate := make(chan struct{})
	fb.set(true, gate) // the first Put's write will fail when the gate closes
	first := make(chan error, 1)
	go func() { first <- s.Put(ctx, b) }()
	for inFlight := false; !inFlight; {
		s.mu.Lock()
		inFlight = s.puts[b.CID()] != nil
		s.mu.Unlock()
		runtime.Gosched()
	}
	fb.set(false, nil)
	second := make(chan error, 1)
	go func() { second <- s.Put(ctx, b) }()
	select {
	case err := <-second:
		t.Fatalf("second Put returned %v while the first is in flight", err)
	default:
	}
	close(gate)
	if err := <-first; err == nil {
		t.Fatal("first Put succeeded")
	}
	if err := <-second; err != nil {
		t.Fatalf("second Put did not take over: %v", err)
	}
	if ok, _ := s.Has(ctx, b.CID()); !ok || !rawHas(t, s, b.CID()) {
		t.Fatal("block not held after the second Put")
	}
	checkConsistent(t, s, DefaultMaxBytes)
}

// TestConfigHash: Gets verify with Config.Hash; a block it fails to hash
// is reported and kept, one it hashes wrong is dropped as corrupt.
func TestConfigHash(t *testing.T) {
	ctx := context.Background()
	var calls int
	var fail, lie bool
	hash := func(data []byte) ([sha256.Size]byte, error) {
		calls++
		switch {
		case fail:
			return [sha256.Size]byte{}, errors.New("no digest")
		case lie:
			return [sha256.Size]byte{1}, nil
		}
		return sha256.Sum256(data), nil
	}
	s, err := newStore(ctx, newMemBackend(), Config{Name: "hash", MaxBytes: DefaultMaxBytes, Hash: hash})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := block(t, 1, 1000)
	if err := s.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, b.CID()); err != nil || got.CID() != b.CID() || calls != 1 {
		t.Fatalf("Get: %v, %v, %d hashes", got, err, calls)
	}
	fail = true
	if _, err := s.Get(ctx, b.CID()); err == nil || errors.Is(err, content.ErrCorruptBlock) {
		t.Fatalf("Get with a failing hasher: %v", err)
	}
	if ok, _ := s.Has(ctx, b.CID()); !ok {
		t.Fatal("a block the hasher failed on was dropped")
	}
	fail, lie = false, true
	if _, err := s.Get(ctx, b.CID()); !errors.Is(err, content.ErrCorruptBlock) {
		t.Fatalf("Get with a wrong digest: %v", err)
	}
	if ok, _ := s.Has(ctx, b.CID()); ok {
		t.Fatal("a block with a wrong digest was kept")
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		ok    bool
		memOK bool // NewMemory has no use for a name
	}{
		{"default", DefaultConfig(), true, true},
		{"smallest bound", Config{Name: "x", MaxBytes: content.MaxBlockSize}, true, true},
		{"bound below a block", Config{Name: "x", MaxBytes: content.MaxBlockSize - 1}, false, false},
		{"zero bound", Config{Name: "x"}, false, false},
		{"no name", Config{MaxBytes: DefaultMaxBytes}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, content.ErrInvalidOption)) {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
			if _, err := NewMemory(tc.cfg); tc.memOK != (err == nil) {
				t.Fatalf("NewMemory = %v, want ok=%v", err, tc.memOK)
			}
		})
	}
}

func TestNewMemory(t *testing.T) {
	ctx := context.Background()
	s, err := NewMemory(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	b := block(t, 1, 100)
	if err := s.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, b.CID()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenBadRecords: records whose keys are not CIDs meshfs stores, or
// whose sizes are impossible, are deleted at open.
func TestOpenBadRecords(t *testing.T) {
	ctx := context.Background()
	m := newMemBackend()
	good := block(t, 1, 100)
	v0 := cid.NewCidV0(good.CID().Hash())
	for _, r := range []record[string]{
		{key: good.CID().String(), size: 100, stamp: 3},
		{key: "not a cid", size: 1, stamp: 1},
		{key: v0.String(), size: 100, stamp: 2},
		{key: block(t, 2, 100).CID().String(), size: content.MaxBlockSize + 1, stamp: 2},
	} {
		m.write(writeOp{puts: []putOp{{rec: r, data: good.Data()}}})
	}
	s, err := newStore(ctx, m, Config{Name: "bad", MaxBytes: DefaultMaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs, _ := m.load(ctx)
	if len(recs) != 1 || recs[0].key != good.CID().String() {
		t.Fatalf("backend after open holds %+v, want only the good block", recs)
	}
	checkConsistent(t, s, DefaultMaxBytes)
}
