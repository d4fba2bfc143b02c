package blockstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

var (
	_ content.Store        = (*Store)(nil)
	_ content.BufferGetter = (*Store)(nil)
)

// flushEvery is how many unpersisted last-use stamps a Get lets pile up
// before it writes them; a write operation, Flush and Close write them too.
const flushEvery = 64

// backend is where a Store keeps its blocks: IndexedDB in a browser, a map
// in memory. Each key is a CID string; each block has its bytes and a
// record of its size and last-use stamp.
//
// write and read only start an operation and must not block: the Store
// calls them under its mutex, so operations reach the backend in the order
// in which the Store's account changed, and the backend must apply them in
// that order (IndexedDB does for transactions over the same object stores).
// The Store calls each returned wait function exactly once; it blocks until
// the outcome is known.
type backend interface {
	// load returns the record of every block held, in any order.
	load(ctx context.Context) ([]record[string], error)
	// write starts one atomic write of op.
	write(op writeOp) (wait func(context.Context) error)
	// read starts reading the bytes stored under key. Its wait returns them
	// (in buf's array when cap(buf) is large enough) and whether the key is
	// held; an error wrapping errBadRecord says the stored value is not a
	// block's bytes.
	read(key string) (wait func(ctx context.Context, buf []byte) ([]byte, bool, error))
	close() error
}

// writeOp is one atomic write: stamp records updated, blocks added (with
// their records), blocks (and their records) deleted, in that order.
type writeOp struct {
	stamps []record[string]
	puts   []putOp
	del    []string
}

type putOp struct {
	rec  record[string]
	data []byte
	body Body // when data is nil
}

// bytes returns a copy of the block's bytes.
func (p putOp) bytes() []byte {
	if p.body == nil {
		return append([]byte(nil), p.data...)
	}
	b := make([]byte, p.body.Len())
	return b[:p.body.CopyTo(b)]
}

// Body is a block's bytes held outside Go's memory: in a browser, a
// JavaScript Uint8Array. One that also has a method JSValue() js.Value
// returning such an array is stored in IndexedDB as it is, without a copy
// through Go.
type Body interface {
	// Len is the number of bytes.
	Len() int
	// CopyTo copies the bytes into dst, as many as fit, and returns how
	// many it copied.
	CopyTo(dst []byte) int
}

// BodyBlock is a block whose bytes are a Body, for PutBodies.
type BodyBlock struct {
	CID  cid.Cid
	Body Body
}

// entry is a block to put: its bytes, or the Body that holds them.
type entry struct {
	c    cid.Cid
	size int
	data []byte
	body Body
}

// Store is a byte-bounded cache of verified blocks in IndexedDB ([Open]) or
// in memory ([NewMemory]); see the package documentation. It is safe for
// concurrent use.
type Store struct {
	b      backend
	mu     sync.Mutex
	lru    *lru[cid.Cid]
	puts   map[cid.Cid]*flight // Puts whose write is in progress
	hash   content.Hasher      // nil: crypto/sha256
	closed bool
}

// flight is a Put in progress; a Put of the same block waits for it.
type flight struct {
	done chan struct{}
	err  error
}

// newStore loads b's records into a Store bounded by cfg.MaxBytes, dropping
// records with keys that are not CIDs meshfs stores and evicting down to the
// bound (which may have been lowered since the blocks were stored). It
// closes b when it fails.
func newStore(ctx context.Context, b backend, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		_ = b.close()
		return nil, err
	}
	recs, err := b.load(ctx)
	if err != nil {
		_ = b.close()
		return nil, fmt.Errorf("blockstore: load: %w", err)
	}
	s := &Store{b: b, lru: newLRU[cid.Cid](cfg.MaxBytes), puts: make(map[cid.Cid]*flight), hash: cfg.Hash}
	var bad []string
	good := make([]record[cid.Cid], 0, len(recs))
	for _, r := range recs {
		c, err := content.ParseCID(r.key)
		if err != nil || c.String() != r.key || r.size < 0 || r.size > content.MaxBlockSize {
			bad = append(bad, r.key)
			continue
		}
		good = append(good, record[cid.Cid]{key: c, size: r.size, stamp: r.stamp})
	}
	s.lru.load(good)
	for _, it := range s.lru.trim(nil) {
		bad = append(bad, it.key.String())
	}
	if len(bad) > 0 {
		if err := b.write(writeOp{del: bad})(ctx); err != nil {
			_ = b.close()
			return nil, fmt.Errorf("blockstore: trim at open: %w", err)
		}
	}
	return s, nil
}

