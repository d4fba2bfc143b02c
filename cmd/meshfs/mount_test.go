//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"meshfs/internal/fixture"
)

// lockedBuffer is a bytes.Buffer a command writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// needFUSE skips the test where it cannot mount: not Linux, no
// /dev/fuse, not root.
func needFUSE(t *testing.T) {
	t.Helper()
	switch {
	case os.Getuid() != 0:
		t.Skip("mounting without the fusermount helper needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no /dev/fuse: %v", err)
	}
}

// isMounted reports whether dir is a mount point, from /proc/self/mountinfo.
func isMounted(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("%s: not after %v", what, d)
			return false
		}
		<-tick.C
	}
	return true
}

// startMount runs `meshfs mount` on a new directory against the daemon
// at api and returns the directory once mounted. The mount ends with the
// test, failed or not: by the command's own unmount, else `umount -l`.
func startMount(t *testing.T, api string, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	// Other users reach the mount point (t.TempDir makes 0700 folders).
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errout lockedBuffer
	done := make(chan int, 1)
	// The block cache in the test's folder, not the user's cache folder.
	args := append([]string{"mount", "--api", api, "--timeout", "20s", "--cache-dir", filepath.Join(dir, "cache")}, extra...)
	go func() {
		done <- run(ctx, append(args, mnt), stdio{in: strings.NewReader(""), out: &out, errout: &errout})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("mount exit %d: %s", code, errout.String())
			}
		case <-time.After(10 * time.Second):
			t.Errorf("mount did not unmount in 10s (%s); umount -l", errout.String())
			if b, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
				t.Errorf("umount -l: %v %s", err, b)
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("mount still serving after umount -l")
			}
		}
		if isMounted(t, mnt) {
			t.Errorf("%s still mounted", mnt)
		}
	})
	ok := waitFor(t, 20*time.Second, "mount ready", func() bool {
		select {
		case code := <-done:
			done <- code
			return true
		default:
		}
		return strings.Contains(out.String(), "meshfs mounted at "+mnt)
	})
	if !ok || !isMounted(t, mnt) {
		t.Fatalf("not mounted: stdout %q, stderr %q", out.String(), errout.String())
	}
	return mnt
}

func TestMountFiles(t *testing.T) {
	needFUSE(t)
	info := startNamespaceDaemon(t)
	mnt := startMount(t, info.API)
	sizes := []int{0, 1, 300 << 10, 3 << 20}
	for _, n := range sizes {
		t.Run(fmt.Sprintf("%dB", n), func(t *testing.T) {
			p := filepath.Join(mnt, fmt.Sprintf("f%d.bin", n))
			data := fixture.Bytes(n)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, differ from the %d written", len(got), n)
			}
			st, err := os.Stat(p)
			if err != nil || st.Size() != int64(n) || st.Mode().Perm() != 0o644 {
				t.Fatalf("stat: %v %v", st, err)
			}
			// The daemon holds it: close committed it.
			code, out, errout := meshfs(t, nil, "fs", "cat", "--api", info.API, "/"+filepath.Base(p))
			if code != 0 || out != string(data) {
				t.Fatalf("fs cat: %d, %d bytes, %s", code, len(out), errout)
			}
		})
	}
}

