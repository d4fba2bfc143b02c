//go:build unix

package fsclient_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"meshfs/fsclient"
	"meshfs/internal/fixture"
)

// TestFS builds a tree through one peer and runs fstest.TestFS over
// another's view of it.
func TestFS(t *testing.T) {
	t.Parallel()
	w := client(t, 0)
	ctx := t.Context()
	dir := testDir(t, w)
	files := map[string][]byte{
		"hello.txt":             []byte("hello, world\n"),
		"empty":                 nil,
		"a/b/c.txt":             []byte("c"),
		"a/b/d/deep.bin":        fixture.Bytes(5000),
		"a/big.bin":             fixture.Bytes(300<<10 + 1),
		"space name/x y.txt":    []byte("spaces"),
		"a/b/d/e/f/g/leaf.json": []byte(`{"leaf": true}`),
	}
	for name, data := range files {
		p := dir + "/" + name
		if err := w.MkdirAll(ctx, path.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteFile(ctx, p, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Mkdir(ctx, dir+"/emptydir", 0o700); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"link-to-file": "hello.txt",
		"a/up":         "../hello.txt",
		"a/to-dir":     "b/d",
		"abs":          dir + "/a/b/c.txt",
	}
	for name, target := range links {
		if err := w.Symlink(ctx, target, dir+"/"+name); err != nil {
			t.Fatal(err)
		}
	}
	expected := []string{"emptydir", "link-to-file", "a/up", "a/to-dir", "abs"}
	for name := range files {
		expected = append(expected, name)
	}
	fsys, err := fs.Sub(client(t, 1).FS(ctx), strings.TrimPrefix(dir, "/"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(fsys, expected...); err != nil {
		t.Fatal(err)
	}
	// Through links, on the way and at the end.
	for name, want := range map[string][]byte{
		"link-to-file": files["hello.txt"], "a/up": files["hello.txt"], "abs": files["a/b/c.txt"],
		"a/to-dir/deep.bin": files["a/b/d/deep.bin"], "a/to-dir/e/f/g/leaf.json": files["a/b/d/e/f/g/leaf.json"],
	} {
		got, err := fs.ReadFile(fsys, name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadFile %s: %q, %v", name, got, err)
		}
	}
	if entries, err := fs.ReadDir(fsys, "a/to-dir/e"); err != nil || len(entries) != 1 || entries[0].Name() != "f" {
		t.Errorf("ReadDir through a link: %v, %v", entries, err)
	}
	if info, err := fs.Lstat(fsys, "a/to-dir"); err != nil || info.Mode().Type() != fs.ModeSymlink {
		t.Errorf("Lstat of a link: %v, %v", info, err)
	}
	if target, err := fs.ReadLink(fsys, "a/up"); err != nil || target != "../hello.txt" {
		t.Errorf("ReadLink: %q, %v", target, err)
	}
	for _, bad := range []string{"/hello.txt", "a/../hello.txt", "a/", ""} {
		if _, err := fsys.Open(bad); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q): %v, want fs.ErrInvalid", bad, err)
		}
	}
}

func TestSymlinks(t *testing.T) {
	t.Parallel()
	c := client(t, 2)
	ctx := t.Context()
	dir := testDir(t, c)
	if err := c.Symlink(ctx, "target.txt", dir+"/dangling"); err != nil {
		t.Fatal(err)
	}
	// O_CREATE through a dangling link makes its target, as POSIX does.
	f, err := c.OpenFile(ctx, dir+"/dangling", os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("via the link")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := client(t, 0).ReadFile(ctx, dir+"/target.txt"); err != nil || string(b) != "via the link" {
		t.Errorf("the link's target: %q, %v", b, err)
	}
	// WriteFile, Truncate and Chmod follow links; Lstat does not.
	if err := c.WriteFile(ctx, dir+"/dangling", []byte("rewritten"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Truncate(ctx, dir+"/dangling", 4); err != nil {
		t.Fatal(err)
	}
	if err := c.Chmod(ctx, dir+"/dangling", 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := c.Stat(ctx, dir+"/target.txt")
	if b, _ := c.ReadFile(ctx, dir+"/target.txt"); string(b) != "rewr" || err != nil || info.Mode() != 0o600 {
		t.Errorf("after writes through the link: %q, %v, %v", b, info, err)
	}
	if info, err := c.Lstat(ctx, dir+"/dangling"); err != nil || info.Mode().Type() != fs.ModeSymlink || info.Name() != "dangling" {
		t.Errorf("Lstat: %v, %v", info, err)
	}
	if info, err := c.Stat(ctx, dir+"/dangling"); err != nil || info.Mode().Type() != 0 || info.Size() != 4 || info.Name() != "dangling" {
		t.Errorf("Stat: %v, %v", info, err)
	}
	// A loop ends.
	c.Symlink(ctx, "loop2", dir+"/loop1")
	c.Symlink(ctx, "loop1", dir+"/loop2")
	if _, err := c.Stat(ctx, dir+"/loop1"); !errors.Is(err, fsclient.ErrSymlinkLoop) {
		t.Errorf("Stat of a loop: %v", err)
	}
}

func TestTreeChanges(t *testing.T) {
	t.Parallel()
	c, other := client(t, 0), client(t, 1)
	ctx := t.Context()
	dir := testDir(t, c)

	if err := c.MkdirAll(ctx, dir+"/x/y/z", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := c.MkdirAll(ctx, dir+"/x/y/z", 0o700); err != nil {
		t.Errorf("MkdirAll of an existing directory: %v", err)
	}
	if info, err := other.Stat(ctx, dir+"/x/y"); err != nil || !info.IsDir() || info.Mode() != fs.ModeDir|0o700 {
		t.Errorf("Stat of a made directory: %v, %v", info, err)
	}
	// Write: whole, at an offset, appended, with parents.
	writes := []struct {
		opts fsclient.WriteOptions
		data string
		want string
	}{
		{fsclient.WriteOptions{Parents: true}, "hello world", "hello world"},
		{fsclient.WriteOptions{At: true, Offset: 6}, "WORLD", "hello WORLD"},
		{fsclient.WriteOptions{Append: true}, "!", "hello WORLD!"},
		{fsclient.WriteOptions{At: true, Offset: 14}, "?", "hello WORLD!\x00\x00?"},
		{fsclient.WriteOptions{NoCreate: true}, "replaced", "replaced"},
	}
	name := dir + "/new/dir/file"
	for _, w := range writes {
		cm, err := c.Write(ctx, name, strings.NewReader(w.data), w.opts)
		if err != nil {
			t.Fatalf("Write %+v: %v", w.opts, err)
		}
		if cm.Size != uint64(len(w.want)) || cm.CID == "" || cm.Index == 0 {
			t.Errorf("Write %+v: commit %+v", w.opts, cm)
		}
		if b, err := other.ReadFile(ctx, name); err != nil || string(b) != w.want {
			t.Errorf("after Write %+v: %q, %v", w.opts, b, err)
		}
	}
	if _, err := c.Write(ctx, name, nil, fsclient.WriteOptions{At: true, Append: true}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("At and Append: %v", err)
	}

	// Rename, Chtimes, Touch, Remove.
	if err := c.Rename(ctx, dir+"/new", dir+"/moved"); err != nil {
		t.Fatal(err)
	}
	if b, err := other.ReadFile(ctx, dir+"/moved/dir/file"); err != nil || string(b) != "replaced" {
		t.Errorf("after Rename: %q, %v", b, err)
	}
	var le *os.LinkError
	if err := c.Rename(ctx, dir+"/new", dir+"/x"); !errors.As(err, &le) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rename of nothing: %#v", err)
	}
	when := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	if err := c.Chtimes(ctx, dir+"/moved/dir/file", time.Time{}, when); err != nil {
		t.Fatal(err)
	}
	if info, err := other.Stat(ctx, dir+"/moved/dir/file"); err != nil || !info.ModTime().Equal(when) {
		t.Errorf("after Chtimes: %v, %v", info, err)
	}
	if err := c.Touch(ctx, dir+"/touched", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if info, err := other.Stat(ctx, dir+"/touched"); err != nil || info.Size() != 0 || time.Since(info.ModTime()) > time.Minute {
		t.Errorf("after Touch: %v, %v", info, err)
	}
	if err := c.Remove(ctx, dir+"/touched"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Stat(ctx, dir+"/touched"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Remove: %v", err)
	}
	entries, err := other.ReadDir(ctx, dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if err != nil || strings.Join(names, ",") != "moved,x" {
		t.Errorf("ReadDir: %v, %v", names, err)
	}
	info, err := other.Stat(ctx, dir+"/moved/dir/file")
	if err != nil {
		t.Fatal(err)
	}
	if sys, ok := info.Sys().(*fsclient.Info); !ok || sys.Kind != "file" || sys.CID == "" || sys.Path != dir+"/moved/dir/file" {
		t.Errorf("Sys() = %#v", info.Sys())
	}
}

func TestRootAndWriter(t *testing.T) {
	t.Parallel()
	c := client(t, 1)
	ctx := t.Context()
	w, err := c.Writer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if w.Writer == "" || w.Term == 0 || len(w.Voters) != 3 || !w.Voter || w.Self != mesh.peers[1].ID {
		t.Errorf("Writer: %+v", w)
	}
	r, err := c.Root(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.CID, "baf") || r.Term == 0 || r.Index == 0 || r.Writer == "" {
		t.Errorf("Root: %+v", r)
	}
	// Access: allowing and denying a peer are changes like any other.
	if err := c.Allow(ctx, "*"); err != nil {
		t.Fatal(err)
	}
	if err := c.Deny(ctx, "*"); err != nil {
		t.Fatal(err)
	}
	if err := c.Allow(ctx, ""); err == nil {
		t.Error("Allow of no peer")
	}
}

func TestRenameNoReplace(t *testing.T) {
	t.Parallel()
	c := client(t, 0)
	ctx := t.Context()
	dir := testDir(t, c)
	for _, f := range []string{"/a", "/b"} {
		if err := c.WriteFile(ctx, dir+f, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RenameNoReplace(ctx, dir+"/a", dir+"/b"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("no-replace rename onto a file: %v, want fs.ErrExist", err)
	}
	if b, err := c.ReadFile(ctx, dir+"/b"); err != nil || string(b) != "/b" {
		t.Fatalf("the target after a refused rename: %q %v", b, err)
	}
	if err := c.RenameNoReplace(ctx, dir+"/a", dir+"/c"); err != nil {
		t.Fatalf("no-replace rename to a free name: %v", err)
	}
	if b, err := c.ReadFile(ctx, dir+"/c"); err != nil || string(b) != "/a" {
		t.Fatalf("after the rename: %q %v", b, err)
	}
}
