//go:build js && wasm

package blockstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall/js"
	"testing"

	"meshfs/content"
)

// These tests need an IndexedDB: in Node.js, testdata/nodeexec provides one
// (fake-indexeddb); run them with
//
//	GOOS=js GOARCH=wasm go test -exec "$PWD/wasm/blockstore/testdata/nodeexec" ./wasm/blockstore/
//
// In a browser they use the real one.

// harnesses lists the backends the Store tests run over: memory and
// IndexedDB.
func harnesses() []harness { return []harness{memHarness(), idbHarness()} }

var dbSeq atomic.Int64

// idbHarness gives each test its own databases and deletes them after it.
func idbHarness() harness {
	return harness{"indexeddb", func(t *testing.T) opener {
		needIDB(t)
		prefix := fmt.Sprintf("blockstore-test-%d-", dbSeq.Add(1))
		var mu sync.Mutex
		names := map[string]bool{}
		t.Cleanup(func() { // after the stores' own cleanups close them
			for name := range names {
				if err := deleteDatabase(name); err != nil {
					t.Errorf("deleting database %s: %v", name, err)
				}
			}
		})
		return func(db string, maxBytes int64) (*Store, error) {
			mu.Lock()
			names[prefix+db] = true
			mu.Unlock()
			return Open(context.Background(), Config{Name: prefix + db, MaxBytes: maxBytes})
		}
	}}
}

// needIDB skips t where there is no IndexedDB (plain go_js_wasm_exec).
func needIDB(t *testing.T) {
	t.Helper()
	if js.Global().Get("indexedDB").Type() != js.TypeObject {
		t.Skip("no IndexedDB here: run with -exec testdata/nodeexec or in a browser")
	}
}

func deleteDatabase(name string) error {
	req := js.Global().Get("indexedDB").Call("deleteDatabase", name)
	events, release := on(req, "success", "error")
	defer release()
	if <-events != "success" {
		return requestError(req)
	}
	return nil
}

// rawTx runs f on the two object stores of database name in a readwrite
// transaction of a connection of its own, as another program could.
func rawTx(t *testing.T, name string, f func(blocks, meta js.Value)) {
	t.Helper()
	ctx := context.Background()
	b, err := openDB(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	var tx js.Value
	if err := catch(func() {
		tx = b.db.Call("transaction", js.ValueOf([]any{blocksStore, metaStore}), "readwrite")
		f(tx.Call("objectStore", blocksStore), tx.Call("objectStore", metaStore))
	}); err != nil {
		t.Fatal(err)
	}
	if err := awaitTx(ctx, tx); err != nil {
		t.Fatal(err)
	}
}

// rawKeys returns the keys of one object store of database name.
func rawKeys(t *testing.T, name, store string) []js.Value {
	t.Helper()
	var req js.Value
	rawTx(t, name, func(blocks, meta js.Value) {
		req = map[string]js.Value{blocksStore: blocks, metaStore: meta}[store].Call("getAllKeys")
	})
	var out []js.Value
	for i := range req.Get("result").Length() {
		out = append(out, req.Get("result").Index(i))
	}
	return out
}

// evalJS evaluates a JavaScript function body and returns its result.
func evalJS(body string) js.Value { return js.Global().Get("Function").New(body).Invoke() }

func TestOpenUnavailable(t *testing.T) {
	real := js.Global().Get("indexedDB")
	defer js.Global().Set("indexedDB", real)
	cases := []struct {
		name    string
		factory js.Value
	}{
		{"no indexedDB", js.Undefined()},
		{"open throws", evalJS(`return {open() { throw new Error("SecurityError: denied") }}`)},
		// Some private modes make the open request fail.
		{"open request fails", evalJS(`return {open() {
			const req = {error: {name: "InvalidStateError", message: "private browsing"}};
			setTimeout(() => req.onerror && req.onerror({}), 0);
			return req;
		}}`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			js.Global().Set("indexedDB", tc.factory)
			s, err := Open(context.Background(), DefaultConfig())
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Open = %v, %v; want ErrUnavailable", s, err)
			}
			t.Log(err)
		})
	}
	js.Global().Set("indexedDB", real)
	if _, err := Open(context.Background(), Config{Name: "x", MaxBytes: 1}); !errors.Is(err, content.ErrInvalidOption) {
		t.Fatalf("Open with a bad config: %v", err)
	}
}

