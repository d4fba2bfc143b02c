package namespace

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"testing"
	"testing/fstest"

	"meshfs/content"
	"meshfs/internal/testrand"
)

// fileOp stores data in st and returns the Create for it at p.
func fileOp(t *testing.T, st content.BlockPutter, p string, data []byte, mtime int64) Create {
	t.Helper()
	root, err := content.Import(context.Background(), bytes.NewReader(data), st, content.ImportOptions{ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	return Create{Path: p, Perm: 0o644, Mtime: mtime, CID: root.CID, Size: root.FileSize, Tsize: root.Tsize}
}

func TestFSPassesTestFS(t *testing.T) {
	r := testrand.New(t)
	st := content.NewMemStore()
	s := tree(t,
		Mkdir{Path: "/docs/old", Perm: 0o755, Parents: true, Mtime: 1e9},
		fileOp(t, st, "/docs/a.txt", []byte("alpha\n"), 2e9),
		fileOp(t, st, "/docs/old/big.bin", testrand.Bytes(r, 100_000), 3e9),
		Create{Path: "/empty", Perm: 0o600, Mtime: 4e9},
		Mkdir{Path: "/void", Perm: 0o700},
	)
	fsys := s.FS(context.Background(), st)
	if err := fstest.TestFS(fsys, "docs/a.txt", "docs/old/big.bin", "empty", "void"); err != nil {
		t.Fatal(err)
	}
	got, err := fs.ReadFile(fsys, "docs/a.txt")
	if err != nil || string(got) != "alpha\n" {
		t.Fatalf("ReadFile: %q, %v", got, err)
	}
	// Later operations do not change a view already taken.
	if err := s.Apply(Unlink{Path: "/docs/a.txt"}); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(fsys, "docs/a.txt"); err != nil {
		t.Errorf("the view changed: %v", err)
	}
	if _, err := fs.Stat(s.FS(context.Background(), st), "docs/a.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a new view still has the file: %v", err)
	}
}

func TestFSFollowsSymlinks(t *testing.T) {
	st := content.NewMemStore()
	s := tree(t,
		Mkdir{Path: "/a/b", Parents: true, Perm: 0o755},
		fileOp(t, st, "/a/b/f", []byte("target"), 1),
		Symlink{Path: "/rel", Target: "a/b/f"},
		Symlink{Path: "/a/up", Target: "../a/b"},
		Symlink{Path: "/abs", Target: "/a/b/f"},
		Symlink{Path: "/loop", Target: "loop"},
		Symlink{Path: "/out", Target: "../../etc/passwd"},
		Symlink{Path: "/dangling", Target: "nope"},
	)
	fsys := s.FS(context.Background(), st)
	for _, name := range []string{"rel", "abs", "a/up/f"} {
		b, err := fs.ReadFile(fsys, name)
		if err != nil || string(b) != "target" {
			t.Errorf("%s: %q, %v", name, b, err)
		}
	}
	for _, name := range []string{"loop", "out", "dangling", "../x", "/abs"} {
		if f, err := fsys.Open(name); err == nil {
			f.Close()
			t.Errorf("%s opened", name)
		}
	}
	// A broken content store is an error on read, never wrong bytes.
	broken := s.FS(context.Background(), content.NewMemStore())
	f, err := broken.Open("rel")
	if err == nil {
		_, err = io.ReadAll(f)
		f.Close()
	}
	if !errors.Is(err, content.ErrNotFound) {
		t.Errorf("reading without the blocks: %v", err)
	}
}
