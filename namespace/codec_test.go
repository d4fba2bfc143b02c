package namespace

import (
	"errors"
	"reflect"
	"testing"
)

func TestOpRoundTrip(t *testing.T) {
	c := testCID(t, "content")
	for _, op := range []Op{
		Mkdir{Path: "/a/b", Perm: 0o750, Mtime: 1, Parents: true},
		Mkdir{Path: "/u", Perm: 0o700, Uid: 1000, Gid: 100, Mtime: 1},
		Create{Path: "/f", Perm: 0o644, Mtime: 2, CID: c, Size: 7, Tsize: 7, Exclusive: true},
		Create{Path: "/g", Perm: 0o600, Uid: 65534, Gid: 65534},
		Create{Path: "/empty", Perm: 0o600},
		SetContent{Path: "/f", CID: c, Size: 7, Tsize: 7, Mtime: 3},
		SetContent{Path: "/f", CID: c, Size: 7, Tsize: 7, Mtime: 3, Prev: testCID(t, "before")},
		SetContent{Path: "/f", Prev: c},
		SetContent{Path: "/f", CID: c, Size: 7, IfEmpty: true},
		Rename{From: "/f", To: "/g", Mtime: 4, NoReplace: true},
		Unlink{Path: "/g", Mtime: 5},
		Rmdir{Path: "/a", Mtime: 6, Recursive: true},
		Symlink{Path: "/l", Target: "../x", Mtime: 7},
		Symlink{Path: "/m", Target: "x", Uid: 1, Gid: 2, Mtime: 7},
		Chmod{Path: "/l", Perm: 0o700},
		Chown{Path: "/l", Uid: 1000, Gid: 1000},
		Chown{Path: "/l", Uid: KeepID, Gid: 0},
		Chown{Path: "/l", Uid: 0, Gid: KeepID},
		Touch{Path: "/t", Mtime: 8},
		Touch{Path: "/t", Uid: 7, Gid: 8, Mtime: 8},
		Touch{Path: "/t", Mtime: 9, NoCreate: true},
		Allow{Peer: "12D3KooWGRUVh7bQkqpVN5v1Ys9tqfw7TL1v4ks5hRaJuTsy5kRx"},
		Allow{Peer: AnyPeer},
		Deny{Peer: "12D3KooWGRUVh7bQkqpVN5v1Ys9tqfw7TL1v4ks5hRaJuTsy5kRx"},
	} {
		b, err := EncodeOp(op)
		if err != nil {
			t.Fatalf("%#v: %v", op, err)
		}
		got, err := DecodeOp(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(got, op) {
			t.Errorf("%s decoded to %#v, want %#v", b, got, op)
		}
	}
}

func TestDecodeOpRefuses(t *testing.T) {
	for _, b := range []string{
		``, `{}`, `{"op":"frob"}`, `{"op":"mkdir","path":"/a","extra":1}`,
		`{"op":"create","path":"/f","cid":"nope"}`, `{"op":"mkdir","path":"/a"} {}`,
		`{"op":"chmod","path":"/a","perm":2147484141}`, `[1,2]`,
		`{"op":"write","path":"/f","prev":"nope"}`, `{"op":"allow","peer":1}`,
		`{"op":"write","path":"/f","prev":"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n"}`,
		`{"op":"chown","path":"/f","uid":4294967296}`, `{"op":"mkdir","path":"/a","gid":-1}`,
		`{"op":"chown","path":"/f","uid":"0"}`,
	} {
		if _, err := DecodeOp([]byte(b)); !errors.Is(err, ErrBadOp) {
			t.Errorf("%q: %v, want ErrBadOp", b, err)
		}
	}
}

// TestDecodeOpBeforeOwners: operations logged before inodes had owners
// (no uid or gid fields) still decode, and make inodes owned by root.
func TestDecodeOpBeforeOwners(t *testing.T) {
	s := New()
	for _, b := range []string{
		`{"op":"mkdir","path":"/d","perm":493,"mtime":1,"parents":true}`,
		`{"op":"create","path":"/d/f","perm":420,"mtime":2}`,
		`{"op":"symlink","path":"/d/l","target":"f","mtime":3}`,
		`{"op":"touch","path":"/d/t","mtime":4}`,
	} {
		op, err := DecodeOp([]byte(b))
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if err := s.Apply(op); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
	for _, p := range []string{"/d", "/d/f", "/d/l", "/d/t"} {
		if n, err := s.Stat(p); err != nil || n.Uid != 0 || n.Gid != 0 {
			t.Errorf("%s: %+v %v, want owner 0:0", p, n, err)
		}
	}
}

func FuzzDecodeOp(f *testing.F) {
	for _, s := range []string{
		`{"op":"mkdir","path":"/a/b","perm":493,"parents":true}`,
		`{"op":"create","path":"/f","cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","size":0}`,
		`{"op":"rename","path":"/a","to":"/b","noreplace":true}`,
		`{"op":"symlink","path":"/l","target":"x"}`,
		`{"op":"write","path":"/f","cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","prev":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}`,
		`{"op":"write","path":"/f","ifempty":true}`,
		`{"op":"allow","peer":"*"}`,
		`{"op":"deny","peer":"12D3KooWGRUVh7bQkqpVN5v1Ys9tqfw7TL1v4ks5hRaJuTsy5kRx"}`,
		`{"op":"chown","path":"/f","uid":1000,"gid":4294967295}`,
		`{"op":"create","path":"/a/b/g","uid":1000,"gid":1000}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := DecodeOp(b)
		if err != nil {
			if !errors.Is(err, ErrBadOp) {
				t.Fatalf("error %v is not ErrBadOp", err)
			}
			return
		}
		// What decodes re-encodes to an operation that decodes the same,
		// and applies to a tree without panicking.
		again, err := EncodeOp(op)
		if err != nil {
			t.Fatal(err)
		}
		op2, err := DecodeOp(again)
		if err != nil || !reflect.DeepEqual(op, op2) {
			t.Fatalf("%s → %#v → %s → %#v, %v", b, op, again, op2, err)
		}
		s := New()
		_ = s.Apply(Mkdir{Path: "/a/b", Parents: true})
		_ = s.Apply(Create{Path: "/f"})
		_ = s.Apply(op)
	})
}
