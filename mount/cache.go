package mount

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// maxPending bounds the bytes of fetched blocks waiting to be written to
// the cache folder; a block fetched past it is served but not kept.
const maxPending = 64 << 20

// DefaultCacheDir returns the block cache folder of a mount of the daemon
// at apiURL: meshfs/mount-HASH in the user's cache folder
// (os.UserCacheDir), HASH naming the URL; "" if the user has none.
func DefaultCacheDir(apiURL string) string {
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(apiURL))
	return filepath.Join(base, "meshfs", "mount-"+hex.EncodeToString(sum[:8]))
}

// blockCache is a mount's read cache: blocks of the files it reads,
// fetched from src (the daemon's gateway) and kept in a content.Store,
// at most limit bytes of them, the least recently used evicted first.
// Every block it returns is verified: src's by the getter, the store's
// by the store (a DiskStore checks each block it reads against its CID;
// a corrupt copy is dropped and the block fetched again). A cache
// failure (a full disk, a missing file) never fails a read, it only makes
// it a fetch.
//
// Which blocks it holds and when each was last used is kept in memory;
// the blocks a folder already holds when it is opened start out equally
// old. Fetched blocks are written to the store in the background; until
// then they are served from memory.
type blockCache struct {
	src   content.BlockGetter
	store content.Store
	limit int64

	mu       sync.Mutex
	lru      *list.List // of *cacheEntry, most recently used first
	entries  map[cid.Cid]*list.Element
	used     int64
	pending  map[cid.Cid]content.Block // fetched, being written to store
	pendingB int64
	fetching map[cid.Cid]*fetchCall
	stats    cacheStats
	closed   bool

	puts sync.WaitGroup
}

var (
	_ content.BlockGetter  = (*blockCache)(nil)
	_ content.BufferGetter = (*blockCache)(nil)
)

type cacheEntry struct {
	c    cid.Cid
	size int64
}

// fetchCall is a fetch from src that other Gets of the same block wait for.
type fetchCall struct {
	done chan struct{}
	b    content.Block
	err  error
}

// cacheStats counts what the cache did.
type cacheStats struct {
	Hits      int64 // blocks served from the cache
	Fetches   int64 // blocks fetched from src
	Evictions int64 // blocks evicted to stay under the limit
	Corrupt   int64 // cached copies that failed verification
	Blocks    int64 // blocks held now
	Bytes     int64 // their bytes
}

// sizer is the ability of a store to tell a block's size without reading
// it (content.DiskStore has it).
type sizer interface {
	BlockSize(ctx context.Context, c cid.Cid) (int64, error)
}

// openCache returns a cache of at most limit bytes over src, in the
// content.DiskStore in dir, or in memory if dir is "". The blocks dir
// already holds count against the limit. The store is opened as a cache
// (content.OpenCacheStore): its Puts sync nothing, since a block lost or
// torn by a crash is fetched again (every read is verified), and a sync
// of the file system would also flush the daemon's writes.
func openCache(dir string, limit int64, src content.BlockGetter) (*blockCache, error) {
	k := &blockCache{
		src: src, limit: limit, lru: list.New(),
		entries:  map[cid.Cid]*list.Element{},
		pending:  map[cid.Cid]content.Block{},
		fetching: map[cid.Cid]*fetchCall{},
	}
	if dir == "" {
		k.store = content.NewMemStore()
		return k, nil
	}
	ds, err := content.OpenCacheStore(dir)
	if err != nil {
		return nil, err
	}
	k.store = ds
	ctx := context.Background()
	for c, err := range ds.All(ctx) {
		if err != nil {
			ds.Close()
			return nil, err
		}
		size, err := ds.BlockSize(ctx, c)
		if err != nil {
			continue
		}
		k.entries[c] = k.lru.PushBack(&cacheEntry{c: c, size: size})
		k.used += size
	}
	k.mu.Lock()
	victims := k.evictLocked()
	k.mu.Unlock()
	k.drop(victims)
	return k, nil
}

// Get implements content.BlockGetter: the block from the cache, else from
// src (one fetch however many Gets want it at once), kept for later.
func (k *blockCache) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	return k.GetBuffer(ctx, c, nil)
}

// GetBuffer implements content.BufferGetter: a block read from the cache
// folder is read into buf when it fits. A fetched block is not (it is
// also being written to the cache).
func (k *blockCache) GetBuffer(ctx context.Context, c cid.Cid, buf []byte) (content.Block, error) {
	if b, ok := k.cached(ctx, c, buf); ok {
		return b, nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return content.Block{}, err
		}
		k.mu.Lock()
		if b, ok := k.pending[c]; ok {
			k.hitLocked(c)
			k.mu.Unlock()
			return b, nil
		}
		call, waiting := k.fetching[c]
		if !waiting {
			call = &fetchCall{done: make(chan struct{})}
			k.fetching[c] = call
		}
		k.mu.Unlock()
		if waiting {
			select {
			case <-call.done:
			case <-ctx.Done():
				return content.Block{}, ctx.Err()
			}
			if call.err == nil {
				return call.b, nil
			}
			if ctx.Err() == nil && (errors.Is(call.err, context.Canceled) || errors.Is(call.err, context.DeadlineExceeded)) {
				continue // the fetcher gave up, not this caller: try again
			}
			return content.Block{}, call.err
		}
		call.b, call.err = k.src.Get(ctx, c)
		if call.err == nil && !call.b.CID().Equals(c) {
			call.b, call.err = content.Block{}, content.ErrHashMismatch
		}
		k.mu.Lock()
		delete(k.fetching, c)
		if call.err == nil {
			k.stats.Fetches++
			k.addLocked(call.b)
		}
		k.mu.Unlock()
		close(call.done)
		return call.b, call.err
	}
}

