package blockstore

import (
	"slices"
	"testing"

	"meshfs/internal/testrand"
)

// checkLRU verifies the account's invariants: the list and the map hold the
// same items, stamps never increase along the list (they tie only when
// loaded so) and never pass the clock, the bytes add up, dirty keys are held.
func checkLRU[K comparable](t *testing.T, l *lru[K]) {
	t.Helper()
	var n int
	var bytes int64
	prev := &l.root
	last := uint64(1<<64 - 1)
	for it := l.root.next; it != &l.root; it = it.next {
		if it.prev != prev {
			t.Fatalf("item %v: prev link broken", it.key)
		}
		if l.items[it.key] != it {
			t.Fatalf("item %v in the list but not in the map", it.key)
		}
		if it.stamp > last {
			t.Fatalf("item %v: stamp %d above the previous %d", it.key, it.stamp, last)
		}
		if it.stamp > l.clock {
			t.Fatalf("item %v: stamp %d past the clock %d", it.key, it.stamp, l.clock)
		}
		last = it.stamp
		n++
		bytes += it.size
		prev = it
	}
	if l.root.prev != prev {
		t.Fatal("root.prev is not the last item")
	}
	if n != len(l.items) {
		t.Fatalf("list has %d items, map %d", n, len(l.items))
	}
	if bytes != l.bytes {
		t.Fatalf("bytes %d, items add up to %d", l.bytes, bytes)
	}
	for k := range l.dirty {
		if l.items[k] == nil {
			t.Fatalf("dirty key %v not held", k)
		}
	}
}

func TestLRUSteps(t *testing.T) {
	type step struct {
		op      string // add, touch, remove
		key     string
		size    int64
		evicted []string // add: the keys evicted, oldest first
	}
	add := func(key string, size int64, evicted ...string) step {
		return step{op: "add", key: key, size: size, evicted: evicted}
	}
	touch := func(key string) step { return step{op: "touch", key: key} }
	remove := func(key string) step { return step{op: "remove", key: key} }
	cases := []struct {
		name  string
		max   int64
		steps []step
		order []string // most recent first
		bytes int64
	}{
		{"fills to the bound", 10, []step{add("a", 3), add("b", 3), add("c", 4)}, []string{"c", "b", "a"}, 10},
		{"evicts the least recent", 10, []step{add("a", 3), add("b", 3), add("c", 4), add("d", 2, "a")}, []string{"d", "c", "b"}, 9},
		{"touch refreshes", 10, []step{add("a", 3), add("b", 3), add("c", 4), touch("a"), add("d", 5, "b", "c")}, []string{"d", "a"}, 8},
		{"touch order decides", 10, []step{add("a", 3), add("b", 3), add("c", 4), touch("b"), touch("a"), add("d", 2, "c")}, []string{"d", "a", "b"}, 8},
		{"add of a held key only touches", 6, []step{add("a", 3), add("b", 3), add("a", 3), add("c", 3, "b")}, []string{"c", "a"}, 6},
		{"remove frees room", 10, []step{add("a", 5), add("b", 5), remove("a"), add("c", 5)}, []string{"c", "b"}, 10},
		{"remove and touch of a missing key", 10, []step{add("a", 5), remove("x"), touch("x")}, []string{"a"}, 5},
		{"an item over the bound evicts all others and stays", 10, []step{add("a", 3), add("b", 3), add("c", 11, "a", "b")}, []string{"c"}, 11},
		{"re-added after eviction is new", 6, []step{add("a", 3), add("b", 3), add("c", 3, "a"), add("a", 3, "b")}, []string{"a", "c"}, 6},
		{"zero-size items", 0, []step{add("a", 0), add("b", 0)}, []string{"b", "a"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLRU[string](tc.max)
			for i, s := range tc.steps {
				switch s.op {
				case "add":
					it, ev := l.add(s.key, s.size)
					if it == nil || it.key != s.key {
						t.Fatalf("step %d: add returned %v", i, it)
					}
					var got []string
					for _, e := range ev {
						got = append(got, e.key)
					}
					if !slices.Equal(got, s.evicted) {
						t.Fatalf("step %d: add(%s) evicted %v, want %v", i, s.key, got, s.evicted)
					}
				case "touch":
					if got, want := l.touch(s.key), l.items[s.key] != nil; got != want {
						t.Fatalf("step %d: touch(%s) = %v", i, s.key, got)
					}
				case "remove":
					l.remove(s.key)
				}
				checkLRU(t, l)
			}
			if got := l.keys(); !slices.Equal(got, tc.order) {
				t.Errorf("order %v, want %v", got, tc.order)
			}
			if l.bytes != tc.bytes {
				t.Errorf("bytes %d, want %d", l.bytes, tc.bytes)
			}
		})
	}
}

