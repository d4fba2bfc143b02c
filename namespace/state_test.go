package namespace

import (
	"errors"
	"io/fs"
	"maps"
	"slices"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

func testCID(t *testing.T, s string) cid.Cid {
	t.Helper()
	b, err := content.NewRawBlock([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b.CID()
}

// tree builds a state from ops that must succeed.
func tree(t *testing.T, ops ...Op) *State {
	t.Helper()
	s := New()
	for _, op := range ops {
		if err := s.Apply(op); err != nil {
			t.Fatalf("setting up: %s: %v", op.Name(), err)
		}
	}
	return s
}

func TestOperationErrors(t *testing.T) {
	base := []Op{
		Mkdir{Path: "/d", Perm: 0o755},
		Mkdir{Path: "/d/sub", Perm: 0o755},
		Create{Path: "/d/f", Perm: 0o644, Size: 1},
		Create{Path: "/top", Perm: 0o644},
		Mkdir{Path: "/empty", Perm: 0o700},
		Symlink{Path: "/link", Target: "d/f"},
	}
	for _, tc := range []struct {
		name string
		op   Op
		want error // nil: succeeds
	}{
		{"mkdir exists", Mkdir{Path: "/d"}, fs.ErrExist},
		{"mkdir -p exists", Mkdir{Path: "/d", Parents: true}, nil},
		{"mkdir missing parent", Mkdir{Path: "/x/y"}, fs.ErrNotExist},
		{"mkdir -p chain", Mkdir{Path: "/x/y/z", Parents: true}, nil},
		{"mkdir under file", Mkdir{Path: "/top/x", Parents: true}, ErrNotDir},
		{"mkdir over file", Mkdir{Path: "/top", Parents: true}, fs.ErrExist},
		{"mkdir root", Mkdir{Path: "/"}, fs.ErrExist},
		{"relative path", Mkdir{Path: "d"}, fs.ErrInvalid},
		{"dot dot", Mkdir{Path: "/d/../e"}, fs.ErrInvalid},
		{"trailing slash", Create{Path: "/d/"}, fs.ErrInvalid},
		{"double slash", Create{Path: "/d//f"}, fs.ErrInvalid},
		{"create replaces", Create{Path: "/d/f", Size: 9}, nil},
		{"create exclusive", Create{Path: "/d/f", Exclusive: true}, fs.ErrExist},
		{"create on dir", Create{Path: "/d"}, ErrIsDir},
		{"create through file", Create{Path: "/top/f"}, ErrNotDir},
		{"create missing dir", Create{Path: "/nope/f"}, fs.ErrNotExist},
		{"write missing", SetContent{Path: "/d/none"}, fs.ErrNotExist},
		{"write dir", SetContent{Path: "/d"}, ErrIsDir},
		{"write symlink", SetContent{Path: "/link"}, fs.ErrInvalid},
		{"unlink dir", Unlink{Path: "/d"}, ErrIsDir},
		{"unlink missing", Unlink{Path: "/d/none"}, fs.ErrNotExist},
		{"unlink symlink", Unlink{Path: "/link"}, nil},
		{"rmdir non-empty", Rmdir{Path: "/d"}, ErrNotEmpty},
		{"rmdir -r", Rmdir{Path: "/d", Recursive: true}, nil},
		{"rmdir file", Rmdir{Path: "/top"}, ErrNotDir},
		{"rmdir root", Rmdir{Path: "/", Recursive: true}, fs.ErrInvalid},
		{"rmdir empty", Rmdir{Path: "/empty"}, nil},
		{"symlink exists", Symlink{Path: "/top", Target: "x"}, fs.ErrExist},
		{"symlink empty target", Symlink{Path: "/s", Target: ""}, fs.ErrInvalid},
		{"rename missing", Rename{From: "/none", To: "/x"}, fs.ErrNotExist},
		{"rename file over file", Rename{From: "/top", To: "/d/f"}, nil},
		{"rename noreplace", Rename{From: "/top", To: "/d/f", NoReplace: true}, fs.ErrExist},
		{"rename file over dir", Rename{From: "/top", To: "/empty"}, ErrIsDir},
		{"rename dir over file", Rename{From: "/empty", To: "/top"}, ErrNotDir},
		{"rename dir over empty dir", Rename{From: "/d/sub", To: "/empty"}, nil},
		{"rename dir over non-empty", Rename{From: "/empty", To: "/d"}, ErrNotEmpty},
		{"rename into itself", Rename{From: "/d", To: "/d/sub/d"}, fs.ErrInvalid},
		{"rename onto itself", Rename{From: "/d", To: "/d"}, nil},
		{"rename across dirs", Rename{From: "/d/f", To: "/empty/g"}, nil},
		{"rename to missing dir", Rename{From: "/top", To: "/nope/x"}, fs.ErrNotExist},
		{"chmod missing", Chmod{Path: "/none", Perm: 0o600}, fs.ErrNotExist},
		{"touch creates", Touch{Path: "/new", Mtime: 5}, nil},
		{"touch root", Touch{Path: "/", Mtime: 5}, nil},
		{"touch nocreate missing", Touch{Path: "/new2", Mtime: 5, NoCreate: true}, fs.ErrNotExist},
		{"touch nocreate existing", Touch{Path: "/top", Mtime: 5, NoCreate: true}, nil},
		{"create bad cid", Create{Path: "/v0", CID: cidV0(t)}, fs.ErrInvalid},
		{"write bad cid", SetContent{Path: "/d/f", CID: cidV0(t)}, fs.ErrInvalid},
		{"allow nobody", Allow{Peer: ""}, fs.ErrInvalid},
		{"deny nobody", Deny{Peer: ""}, fs.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tree(t, base...)
			before := s.Clone()
			err := s.Apply(tc.op)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("%v", err)
				}
				return
			}
			var pe *fs.PathError
			if !errors.Is(err, tc.want) || !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *fs.PathError wrapping %v", err, tc.want)
			}
			if !equalStates(s, before) {
				t.Fatal("a failed operation changed the tree")
			}
		})
	}
}

