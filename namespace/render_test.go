package namespace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/internal/testrand"
)

// TestRenderMatchesImportTree builds the same tree twice, once with the
// content layer's ImportTree over an fs.FS (whose CIDs are Kubo's) and once
// as namespace operations, and expects the same root CID.
func TestRenderMatchesImportTree(t *testing.T) {
	ctx := context.Background()
	r := testrand.New(t)
	fsys := fstest.MapFS{
		"empty":          {Data: nil, Mode: 0o644},
		"small.txt":      {Data: []byte("hello\n"), Mode: 0o644},
		"big.bin":        {Data: testrand.Bytes(r, 3<<20+17), Mode: 0o644},
		"a/b/c/deep.txt": {Data: []byte("deep"), Mode: 0o644},
		"a/link":         {Data: []byte("b/c/deep.txt"), Mode: fs.ModeSymlink | 0o777},
		"emptydir":       {Mode: fs.ModeDir | 0o755},
	}
	// A folder big enough to be a HAMT.
	for i := range 2000 { // 2000 × (100 + 36) bytes > 256 KiB
		fsys[fmt.Sprintf("many/%0100d", i)] = &fstest.MapFile{Data: []byte{byte(i)}, Mode: 0o644}
	}
	store := content.NewMemStore()
	want, _, err := content.ImportTree(ctx, fsys, ".", store, content.TreeOptions{})
	if err != nil {
		t.Fatal(err)
	}

	s := New()
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		abs := "/" + p
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return s.Apply(Mkdir{Path: abs, Perm: 0o755})
		case info.Mode()&fs.ModeSymlink != 0:
			return s.Apply(Symlink{Path: abs, Target: string(fsys[p].Data)})
		}
		root, err := content.Import(ctx, bytes.NewReader(fsys[p].Data), store, content.ImportOptions{})
		if err != nil {
			return err
		}
		return s.Apply(Create{Path: abs, Perm: 0o644, CID: root.CID, Size: root.FileSize, Tsize: root.Tsize})
	})
	if err != nil {
		t.Fatal(err)
	}
	rendered := content.NewMemStore()
	got, err := s.Render(func(b content.Block) error { return rendered.Put(ctx, b) })
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equals(want) {
		t.Fatalf("rendered root %s, ImportTree gives %s", got, want)
	}
	// The rendered directories are readable as UnixFS, HAMT included.
	entries, err := content.ReadDirectory(ctx, rendered, got)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 6 {
		t.Errorf("root lists %d entries", len(entries))
	}
	for _, e := range entries {
		if e.Name == "many" {
			many, err := content.ReadDirectory(ctx, rendered, e.CID)
			if err != nil || len(many) != 2000 {
				t.Errorf("many/: %d entries, %v", len(many), err)
			}
		}
	}
	// A change changes the root; undoing it gives the same root back.
	if err := s.Apply(Rename{From: "/small.txt", To: "/a/small.txt"}); err != nil {
		t.Fatal(err)
	}
	moved, _ := s.Render(func(content.Block) error { return nil })
	if moved.Equals(got) {
		t.Error("a rename left the root CID unchanged")
	}
	if err := s.Apply(Rename{From: "/a/small.txt", To: "/small.txt"}); err != nil {
		t.Fatal(err)
	}
	if back, _ := s.Render(func(content.Block) error { return nil }); !back.Equals(got) {
		t.Errorf("undoing the rename gives %s, not %s", back, got)
	}
}

// TestRenderIncrementalMatchesFresh renders after every random operation
// and expects the root a from-scratch render gives, and that every block
// of that render was handed to put by some incremental Render.
func TestRenderIncrementalMatchesFresh(t *testing.T) {
	r := testrand.New(t)
	for run := range 30 {
		s := New()
		have := map[cid.Cid]bool{}
		var log []string
		for range 80 {
			op := randomOp(r)
			log = append(log, fmt.Sprintf("%#v -> %v", op, s.Apply(op)))
			got, err := s.Render(func(b content.Block) error { have[b.CID()] = true; return nil })
			if err != nil {
				t.Fatal(err)
			}
			want, err := s.Clone().Render(func(b content.Block) error {
				if !have[b.CID()] {
					return fmt.Errorf("block %s was never put", b.CID())
				}
				return nil
			})
			if err != nil || !got.Equals(want) {
				t.Fatalf("run %d: incremental root %s, from scratch %s, %v\n%s", run, got, want, err, strings.Join(log, "\n"))
			}
			for ino := range s.rendered.nodes {
				if _, ok := s.inodes[ino]; !ok {
					t.Fatalf("run %d: the render cache keeps removed inode %d\n%s", run, ino, strings.Join(log, "\n"))
				}
			}
		}
	}
}

