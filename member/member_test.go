package member

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"time"

	"meshfs/namespace"
)

func memberByID(ms []*Member, id string) *Member {
	for _, m := range ms {
		if m.cfg.Self == id {
			return m
		}
	}
	return nil
}

func TestChangesGoThroughTheWriterAndReadEverywhere(t *testing.T) {
	n := newMemNet()
	voters, others := startMembers(t, n, 3, 1)
	waitWriter(t, voters...)
	ctx := ctxT(t, 20*time.Second)
	o := others[0]

	// A peer off the access list changes nothing.
	if _, err := o.Do(ctx, namespace.Mkdir{Path: "/x"}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("mkdir from an unlisted peer: %v, want ErrNotAllowed", err)
	}
	if _, err := voters[1].Do(ctx, namespace.Allow{Peer: "o0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Do(ctx, namespace.Mkdir{Path: "/a/b", Parents: true, Perm: 0o755, Mtime: 7}); err != nil {
		t.Fatal(err)
	}
	c, err := o.Do(ctx, namespace.Create{Path: "/a/b/f", Perm: 0o644, Uid: 1000, Gid: 100, Mtime: 8})
	if err != nil {
		t.Fatal(err)
	}
	// POSIX errors survive the trip to the writer and back.
	if _, err := o.Do(ctx, namespace.Mkdir{Path: "/a"}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("mkdir of an existing dir: %v, want fs.ErrExist", err)
	}
	for _, m := range append(voters, others...) {
		for _, level := range []Level{Strong, Sequential} {
			if level == Sequential && m == voters[0] {
				continue // a follower may lag for sequential reads from others
			}
			info, err := m.Stat(ctx, level, "/a/b/f")
			if err != nil {
				t.Fatalf("%s %s stat: %v", m.cfg.Self, level, err)
			}
			if info.Kind != "file" || info.Mtime != 8 || info.Uid != 1000 || info.Gid != 100 {
				t.Fatalf("%s %s stat: %+v", m.cfg.Self, level, info)
			}
		}
		list, err := m.List(ctx, Strong, "/a")
		if err != nil || len(list) != 1 || list[0].Name != "b" || list[0].Kind != "dir" {
			t.Fatalf("%s ls /a: %+v %v", m.cfg.Self, list, err)
		}
	}
	// Sequential reads on the member that wrote never go back in time.
	if info, err := o.Stat(ctx, Sequential, "/a/b/f"); err != nil || info.Mtime != 8 {
		t.Fatalf("sequential stat after own write: %+v %v", info, err)
	}
	if got := o.seenIndex(); got < c.Index {
		t.Fatalf("member saw index %d, below its own write's %d", got, c.Index)
	}
}

func TestCutOffWriterIsReplacedAndFenced(t *testing.T) {
	n := newMemNet()
	voters, _ := startMembers(t, n, 3, 0)
	old, term := waitWriter(t, voters...)
	ctx := ctxT(t, 30*time.Second)
	if _, err := memberByID(voters, old).Do(ctx, namespace.Mkdir{Path: "/before"}); err != nil {
		t.Fatal(err)
	}
	n.cut(old, true)
	var rest []*Member
	for _, m := range voters {
		if m.cfg.Self != old {
			rest = append(rest, m)
		}
	}
	w, term2 := waitWriterNot(t, old, rest...)
	if w == old || term2 <= term {
		t.Fatalf("after the cut: writer %s term %d; before %s term %d", w, term2, old, term)
	}
	// The cut-off writer cannot commit: its change fails or its fate is
	// unknown, and it never shows up in the tree.
	shortCtx := ctxT(t, 500*time.Millisecond)
	if _, err := memberByID(voters, old).Do(shortCtx, namespace.Mkdir{Path: "/fenced"}); err == nil {
		t.Fatal("a cut-off writer committed a change")
	}
	if _, err := rest[0].Do(ctx, namespace.Mkdir{Path: "/after"}); err != nil {
		t.Fatal(err)
	}
	n.cut(old, false)
	// Back in the mesh, the old writer follows the new term and converges.
	oldM := memberByID(voters, old)
	for _, p := range []string{"/before", "/after"} {
		if _, err := oldM.Stat(ctx, Strong, p); err != nil {
			t.Fatalf("old writer, strong stat %s: %v", p, err)
		}
	}
	for _, m := range voters {
		if _, err := m.Stat(ctx, Strong, "/fenced"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: the fenced change: %v, want fs.ErrNotExist", m.cfg.Self, err)
		}
	}
	waitWriterNot(t, old, voters...)
}

func TestRestartKeepsTheTree(t *testing.T) {
	n := newMemNet()
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	ids := []string{"v0", "v1", "v2"}
	start := func() []*Member {
		var ms []*Member
		for i, id := range ids {
			ms = append(ms, startMember(t, n, id, ids, dirs[i], nil))
		}
		return ms
	}
	ms := start()
	waitWriter(t, ms...)
	ctx := ctxT(t, 30*time.Second)
	for _, p := range []string{"/a", "/a/b", "/c"} {
		if _, err := ms[0].Do(ctx, namespace.Mkdir{Path: p}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range ms {
		m.Close()
	}
	ms = start() // closed at the end of the test
	for _, m := range ms {
		list, err := m.List(ctx, Strong, "/a")
		if err != nil || len(list) != 1 || list[0].Name != "b" {
			t.Fatalf("%s after restart: %+v %v", m.cfg.Self, list, err)
		}
	}
}

func TestVotersJoinAndLeaveThroughConfChanges(t *testing.T) {
	n := newMemNet()
	voters, others := startMembers(t, n, 3, 3)
	waitWriter(t, voters...)
	ctx := ctxT(t, 30*time.Second)
	for _, p := range []string{"/a", "/b"} {
		if _, err := voters[0].Do(ctx, namespace.Mkdir{Path: p}); err != nil {
			t.Fatal(err)
		}
	}
	joiner := others[0] // "o0", not a first voter
	if joiner.View().Voter {
		t.Fatal("o0 runs a replica before it was added")
	}
	// Only a voter may change the voters.
	if _, err := joiner.SetVoter(ctx, "o0", false); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("a non-voter adding itself: %v, want ErrNotAllowed", err)
	}
	if _, err := voters[1].SetVoter(ctx, "o0", false); err != nil {
		t.Fatal(err)
	}
	// The new voter gets the log and serves reads from its own replica.
	poll(t, func() error {
		if v := joiner.View(); !v.Voter || v.Applied == 0 {
			return fmt.Errorf("o0 did not join: %+v", v)
		}
		return nil
	})
	if list, err := joiner.List(ctx, Strong, "/"); err != nil || len(list) != 2 {
		t.Fatalf("ls / on the new voter: %+v %v", list, err)
	}
	for _, m := range voters {
		if v := m.View().Voters; len(v) != 4 {
			t.Fatalf("%s sees voters %v, want 4", m.cfg.Self, v)
		}
	}
	// Remove a first voter; the other three carry on.
	if _, err := voters[0].SetVoter(ctx, "v2", true); err != nil {
		t.Fatal(err)
	}
	n.cut("v2", true)
	if _, err := joiner.Do(ctx, namespace.Mkdir{Path: "/c"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Member{voters[0], voters[1], joiner} {
		if _, err := m.Stat(ctx, Strong, "/c"); err != nil {
			t.Fatalf("%s: %v", m.cfg.Self, err)
		}
		if v := m.View().Voters; len(v) != 3 || slices.Contains(v, "v2") {
			t.Fatalf("%s sees voters %v after removing v2", m.cfg.Self, v)
		}
	}
	// The removed voter, back on the network, reads through the voters
	// (its own replica gets no more entries).
	n.cut("v2", false)
	if _, err := voters[2].Stat(ctx, Strong, "/c"); err != nil {
		t.Fatalf("the removed voter's strong read: %v", err)
	}
	// Two voter changes at once: Raft takes one at a time; both end up made.
	errs := make(chan error, 2)
	for _, id := range []string{"o1", "o2"} {
		go func() {
			_, err := voters[0].SetVoter(ctx, id, false)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent voter change: %v", err)
		}
	}
	poll(t, func() error {
		if v := voters[0].View().Voters; len(v) != 5 {
			return fmt.Errorf("after adding o1 and o2: voters %v", v)
		}
		return nil
	})
}
