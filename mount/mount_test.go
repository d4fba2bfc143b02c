//go:build linux

package mount

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"meshfs/fsclient"
)

// mountForTest mounts c on a new directory, skipping where that cannot
// work, and unmounts it at the end of the test, failed or not (umount -l
// if the server cannot).
func mountForTest(t *testing.T, c *fsclient.Client, cfg Config) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("mounting without the fusermount helper needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no /dev/fuse: %v", err)
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	server, err := Mount(mnt, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			t.Errorf("unmount: %v; umount -l", err)
			if b, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
				t.Errorf("umount -l: %v %s", err, b)
			}
		}
	})
	return mnt
}

// TestTimeoutIsEIO mounts a daemon that answers only a stat of the root:
// another call fails with EIO once the timeout passes, and does not hang.
func TestTimeoutIsEIO(t *testing.T) {
	release := make(chan struct{})
	daemon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v0/fs/stat" && r.URL.Query().Get("arg") == "/" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"path":"/","name":"/","kind":"dir","mode":"0755","uid":0,"gid":0,"size":0,"mtime_ns":0,"cid":"","ino":1}`)
			return
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
		http.Error(w, "gone", http.StatusServiceUnavailable)
	}))
	t.Cleanup(daemon.Close)
	t.Cleanup(func() { close(release) })
	c, err := fsclient.New(daemon.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Timeout = 300 * time.Millisecond
	mnt := mountForTest(t, c, cfg)
	start := time.Now()
	_, err = os.Stat(filepath.Join(mnt, "x"))
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("stat with a daemon that does not answer: %v, want EIO", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("stat took %v with a %v timeout", d, cfg.Timeout)
	}
	// Right after a timeout the next calls fail at once, so that a system
	// call making several fails within the timeout too; a while after,
	// the daemon is given its time again.
	start = time.Now()
	if _, err := os.Stat(filepath.Join(mnt, "y")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("stat right after a timeout: %v, want EIO", err)
	}
	if d := time.Since(start); d >= cfg.Timeout {
		t.Errorf("stat right after a timeout took %v, want it at once", d)
	}
	time.Sleep(stallWindow) // the stall's end, on the wall clock the mount uses
	start = time.Now()
	if _, err := os.Stat(filepath.Join(mnt, "z")); !errors.Is(err, syscall.EIO) || time.Since(start) < cfg.Timeout {
		t.Errorf("stat after the stall: %v after %v, want EIO after %v", err, time.Since(start), cfg.Timeout)
	}
}

// TestMountNeedsTheRoot: a daemon that does not answer fails the mount
// with the reason, within the timeout.
func TestMountNeedsTheRoot(t *testing.T) {
	daemon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"no","kind":"nowriter"}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(daemon.Close)
	c, err := fsclient.New(daemon.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Timeout = 300 * time.Millisecond
	_, err = Mount(t.TempDir(), c, cfg)
	if err == nil || !strings.Contains(err.Error(), "the namespace's root") {
		t.Fatalf("Mount against a daemon without a writer: %v", err)
	}
}

// TestMountFailingLeavesNothing: a daemon that stops answering between
// the check of the root and the kernel's first request fails the mount,
// and leaves no mount behind.
func TestMountFailingLeavesNothing(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mounting without the fusermount helper needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no /dev/fuse: %v", err)
	}
	var answered atomic.Bool
	daemon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v0/fs/stat" && answered.CompareAndSwap(false, true) {
			fmt.Fprint(w, `{"path":"/","name":"/","kind":"dir","mode":"0755","uid":0,"gid":0,"size":0,"mtime_ns":0,"cid":"","ino":1}`)
			return
		}
		http.Error(w, `{"error":"gone","kind":"nowriter"}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(daemon.Close)
	c, err := fsclient.New(daemon.URL)
	if err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	if _, err := Mount(mnt, c, DefaultConfig()); err == nil {
		t.Fatal("mounted with a daemon that stopped answering")
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), " "+mnt+" ") {
		_ = exec.Command("umount", "-l", mnt).Run()
		t.Fatalf("a failed mount left %s mounted", mnt)
	}
}