func TestLRULoad(t *testing.T) {
	cases := []struct {
		name    string
		max     int64
		recs    []record[string]
		order   []string
		evicted []string // by trim after load
	}{
		{"orders by stamp", 100,
			[]record[string]{{"b", 1, 20}, {"c", 1, 5}, {"a", 1, 30}},
			[]string{"a", "b", "c"}, nil},
		{"trims the oldest past a lowered bound", 3,
			[]record[string]{{"b", 2, 20}, {"c", 2, 5}, {"a", 1, 30}},
			[]string{"a", "b"}, []string{"c"}},
		{"equal stamps keep load order", 100,
			[]record[string]{{"a", 1, 7}, {"b", 1, 7}},
			[]string{"b", "a"}, nil},
		{"duplicate keys: the first counts", 100,
			[]record[string]{{"a", 1, 7}, {"a", 5, 9}},
			[]string{"a"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLRU[string](tc.max)
			l.load(tc.recs)
			checkLRU(t, l)
			var ev []string
			for _, it := range l.trim(nil) {
				ev = append(ev, it.key)
			}
			checkLRU(t, l)
			if !slices.Equal(ev, tc.evicted) {
				t.Errorf("trim evicted %v, want %v", ev, tc.evicted)
			}
			if got := l.keys(); !slices.Equal(got, tc.order) {
				t.Errorf("order %v, want %v", got, tc.order)
			}
			if l.dirtyLen() != 0 {
				t.Errorf("load left %d dirty stamps", l.dirtyLen())
			}
			// The clock goes on past the loaded stamps.
			it, _ := l.add("new", 0)
			for _, r := range tc.recs {
				if it.stamp <= r.stamp {
					t.Errorf("new stamp %d not past loaded %d", it.stamp, r.stamp)
				}
			}
			checkLRU(t, l)
		})
	}
}

func TestLRURestore(t *testing.T) {
	l := newLRU[string](9)
	l.add("a", 3)
	l.add("b", 3)
	l.add("c", 3)
	_, ev := l.add("d", 3) // evicts a
	if len(ev) != 1 || ev[0].key != "a" {
		t.Fatalf("evicted %v", ev)
	}
	b := l.remove("b")
	if !l.restore(ev[0]) || !l.restore(b) {
		t.Fatal("restore refused a key not held")
	}
	checkLRU(t, l)
	if got, want := l.keys(), []string{"d", "c", "b", "a"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v (by stamp)", got, want)
	}
	if l.bytes != 12 {
		t.Fatalf("bytes %d, want 12 (restore does not evict)", l.bytes)
	}
	if l.restore(b) {
		t.Fatal("restore of a held key succeeded")
	}
	// A key added again after its removal is not replaced by the old item.
	old := l.remove("c")
	l.add("c", 1)
	if l.restore(old) || l.get("c").size != 1 {
		t.Fatal("restore replaced a newer item")
	}
	checkLRU(t, l)
}

func TestLRUDirty(t *testing.T) {
	l := newLRU[string](100)
	l.add("a", 1)
	l.add("b", 1)
	l.add("c", 1)
	if l.dirtyLen() != 0 {
		t.Fatal("add marked stamps dirty: the put carries them")
	}
	l.touch("a")
	l.touch("b")
	l.touch("a")
	l.remove("b")
	got := l.takeDirty()
	if len(got) != 1 || got[0].key != "a" || got[0].stamp != l.get("a").stamp || got[0].size != 1 {
		t.Fatalf("takeDirty = %+v, want a with its latest stamp", got)
	}
	if l.takeDirty() != nil {
		t.Fatal("second takeDirty not empty")
	}
	l.markDirty([]record[string]{{key: "a"}, {key: "gone"}})
	if l.dirtyLen() != 1 {
		t.Fatalf("markDirty: %d dirty, want 1", l.dirtyLen())
	}
	checkLRU(t, l)
}

// TestLRUModel runs random operations against a plain slice model.
func TestLRUModel(t *testing.T) {
	r := testrand.New(t)
	for range 20 {
		max := int64(r.IntN(40))
		l := newLRU[int](max)
		var model []int // most recent first
		size := map[int]int64{}
		total := func() (n int64) {
			for _, k := range model {
				n += size[k]
			}
			return n
		}
		for range 300 {
			k := r.IntN(12)
			held := slices.Contains(model, k)
			switch r.IntN(4) {
			case 0, 1:
				sz := int64(r.IntN(10))
				if held {
					sz = size[k]
				}
				_, ev := l.add(k, sz)
				model = slices.DeleteFunc(model, func(x int) bool { return x == k })
				model = append([]int{k}, model...)
				size[k] = sz
				var want []int
				for total() > max && len(model) > 1 {
					want = append(want, model[len(model)-1])
					model = model[:len(model)-1]
				}
				var got []int
				for _, e := range ev {
					got = append(got, e.key)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("add(%d, %d) evicted %v, model %v", k, sz, got, want)
				}
			case 2:
				if l.touch(k) != held {
					t.Fatalf("touch(%d) disagrees with the model", k)
				}
				if held {
					model = slices.DeleteFunc(model, func(x int) bool { return x == k })
					model = append([]int{k}, model...)
				}
			case 3:
				if (l.remove(k) != nil) != held {
					t.Fatalf("remove(%d) disagrees with the model", k)
				}
				model = slices.DeleteFunc(model, func(x int) bool { return x == k })
			}
			checkLRU(t, l)
			if !slices.Equal(l.keys(), model) || l.bytes != total() {
				t.Fatalf("account %v (%d bytes), model %v (%d bytes)", l.keys(), l.bytes, model, total())
			}
		}
	}
}