func TestOperationEffects(t *testing.T) {
	c1, c2 := testCID(t, "one"), testCID(t, "two")
	s := tree(t,
		Mkdir{Path: "/a/b", Perm: 0o750, Parents: true, Mtime: 10},
		Create{Path: "/a/b/f", Perm: 0o640, CID: c1, Size: 3, Mtime: 11},
		SetContent{Path: "/a/b/f", CID: c2, Size: 3, Mtime: 12},
		Rename{From: "/a/b/f", To: "/a/g", Mtime: 13},
		Symlink{Path: "/a/l", Target: "g", Mtime: 14},
		Chmod{Path: "/a/g", Perm: 0o600},
	)
	g, err := s.Stat("/a/g")
	if err != nil {
		t.Fatal(err)
	}
	if g.Kind != KindFile || g.CID != c2 || g.Size != 3 || g.Mtime != 12 || g.Mode() != 0o600 {
		t.Errorf("/a/g = %+v", g)
	}
	if _, err := s.Stat("/a/b/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old name after rename: %v", err)
	}
	a, _ := s.Stat("/a")
	if a.Mtime != 14 || a.Size != 3 || a.Mode() != fs.ModeDir|0o750 {
		t.Errorf("/a = %+v (mode %v)", a, a.Mode())
	}
	l, _ := s.Stat("/a/l")
	if l.Kind != KindSymlink || l.Target != "g" || l.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("/a/l = %+v", l)
	}
	es, err := s.ReadDir("/a")
	if err != nil || len(es) != 3 || es[0].Name != "b" || es[1].Name != "g" || es[2].Name != "l" {
		t.Errorf("readdir /a = %+v, %v", es, err)
	}
	if _, err := s.ReadDir("/a/g"); !errors.Is(err, ErrNotDir) {
		t.Errorf("readdir of a file: %v", err)
	}
	// Removing a tree frees every inode below it.
	if err := s.Apply(Rmdir{Path: "/a", Recursive: true}); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 {
		t.Errorf("%d inodes left after rmdir -r of everything", s.Len())
	}
}