// TestRenderReencodesOnlyChangedPaths builds a tree with siblings at every
// level, renders it, applies one operation and counts the blocks the next
// Render puts: the directories above what changed, and nothing else.
func TestRenderReencodesOnlyChangedPaths(t *testing.T) {
	c1, c2 := testCID(t, "one"), testCID(t, "two")
	base := []Op{
		Mkdir{Path: "/a/b/c/d/e", Perm: 0o755, Parents: true},
		Mkdir{Path: "/a/x/y", Perm: 0o755, Parents: true},
		Symlink{Path: "/a/b/link", Target: "c"},
	}
	for _, d := range []string{"/", "/a", "/a/b", "/a/b/c", "/a/b/c/d", "/a/b/c/d/e"} {
		for _, name := range []string{"f", "g"} {
			base = append(base, Create{Path: joinPath(d, name), Perm: 0o644, CID: c1, Size: 3, Tsize: 3})
		}
	}
	for _, tc := range []struct {
		name string
		op   Op
		puts int
	}{
		{"nothing", Allow{Peer: "p"}, 0},
		{"deep write", SetContent{Path: "/a/b/c/d/e/f", CID: c2, Size: 3, Tsize: 3}, 6},
		{"shallow write", SetContent{Path: "/f", CID: c2, Size: 3, Tsize: 3}, 1},
		{"chmod", Chmod{Path: "/a/b/c/d/e/f", Perm: 0o600}, 0},
		{"touch", Touch{Path: "/a/b/c/f", Mtime: 9}, 0},
		{"touch creates", Touch{Path: "/a/b/c/new", Mtime: 9}, 4},
		{"rename across", Rename{From: "/a/b/c/d/e/f", To: "/a/x/y/f"}, 8},
		{"rename a directory", Rename{From: "/a/b/c", To: "/a/x/c"}, 4},
		{"rmdir -r", Rmdir{Path: "/a/b/c", Recursive: true}, 3},
		{"unlink a symlink", Unlink{Path: "/a/b/link"}, 3},
		{"new symlink", Symlink{Path: "/a/x/l", Target: "y"}, 4},
		{"mkdir -p", Mkdir{Path: "/a/x/y/z/w", Parents: true}, 6},
		{"failed write", SetContent{Path: "/a/b/c/f", CID: c2, Prev: c2}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tree(t, base...)
			if _, err := s.Render(func(content.Block) error { return nil }); err != nil {
				t.Fatal(err)
			}
			_ = s.Apply(tc.op)
			var puts []cid.Cid
			got, err := s.Render(func(b content.Block) error { puts = append(puts, b.CID()); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if len(puts) != tc.puts {
				t.Errorf("%d blocks put, want %d", len(puts), tc.puts)
			}
			if len(puts) > 0 && !puts[len(puts)-1].Equals(got) {
				t.Errorf("the root %s was not put last", got)
			}
			if want := renderRoot(t, s); !got.Equals(want) {
				t.Errorf("incremental root %s, from scratch %s", got, want)
			}
			// RenderAll puts every block again and agrees.
			all := 0
			again, err := s.RenderAll(func(content.Block) error { all++; return nil })
			if err != nil || !again.Equals(got) || all <= len(puts) {
				t.Errorf("RenderAll: %s, %d blocks, %v", again, all, err)
			}
		})
	}
}

// TestRenderRetriesAfterPutFails checks that blocks whose put failed are
// handed to put again by the next Render.
func TestRenderRetriesAfterPutFails(t *testing.T) {
	s := tree(t, Mkdir{Path: "/a/b", Perm: 0o755, Parents: true}, Symlink{Path: "/a/b/l", Target: "x"})
	failAt, n := 3, 0
	broken := errors.New("disk full")
	if _, err := s.Render(func(content.Block) error {
		if n++; n == failAt {
			return broken
		}
		return nil
	}); !errors.Is(err, broken) {
		t.Fatalf("Render: %v", err)
	}
	var puts []cid.Cid
	got, err := s.Render(func(b content.Block) error { puts = append(puts, b.CID()); return nil })
	if err != nil {
		t.Fatal(err)
	}
	// empty, link, /a/b were put; /a/b failed; so /a/b, /a and / remain.
	if len(puts) != 3 || !got.Equals(renderRoot(t, s)) {
		t.Fatalf("after a failed put, Render put %d blocks (want 3) and gave %s", len(puts), got)
	}
}
