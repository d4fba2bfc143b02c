package browser

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/wasm/blockstore"
)

// batchPutter is a store's optional ability to put many blocks in one
// write ([blockstore.Store.PutMany]: one IndexedDB transaction).
type batchPutter interface {
	PutMany(ctx context.Context, blocks []content.Block) error
}

// bodyPutter is a store's optional ability to put blocks whose bytes are
// held outside Go's memory ([blockstore.Store.PutBodies]: IndexedDB takes
// the JavaScript arrays as they are).
type bodyPutter interface {
	PutBodies(ctx context.Context, blocks []blockstore.BodyBlock) error
}

// Bounds of a cacheWriter.
const (
	// cacheQueueBytes bounds the blocks waiting to be cached; past it the
	// oldest are not cached (a read much larger than this would evict most
	// of what it cached anyway).
	cacheQueueBytes = 128 << 20
	// cacheBatchBytes bounds one write: the page's thread copies its
	// blocks to JavaScript and IndexedDB clones them, so a read that
	// starts meanwhile waits for at most one batch.
	cacheBatchBytes = 4 << 20
	// cacheQuiet is how long the writer waits before each write, which in
	// a browser lets the page take the bytes of the read that just ended.
	cacheQuiet = 5 * time.Millisecond
	// cacheTimeout bounds one write.
	cacheTimeout = time.Minute
)

// cacheWriter keeps blocks in the local store off the path of reads: keep
// queues a block and returns at once, and a goroutine writes the queue,
// many blocks per write, whenever no Get nor read is in progress (between
// begin and end). A block that cannot be kept costs only speed: the mesh
// has it.
//
// With a store that takes bodies, a block read from a CAR stream is
// queued as its Body (keepBody), so that it is written from the
// JavaScript array it came in, and the Go buffer that the reader verified
// it in is the reader's to use again.
type cacheWriter struct {
	store  content.Store
	bodies bodyPutter // nil: the store takes no bodies
	logf   func(string, ...any)
	max    int64 // cacheQueueBytes, but in tests

	mu      sync.Mutex
	queue   []*cacheEntry
	queued  map[cid.Cid]*cacheEntry // what queue holds, to serve Gets
	bytes   int64
	busy    int // Gets and reads in progress
	dropped int // blocks not kept since the last log line

	wake chan struct{} // a token when there may be something to write
	ctx  context.Context
	stop context.CancelFunc
	done chan struct{}
}

// cacheEntry is a block waiting to be written: a Block, or a Body verified
// against c (sum is the digest its transport computed, nil if none).
type cacheEntry struct {
	c    cid.Cid
	size int
	blk  content.Block
	body blockstore.Body
	sum  *[sha256.Size]byte
}