// Get implements [content.BlockGetter]. The bytes are re-hashed against c;
// a block that does not match is deleted and reported as a
// [*content.CorruptBlockError]. A Get counts as a use of the block.
func (s *Store) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	return s.GetBuffer(ctx, c, nil)
}

// GetBuffer implements [content.BufferGetter]: Get, reading into buf's array
// when it is large enough.
func (s *Store) GetBuffer(ctx context.Context, c cid.Cid, buf []byte) (content.Block, error) {
	if err := content.CheckCID(c); err != nil {
		return content.Block{}, err
	}
	if err := ctx.Err(); err != nil {
		return content.Block{}, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return content.Block{}, content.ErrStoreClosed
	}
	it := s.lru.get(c)
	if it == nil {
		s.mu.Unlock()
		return content.Block{}, notFound(c)
	}
	gen := it.gen
	s.lru.touch(c)
	read := s.b.read(c.String())
	var stamps []record[string]
	var flush func(context.Context) error
	if s.lru.dirtyLen() >= flushEvery {
		stamps = stringRecords(s.lru.takeDirty())
		flush = s.b.write(writeOp{stamps: stamps})
	}
	s.mu.Unlock()

	data, ok, err := read(ctx, buf)
	if flush != nil {
		// Recency is advisory: a failed write only leaves the stamps to the
		// next one.
		if err := flush(context.WithoutCancel(ctx)); err != nil {
			s.redirty(stamps)
		}
	}
	switch {
	case errors.Is(err, errBadRecord):
		return content.Block{}, s.drop(ctx, c, gen, err)
	case err != nil:
		return content.Block{}, fmt.Errorf("blockstore: get %s: %w", c, err)
	case !ok:
		// The account said held but the backend has nothing (a write that
		// the account could not undo): forget it.
		s.forget(c, gen)
		return content.Block{}, notFound(c)
	}
	var b content.Block
	if s.hash != nil {
		b, err = content.BlockFromCIDHasher(c, data, s.hash)
	} else {
		b, err = content.BlockFromCID(c, data)
	}
	switch {
	case errors.Is(err, content.ErrHashMismatch), errors.Is(err, content.ErrBlockTooLarge):
		return content.Block{}, s.drop(ctx, c, gen, err)
	case err != nil: // the hasher failed: the block may well be good
		return content.Block{}, fmt.Errorf("blockstore: get %s: %w", c, err)
	}
	return b, nil
}

// drop deletes the corrupt copy of c that a Get read, unless it was deleted
// or replaced meanwhile, and returns the error that reports it.
func (s *Store) drop(ctx context.Context, c cid.Cid, gen uint64, reason error) error {
	cerr := &content.CorruptBlockError{CID: c, Reason: reason}
	s.mu.Lock()
	it := s.lru.get(c)
	if s.closed || it == nil || it.gen != gen {
		s.mu.Unlock()
		return cerr
	}
	s.lru.remove(c)
	stamps := stringRecords(s.lru.takeDirty())
	wait := s.b.write(writeOp{stamps: stamps, del: []string{c.String()}})
	s.mu.Unlock()
	// Not restored when the delete fails: the copy is known bad. It stays in
	// the backend until a reload counts it and a Get finds it bad again.
	if err := wait(context.WithoutCancel(ctx)); err != nil {
		s.redirty(stamps)
	}
	return cerr
}

// forget removes c from the account if it is still the item gen.
func (s *Store) forget(c cid.Cid, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it := s.lru.get(c); it != nil && it.gen == gen {
		s.lru.remove(c)
	}
}

// Put implements [content.BlockPutter]. A block already held is only
// marked as used; a new one evicts the least recently used blocks past the
// byte bound, in the same atomic write that adds it.
func (s *Store) Put(ctx context.Context, b content.Block) error {
	return s.PutMany(ctx, []content.Block{b})
}

// PutMany is Put of many blocks in one atomic write (one IndexedDB
// transaction, where Put makes one per block): the blocks already held are
// only marked as used; the new ones are added, the later ones more recently
// used, and the least recently used blocks past the byte bound are evicted,
// all in the same write, or, when it fails, none of it. A block whose Put
// is in progress elsewhere is waited for, and put again if that fails.
func (s *Store) PutMany(ctx context.Context, blocks []content.Block) error {
	es := make([]entry, len(blocks))
	for i, b := range blocks {
		if !b.Defined() {
			return fmt.Errorf("%w: undefined block", content.ErrUnsupportedCID)
		}
		if err := content.CheckCID(b.CID()); err != nil {
			return err
		}
		es[i] = entry{c: b.CID(), size: b.Size(), data: b.Data()}
	}
	return s.put(ctx, es)
}

