package mount

import (
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"meshfs/fsclient"
)

func TestListing(t *testing.T) {
	const ttl = time.Second
	t0 := time.Unix(1000, 0)
	var l listing
	if _, _, fresh := l.get("a", t0, ttl); fresh {
		t.Fatal("an empty listing answered")
	}
	l.set(map[string]fsclient.Info{"a": {Name: "a"}, "b": {Name: "b"}}, t0)
	check := func(name string, at time.Time, exists, fresh bool) {
		t.Helper()
		i, ok, f := l.get(name, at, ttl)
		if ok != exists || f != fresh || ok && i.Name != name {
			t.Errorf("get(%q) at +%v: %v %v %v, want exists %v fresh %v", name, at.Sub(t0), i.Name, ok, f, exists, fresh)
		}
	}
	check("a", t0.Add(ttl/2), true, true)
	check("nope", t0.Add(ttl/2), false, true)
	check("a", t0.Add(ttl), false, false)
	check("nope", t0.Add(ttl), false, false)

	// A stream handing entries out late keeps them fresh for their lookup.
	s := &listStream{entries: []fuse.DirEntry{{Name: "a"}, {Name: "b"}}, list: &l, now: func() time.Time { return t0.Add(5 * ttl) }}
	for s.HasNext() {
		if _, errno := s.Next(); errno != 0 {
			t.Fatal(errno)
		}
	}
	check("a", t0.Add(5*ttl), true, true)
	check("b", t0.Add(5*ttl+ttl/2), true, true)
	check("nope", t0.Add(5*ttl), false, false) // absence is as old as the listing
	check("b", t0.Add(6*ttl), false, false)

	// Entries carry their position, which Seekdir goes back to.
	if errno := s.Seekdir(t.Context(), 1); errno != 0 || !s.HasNext() {
		t.Fatalf("Seekdir(1): %v", errno)
	}
	if e, _ := s.Next(); e.Name != "b" || e.Off != 2 || s.HasNext() {
		t.Errorf("after Seekdir(1): %+v", e)
	}
	if errno := s.Seekdir(t.Context(), 3); errno == 0 {
		t.Error("Seekdir past the end")
	}

	l.drop()
	check("a", t0, false, false)
}