func newCacheWriter(store content.Store, logf func(string, ...any)) *cacheWriter {
	w := &cacheWriter{
		store: store, logf: logf, max: cacheQueueBytes, queued: map[cid.Cid]*cacheEntry{},
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	w.bodies, _ = store.(bodyPutter)
	w.ctx, w.stop = context.WithCancel(context.Background())
	go w.run()
	return w
}

// keep queues b to be written to the store.
func (w *cacheWriter) keep(b content.Block) {
	w.add(&cacheEntry{c: b.CID(), size: b.Size(), blk: b})
}

// takesBodies reports whether keepBody may be used.
func (w *cacheWriter) takesBodies() bool { return w.bodies != nil }

// keepBody queues block c, verified already, as the Body it came in.
func (w *cacheWriter) keepBody(c cid.Cid, body blockstore.Body, sum *[sha256.Size]byte) {
	w.add(&cacheEntry{c: c, size: body.Len(), body: body, sum: sum})
}

func (w *cacheWriter) add(e *cacheEntry) {
	w.mu.Lock()
	if _, ok := w.queued[e.c]; ok {
		w.mu.Unlock()
		return
	}
	w.queue = append(w.queue, e)
	w.queued[e.c] = e
	w.bytes += int64(e.size)
	for w.bytes > w.max && len(w.queue) > 1 {
		w.dropped++
		w.unqueue(1)
	}
	w.mu.Unlock()
	w.signal()
}

// get returns the block c if it waits to be written (a Body is copied and
// verified again).
func (w *cacheWriter) get(c cid.Cid) (content.Block, bool) {
	w.mu.Lock()
	e, ok := w.queued[c]
	w.mu.Unlock()
	if !ok {
		return content.Block{}, false
	}
	if e.body == nil {
		return e.blk, true
	}
	data := make([]byte, e.size)
	data = data[:e.body.CopyTo(data)]
	var b content.Block
	var err error
	if e.sum != nil {
		b, err = content.BlockFromCIDHasher(c, data, hashed(e.sum, e.size))
	} else {
		b, err = content.BlockFromCID(c, data)
	}
	return b, err == nil
}

// unqueue takes the first n blocks out of the queue; w.mu is held.
func (w *cacheWriter) unqueue(n int) {
	for _, e := range w.queue[:n] {
		w.bytes -= int64(e.size)
		delete(w.queued, e.c)
	}
	clear(w.queue[:n])
	w.queue = w.queue[n:]
	if len(w.queue) == 0 {
		w.queue = nil // let the array go
	}
}

// begin holds the writes back until the matching end: a Get, or a whole
// read, is in progress.
func (w *cacheWriter) begin() {
	w.mu.Lock()
	w.busy++
	w.mu.Unlock()
}

// end ends what begin began.
func (w *cacheWriter) end() {
	w.mu.Lock()
	w.busy--
	idle := w.busy == 0 && len(w.queue) > 0
	w.mu.Unlock()
	if idle {
		w.signal()
	}
}

func (w *cacheWriter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// close stops the writer, abandoning a write in progress; blocks still
// queued are not cached.
func (w *cacheWriter) close() {
	w.stop()
	<-w.done
}

func (w *cacheWriter) run() {
	defer close(w.done)
	for {
		select {
		case <-w.wake:
		case <-w.ctx.Done():
			return
		}
		for {
			select {
			case <-time.After(cacheQuiet):
			case <-w.ctx.Done():
				return
			}
			batch, dropped := w.take()
			if dropped > 0 {
				w.logf("cache: %d blocks not kept: more than %d MiB waited", dropped, w.max>>20)
			}
			if len(batch) == 0 {
				break // until a Get ends or a block comes
			}
			if err := w.put(batch); errors.Is(err, content.ErrStoreClosed) || w.ctx.Err() != nil {
				return
			} else if err != nil {
				w.logf("cache: %d blocks not kept: %v", len(batch), err)
			}
		}
	}
}

// take returns the next batch to write, or nothing while a Get or a read
// is in progress, and the blocks dropped since the last call.
func (w *cacheWriter) take() (batch []*cacheEntry, dropped int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	dropped, w.dropped = w.dropped, 0
	if w.busy > 0 || len(w.queue) == 0 {
		return nil, dropped
	}
	n, size := 0, 0
	for n < len(w.queue) && (n == 0 || size+w.queue[n].size <= cacheBatchBytes) {
		size += w.queue[n].size
		n++
	}
	batch = append([]*cacheEntry(nil), w.queue[:n]...)
	w.unqueue(n)
	return batch, dropped
}

func (w *cacheWriter) put(batch []*cacheEntry) error {
	ctx, cancel := context.WithTimeout(w.ctx, cacheTimeout)
	defer cancel()
	var blocks []content.Block
	var bodies []blockstore.BodyBlock
	for _, e := range batch {
		if e.body != nil {
			bodies = append(bodies, blockstore.BodyBlock{CID: e.c, Body: e.body})
		} else {
			blocks = append(blocks, e.blk)
		}
	}
	var errs []error
	if len(bodies) > 0 {
		errs = append(errs, w.bodies.PutBodies(ctx, bodies))
	}
	if bp, ok := w.store.(batchPutter); ok && len(blocks) > 0 {
		errs = append(errs, bp.PutMany(ctx, blocks))
	} else {
		for _, b := range blocks {
			err := w.store.Put(ctx, b)
			if errors.Is(err, content.ErrStoreClosed) {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
