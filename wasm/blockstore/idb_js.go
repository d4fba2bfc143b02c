//go:build js && wasm

package blockstore

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"

	"meshfs/content"
)

// The database's schema: version 1 has two object stores with out-of-line
// keys (CID strings). blocks holds each block's bytes as a Uint8Array; meta
// holds {size, used} per block, used being its last-use stamp. Both are
// written in the same transactions, so they hold the same keys.
const (
	dbVersion   = 1
	blocksStore = "blocks"
	metaStore   = "meta"
)

// Open opens the IndexedDB database cfg.Name, creating it when new, loads
// the size and last-use stamp of every block it holds, and returns a Store
// over it, evicting down to cfg.MaxBytes. Only one Store per database
// should be open in a page: each keeps its own account of the blocks.
//
// When IndexedDB cannot be used, the error wraps [ErrUnavailable] and the
// caller falls back to [NewMemory]. When ctx ends first, the error is
// ctx's.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	db, err := openDB(ctx, cfg.Name)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: open %q: %w", ErrUnavailable, cfg.Name, err)
	}
	s, err := newStore(ctx, db, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %q: %w", ErrUnavailable, cfg.Name, err)
	}
	return s, nil
}

// jsBody is a Body whose bytes are a Uint8Array, stored as it is.
type jsBody interface {
	Body
	JSValue() js.Value
}

// idb is the IndexedDB backend: one connection to the database.
type idb struct {
	db              js.Value
	onVersionChange js.Func
}

// openDB opens the database name at dbVersion, creating the object stores
// when it is new. The returned connection closes itself when another
// connection asks to upgrade or delete the database, so that it is never
// blocked by this page.
func openDB(ctx context.Context, name string) (*idb, error) {
	factory := js.Global().Get("indexedDB")
	if factory.Type() != js.TypeObject {
		return nil, errors.New("no indexedDB in this JavaScript environment")
	}
	var req js.Value
	if err := catch(func() { req = factory.Call("open", name, dbVersion) }); err != nil {
		return nil, err
	}
	// The stores are created inside the upgradeneeded event, in the
	// version-change transaction; the callback only makes JS calls.
	var upgradeErr error
	upgrade := js.FuncOf(func(js.Value, []js.Value) any {
		upgradeErr = catch(func() {
			db := req.Get("result")
			names := db.Get("objectStoreNames")
			for _, s := range []string{blocksStore, metaStore} {
				if !names.Call("contains", s).Bool() {
					db.Call("createObjectStore", s)
				}
			}
		})
		if upgradeErr != nil {
			_ = catch(func() { req.Get("transaction").Call("abort") })
		}
		return nil
	})
	req.Set("onupgradeneeded", upgrade)
	events, release := on(req, "success", "error")
	settled := func(ev string) (*idb, error) {
		release()
		req.Set("onupgradeneeded", js.Null())
		upgrade.Release()
		if ev != "success" {
			if upgradeErr != nil {
				return nil, fmt.Errorf("creating object stores: %w", upgradeErr)
			}
			return nil, requestError(req)
		}
		b := &idb{db: req.Get("result")}
		b.onVersionChange = js.FuncOf(func(js.Value, []js.Value) any {
			_ = catch(func() { b.db.Call("close") })
			return nil
		})
		b.db.Set("onversionchange", b.onVersionChange)
		return b, nil
	}
	// A "blocked" event (an older connection elsewhere not closing) is
	// waited through, as long as ctx allows.
	select {
	case ev := <-events:
		return settled(ev)
	case <-ctx.Done():
		go func() {
			// The request cannot be cancelled: close what it opens.
			if b, err := settled(<-events); err == nil {
				_ = b.close()
			}
		}()
		return nil, ctx.Err()
	}
}