// PutBodies is PutMany of blocks whose bytes are held outside Go's memory,
// which the caller verified against their CIDs: in a browser, the
// JavaScript arrays that a read copied into Go and verified there, stored
// as they are. A body that does not hash to its CID is not served: a Get
// verifies it, like any block it reads, and drops it.
func (s *Store) PutBodies(ctx context.Context, blocks []BodyBlock) error {
	es := make([]entry, len(blocks))
	for i, b := range blocks {
		if err := content.CheckCID(b.CID); err != nil {
			return err
		}
		if b.Body == nil {
			return fmt.Errorf("blockstore: put %s: no body", b.CID)
		}
		n := b.Body.Len()
		if n < 0 || n > content.MaxBlockSize {
			return fmt.Errorf("%w: %s is %d bytes, limit %d", content.ErrBlockTooLarge, b.CID, n, content.MaxBlockSize)
		}
		es[i] = entry{c: b.CID, size: n, body: b.Body}
	}
	return s.put(ctx, es)
}

func (s *Store) put(ctx context.Context, es []entry) error {
	for len(es) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		if es, err = s.putOnce(ctx, es); err != nil {
			return err
		}
	}
	return nil
}

// putOnce adds the blocks of es not held in one write and touches the ones
// held; it returns those whose Put was in progress elsewhere and failed, to
// be put again.
func (s *Store) putOnce(ctx context.Context, es []entry) ([]entry, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, content.ErrStoreClosed
	}
	var (
		op             writeOp
		added, evicted []*item[cid.Cid]
		others         []*flight // Puts in progress elsewhere, of othersEntries
		othersEntries  []entry
		seen           map[cid.Cid]bool
	)
	if len(es) > 1 {
		seen = make(map[cid.Cid]bool, len(es))
	}
	f := &flight{done: make(chan struct{})}
	for _, e := range es {
		c := e.c
		if seen != nil {
			if seen[c] {
				continue
			}
			seen[c] = true
		}
		if s.lru.get(c) != nil {
			if g := s.puts[c]; g != nil {
				others, othersEntries = append(others, g), append(othersEntries, e)
			} else {
				s.lru.touch(c)
			}
			continue
		}
		it, ev := s.lru.add(c, int64(e.size))
		added, evicted = append(added, it), append(evicted, ev...)
		op.puts = append(op.puts, putOp{rec: record[string]{key: c.String(), size: it.size, stamp: it.stamp}, data: e.data, body: e.body})
		s.puts[c] = f
	}
	if len(op.puts) == 0 {
		// Only uses: their stamps go with the next write.
		s.mu.Unlock()
		return waitOthers(ctx, others, othersEntries)
	}
	op.stamps = stringRecords(s.lru.takeDirty())
	for _, e := range evicted {
		op.del = append(op.del, e.key.String())
	}
	wait := s.b.write(op)
	s.mu.Unlock()

	err := wait(ctx)

	s.mu.Lock()
	for _, it := range added {
		delete(s.puts, it.key)
	}
	if err != nil {
		// Nothing of op happened: take the blocks out, put back the evicted
		// ones held before (a batch over the bound evicts its own first).
		mine := make(map[*item[cid.Cid]]bool, len(added))
		for _, it := range added {
			mine[it] = true
			if cur := s.lru.get(it.key); cur != nil && cur.gen == it.gen {
				s.lru.remove(it.key)
			}
		}
		for _, e := range evicted {
			if !mine[e] {
				s.lru.restore(e)
			}
		}
		s.redirtyLocked(op.stamps)
		if len(added) == 1 {
			err = fmt.Errorf("blockstore: put %s: %w", added[0].key, err)
		} else {
			err = fmt.Errorf("blockstore: put %d blocks: %w", len(added), err)
		}
	}
	f.err = err
	close(f.done)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return waitOthers(ctx, others, othersEntries)
}

