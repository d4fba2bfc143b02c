package namespace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
	"meshfs/internal/testrand"
)

// randomState applies n random operations (failures included) to a new
// state.
func randomState(r *rand.Rand, n int) *State {
	s := New()
	for range n {
		_ = s.Apply(randomOp(r))
	}
	return s
}

// renderRoot renders s from scratch and returns its root.
func renderRoot(t testing.TB, s *State) cid.Cid {
	t.Helper()
	c, err := s.Clone().Render(func(content.Block) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sameView checks that a and b answer Stat, ReadDir, AccessList and Render
// alike for every path of a.
func sameView(t *testing.T, a, b *State) {
	t.Helper()
	for p := range a.paths() {
		sa, errA := a.Stat(p)
		sb, errB := b.Stat(p)
		if errA != nil || errB != nil || !reflect.DeepEqual(sa, sb) {
			t.Fatalf("Stat(%s): %+v, %v vs %+v, %v", p, sa, errA, sb, errB)
		}
		if sa.Kind != KindDir {
			continue
		}
		da, errA := a.ReadDir(p)
		db, errB := b.ReadDir(p)
		if errA != nil || errB != nil || !slices.Equal(da, db) {
			t.Fatalf("ReadDir(%s): %v, %v vs %v, %v", p, da, errA, db, errB)
		}
	}
	if la, lb := a.AccessList(), b.AccessList(); !slices.Equal(la, lb) {
		t.Fatalf("AccessList: %q vs %q", la, lb)
	}
	if ra, rb := renderRoot(t, a), renderRoot(t, b); !ra.Equals(rb) {
		t.Fatalf("Render: %s vs %s", ra, rb)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	r := testrand.New(t)
	for run := range 100 {
		s := randomState(r, 1+r.IntN(200))
		if run%10 == 0 {
			// A rendered state snapshots the same as an unrendered one.
			renderRoot(t, s)
			if _, err := s.Render(func(content.Block) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := s.Clone().MarshalBinary(); !bytes.Equal(again, b) {
			t.Fatalf("run %d: the same state gave two snapshots", run)
		}
		got, err := UnmarshalState(b)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if !equalStates(got, s) {
			t.Fatalf("run %d: the decoded state differs", run)
		}
		sameView(t, s, got)
		// Both go on alike: the next inode number came along.
		for range 50 {
			op := randomOp(r)
			if ea, eb := s.Apply(op), got.Apply(op); errClass(ea) != errClass(eb) {
				t.Fatalf("run %d: %#v: %v vs %v", run, op, ea, eb)
			}
		}
		if !equalStates(got, s) {
			t.Fatalf("run %d: the decoded state diverged", run)
		}
	}
}

// snap builds snapshot bytes field by field, for malformed snapshots.
type snap []byte

// e is a directory entry for snap.dir.
type e struct {
	name string
	ino  uint64
}

// head starts a snapshot of version 2 (owners, no pins: the field-by-field
// cases are about inodes; headPins adds the pins of version 3).
func head(next uint64, peers ...string) snap {
	b := snap(snapshotMagic).raw(snapshotNoPins).u(next).u(uint64(len(peers)))
	for _, p := range peers {
		b = b.s(p)
	}
	return b
}

// headV1 starts a snapshot of version 1, whose inodes have no owners: build
// its inodes with inodeV1 and raw fields.
func headV1(next uint64) snap {
	return snap(snapshotMagic).raw(snapshotNoOwners).u(next).u(0)
}

func (b snap) raw(p ...byte) snap { return append(b, p...) }
func (b snap) u(v uint64) snap    { return binary.AppendUvarint(b, v) }
func (b snap) s(v string) snap    { return append(b.u(uint64(len(v))), v...) }

// inode starts an inode record with permissions 0o755, owner 1000:100
// and time 7.
func (b snap) inode(ino uint64, k Kind) snap { return b.owned(ino, k, 1000, 100) }

// owned starts an inode record with the owner uid:gid.
func (b snap) owned(ino uint64, k Kind, uid, gid uint64) snap {
	return binary.AppendVarint(b.u(ino).raw(byte(k)).u(0o755).u(uid).u(gid), 7)
}

// inodeV1 starts a version 1 inode record: permissions 0o755, time 7.
func (b snap) inodeV1(ino uint64, k Kind) snap {
	return binary.AppendVarint(b.u(ino).raw(byte(k)).u(0o755), 7)
}

func (b snap) dir(ino uint64, entries ...e) snap {
	b = b.inode(ino, KindDir).u(uint64(len(entries)))
	for _, en := range entries {
		b = b.s(en.name).u(en.ino)
	}
	return b
}

func (b snap) file(ino uint64, c []byte) snap {
	return b.inode(ino, KindFile).u(3).u(3).s(string(c))
}

func (b snap) link(ino uint64, target string) snap { return b.inode(ino, KindSymlink).s(target) }

func TestUnmarshalStateRefuses(t *testing.T) {
	good := testCID(t, "x").Bytes()
	cbor := cid.NewCidV1(cid.DagCBOR, testCID(t, "x").Hash()).Bytes()
	blake, err := mh.Sum([]byte("x"), mh.BLAKE2B_MIN+31, -1)
	if err != nil {
		t.Fatal(err)
	}
	valid := head(4, AnyPeer, "p").u(3).dir(1, e{"a", 2}, e{"l", 3}).file(2, good).link(3, "a")
	if _, err := UnmarshalState(valid); err != nil {
		t.Fatalf("the valid base snapshot: %v", err)
	}
	for _, tc := range []struct {
		name string
		why  string // in the error
		b    []byte
	}{
		{"empty", "not a snapshot", nil},
		{"bad magic", "not a snapshot", append([]byte("MFNX"), valid[4:]...)},
		{"unknown version", "version 4", append([]byte("MFNS\x04"), valid[5:]...)},
		{"version 0", "version 0", append([]byte("MFNS\x00"), valid[5:]...)},
		{"magic only", "truncated", []byte("MFNS")},
		{"truncated", "truncated", valid[:len(valid)-1]},
		{"trailing data", "trailing", valid.raw(0)},
		{"overlong varint", "shortest form", snap("MFNS\x02").raw(0x82, 0x00).u(0).u(1).dir(1)},
		{"varint overflow", "overflows", snap("MFNS\x02").raw(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"huge inode count", "truncated", head(2).u(1 << 62).dir(1)},
		{"huge string", "truncated", head(2).u(1).inode(1, KindDir).u(1).u(1 << 62)},
		{"next not above inodes", "not above", head(2).u(2).dir(1, e{"a", 2}).file(2, nil)},
		{"next below root", "not above", head(1).u(1).dir(1)},
		{"next out of range", "out of range", head(1<<63 + 1).u(1).dir(1)},
		{"duplicate inode", "after inode", head(3).u(3).dir(1, e{"a", 2}).file(2, nil).file(2, nil)},
		{"inodes out of order", "after inode", head(3).u(2).file(2, nil).dir(1, e{"a", 2})},
		{"inode 0", "inode 0", head(3).u(2).file(0, nil).dir(1)},
		{"no inodes", "no root", head(2).u(0)},
		{"no root", "no root", head(3).u(1).dir(2)},
		{"root is a file", "no root", head(2).u(1).file(1, nil)},
		{"root is a symlink", "no root", head(2).u(1).link(1, "x")},
		{"entry to missing inode", "missing inode", head(3).u(1).dir(1, e{"a", 2})},
		{"entry to root", "reached twice", head(2).u(1).dir(1, e{"self", 1})},
		{"cycle through root", "reached twice", head(3).u(2).dir(1, e{"a", 2}).dir(2, e{"up", 1})},
		{"hard link", "reached twice", head(3).u(2).dir(1, e{"a", 2}, e{"b", 2}).file(2, nil)},
		{"hard link across dirs", "reached twice", head(4).u(3).dir(1, e{"d", 2}, e{"f", 3}).dir(2, e{"g", 3}).file(3, nil)},
		{"directory reached twice", "reached twice", head(4).u(3).dir(1, e{"a", 2}, e{"b", 3}).dir(2, e{"c", 3}).dir(3)},
		{"orphan", "not reachable", head(3).u(2).dir(1).file(2, nil)},
		{"orphan cycle", "not reachable", head(4).u(3).dir(1).dir(2, e{"x", 3}).dir(3, e{"y", 2})},
		{"empty name", "bad entry name", head(3).u(2).dir(1, e{"", 2}).file(2, nil)},
		{"dot", "bad entry name", head(3).u(2).dir(1, e{".", 2}).file(2, nil)},
		{"dot dot", "bad entry name", head(3).u(2).dir(1, e{"..", 2}).file(2, nil)},
		{"slash in name", "bad entry name", head(3).u(2).dir(1, e{"a/b", 2}).file(2, nil)},
		{"NUL in name", "bad entry name", head(3).u(2).dir(1, e{"a\x00b", 2}).file(2, nil)},
		{"duplicate name", "after", head(4).u(3).dir(1, e{"a", 2}, e{"a", 3}).file(2, nil).file(3, nil)},
		{"unsorted names", "after", head(4).u(3).dir(1, e{"b", 2}, e{"a", 3}).file(2, nil).file(3, nil)},
		{"garbage CID", "cid", head(3).u(2).dir(1, e{"f", 2}).file(2, []byte{1, 2, 3})},
		{"CIDv0", "CIDv0", head(3).u(2).dir(1, e{"f", 2}).file(2, cidV0(t).Bytes())},
		{"dag-cbor CID", "codec", head(3).u(2).dir(1, e{"f", 2}).file(2, cbor)},
		{"blake2b CID", "sha2-256", head(3).u(2).dir(1, e{"f", 2}).file(2, cid.NewCidV1(cid.Raw, blake).Bytes())},
		{"truncated CID", "cid", head(3).u(2).dir(1, e{"f", 2}).file(2, good[:len(good)-1])},
		{"CID and more", "trailing bytes", head(3).u(2).dir(1, e{"f", 2}).file(2, append(slices.Clone(good), 0))},
		{"kind 0", "kind 0", head(3).u(2).dir(1, e{"x", 2}).inode(2, 0)},
		{"kind 4", "kind 4", head(3).u(2).dir(1, e{"x", 2}).inode(2, 4).s("x")},
		{"mode bits", "permission bits", head(2).u(1).u(1).raw(byte(KindDir)).u(uint64(0o1755)).u(0).u(0).u(0).u(0)},
		{"directory mode", "permission bits", head(2).u(1).u(1).raw(byte(KindDir)).u(uint64(1<<31 | 0o755)).u(0).u(0).u(0).u(0)},
		{"uid KeepID", "owner", head(2).u(1).owned(1, KindDir, uint64(KeepID), 0).u(0)},
		{"gid KeepID", "owner", head(2).u(1).owned(1, KindDir, 0, uint64(KeepID)).u(0)},
		{"uid past 32 bits", "owner", head(2).u(1).owned(1, KindDir, 1<<32, 0).u(0)},
		{"gid past 32 bits", "owner", head(3).u(2).dir(1, e{"f", 2}).owned(2, KindFile, 0, 1<<40).u(0).u(0).s("")},
		{"version 1 with owners", "truncated", headV1(2).u(1).inode(1, KindDir).u(0)},
		{"version 1 truncated", "truncated", headV1(3).u(2).inodeV1(1, KindDir).u(1).s("f").u(2).inodeV1(2, KindFile).u(0).u(0)},
		{"empty symlink target", "empty symbolic link", head(3).u(2).dir(1, e{"l", 2}).link(2, "")},
		{"symlink with file fields", "trailing", head(3).u(2).dir(1, e{"l", 2}).inode(2, KindSymlink).u(3).u(3).s(string(good))},
		{"file with entries", "truncated", head(3).u(2).dir(1, e{"f", 2}).inode(2, KindFile).u(1).s("x").u(3)},
		{"directory with file fields", "truncated", head(3).u(2).dir(1, e{"d", 2}).inode(2, KindDir).u(3).u(3).s(string(good))},
		{"empty peer", "empty peer", head(2, "").u(1).dir(1)},
		{"duplicate peer", "after", head(2, "p", "p").u(1).dir(1)},
		{"unsorted peers", "after", head(2, "q", "p").u(1).dir(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := UnmarshalState(tc.b)
			if !errors.Is(err, ErrBadSnapshot) || s != nil || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("got %v, %v; want ErrBadSnapshot for %q", s, err, tc.why)
			}
		})
	}
}

// TestUnmarshalStateVersion1 reads a snapshot written before inodes had
// owners, as old repos and the mesh hold them: every inode is owned by
// 0:0, and the state goes on like any other.
func TestUnmarshalStateVersion1(t *testing.T) {
	c := testCID(t, "x").Bytes()
	b := headV1(5).u(4).
		inodeV1(1, KindDir).u(2).s("d").u(2).s("f").u(3).
		inodeV1(2, KindDir).u(1).s("l").u(4).
		inodeV1(3, KindFile).u(3).u(3).s(string(c)).
		inodeV1(4, KindSymlink).s("../f")
	s, err := UnmarshalState(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/d", "/f", "/d/l"} {
		if n, err := s.Stat(p); err != nil || n.Uid != 0 || n.Gid != 0 || n.Perm != 0o755 || n.Mtime != 7 {
			t.Fatalf("%s: %+v %v", p, n, err)
		}
	}
	// It writes as version 1 again, byte for byte, and as version 2.
	if v1, err := s.marshal(snapshotNoOwners); err != nil || !bytes.Equal(v1, b) {
		t.Fatalf("version 1 again: %x, %v; want %x", v1, err, []byte(b))
	}
	v2, err := s.MarshalBinary()
	if err != nil || v2[len(snapshotMagic)] != snapshotVersion {
		t.Fatalf("MarshalBinary: %x %v", v2, err)
	}
	s2, err := UnmarshalState(v2)
	if err != nil || !equalStates(s, s2) {
		t.Fatalf("version 2: %v", err)
	}
	if err := s.Apply(Chown{Path: "/d/l", Uid: 1000, Gid: KeepID}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Stat("/d/l"); n.Uid != 1000 || n.Gid != 0 {
		t.Fatalf("after chown: %+v", n)
	}
	// Version 1 cannot hold that owner.
	if _, err := s.marshal(snapshotNoOwners); err == nil {
		t.Fatal("version 1 wrote an owner it has no room for")
	}
}

// TestSnapshotOwners: owners survive a snapshot.
func TestSnapshotOwners(t *testing.T) {
	s := New()
	for _, op := range []Op{
		Mkdir{Path: "/home/u", Perm: 0o700, Uid: 1000, Gid: 1000, Parents: true},
		Create{Path: "/home/u/f", Perm: 0o600, Uid: 1000, Gid: 100},
		Symlink{Path: "/home/u/l", Target: "f", Uid: 65534, Gid: 65534},
		Touch{Path: "/t", Uid: KeepID - 1, Gid: 7},
		Chown{Path: "/", Uid: 5, Gid: KeepID},
	} {
		if err := s.Apply(op); err != nil {
			t.Fatalf("%#v: %v", op, err)
		}
	}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalState(b)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string][2]uint32{"/": {5, 0}, "/home": {1000, 1000}, "/home/u": {1000, 1000},
		"/home/u/f": {1000, 100}, "/home/u/l": {65534, 65534}, "/t": {KeepID - 1, 7}} {
		if n, err := got.Stat(p); err != nil || n.Uid != want[0] || n.Gid != want[1] {
			t.Errorf("%s: %+v %v, want owner %d:%d", p, n, err, want[0], want[1])
		}
	}
}

func FuzzUnmarshalState(f *testing.F) {
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, seed))
		b, err := randomState(r, int(seed)*40).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(head(5, AnyPeer).u(4).dir(1, e{"d", 2}, e{"f", 3}).dir(2, e{"l", 4}).file(3, opCID(1).Bytes()).link(4, "../f")))
	f.Add([]byte(headV1(3).u(2).inodeV1(1, KindDir).u(1).s("f").u(2).inodeV1(2, KindFile).u(0).u(0).s("")))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := UnmarshalState(b)
		if err != nil {
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("error %v is not ErrBadSnapshot", err)
			}
			return
		}
		// A snapshot has one form in its version: what decodes re-encodes
		// in that version to the same bytes; in the current version, to
		// bytes that decode to an equal state.
		same, err := s.marshal(b[len(snapshotMagic)])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(same, b) {
			t.Fatalf("%x re-encodes as %x", b, same)
		}
		again, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		s2, err := UnmarshalState(again)
		if err != nil || !equalStates(s, s2) {
			t.Fatalf("re-encoded snapshot: %v", err)
		}
		// The state works: it renders, takes operations and renders
		// incrementally as from scratch.
		put := func(content.Block) error { return nil }
		if _, err := s.Render(put); err != nil {
			t.Fatal(err)
		}
		es, _ := s.ReadDir("/")
		for _, en := range es[:min(len(es), 2)] {
			_ = s.Apply(Rename{From: "/" + en.Name, To: "/moved"})
			_ = s.Apply(Mkdir{Path: "/moved/x/y", Parents: true})
			_ = s.Apply(Create{Path: "/moved/f", CID: opCID(2)})
		}
		got, err := s.Render(put)
		if err != nil {
			t.Fatal(err)
		}
		if want := renderRoot(t, s); !got.Equals(want) {
			t.Fatalf("incremental render %s, from scratch %s", got, want)
		}
	})
}