func (b *idb) load(ctx context.Context) ([]record[string], error) {
	var tx, blockKeys, metaKeys, metaVals js.Value
	err := catch(func() {
		tx = b.db.Call("transaction", js.ValueOf([]any{blocksStore, metaStore}), "readonly")
		blockKeys = tx.Call("objectStore", blocksStore).Call("getAllKeys")
		meta := tx.Call("objectStore", metaStore)
		metaKeys = meta.Call("getAllKeys")
		metaVals = meta.Call("getAll")
	})
	if err != nil {
		return nil, err
	}
	if err := awaitTx(ctx, tx); err != nil {
		return nil, err
	}
	bk, mk, mv := blockKeys.Get("result"), metaKeys.Get("result"), metaVals.Get("result")
	if mk.Length() != mv.Length() {
		return nil, fmt.Errorf("IndexedDB returned %d meta keys and %d values", mk.Length(), mv.Length())
	}
	// Repair what a bug or another program may have left: blocks without
	// a record, records without a block, keys or records of the wrong type.
	var bad []js.Value
	blocks := make(map[string]bool, bk.Length())
	for i := range bk.Length() {
		k := bk.Index(i)
		if k.Type() != js.TypeString {
			bad = append(bad, k)
			continue
		}
		blocks[k.String()] = false
	}
	recs := make([]record[string], 0, mk.Length())
	for i := range mk.Length() {
		k, v := mk.Index(i), mv.Index(i)
		r, ok := metaRecord(k, v)
		if _, held := blocks[r.key]; !ok || !held {
			bad = append(bad, k)
			continue
		}
		blocks[r.key] = true
		recs = append(recs, r)
	}
	for k, counted := range blocks {
		if !counted {
			bad = append(bad, js.ValueOf(k))
		}
	}
	if len(bad) > 0 {
		if err := b.deleteKeys(ctx, bad); err != nil {
			return nil, fmt.Errorf("removing %d stray records: %w", len(bad), err)
		}
	}
	return recs, nil
}

// metaRecord decodes a meta record, reporting whether it is well formed.
func metaRecord(k, v js.Value) (record[string], bool) {
	if k.Type() != js.TypeString || v.Type() != js.TypeObject {
		return record[string]{}, false
	}
	size, used := v.Get("size"), v.Get("used")
	if size.Type() != js.TypeNumber || used.Type() != js.TypeNumber {
		return record[string]{}, false
	}
	sz, st := size.Float(), used.Float()
	if sz < 0 || sz > content.MaxBlockSize || sz != float64(int64(sz)) || st < 0 || st > 1<<53 || st != float64(uint64(st)) {
		return record[string]{}, false
	}
	return record[string]{key: k.String(), size: int64(sz), stamp: uint64(st)}, true
}

// deleteKeys deletes keys of any type from both object stores.
func (b *idb) deleteKeys(ctx context.Context, keys []js.Value) error {
	var tx js.Value
	err := catch(func() {
		tx = b.db.Call("transaction", js.ValueOf([]any{blocksStore, metaStore}), "readwrite")
		blocks, meta := tx.Call("objectStore", blocksStore), tx.Call("objectStore", metaStore)
		for _, k := range keys {
			blocks.Call("delete", k)
			meta.Call("delete", k)
		}
	})
	if err != nil {
		if tx.Truthy() {
			_ = catch(func() { tx.Call("abort") })
		}
		return err
	}
	return awaitTx(ctx, tx)
}

func (b *idb) write(op writeOp) func(context.Context) error {
	var tx js.Value
	if err := catch(func() {
		tx = b.db.Call("transaction", js.ValueOf([]any{blocksStore, metaStore}), "readwrite")
	}); err != nil {
		return func(context.Context) error { return err }
	}
	events, release := on(tx, "complete", "abort")
	err := catch(func() {
		blocks, meta := tx.Call("objectStore", blocksStore), tx.Call("objectStore", metaStore)
		for _, r := range op.stamps {
			meta.Call("put", metaValue(r), r.key)
		}
		for _, p := range op.puts {
			var data js.Value
			if jv, ok := p.body.(jsBody); ok {
				data = jv.JSValue()
			} else {
				b := p.data
				if p.body != nil {
					b = p.bytes()
				}
				data = js.Global().Get("Uint8Array").New(len(b))
				js.CopyBytesToJS(data, b)
			}
			blocks.Call("put", data, p.rec.key)
			meta.Call("put", metaValue(p.rec), p.rec.key)
		}
		for _, k := range op.del {
			blocks.Call("delete", k)
			meta.Call("delete", k)
		}
	})
	if err != nil {
		// Undo the requests made so far; wait reports err once the
		// transaction has ended.
		_ = catch(func() { tx.Call("abort") })
	}
	return func(ctx context.Context) error {
		defer release()
		var ev string
		select {
		case ev = <-events:
		case <-ctx.Done():
			_ = catch(func() { tx.Call("abort") }) // throws if it already ended
			ev = <-events                          // it ends promptly either way
			if ev != "complete" && err == nil {
				err = ctx.Err()
			}
		}
		if err != nil {
			return err
		}
		if ev != "complete" {
			return transactionError(tx)
		}
		return nil
	}
}

