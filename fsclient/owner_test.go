//go:build unix

package fsclient_test

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"meshfs/fsclient"
)

// owner returns the uid and gid the daemon reports for name (a link
// itself).
func owner(t *testing.T, c *fsclient.Client, name string) (uint32, uint32) {
	t.Helper()
	info, err := c.Lstat(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	i := info.Sys().(*fsclient.Info)
	return i.Uid, i.Gid
}

func TestOwners(t *testing.T) {
	t.Parallel()
	c, other := client(t, 0), client(t, 1)
	ctx := t.Context()
	dir := testDir(t, c)
	u := c.As(1000, 100)

	// Every way of making an inode makes it the client's.
	steps := []struct {
		name string
		make func() error
	}{
		{"/d", func() error { return u.Mkdir(ctx, dir+"/d", 0o755) }},
		{"/p/q", func() error { return u.MkdirAll(ctx, dir+"/p/q", 0o755) }},
		{"/p", nil},
		{"/w/x/f", func() error {
			_, err := u.Write(ctx, dir+"/w/x/f", strings.NewReader("x"), fsclient.WriteOptions{Parents: true})
			return err
		}},
		{"/w/x", nil},
		{"/wf", func() error { return u.WriteFile(ctx, dir+"/wf", []byte("y"), 0o600) }},
		{"/created", func() error {
			f, err := u.OpenFile(ctx, dir+"/created", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err == nil {
				_, err = f.Write([]byte("z"))
				err = errors.Join(err, f.Close())
			}
			return err
		}},
		{"/l", func() error { return u.Symlink(ctx, "wf", dir+"/l") }},
		{"/t", func() error { return u.Touch(ctx, dir+"/t", time.Time{}) }},
	}
	for _, s := range steps {
		if s.make != nil {
			if err := s.make(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		if uid, gid := owner(t, other, dir+s.name); uid != 1000 || gid != 100 {
			t.Errorf("%s: owner %d:%d, want 1000:100", s.name, uid, gid)
		}
	}
	// A client not made by As leaves it to the daemon: root. Writing a file
	// another owns keeps its owner.
	if err := c.WriteFile(ctx, dir+"/root", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile(ctx, dir+"/wf", []byte("again"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][2]uint32{"/root": {0, 0}, "/wf": {1000, 100}, dir: {0, 0}} {
		if !strings.HasPrefix(name, dir) {
			name = dir + name
		}
		if uid, gid := owner(t, other, name); uid != want[0] || gid != want[1] {
			t.Errorf("%s: owner %d:%d, want %d:%d", name, uid, gid, want[0], want[1])
		}
	}

	// Chown follows links, Lchown does not; -1 leaves one as it is.
	if err := c.Chown(ctx, dir+"/l", 7, -1); err != nil {
		t.Fatal(err)
	}
	if uid, gid := owner(t, other, dir+"/wf"); uid != 7 || gid != 100 {
		t.Errorf("after Chown through the link: %d:%d, want 7:100", uid, gid)
	}
	if uid, gid := owner(t, other, dir+"/l"); uid != 1000 || gid != 100 {
		t.Errorf("the link after Chown: %d:%d, want 1000:100", uid, gid)
	}
	if err := c.Lchown(ctx, dir+"/l", -1, 8); err != nil {
		t.Fatal(err)
	}
	if uid, gid := owner(t, other, dir+"/l"); uid != 1000 || gid != 8 {
		t.Errorf("after Lchown: %d:%d, want 1000:8", uid, gid)
	}
	if err := c.Chown(ctx, dir+"/nothing", 1, 1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Chown of nothing: %v", err)
	}
	for _, id := range []int{-2, 1 << 32, 1<<32 - 1} {
		if err := c.Chown(ctx, dir+"/wf", id, -1); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Chown to uid %d: %v, want fs.ErrInvalid", id, err)
		}
	}
}

// TestLchtimes: Lchtimes sets a link's own time, Chtimes its target's.
func TestLchtimes(t *testing.T) {
	t.Parallel()
	c := client(t, 0)
	ctx := t.Context()
	dir := testDir(t, c)
	if err := c.WriteFile(ctx, dir+"/f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Symlink(ctx, "f", dir+"/l"); err != nil {
		t.Fatal(err)
	}
	linkTime := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	fileTime := time.Date(2002, 2, 2, 0, 0, 0, 0, time.UTC)
	if err := c.Lchtimes(ctx, dir+"/l", time.Time{}, linkTime); err != nil {
		t.Fatal(err)
	}
	if err := c.Chtimes(ctx, dir+"/l", time.Time{}, fileTime); err != nil {
		t.Fatal(err)
	}
	if info, err := c.Lstat(ctx, dir+"/l"); err != nil || !info.ModTime().Equal(linkTime) {
		t.Errorf("the link: %v, %v; want %v", info, err, linkTime)
	}
	if info, err := c.Stat(ctx, dir+"/l"); err != nil || !info.ModTime().Equal(fileTime) {
		t.Errorf("the file: %v, %v; want %v", info, err, fileTime)
	}
	if err := c.Lchtimes(ctx, dir+"/nothing", time.Time{}, linkTime); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lchtimes of nothing: %v, want fs.ErrNotExist", err)
	}
}