// cached returns c from the cache folder, if it holds a good copy.
func (k *blockCache) cached(ctx context.Context, c cid.Cid, buf []byte) (content.Block, bool) {
	k.mu.Lock()
	e, ok := k.entries[c]
	if ok {
		if _, p := k.pending[c]; p {
			ok = false // not written yet: served from pending
		} else {
			k.lru.MoveToFront(e)
		}
	}
	k.mu.Unlock()
	if !ok {
		return content.Block{}, false
	}
	var (
		b   content.Block
		err error
	)
	if bg, isBG := k.store.(content.BufferGetter); isBG && buf != nil {
		b, err = bg.GetBuffer(ctx, c, buf)
	} else {
		b, err = k.store.Get(ctx, c)
	}
	if err != nil {
		// Gone, corrupt or unreadable: forget it and fetch it again. A
		// corrupt copy the store quarantined is of no further use here.
		var cerr *content.CorruptBlockError
		if errors.As(err, &cerr) && cerr.Quarantined != "" {
			_ = os.Remove(cerr.Quarantined)
		}
		k.mu.Lock()
		if errors.Is(err, content.ErrCorruptBlock) {
			k.stats.Corrupt++
		}
		if _, p := k.pending[c]; !p {
			if e, ok := k.entries[c]; ok {
				k.removeLocked(e)
			}
		}
		k.mu.Unlock()
		return content.Block{}, false
	}
	k.mu.Lock()
	k.stats.Hits++
	k.mu.Unlock()
	return b, true
}

// hitLocked counts a hit on c and marks it used. Call with k.mu held.
func (k *blockCache) hitLocked(c cid.Cid) {
	k.stats.Hits++
	if e, ok := k.entries[c]; ok {
		k.lru.MoveToFront(e)
	}
}

// addLocked keeps the fetched block b: in memory until the store has it.
// Call with k.mu held.
func (k *blockCache) addLocked(b content.Block) {
	size := int64(b.Size())
	c := b.CID()
	if k.closed || size > k.limit || k.pendingB+size > maxPending {
		return
	}
	if _, ok := k.entries[c]; ok {
		return
	}
	k.entries[c] = k.lru.PushFront(&cacheEntry{c: c, size: size})
	k.used += size
	k.pending[c] = b
	k.pendingB += size
	victims := k.evictLocked()
	k.puts.Add(1)
	go func() {
		defer k.puts.Done()
		k.drop(victims)
		err := k.store.Put(context.Background(), b)
		k.mu.Lock()
		if _, ok := k.pending[c]; ok {
			delete(k.pending, c)
			k.pendingB -= size
		}
		e, kept := k.entries[c]
		if kept && err != nil {
			k.removeLocked(e)
		}
		k.mu.Unlock()
		if !kept {
			// Evicted while being written: do not leave it behind.
			_ = k.store.Delete(context.Background(), c)
		}
	}()
}

// evictLocked removes the least recently used entries until the cache is
// within its limit, and returns those whose blocks the store may hold, to
// delete from it. Call with k.mu held.
func (k *blockCache) evictLocked() []cid.Cid {
	var victims []cid.Cid
	for k.used > k.limit {
		e := k.lru.Back()
		if e == nil {
			break
		}
		c := e.Value.(*cacheEntry).c
		k.removeLocked(e)
		k.stats.Evictions++
		victims = append(victims, c)
	}
	return victims
}

// removeLocked forgets the entry e (and its block if still pending).
// Call with k.mu held.
func (k *blockCache) removeLocked(e *list.Element) {
	ent := e.Value.(*cacheEntry)
	k.lru.Remove(e)
	delete(k.entries, ent.c)
	k.used -= ent.size
	if _, ok := k.pending[ent.c]; ok {
		delete(k.pending, ent.c)
		k.pendingB -= ent.size
	}
}

// drop deletes evicted blocks from the store, unless they came back
// meanwhile.
func (k *blockCache) drop(victims []cid.Cid) {
	for _, c := range victims {
		k.mu.Lock()
		_, back := k.entries[c]
		k.mu.Unlock()
		if !back {
			_ = k.store.Delete(context.Background(), c)
		}
	}
}

// snapshot returns the cache's counters.
func (k *blockCache) snapshot() cacheStats {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.stats
	s.Blocks, s.Bytes = int64(len(k.entries)), k.used
	return s
}

// close waits for the blocks being written and closes the store.
func (k *blockCache) close() error {
	k.mu.Lock()
	k.closed = true
	k.mu.Unlock()
	k.puts.Wait()
	return k.store.Close()
}