// TestMountBlockCache reads a file of several MiB through the mount twice,
// through a proxy in front of the daemon that counts requests: the first
// read fetches its blocks from the gateway, the second is served by the
// block cache without a single fetch. A file with uncommitted changes
// reads them, not the cache.
func TestMountBlockCache(t *testing.T) {
	needFUSE(t)
	info := startNamespaceDaemon(t)
	target, err := url.Parse(info.API)
	if err != nil {
		t.Fatal(err)
	}
	var blocks, cats atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/ipfs/"):
			blocks.Add(1)
		case r.URL.Path == "/api/v0/cat":
			cats.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	data := fixture.Bytes(9<<20 + 4321)
	local := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errout := meshfs(t, nil, "fs", "put", "-q", "--api", info.API, local, "/big.bin"); code != 0 {
		t.Fatalf("fs put: %d %s", code, errout)
	}
	mnt := startMount(t, srv.URL, "--read-ahead", "4")
	p := filepath.Join(mnt, "big.bin")
	read := func(what string) (fetched int64) {
		t.Helper()
		before := blocks.Load()
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: %d bytes that differ from the %d put", what, len(got), len(data))
		}
		return blocks.Load() - before
	}
	// 9 MiB in 256 KiB leaves: at least 37 blocks and the root.
	if n := read("first read"); n < 38 {
		t.Fatalf("first read: %d block requests, want at least 38", n)
	}
	if n := read("second read"); n != 0 {
		t.Fatalf("second read: %d block requests, want 0 (from the cache)", n)
	}
	// A random read in the middle, from the cache too.
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	before := blocks.Load()
	if _, err := f.ReadAt(buf, 5<<20+17); err != nil || !bytes.Equal(buf, data[5<<20+17:][:1000]) {
		t.Fatalf("read at 5 MiB: %v", err)
	}
	f.Close()
	if n := blocks.Load() - before; n != 0 {
		t.Fatalf("random read: %d block requests, want 0", n)
	}
	if n := cats.Load(); n != 0 {
		t.Fatalf("%d requests to /api/v0/cat, want none (the cache reads)", n)
	}
	// Changes not yet committed are read from the open file.
	g, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.WriteAt([]byte("changed"), 1<<20); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 7)
	if _, err := g.ReadAt(got, 1<<20); err != nil || string(got) != "changed" {
		t.Fatalf("read of an uncommitted change: %q %v", got, err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	want := append([]byte{}, data...)
	copy(want[1<<20:], "changed")
	if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("after the commit: %v, match %v", err, bytes.Equal(b, want))
	}
}