// cidV0 returns a CIDv0, which meshfs does not store.
func cidV0(t *testing.T) cid.Cid {
	t.Helper()
	c, err := cid.Decode("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSetContentCompareAndSet(t *testing.T) {
	c1, c2, c3 := testCID(t, "one"), testCID(t, "two"), testCID(t, "three")
	base := []Op{
		Create{Path: "/full", Perm: 0o644, CID: c1, Size: 3},
		Create{Path: "/empty", Perm: 0o644},
	}
	for _, tc := range []struct {
		name string
		op   SetContent
		want error // nil: succeeds
	}{
		{"unconditional", SetContent{Path: "/full", CID: c2}, nil},
		{"prev matches", SetContent{Path: "/full", CID: c2, Prev: c1}, nil},
		{"prev differs", SetContent{Path: "/full", CID: c2, Prev: c3}, ErrConflict},
		{"prev on empty file", SetContent{Path: "/empty", CID: c2, Prev: c1}, ErrConflict},
		{"if empty on empty file", SetContent{Path: "/empty", CID: c2, IfEmpty: true}, nil},
		{"if empty on full file", SetContent{Path: "/full", CID: c2, IfEmpty: true}, ErrConflict},
		{"emptying if full", SetContent{Path: "/full", Prev: c1}, nil},
		{"both prev and if empty", SetContent{Path: "/empty", CID: c2, Prev: c1, IfEmpty: true}, fs.ErrInvalid},
		{"missing file", SetContent{Path: "/none", CID: c2, Prev: c1}, fs.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tree(t, base...)
			before := s.Clone()
			err := s.Apply(tc.op)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if st, _ := s.Stat(tc.op.Path); st.CID != tc.op.CID {
					t.Fatalf("content %s, want %s", st.CID, tc.op.CID)
				}
				return
			}
			var pe *fs.PathError
			if !errors.Is(err, tc.want) || !errors.As(err, &pe) || pe.Path != tc.op.Path {
				t.Fatalf("got %v, want a *fs.PathError for %s wrapping %v", err, tc.op.Path, tc.want)
			}
			if !equalStates(s, before) {
				t.Fatal("a failed write changed the tree")
			}
		})
	}
	// A read-modify-write begun from Stat loses to a write in between.
	s := tree(t, base...)
	for _, p := range []string{"/full", "/empty"} {
		st, err := s.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(SetContent{Path: p, CID: c3}); err != nil {
			t.Fatal(err)
		}
		err = s.Apply(SetContent{Path: p, CID: c2, Prev: st.CID, IfEmpty: !st.CID.Defined()})
		if !errors.Is(err, ErrConflict) {
			t.Errorf("%s: stale write gave %v, want ErrConflict", p, err)
		}
	}
}

func TestAccessList(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ops     []Op
		list    []string
		allowed map[string]bool
	}{
		{"closed", nil, nil, map[string]bool{"a": false, "": false}},
		{"one peer", []Op{Allow{Peer: "a"}}, []string{"a"}, map[string]bool{"a": true, "b": false}},
		{"allow twice", []Op{Allow{Peer: "a"}, Allow{Peer: "a"}}, []string{"a"}, map[string]bool{"a": true}},
		{"sorted", []Op{Allow{Peer: "b"}, Allow{Peer: "a"}}, []string{"a", "b"}, map[string]bool{"a": true, "b": true}},
		{"deny", []Op{Allow{Peer: "a"}, Allow{Peer: "b"}, Deny{Peer: "a"}}, []string{"b"}, map[string]bool{"a": false, "b": true}},
		{"deny unlisted", []Op{Deny{Peer: "a"}}, nil, map[string]bool{"a": false}},
		{"open", []Op{Allow{Peer: AnyPeer}}, []string{AnyPeer}, map[string]bool{"a": true, "z": true, "": false}},
		{"open beats deny", []Op{Allow{Peer: AnyPeer}, Allow{Peer: "a"}, Deny{Peer: "a"}}, []string{AnyPeer}, map[string]bool{"a": true}},
		{"closed again", []Op{Allow{Peer: AnyPeer}, Allow{Peer: "a"}, Deny{Peer: AnyPeer}}, []string{"a"}, map[string]bool{"a": true, "b": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tree(t, tc.ops...)
			if got := s.AccessList(); !slices.Equal(got, tc.list) {
				t.Errorf("AccessList() = %q, want %q", got, tc.list)
			}
			for p, want := range tc.allowed {
				if got := s.Allowed(p); got != want {
					t.Errorf("Allowed(%q) = %v, want %v", p, got, want)
				}
			}
			// The list is part of the state: clones and snapshots keep it.
			if !equalStates(s.Clone(), s) {
				t.Error("Clone lost the access list")
			}
		})
	}
}

// equalStates compares two trees inode by inode, and their access lists.
func equalStates(a, b *State) bool {
	if a.next != b.next || len(a.inodes) != len(b.inodes) || !maps.Equal(a.access, b.access) {
		return false
	}
	for ino, x := range a.inodes {
		y, ok := b.inodes[ino]
		if !ok || x.Kind != y.Kind || x.Perm != y.Perm || x.Uid != y.Uid || x.Gid != y.Gid || x.Size != y.Size || x.Mtime != y.Mtime ||
			!x.CID.Equals(y.CID) && (x.CID.Defined() || y.CID.Defined()) || x.Target != y.Target || len(x.entries) != len(y.entries) {
			return false
		}
		for name, i := range x.entries {
			if y.entries[name] != i {
				return false
			}
		}
	}
	return true
}