// waitOthers waits for the Puts in progress elsewhere of es and returns
// the entries whose Put failed.
func waitOthers(ctx context.Context, others []*flight, es []entry) ([]entry, error) {
	var retry []entry
	for i, f := range others {
		select {
		case <-f.done:
			if f.err != nil {
				retry = append(retry, es[i])
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return retry, nil
}

// Has implements [content.Store]. It neither reads nor verifies the block,
// and does not count as a use.
func (s *Store) Has(_ context.Context, c cid.Cid) (bool, error) {
	if err := content.CheckCID(c); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, content.ErrStoreClosed
	}
	return s.lru.get(c) != nil, nil
}

// Delete implements [content.Store]; deleting a block not held is not an
// error.
func (s *Store) Delete(ctx context.Context, c cid.Cid) error {
	if err := content.CheckCID(c); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return content.ErrStoreClosed
	}
	it := s.lru.remove(c)
	if it == nil {
		s.mu.Unlock()
		return nil
	}
	stamps := stringRecords(s.lru.takeDirty())
	wait := s.b.write(writeOp{stamps: stamps, del: []string{c.String()}})
	s.mu.Unlock()
	if err := wait(ctx); err != nil {
		s.mu.Lock()
		s.lru.restore(it)
		s.redirtyLocked(stamps)
		s.mu.Unlock()
		return fmt.Errorf("blockstore: delete %s: %w", c, err)
	}
	return nil
}

// All implements [content.Store]: it yields a snapshot of the CIDs held,
// most recently used first.
func (s *Store) All(ctx context.Context) iter.Seq2[cid.Cid, error] {
	return func(yield func(cid.Cid, error) bool) {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			yield(cid.Undef, content.ErrStoreClosed)
			return
		}
		keys := s.lru.keys()
		s.mu.Unlock()
		for _, c := range keys {
			if err := ctx.Err(); err != nil {
				yield(cid.Undef, err)
				return
			}
			if !yield(c, nil) {
				return
			}
		}
	}
}

// Stat implements [content.Store]. Bytes counts block bytes, not the
// backend's overhead; it stays within the bound except for a moment after a
// failed write.
func (s *Store) Stat(context.Context) (content.StoreStat, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return content.StoreStat{}, content.ErrStoreClosed
	}
	return content.StoreStat{Blocks: int64(s.lru.len()), Bytes: s.lru.bytes}, nil
}

// Flush writes the last-use stamps not yet persisted, so that recency
// survives a reload. Gets write them every few dozen uses and Close writes
// the rest; a browser page may call Flush when it is hidden (pagehide or
// visibilitychange), since a closing tab does not call Close.
func (s *Store) Flush(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return content.ErrStoreClosed
	}
	stamps := stringRecords(s.lru.takeDirty())
	if len(stamps) == 0 {
		s.mu.Unlock()
		return nil
	}
	wait := s.b.write(writeOp{stamps: stamps})
	s.mu.Unlock()
	if err := wait(ctx); err != nil {
		s.redirty(stamps)
		return fmt.Errorf("blockstore: flush: %w", err)
	}
	return nil
}

// Close implements [content.Store]: it writes the pending last-use stamps
// and closes the backend (IndexedDB finishes the transactions in progress
// first). Later calls return nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var flush func(context.Context) error
	if stamps := stringRecords(s.lru.takeDirty()); len(stamps) > 0 {
		flush = s.b.write(writeOp{stamps: stamps})
	}
	s.mu.Unlock()
	var err error
	if flush != nil {
		if ferr := flush(context.Background()); ferr != nil {
			err = fmt.Errorf("blockstore: close: writing last-use stamps: %w", ferr)
		}
	}
	if cerr := s.b.close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("blockstore: close: %w", cerr))
	}
	return err
}

func (s *Store) redirty(stamps []record[string]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redirtyLocked(stamps)
}

func (s *Store) redirtyLocked(stamps []record[string]) {
	if len(stamps) == 0 {
		return
	}
	recs := make([]record[cid.Cid], 0, len(stamps))
	for _, r := range stamps {
		if c, err := cid.Decode(r.key); err == nil {
			recs = append(recs, record[cid.Cid]{key: c})
		}
	}
	s.lru.markDirty(recs)
}

// stringRecords converts records to the backend's string keys.
func stringRecords(recs []record[cid.Cid]) []record[string] {
	if len(recs) == 0 {
		return nil
	}
	out := make([]record[string], len(recs))
	for i, r := range recs {
		out[i] = record[string]{key: r.key.String(), size: r.size, stamp: r.stamp}
	}
	return out
}

func notFound(c cid.Cid) error { return fmt.Errorf("%w: %s", content.ErrNotFound, c) }