// TestIDBNonBytesValueIsCorrupt: a value that is not a Uint8Array under a
// block's key is reported corrupt and removed.
func TestIDBNonBytesValueIsCorrupt(t *testing.T) {
	needIDB(t)
	name := fmt.Sprintf("blockstore-test-nonbytes-%d", dbSeq.Add(1))
	defer deleteDatabase(name)
	ctx := context.Background()
	s, err := Open(ctx, Config{Name: name, MaxBytes: DefaultMaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := block(t, 1, 100)
	if err := s.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, v := range []js.Value{js.ValueOf("a string"), js.Global().Get("ArrayBuffer").New(100), js.ValueOf(map[string]any{"x": 1})} {
		rawTx(t, name, func(blocks, _ js.Value) { blocks.Call("put", v, b.CID().String()) })
		_, err := s.Get(ctx, b.CID())
		if !errors.Is(err, content.ErrCorruptBlock) || !errors.Is(err, errBadRecord) {
			t.Fatalf("Get of a %s: %v, want a corrupt block", describe(v), err)
		}
		if len(rawKeys(t, name, blocksStore)) != 0 || len(rawKeys(t, name, metaStore)) != 0 {
			t.Fatal("the bad value was not removed")
		}
		if err := s.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

// arrayBody is a Body over a Uint8Array, stored as it is.
type arrayBody struct{ v js.Value }

func (b arrayBody) Len() int              { return b.v.Length() }
func (b arrayBody) CopyTo(dst []byte) int { return js.CopyBytesToGo(dst, b.v) }
func (b arrayBody) JSValue() js.Value     { return b.v }

// TestIDBPutBodiesStoresArrays: a body with a JSValue is stored as that
// very array, and reads back verified.
func TestIDBPutBodiesStoresArrays(t *testing.T) {
	needIDB(t)
	name := fmt.Sprintf("blockstore-test-bodies-%d", dbSeq.Add(1))
	defer deleteDatabase(name)
	ctx := context.Background()
	s, err := Open(ctx, Config{Name: name, MaxBytes: DefaultMaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := block(t, 1, 1000)
	arr := js.Global().Get("Uint8Array").New(b.Size())
	js.CopyBytesToJS(arr, b.Data())
	if err := s.PutBodies(ctx, []BodyBlock{{b.CID(), arrayBody{arr}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, b.CID())
	if err != nil || string(got.Data()) != string(b.Data()) {
		t.Fatalf("Get: %v", err)
	}
}

// TestIDBStrayRecordsRepaired: at open, blocks without records, records
// without blocks and keys or records of the wrong type are deleted.
func TestIDBStrayRecordsRepaired(t *testing.T) {
	needIDB(t)
	name := fmt.Sprintf("blockstore-test-stray-%d", dbSeq.Add(1))
	defer deleteDatabase(name)
	ctx := context.Background()
	s, err := Open(ctx, Config{Name: name, MaxBytes: DefaultMaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	good := block(t, 1, 100)
	if err := s.Put(ctx, good); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	noMeta, noBlock, badMeta := block(t, 2, 100), block(t, 3, 100), block(t, 4, 100)
	rawTx(t, name, func(blocks, meta js.Value) {
		u8 := func(b content.Block) js.Value {
			a := js.Global().Get("Uint8Array").New(b.Size())
			js.CopyBytesToJS(a, b.Data())
			return a
		}
		blocks.Call("put", u8(noMeta), noMeta.CID().String())
		meta.Call("put", js.ValueOf(map[string]any{"size": 100, "used": 9}), noBlock.CID().String())
		blocks.Call("put", u8(badMeta), badMeta.CID().String())
		meta.Call("put", js.ValueOf(map[string]any{"size": "100", "used": 9}), badMeta.CID().String())
		blocks.Call("put", u8(good), 42)
		meta.Call("put", js.ValueOf(map[string]any{"size": 100, "used": 9}), 43)
	})
	s, err = Open(ctx, Config{Name: name, MaxBytes: DefaultMaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, _ := s.Stat(ctx); st != (content.StoreStat{Blocks: 1, Bytes: 100}) {
		t.Fatalf("Stat after repair: %+v, want the one good block", st)
	}
	for _, store := range []string{blocksStore, metaStore} {
		keys := rawKeys(t, name, store)
		if len(keys) != 1 || keys[0].String() != good.CID().String() {
			t.Fatalf("%s keys after repair: %d, want only the good block", store, len(keys))
		}
	}
	checkConsistent(t, s, DefaultMaxBytes)
}

// TestIDBCancel: a Put whose context ends while its transaction runs is
// aborted and undone; a Get returns at once and leaves no trace.
func TestIDBCancel(t *testing.T) {
	needIDB(t)
	name := fmt.Sprintf("blockstore-test-cancel-%d", dbSeq.Add(1))
	defer deleteDatabase(name)
	s, err := Open(context.Background(), Config{Name: name, MaxBytes: DefaultMaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := block(t, 1, 100)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Put(ctx, b) }()
	// Until this goroutine blocks, JavaScript's event loop does not run, so
	// the transaction cannot complete before the cancel.
	for inFlight := false; !inFlight; {
		s.mu.Lock()
		inFlight = s.puts[b.CID()] != nil
		s.mu.Unlock()
		runtime.Gosched()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put: %v, want context.Canceled", err)
	}
	if ok, _ := s.Has(context.Background(), b.CID()); ok || rawHas(t, s, b.CID()) {
		t.Fatal("the cancelled Put's block is held")
	}

	bg := context.Background()
	if err := s.Put(bg, b); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(bg)
	go func() {
		_, err := s.Get(ctx, b.CID())
		done <- err
	}()
	runtime.Gosched() // the Get starts its read and blocks
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Get: %v", err)
	}
	if _, err := s.Get(bg, b.CID()); err != nil {
		t.Fatalf("Get after a cancelled Get: %v", err)
	}
	checkConsistent(t, s, DefaultMaxBytes)
}