// writeTree writes a tree of about 50 files of mixed sizes under dir.
func writeTree(t *testing.T, dir string) {
	t.Helper()
	for i := range 50 {
		sub := filepath.Join(dir, fmt.Sprintf("d%d", i%4), fmt.Sprintf("e%d", i%3))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		n := []int{0, 1, 100, 4096, 70_000, 300 << 10}[i%6] + i
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%02d", i)), fixture.Bytes(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("d0/e0/f00", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
}

// sh runs a shell command line, failing the test if it fails. It runs
// without a working directory in the mount: a child chdir'ing into a FUSE
// mount its parent serves can deadlock (see go-fuse's fs docs).
func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

func TestMountTree(t *testing.T) {
	needFUSE(t)
	info := startNamespaceDaemon(t)
	mnt := startMount(t, info.API)
	src := filepath.Join(t.TempDir(), "tree")
	writeTree(t, src)
	sh(t, fmt.Sprintf("cp -r %s %s/tree && diff -r %s %s/tree", src, mnt, src, mnt))
	// The same tree through the daemon's API.
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		want, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		code, out, errout := meshfs(t, nil, "fs", "cat", "--api", info.API, "/tree/"+rel)
		if code != 0 || out != string(want) {
			return fmt.Errorf("fs cat /tree/%s: %d, %d bytes of %d, %s", rel, code, len(out), len(want), errout)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, out, _ := meshfs(t, nil, "fs", "ls", "-l", "--api", info.API, "/tree"); code != 0 || !strings.Contains(out, "link -> d0/e0/f00") {
		t.Fatalf("fs ls /tree: %d %q", code, out)
	}
}

func TestMountOps(t *testing.T) {
	needFUSE(t)
	info := startNamespaceDaemon(t)
	mnt := startMount(t, info.API, "--attr-ttl", "0s")
	at := func(p string) string { return filepath.Join(mnt, p) }
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(at(p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(at(p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	steps := []struct {
		name string
		do   func() error
		want error // an errno, or nil
	}{
		{"mkdir", func() error { return os.Mkdir(at("d"), 0o755) }, nil},
		{"mkdir exists", func() error { return os.Mkdir(at("d"), 0o755) }, syscall.EEXIST},
		{"write", func() error { write("d/a", "hello"); return nil }, nil},
		{"rmdir not empty", func() error { return syscall.Rmdir(at("d")) }, syscall.ENOTEMPTY},
		{"open missing", func() error { _, err := os.Open(at("nope")); return err }, syscall.ENOENT},
		{"create excl", func() error {
			_, err := os.OpenFile(at("d/a"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			return err
		}, syscall.EEXIST},
		{"append", func() error {
			f, err := os.OpenFile(at("d/a"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			if _, err := f.WriteString(" world"); err != nil {
				return err
			}
			return f.Close()
		}, nil},
		{"read appended", func() error { return wantText(read("d/a"), "hello world") }, nil},
		{"truncate", func() error { return os.Truncate(at("d/a"), 5) }, nil},
		{"read truncated", func() error { return wantText(read("d/a"), "hello") }, nil},
		{"ftruncate and write", func() error {
			f, err := os.OpenFile(at("d/a"), os.O_RDWR, 0)
			if err != nil {
				return err
			}
			if err := f.Truncate(2); err != nil {
				return err
			}
			if _, err := f.WriteAt([]byte("y!"), 2); err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return err
			}
			return f.Close()
		}, nil},
		{"read written", func() error { return wantText(read("d/a"), "hey!") }, nil},
		{"chmod", func() error { return os.Chmod(at("d/a"), 0o600) }, nil},
		{"stat mode", func() error {
			st, err := os.Stat(at("d/a"))
			if err == nil && st.Mode().Perm() != 0o600 {
				err = fmt.Errorf("mode %v, want 0600", st.Mode())
			}
			return err
		}, nil},
		{"chtimes", func() error {
			mt := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			if err := os.Chtimes(at("d/a"), mt, mt); err != nil {
				return err
			}
			st, err := os.Stat(at("d/a"))
			if err == nil && !st.ModTime().Equal(mt) {
				err = fmt.Errorf("mtime %v, want %v", st.ModTime(), mt)
			}
			return err
		}, nil},
		{"symlink", func() error { return os.Symlink("a", at("d/l")) }, nil},
		{"readlink", func() error {
			s, err := os.Readlink(at("d/l"))
			if err == nil {
				err = wantText(s, "a")
			}
			return err
		}, nil},
		{"read through link", func() error { return wantText(read("d/l"), "hey!") }, nil},
		{"write b", func() error { write("d/b", "bee"); return nil }, nil},
		{"rename replace", func() error { return os.Rename(at("d/b"), at("d/a")) }, nil},
		{"read replaced", func() error { return wantText(read("d/a"), "bee") }, nil},
		{"renamed away", func() error { _, err := os.Stat(at("d/b")); return err }, syscall.ENOENT},
		{"rename to other dir", func() error {
			if err := os.Mkdir(at("e"), 0o755); err != nil {
				return err
			}
			return os.Rename(at("d/a"), at("e/a"))
		}, nil},
		{"rename dir over non-empty", func() error {
			if err := os.Mkdir(at("d/sub"), 0o755); err != nil {
				return err
			}
			return syscall.Rename(at("d/sub"), at("e")) // os.Rename refuses a directory target itself
		}, syscall.ENOTEMPTY},
		{"rename dir over empty dir", func() error {
			if err := os.Mkdir(at("d/empty"), 0o755); err != nil {
				return err
			}
			return syscall.Rename(at("d/sub"), at("d/empty"))
		}, nil},
		{"replaced dir gone", func() error { _, err := os.Stat(at("d/sub")); return err }, syscall.ENOENT},
		{"rename noreplace", func() error {
			write("e/c", "c")
			return renameNoReplace(at("e/c"), at("e/a"))
		}, syscall.EEXIST},
		{"unlink", func() error { return os.Remove(at("e/c")) }, nil},
		{"unlink missing", func() error { return syscall.Unlink(at("e/c")) }, syscall.ENOENT},
		{"readdir", func() error {
			names, err := readNames(at("d"))
			if err == nil {
				err = wantText(strings.Join(names, ","), "empty,l")
			}
			return err
		}, nil},
		{"rmdir", func() error {
			if err := os.Remove(at("d/empty")); err != nil {
				return err
			}
			if err := os.Remove(at("d/l")); err != nil {
				return err
			}
			return syscall.Rmdir(at("d"))
		}, nil},
		{"rmdir gone", func() error { return syscall.Rmdir(at("d")) }, syscall.ENOENT},
		{"statfs", func() error {
			var st syscall.Statfs_t
			if err := syscall.Statfs(mnt, &st); err != nil {
				return err
			}
			if st.Bavail == 0 || st.Namelen != 255 {
				return fmt.Errorf("statfs: %+v", st)
			}
			return nil
		}, nil},
	}
	for _, s := range steps {
		err := s.do()
		switch {
		case s.want == nil && err != nil:
			t.Fatalf("%s: %v", s.name, err)
		case s.want != nil && !errors.Is(err, s.want):
			t.Fatalf("%s: got %v, want %v", s.name, err, s.want)
		}
	}
	// What the mount did, the daemon holds.
	code, out, errout := meshfs(t, nil, "fs", "cat", "--api", info.API, "/e/a")
	if code != 0 || out != "bee" {
		t.Fatalf("fs cat /e/a: %d %q %s", code, out, errout)
	}
}

func wantText(got, want string) error {
	if got != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

// readNames lists a directory's names, sorted.
func readNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, err
}

// renameNoReplace is renameat2(RENAME_NOREPLACE).
func renameNoReplace(from, to string) error {
	return unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
}

func TestMountGit(t *testing.T) {
	needFUSE(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	info := startNamespaceDaemon(t)
	mnt := startMount(t, info.API)
	repo := filepath.Join(mnt, "repo")
	src := filepath.Join(t.TempDir(), "tree")
	writeTree(t, src)
	git := "git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main -c core.fsmonitor=false"
	sh(t, fmt.Sprintf("mkdir %[1]s && cp -r %[2]s/. %[1]s && cd %[1]s && %[3]s init -q && %[3]s add -A && %[3]s commit -q -m first && "+
		"echo more >> d0/e0/f00 && %[3]s commit -q -am second", repo, src, git))
	log := sh(t, fmt.Sprintf("cd %s && %s log --oneline && %s fsck --full --strict && %s status --porcelain", repo, git, git, git))
	if !strings.Contains(log, "second") || !strings.Contains(log, "first") {
		t.Fatalf("git log: %s", log)
	}
	if lines := strings.Split(strings.TrimSpace(log), "\n"); len(lines) != 2 {
		t.Fatalf("git log, fsck and status printed %q, want two log lines alone", log)
	}
}

func TestMountSeesOtherWriters(t *testing.T) {
	needFUSE(t)
	info := startNamespaceDaemon(t)
	mnt := startMount(t, info.API, "--attr-ttl", "0s")
	api := []string{"--api", info.API}
	if code, _, errout := meshfs(t, []byte("one"), append([]string{"fs", "write", "/f"}, api...)...); code != 0 {
		t.Fatal(errout)
	}
	f, err := os.Open(filepath.Join(mnt, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A change committed elsewhere: the open file keeps what it opened, a
	// new open sees the change.
	if code, _, errout := meshfs(t, []byte("two!"), append([]string{"fs", "write", "/f"}, api...)...); code != 0 {
		t.Fatal(errout)
	}
	b := make([]byte, 10)
	if n, _ := f.ReadAt(b, 0); string(b[:n]) != "one" {
		t.Errorf("the open file reads %q, want what it opened, %q", b[:n], "one")
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "f")); err != nil || string(got) != "two!" {
		t.Errorf("a new open reads %q, %v; want %q", got, err, "two!")
	}
	// Uncommitted writes are seen by stat in the mount, not by the daemon.
	w, err := os.OpenFile(filepath.Join(mnt, "f"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteString(" and more"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(mnt, "f")); err != nil || st.Size() != int64(len("two! and more")) {
		t.Errorf("stat of a file being written: %v %v", st, err)
	}
	if _, out, _ := meshfs(t, nil, append([]string{"fs", "cat", "/f"}, api...)...); out != "two!" {
		t.Errorf("the daemon holds %q before the close, want %q", out, "two!")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, out, _ := meshfs(t, nil, append([]string{"fs", "cat", "/f"}, api...)...); out != "two! and more" {
		t.Errorf("the daemon holds %q after the close", out)
	}
}

func TestMountCopyPreserves(t *testing.T) {
	needFUSE(t)
	info := startNamespaceDaemon(t)
	mnt := startMount(t, info.API)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, fixture.Bytes(5000), 0o640); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2010, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(src, mt, mt); err != nil {
		t.Fatal(err)
	}
	sh(t, fmt.Sprintf("cp -p %s %s/copy && cmp %s %s/copy", src, mnt, src, mnt))
	st, err := os.Stat(filepath.Join(mnt, "copy"))
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(mt) || st.Mode().Perm() != 0o640 {
		t.Errorf("cp -p made %v %v, want %v %v", st.Mode(), st.ModTime(), fs.FileMode(0o640), mt)
	}
}

func TestMountParallel(t *testing.T) {
	needFUSE(t)
	info := startNamespaceDaemon(t)
	mnt := startMount(t, info.API)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			p := filepath.Join(mnt, fmt.Sprintf("p%d", i))
			data := fixture.Bytes(100_000 + i)
			for range 3 {
				if err := os.WriteFile(p, data, 0o644); err != nil {
					errs <- err
					return
				}
				got, err := os.ReadFile(p)
				if err != nil || !bytes.Equal(got, data) {
					errs <- fmt.Errorf("%s: read %d bytes back, %v", p, len(got), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	names, err := readNames(mnt)
	if err != nil || len(names) != 8 {
		t.Errorf("readdir: %v %v", names, err)
	}
}

// TestMountExternalUnmount: `meshfs mount` returns, status 0, when the
// mount is unmounted from outside.
func TestMountExternalUnmount(t *testing.T) {
	needFUSE(t)
	info := startNamespaceDaemon(t)
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errout lockedBuffer
	done := make(chan int, 1)
	cache := filepath.Join(t.TempDir(), "cache")
	go func() {
		done <- run(context.Background(), []string{"mount", "--api", info.API, "--cache-dir", cache, mnt}, stdio{in: strings.NewReader(""), out: &out, errout: &errout})
	}()
	t.Cleanup(func() {
		if isMounted(t, mnt) {
			_ = exec.Command("umount", "-l", mnt).Run()
		}
	})
	if !waitFor(t, 20*time.Second, "mount ready", func() bool { return strings.Contains(out.String(), "meshfs mounted at") }) {
		t.Fatalf("stderr: %s", errout.String())
	}
	if b, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, b)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("mount exit %d: %s", code, errout.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("meshfs mount still running 10s after umount")
	}
}

func TestMountUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		has  string
	}{
		{[]string{"mount", "--help"}, 0, "close-to-open"},
		{[]string{"mount"}, 2, "give exactly one MOUNTPOINT"},
		{[]string{"mount", "--timeout", "0s", "/mnt"}, 2, "timeout 0s"},
		{[]string{"mount", "--consistency", "bogus", "/mnt"}, 2, "consistency"},
		{[]string{"mount", "--help"}, 0, "--cache-size"},
		{[]string{"mount", "--cache-size", "lots", "/mnt"}, 2, "--cache-size"},
		{[]string{"mount", "--read-ahead", "0", "/mnt"}, 2, "read-ahead 0"},
	}
	for _, tt := range tests {
		code, _, errout := meshfs(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(errout, tt.has) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tt.args, code, errout, tt.code, tt.has)
		}
	}
}

// TestMountUnlinkedOpenFile: a file removed while open (a temporary file)
// keeps working until its close, which drops its changes without error.
func TestMountUnlinkedOpenFile(t *testing.T) {
	needFUSE(t)
	info := startNamespaceDaemon(t)
	mnt := startMount(t, info.API)
	p := filepath.Join(mnt, "tmp")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("scratch"); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Errorf("fsync of an unlinked file: %v", err)
	}
	b := make([]byte, 16)
	if n, err := f.ReadAt(b, 0); string(b[:n]) != "scratch" {
		t.Errorf("read back %q, %v", b[:n], err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("close of an unlinked file: %v", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat after close: %v, want ENOENT", err)
	}
}

// TestMountBusyUnmount: a signal while a file is open there leaves the
// mount up, says why, and unmounts once the file is closed.
func TestMountBusyUnmount(t *testing.T) {
	needFUSE(t)
	info := startNamespaceDaemon(t)
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errout lockedBuffer
	done := make(chan int, 1)
	cache := filepath.Join(t.TempDir(), "cache")
	go func() {
		done <- run(ctx, []string{"mount", "--api", info.API, "--cache-dir", cache, mnt}, stdio{in: strings.NewReader(""), out: &out, errout: &errout})
	}()
	t.Cleanup(func() {
		if isMounted(t, mnt) {
			_ = exec.Command("umount", "-l", mnt).Run()
		}
	})
	if !waitFor(t, 20*time.Second, "mount ready", func() bool { return strings.Contains(out.String(), "meshfs mounted at") }) {
		t.Fatalf("stderr: %s", errout.String())
	}
	f, err := os.Create(filepath.Join(mnt, "open"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cancel()
	waitFor(t, 20*time.Second, "a busy unmount reported", func() bool { return strings.Contains(errout.String(), "busy") })
	if !isMounted(t, mnt) {
		t.Fatal("unmounted with a file open")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("mount exit %d: %s", code, errout.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still mounted 20s after the close: %s", errout.String())
	}
}
