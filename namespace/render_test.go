package namespace

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"

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