func metaValue(r record[string]) js.Value {
	return js.ValueOf(map[string]any{"size": r.size, "used": float64(r.stamp)})
}

func (b *idb) read(key string) func(context.Context, []byte) ([]byte, bool, error) {
	var req js.Value
	if err := catch(func() {
		req = b.db.Call("transaction", blocksStore, "readonly").Call("objectStore", blocksStore).Call("get", key)
	}); err != nil {
		return func(context.Context, []byte) ([]byte, bool, error) { return nil, false, err }
	}
	events, release := on(req, "success", "error")
	return func(ctx context.Context, buf []byte) ([]byte, bool, error) {
		var ev string
		select {
		case ev = <-events:
			release()
		case <-ctx.Done():
			go func() { <-events; release() }()
			return nil, false, ctx.Err()
		}
		if ev != "success" {
			return nil, false, requestError(req)
		}
		v := req.Get("result")
		if v.IsUndefined() {
			return nil, false, nil
		}
		if !v.InstanceOf(js.Global().Get("Uint8Array")) {
			return nil, true, fmt.Errorf("%w: a %s", errBadRecord, describe(v))
		}
		n := v.Get("length").Int()
		if n > content.MaxBlockSize {
			return nil, true, fmt.Errorf("%w: %w: %d bytes", errBadRecord, content.ErrBlockTooLarge, n)
		}
		data := buf[:0]
		if cap(buf) < n {
			data = make([]byte, n)
		}
		data = data[:n]
		js.CopyBytesToGo(data, v)
		return data, true, nil
	}
}

func (b *idb) close() error {
	err := catch(func() {
		b.db.Set("onversionchange", js.Null())
		b.db.Call("close")
	})
	b.onVersionChange.Release()
	return err
}

// on sets target's on<event> handler for each event to a callback that
// sends the event's name to the returned channel. The callbacks only send,
// without blocking (the channel has room for every event), since a Go
// callback must return before JavaScript goes on. release removes the
// handlers and releases the callbacks; call it once the events of interest
// have been received.
func on(target js.Value, events ...string) (<-chan string, func()) {
	ch := make(chan string, len(events))
	funcs := make([]js.Func, len(events))
	for i, ev := range events {
		funcs[i] = js.FuncOf(func(js.Value, []js.Value) any {
			select {
			case ch <- ev:
			default:
			}
			return nil
		})
		target.Set("on"+ev, funcs[i])
	}
	return ch, func() {
		for i, ev := range events {
			target.Set("on"+ev, js.Null())
			funcs[i].Release()
		}
	}
}

// awaitTx waits for tx to end, aborting it when ctx ends first.
func awaitTx(ctx context.Context, tx js.Value) error {
	events, release := on(tx, "complete", "abort")
	defer release()
	select {
	case ev := <-events:
		if ev != "complete" {
			return transactionError(tx)
		}
		return nil
	case <-ctx.Done():
		_ = catch(func() { tx.Call("abort") })
		if <-events == "complete" {
			return nil
		}
		return ctx.Err()
	}
}

// catch runs f, turning a JavaScript exception thrown by a call in f into
// an error.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			jerr, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			err = domError(jerr.Value)
		}
	}()
	f()
	return nil
}

// requestError is the error of a failed IDBRequest.
func requestError(req js.Value) error {
	var e js.Value
	if err := catch(func() { e = req.Get("error") }); err != nil {
		return err
	}
	return domError(e)
}

// transactionError is the error of an aborted IDBTransaction: the failed
// request's, or a plain abort.
func transactionError(tx js.Value) error {
	if e := tx.Get("error"); e.Truthy() {
		return domError(e)
	}
	return errors.New("IndexedDB: transaction aborted")
}

// domError describes a DOMException or another thrown value.
func domError(e js.Value) error {
	if e.Type() == js.TypeObject {
		name, msg := e.Get("name"), e.Get("message")
		if name.Type() == js.TypeString {
			return fmt.Errorf("IndexedDB: %s: %s", name.String(), msg.String())
		}
	}
	return fmt.Errorf("IndexedDB: %s", describe(e))
}

// describe names a JavaScript value's type for an error message.
func describe(v js.Value) string {
	if v.Type() == js.TypeObject {
		if c := v.Get("constructor"); c.Type() == js.TypeFunction {
			return c.Get("name").String()
		}
	}
	return v.Type().String()
}
