//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"meshfs/fsclient"
)

// asUser runs the shell script as the user uid with the group gid (and
// the supplementary groups), from /, and returns its output and error.
func asUser(uid, gid uint32, groups []uint32, script string) (string, error) {
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ownerOf returns the uid and gid of p (a link itself) as the mount shows
// them.
func ownerOf(t *testing.T, p string) (uint32, uint32) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

// apiOwner returns the uid and gid the daemon's fs stat reports for p.
func apiOwner(t *testing.T, api, p string) (uint32, uint32) {
	t.Helper()
	code, out, errout := meshfs(t, nil, "fs", "stat", "--json", "--api", api, p)
	var st struct {
		Uid, Gid uint32
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("fs stat %s: %d %q %q", p, code, out, errout)
	}
	return st.Uid, st.Gid
}

// TestMountOwners: files carry the owner and group of the process that
// made them, and the kernel checks every user's access against them and
// their modes, as on a local file system; without --allow-other no other
// user gets in at all.
func TestMountOwners(t *testing.T) {
	needFUSE(t)
	info := startNamespaceDaemon(t)
	mnt := startMount(t, info.API, "--allow-other", "--attr-ttl", "0s")
	private := startMount(t, info.API)
	at := func(p string) string { return filepath.Join(mnt, p) }

	// As root: a file others may read, a directory they may not write, and
	// one they may.
	if err := os.WriteFile(at("f"), []byte("root's"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(at("rootdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(at("shared"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(at("shared"), 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	if uid, gid := ownerOf(t, at("f")); uid != 0 || gid != 0 {
		t.Fatalf("a file root made is %d:%d", uid, gid)
	}

	const nobody, other = 65534, 12345
	steps := []struct {
		name     string
		uid, gid uint32
		groups   []uint32
		script   string
		fail     string // in the output of a script that must fail; "" if it must succeed
		out      string // the whole output of a script that succeeds, if not ""
	}{
		{"read a 0644 file", nobody, nobody, nil, "cat " + at("f"), "", "root's"},
		{"write it", nobody, nobody, nil, "echo x >> " + at("f"), "Permission denied", ""},
		{"truncate it", nobody, nobody, nil, "truncate -s 0 " + at("f"), "Permission denied", ""},
		{"remove it", nobody, nobody, nil, "rm -f " + at("f"), "Permission denied", ""},
		{"create in a 0755 dir of root's", nobody, nobody, nil, "touch " + at("rootdir/new"), "Permission denied", ""},
		{"mkdir there", nobody, nobody, nil, "mkdir " + at("rootdir/d"), "Permission denied", ""},
		{"chmod a file of root's", nobody, nobody, nil, "chmod 666 " + at("f"), "Operation not permitted", ""},
		{"make things in a 0777 dir", nobody, nobody, nil, fmt.Sprintf(
			"mkdir %[1]s && echo mine > %[1]s/f && ln -s f %[1]s/l && chmod 600 %[1]s/f && cat %[1]s/l", at("shared/n")), "", "mine\n"},
		{"another user reads a 0600 file", other, other, nil, "cat " + at("shared/n/f"), "Permission denied", ""},
		{"another user lists the dir", other, other, nil, "ls " + at("shared/n"), "", "f\nl\n"},
		{"another user removes in it", other, other, nil, "rm -f " + at("shared/n/f"), "Permission denied", ""},
		{"give a file away", nobody, nobody, nil, "chown 0 " + at("shared/n/f"), "Operation not permitted", ""},
		{"chgrp to a group of one's own", other, other, []uint32{500}, fmt.Sprintf("mkdir %[1]s && chgrp 500 %[1]s", at("shared/g")), "", ""},
		{"chgrp to another group", other, other, []uint32{500}, "chgrp 0 " + at("shared/g"), "Operation not permitted", ""},
		{"stat a mount without --allow-other", nobody, nobody, nil, "stat " + private, "Permission denied", ""},
	}
	for _, s := range steps {
		out, err := asUser(s.uid, s.gid, s.groups, s.script)
		switch {
		case s.fail == "" && err != nil:
			t.Errorf("%s: %s: %v\n%s", s.name, s.script, err, out)
		case s.fail == "" && s.out != "" && out != s.out:
			t.Errorf("%s: %s printed %q, want %q", s.name, s.script, out, s.out)
		case s.fail != "" && (err == nil || !strings.Contains(out, s.fail)):
			t.Errorf("%s: %s: %v %q, want a failure saying %q", s.name, s.script, err, out, s.fail)
		}
	}
	if b, err := os.ReadFile(at("f")); err != nil || string(b) != "root's" {
		t.Errorf("root's file now holds %q, %v", b, err)
	}

	// The owners, in the mount and in the namespace.
	for p, want := range map[string][2]uint32{
		"/f": {0, 0}, "/rootdir": {0, 0}, "/shared/n": {nobody, nobody}, "/shared/n/f": {nobody, nobody},
		"/shared/n/l": {nobody, nobody}, "/shared/g": {other, 500},
	} {
		if uid, gid := ownerOf(t, at(p)); uid != want[0] || gid != want[1] {
			t.Errorf("%s in the mount: %d:%d, want %d:%d", p, uid, gid, want[0], want[1])
		}
		if uid, gid := apiOwner(t, info.API, p); uid != want[0] || gid != want[1] {
			t.Errorf("%s in the namespace: %d:%d, want %d:%d", p, uid, gid, want[0], want[1])
		}
	}

	// Root gives a file away, and changes a link itself.
	if err := os.Chown(at("shared/n/f"), other, other); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(at("shared/n/l"), 1, 2); err != nil {
		t.Fatal(err)
	}
	if uid, gid := apiOwner(t, info.API, "/shared/n/f"); uid != other || gid != other {
		t.Errorf("after chown: %d:%d", uid, gid)
	}
	if uid, gid := apiOwner(t, info.API, "/shared/n/l"); uid != 1 || gid != 2 {
		t.Errorf("after lchown: %d:%d", uid, gid)
	}
	if out, err := asUser(other, other, nil, fmt.Sprintf("echo more >> %[1]s && cat %[1]s", at("shared/n/f"))); err != nil || out != "mine\nmore\n" {
		t.Errorf("the new owner writes and reads: %v %q", err, out)
	}
	if out, err := asUser(nobody, nobody, nil, "cat "+at("shared/n/f")); err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("the old owner reads: %v %q", err, out)
	}
	// The mounting user (root) uses the private mount as ever.
	if b, err := os.ReadFile(filepath.Join(private, "f")); err != nil || string(b) != "root's" {
		t.Errorf("root in the mount without --allow-other: %q, %v", b, err)
	}
}

// TestMountRsync: rsync -a copies a tree in, with owners, modes, times and
// links, so that a second rsync finds nothing to do, and out again.
func TestMountRsync(t *testing.T) {
	needFUSE(t)
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync is not installed (make test-deps installs it)")
	}
	info := startNamespaceDaemon(t)
	mnt := startMount(t, info.API)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src)
	old := time.Date(2015, 6, 7, 8, 9, 10, 123456789, time.UTC)
	for _, c := range []struct {
		p        string
		uid, gid int
		mode     os.FileMode
	}{
		{"d0/e0/f00", 1000, 1000, 0o600},
		{"d1", 1001, 100, 0o750},
		{"d0/e1/f04", 0, 1002, 0o640},
		{"link", 1003, 1003, 0},
	} {
		p := filepath.Join(src, c.p)
		if err := os.Lchown(p, c.uid, c.gid); err != nil {
			t.Fatal(err)
		}
		if c.mode != 0 {
			if err := os.Chmod(p, c.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	sh(t, fmt.Sprintf("rsync -a %s/ %s/r/ && diff -r %s %s/r", src, mnt, src, mnt))
	if out := sh(t, fmt.Sprintf("rsync -ai %s/ %s/r/", src, mnt)); out != "" {
		t.Errorf("a second rsync -a in has something to do:\n%s", out)
	}
	for _, p := range []string{"d0/e0/f00", "d1", "d0/e1/f04", "link", "d3/e2"} {
		a, err := os.Lstat(filepath.Join(src, p))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.Lstat(filepath.Join(mnt, "r", p))
		if err != nil {
			t.Fatal(err)
		}
		sa, sb := a.Sys().(*syscall.Stat_t), b.Sys().(*syscall.Stat_t)
		if a.Mode() != b.Mode() || sa.Uid != sb.Uid || sa.Gid != sb.Gid || (a.Mode().IsRegular() && !a.ModTime().Equal(b.ModTime())) {
			t.Errorf("%s: %v %d:%d %v in the mount, %v %d:%d %v here", p, b.Mode(), sb.Uid, sb.Gid, b.ModTime(), a.Mode(), sa.Uid, sa.Gid, a.ModTime())
		}
	}
	back := filepath.Join(t.TempDir(), "back")
	sh(t, fmt.Sprintf("rsync -a %s/r/ %s/ && diff -r %s %s", mnt, back, src, back))
	if out := sh(t, fmt.Sprintf("rsync -ai %s/ %s/", src, back)); out != "" {
		t.Errorf("the tree rsynced out differs from the original:\n%s", out)
	}
	// A change in the mount, rsynced out, is the only thing copied.
	if err := os.WriteFile(filepath.Join(mnt, "r/d3/e0/f03"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := sh(t, fmt.Sprintf("rsync -ai %s/r/ %s/", mnt, back))
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) < 1 || !strings.HasSuffix(lines[len(lines)-1], "d3/e0/f03") {
		t.Errorf("rsync out after one change:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(back, "d3/e0/f03")); err != nil || string(b) != "changed" {
		t.Errorf("rsynced out: %q %v", b, err)
	}
}

// TestMountBigDirectory: a directory of 10,000 entries lists whole and in
// order through the mount, and changes in it show.
func TestMountBigDirectory(t *testing.T) {
	needFUSE(t)
	info := startNamespaceDaemon(t)
	mnt := startMount(t, info.API)
	c, err := fsclient.New(info.API)
	if err != nil {
		t.Fatal(err)
	}
	const n = 10_000
	if err := c.Mkdir(t.Context(), "/big", 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	names := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				names[i] = fmt.Sprintf("entry-%05d", i)
				if err := c.Touch(t.Context(), "/big/"+names[i], time.Time{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d entries made through the API in %v", n, time.Since(start))

	start = time.Now()
	got, err := readNames(filepath.Join(mnt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("readdir of %d entries through the mount: %v", len(got), time.Since(start))
	if !slices.Equal(got, names) {
		t.Fatalf("readdir: %d names, want %d (first %q)", len(got), n, got[:min(3, len(got))])
	}
	start = time.Now()
	out := sh(t, "ls -l "+filepath.Join(mnt, "big"))
	t.Logf("ls -l: %v", time.Since(start))
	if lines := strings.Count(out, "\n"); lines != n+1 { // and "total"
		t.Errorf("ls -l printed %d lines", lines)
	}
	// Changes made through the mount show in the next listing.
	big := func(p string) string { return filepath.Join(mnt, "big", p) }
	if err := os.WriteFile(big("zz-new"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(big("entry-00000"), big("zz-renamed")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(big("entry-00001")); err != nil {
		t.Fatal(err)
	}
	got, err = readNames(filepath.Join(mnt, "big"))
	want := append(slices.Clone(names[2:]), "zz-new", "zz-renamed")
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("readdir after changes: %d names, %v", len(got), err)
	}
}
