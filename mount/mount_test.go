//go:build linux

package mount

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
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

// TestTimeoutIsEIO mounts a daemon that never answers: a call fails with
// EIO once the timeout passes, and does not hang.
func TestTimeoutIsEIO(t *testing.T) {
	release := make(chan struct{})
	daemon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
}
