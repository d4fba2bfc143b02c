package blockstore

import "slices"

// record is one block's bookkeeping as a backend persists it: its key, its
// size in bytes and its last-use stamp.
type record[K comparable] struct {
	key   K
	size  int64
	stamp uint64
}

// lru is a Store's account of the blocks it holds: their sizes, their
// last-use stamps and the order in which to evict them under a byte bound.
// It is bookkeeping only (no I/O, no clock, no locking), so it builds
// everywhere and is tested natively; the Store guards it with its mutex.
//
// Recency is a logical clock: every use takes the next stamp, so the order
// is total and survives a reload exactly when the stamps are persisted and
// handed back to load. The list is kept sorted by stamp, most recent first;
// only loaded stamps can tie (they should not, but a database is input).
type lru[K comparable] struct {
	max   int64
	bytes int64
	clock uint64 // the last stamp handed out
	gen   uint64 // the last generation handed out
	items map[K]*item[K]
	root  item[K]        // sentinel of a circular list: root.next is the most recent
	dirty map[K]struct{} // items whose stamp changed since takeDirty
}

// item is one block in the account. gen is new each time a key is added,
// so that an operation that looked at an item can tell whether the item was
// since removed and added again.
type item[K comparable] struct {
	key        K
	size       int64
	stamp      uint64
	gen        uint64
	prev, next *item[K]
}

// newLRU returns an empty account bounded to max bytes.
func newLRU[K comparable](max int64) *lru[K] {
	l := &lru[K]{max: max, items: make(map[K]*item[K]), dirty: make(map[K]struct{})}
	l.root.next, l.root.prev = &l.root, &l.root
	return l
}

// load adds persisted records, in any order, keeping their stamps; keys
// already present are skipped. The clock moves past the largest stamp. It
// does not evict: call trim.
func (l *lru[K]) load(recs []record[K]) {
	recs = slices.Clone(recs)
	slices.SortStableFunc(recs, func(a, b record[K]) int {
		switch {
		case a.stamp < b.stamp:
			return -1
		case a.stamp > b.stamp:
			return 1
		}
		return 0
	})
	for _, r := range recs {
		l.clock = max(l.clock, r.stamp)
		if _, ok := l.items[r.key]; ok {
			continue
		}
		l.gen++
		it := &item[K]{key: r.key, size: r.size, stamp: r.stamp, gen: l.gen}
		l.items[r.key] = it
		l.bytes += r.size
		l.insertSorted(it) // at the front, unless an item held before is newer
	}
}

// get returns key's item, or nil; it does not count as a use.
func (l *lru[K]) get(key K) *item[K] { return l.items[key] }

// touch marks key as the most recently used and reports whether it is held.
func (l *lru[K]) touch(key K) bool {
	it := l.items[key]
	if it == nil {
		return false
	}
	l.clock++
	it.stamp = l.clock
	l.unlink(it)
	l.insertAfter(it, &l.root)
	l.dirty[key] = struct{}{}
	return true
}

// add puts key as the most recently used item and evicts the least
// recently used others until the bytes fit the bound. It returns the new
// item and the evicted ones, oldest first. The new item itself is never
// evicted, so an item larger than the bound leaves the account over it.
// A key already held is only touched.
func (l *lru[K]) add(key K, size int64) (*item[K], []*item[K]) {
	if l.touch(key) {
		return l.items[key], nil
	}
	l.clock++
	l.gen++
	it := &item[K]{key: key, size: size, stamp: l.clock, gen: l.gen}
	l.items[key] = it
	l.bytes += size
	l.insertAfter(it, &l.root)
	return it, l.trim(it)
}

// trim evicts least recently used items, other than keep (which may be
// nil), until the bytes fit the bound; it returns them oldest first.
func (l *lru[K]) trim(keep *item[K]) []*item[K] {
	var out []*item[K]
	for l.bytes > l.max {
		victim := l.root.prev
		if victim == keep {
			victim = victim.prev
		}
		if victim == &l.root {
			break
		}
		l.remove(victim.key)
		out = append(out, victim)
	}
	return out
}

// remove takes key out of the account and returns its item, or nil.
func (l *lru[K]) remove(key K) *item[K] {
	it := l.items[key]
	if it == nil {
		return nil
	}
	delete(l.items, key)
	delete(l.dirty, key)
	l.bytes -= it.size
	l.unlink(it)
	return it
}

// restore puts back an item that remove or an eviction took out, at its
// place by stamp, when its key is not held again meanwhile; it reports
// whether it did. It undoes a removal whose write failed. It does not evict.
func (l *lru[K]) restore(it *item[K]) bool {
	if _, ok := l.items[it.key]; ok {
		return false
	}
	l.items[it.key] = it
	l.bytes += it.size
	l.insertSorted(it)
	return true
}

// takeDirty returns the records of the held items whose stamps changed
// since the last call, and forgets them.
func (l *lru[K]) takeDirty() []record[K] {
	if len(l.dirty) == 0 {
		return nil
	}
	out := make([]record[K], 0, len(l.dirty))
	for k := range l.dirty {
		if it := l.items[k]; it != nil {
			out = append(out, record[K]{key: k, size: it.size, stamp: it.stamp})
		}
	}
	clear(l.dirty)
	return out
}

// markDirty marks keys' stamps as not persisted, e.g. after a failed write.
func (l *lru[K]) markDirty(recs []record[K]) {
	for _, r := range recs {
		if _, ok := l.items[r.key]; ok {
			l.dirty[r.key] = struct{}{}
		}
	}
}

// dirtyLen is the number of items whose stamps are not persisted.
func (l *lru[K]) dirtyLen() int { return len(l.dirty) }

// len is the number of items held.
func (l *lru[K]) len() int { return len(l.items) }

// keys returns the keys held, most recently used first.
func (l *lru[K]) keys() []K {
	out := make([]K, 0, len(l.items))
	for it := l.root.next; it != &l.root; it = it.next {
		out = append(out, it.key)
	}
	return out
}

// insertSorted links it in by stamp: after the last item with a larger one.
func (l *lru[K]) insertSorted(it *item[K]) {
	at := &l.root
	for at.next != &l.root && at.next.stamp > it.stamp {
		at = at.next
	}
	l.insertAfter(it, at)
}

func (l *lru[K]) insertAfter(it, at *item[K]) {
	it.prev, it.next = at, at.next
	at.next.prev = it
	at.next = it
}

func (l *lru[K]) unlink(it *item[K]) {
	it.prev.next, it.next.prev = it.next, it.prev
	it.prev, it.next = nil, nil
}
