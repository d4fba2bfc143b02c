package content

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func TestResolvePath(t *testing.T) {
	ctx := context.Background()
	st := NewMemStore()
	tree := fstest.MapFS{"a/b/c.txt": {Data: []byte("hello")}, "a/d.txt": {Data: []byte("d")}}
	root, _, err := ImportTree(ctx, tree, ".", st, TreeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want error
	}{
		{root.String() + "/a/b/c.txt", nil},
		{"/ipfs/" + root.String() + "/a/d.txt", nil},
		{root.String(), nil},
		{root.String() + "/a/nope", fs.ErrNotExist},
		{root.String() + "/a/d.txt/x", ErrNotDirectory},
		{root.String() + "/a/../a", ErrInvalidOption},
		{"notacid/a", ErrUnsupportedCID},
	} {
		c, names, err := ParseIPFSPath(tc.path)
		if err == nil {
			_, err = ResolvePath(ctx, st, c, names)
		}
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: %v, want %v", tc.path, err, tc.want)
		}
	}
}

func FuzzParseIPFSPath(f *testing.F) {
	f.Add("/ipfs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku/a/b")
	f.Add("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku//x/")
	f.Fuzz(func(t *testing.T, s string) {
		c, names, err := ParseIPFSPath(s)
		if err != nil {
			return
		}
		if !c.Defined() {
			t.Fatal("no CID")
		}
		for _, n := range names {
			if n == "" || n == "." || n == ".." || strings.Contains(n, "/") {
				t.Fatalf("%q gave the name %q", s, n)
			}
		}
	})
}

// TestResolvePathInHAMT: names in a sharded directory resolve through
// the shards on their way only; a missing name is fs.ErrNotExist.
func TestResolvePathInHAMT(t *testing.T) {
	ctx := context.Background()
	st := NewMemStore()
	var entries []DirEntry
	want := map[string]Block{}
	for i := range 600 {
		b, err := NewRawBlock([]byte(strings.Repeat("x", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
		name := "file-" + strings.Repeat("n", i%7) + string(rune('a'+i%26)) + strings.Repeat("z", i/26)
		entries = append(entries, DirEntry{Name: name, CID: b.CID(), Tsize: uint64(b.Size())})
		want[name] = b
	}
	root, blocks, err := BuildDirectory(entries, DirOptions{ShardingThreshold: 1, Fanout: 16})
	if err != nil || !root.Sharded {
		t.Fatalf("build: sharded %v, %v", root.Sharded, err)
	}
	for _, b := range blocks {
		if err := st.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range want {
		got, err := ResolvePath(ctx, st, root.CID, []string{name})
		if err != nil || !got.Equals(b.CID()) {
			t.Fatalf("%s: %s %v, want %s", name, got, err, b.CID())
		}
	}
	if _, err := ResolvePath(ctx, st, root.CID, []string{"no-such-name"}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing name: %v, want fs.ErrNotExist", err)
	}
}
