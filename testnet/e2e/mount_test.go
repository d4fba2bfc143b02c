//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"meshfs/internal/testrand"
	"meshfs/testnet"
)

// needFUSE skips the test where it cannot mount: -short, not root (no
// fusermount helper is assumed), no /dev/fuse.
func needFUSE(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts daemons and mounts")
	}
	if os.Getuid() != 0 {
		t.Skip("mounting without the fusermount helper needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no /dev/fuse: %v", err)
	}
}

// mountAt runs `meshfs mount` (the binary, a process of its own) against
// the daemon at api on a new directory and returns the directory once
// mounted. At the end of the test it is sent SIGTERM, which unmounts;
// `umount -l` and SIGKILL if that does not end it.
func mountAt(t *testing.T, api string, args ...string) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, append(append([]string{"mount", "--api", api}, args...), mnt)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if !ok && strings.HasPrefix(sc.Text(), "meshfs mounted at") {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("meshfs mount %s: %v: %s", mnt, err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("meshfs mount %s: still running 15s after SIGTERM; umount -l", mnt)
			_ = exec.Command("umount", "-l", mnt).Run()
			_ = cmd.Process.Kill()
			<-done
		}
	})
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("meshfs mount %s exited: %s", mnt, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("meshfs mount %s: not mounted after 30s: %s", mnt, stderr.String())
	}
	return mnt
}

// shell runs a shell command line (from /, not from inside a mount this
// process's children serve), failing the test if it fails.
func shell(t *testing.T, script string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

// treeFile is one file of a test tree: its path below the tree and the
// SHA-256 of its bytes.
type treeFile struct {
	rel string
	sum [32]byte
}

// writeMixedTree writes n files of sizes from 0 bytes to 20 MiB (most
// small, a few large, chunk boundaries among them; seeded by r) in nested
// folders under dir, with an empty folder and symbolic links, and returns
// the files and their total size.
func writeMixedTree(t *testing.T, r *rand.Rand, dir string, n int) ([]treeFile, int64) {
	t.Helper()
	const chunk = 256 << 10
	sizes := []int{0, 1, chunk - 1, chunk, chunk + 1, 20 << 20}
	for range 8 {
		sizes = append(sizes, 2<<20+r.IntN(18<<20)) // 2 to 20 MiB
	}
	for len(sizes) < n {
		// Log-uniform up to 1 MiB: most files are small.
		sizes = append(sizes, int(math.Exp2(20*r.Float64())))
	}
	r.Shuffle(len(sizes), func(i, j int) { sizes[i], sizes[j] = sizes[j], sizes[i] })
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(r.UintN(256))
	}
	bytesOf := rand.NewChaCha8(seed)
	files := make([]treeFile, n)
	var total int64
	buf := make([]byte, 20<<20)
	for i, size := range sizes {
		rel := fmt.Sprintf("d%02d/e%d/f%03d.bin", i%20, i%3, i)
		if i%50 == 0 {
			rel = fmt.Sprintf("top%03d", i) // some at the top
		}
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := buf[:size]
		_, _ = bytesOf.Read(data)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files[i] = treeFile{rel: rel, sum: sha256.Sum256(data)}
		total += int64(size)
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"link-to-file": files[1].rel, "d00/link-up": "../top000", "dangling": "nowhere"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return files, total
}

// catAll reads every file through `meshfs fs cat` on the daemon at api,
// four at a time, and compares its SHA-256.
func catAll(t *testing.T, api, root string, files []treeFile) {
	t.Helper()
	work := make(chan treeFile)
	errs := make(chan error, len(files))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for f := range work {
				cmd := exec.Command(binary, "fs", "cat", "--api", api, root+"/"+f.rel)
				h := sha256.New()
				var stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = h, &stderr
				if err := cmd.Run(); err != nil {
					errs <- fmt.Errorf("fs cat %s: %v: %s", f.rel, err, stderr.String())
					continue
				}
				if got := h.Sum(nil); !bytes.Equal(got, f.sum[:]) {
					errs <- fmt.Errorf("fs cat %s: SHA-256 %x, want %x", f.rel, got, f.sum)
				}
			}
		})
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// eioWithin runs do, which must fail with EIO, and returns how long it
// took.
func eioWithin(t *testing.T, what string, do func() error) time.Duration {
	t.Helper()
	start := time.Now()
	err := do()
	d := time.Since(start)
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("%s with no writer: %v after %v, want EIO", what, err, d)
	}
	t.Logf("%s with no writer: EIO after %v", what, d.Round(time.Millisecond))
	return d
}

// TestMountAcrossPeers mounts a 5-peer mesh (R=3, W=2, 3 voters) on two
// non-voters: a tree of 500 files of mixed sizes copied into one mount
// reads back identical through the other and through `meshfs fs cat`; the
// mounts go on working when the writer is SIGKILLed; with a second voter
// killed no writer is reachable and changes fail with EIO within the
// mount's timeout, never hang; once a voter is back, the same mount
// writes again.
func TestMountAcrossPeers(t *testing.T) {
	needFUSE(t)
	ctx := context.Background()
	r := testrand.New(t)
	start := time.Now()
	net, err := testnet.Start(ctx, testnet.Config{Binary: binary, Dir: t.TempDir(), Peers: 5, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	w, err := net.WaitWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The mounts with the default timeout (30s), on two peers that are
	// not voters.
	a := mountAt(t, net.Peer(3).API)
	b := mountAt(t, net.Peer(4).API)
	t.Logf("testnet and two mounts up in %v", time.Since(start).Round(time.Millisecond))

	src := filepath.Join(t.TempDir(), "tree")
	start = time.Now()
	files, total := writeMixedTree(t, r, src, 500)
	t.Logf("%d files, %.1f MiB, written locally in %v", len(files), float64(total)/(1<<20), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	shell(t, fmt.Sprintf("cp -r %s %s/tree", src, a))
	t.Logf("cp -r into the mount on peer 3: %v (%.0f MB/s)", time.Since(start).Round(time.Millisecond), float64(total)/1e6/time.Since(start).Seconds())
	start = time.Now()
	shell(t, fmt.Sprintf("diff -r --no-dereference %s %s/tree", src, a))
	t.Logf("diff -r through the same mount: %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	shell(t, fmt.Sprintf("diff -r --no-dereference %s %s/tree", src, b))
	t.Logf("diff -r through the mount on peer 4: %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	catAll(t, net.Peer(0).API, "/tree", files)
	t.Logf("meshfs fs cat of every file on peer 0: %v", time.Since(start).Round(time.Millisecond))

	// Lose a peer within the budget: the writer, a voter neither mount
	// talks to.
	if err := net.Kill(w.Index); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	p := filepath.Join(a, "after-kill")
	if err := os.WriteFile(p, []byte("still here"), 0o644); err != nil {
		t.Fatalf("write through the mount after the writer was killed: %v", err)
	}
	t.Logf("peer %d (the writer) killed: the next write through the mount took %v", w.Index, time.Since(start).Round(time.Millisecond))
	if got, err := os.ReadFile(filepath.Join(b, "after-kill")); err != nil || string(got) != "still here" {
		t.Fatalf("the other mount reads %q, %v", got, err)
	}
	start = time.Now()
	shell(t, fmt.Sprintf("diff -r --no-dereference %s %s/tree", src, b))
	t.Logf("diff -r through the mount on peer 4 with one peer dead: %v", time.Since(start).Round(time.Millisecond))

	// Lose a second voter: no writer anywhere. Through a mount with a
	// short timeout, changes fail with EIO within it, and so do strong
	// reads.
	const timeout = 3 * time.Second
	c := mountAt(t, net.Peer(3).API, "--timeout", timeout.String())
	w2, err := net.WaitWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	open, err := os.OpenFile(filepath.Join(c, "after-kill"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Entries the kernel knows, to revalidate once their time is out.
	for _, f := range files[:3] {
		if _, err := os.Stat(filepath.Join(c, "tree", f.rel)); err != nil {
			t.Fatal(err)
		}
	}
	if err := net.Kill(w2.Index); err != nil {
		t.Fatal(err)
	}
	var worst time.Duration
	for i, op := range []struct {
		what string
		do   func() error
	}{
		{"create a file", func() error { return os.WriteFile(filepath.Join(c, "no-writer"), []byte("x"), 0o644) }},
		{"mkdir", func() error { return os.Mkdir(filepath.Join(c, "no-writer-dir"), 0o755) }},
		{"rename", func() error { return os.Rename(filepath.Join(c, "tree", files[0].rel), filepath.Join(c, "moved")) }},
		{"write and close an open file", func() error {
			if _, err := open.WriteString(" and more"); err != nil {
				return err
			}
			return open.Close()
		}},
		{"stat (a strong read)", func() error { _, err := os.Stat(filepath.Join(c, "tree", files[2].rel)); return err }},
	} {
		if i > 0 {
			time.Sleep(2 * time.Second) // past the mount's fail-at-once window after a timeout
		}
		worst = max(worst, eioWithin(t, op.what, op.do))
	}
	t.Logf("EIO with no writer reachable: at most %v with --timeout %v", worst.Round(time.Millisecond), timeout)
	if worst > timeout+2*time.Second {
		t.Errorf("EIO took up to %v with --timeout %v", worst, timeout)
	}

	// A voter back, a writer again: the same mounts work.
	if err := net.Restart(ctx, w.Index); err != nil {
		t.Fatal(err)
	}
	if _, err := net.WaitWriter(ctx); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	err = waitFor(ctx, 30*time.Second, func() error {
		return os.WriteFile(filepath.Join(c, "back"), []byte("writer again"), 0o644)
	})
	if err != nil {
		t.Fatalf("write through the mount once a writer is back: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(b, "back")); err != nil || string(got) != "writer again" {
		t.Fatalf("the other mount reads %q, %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(b, "after-kill")); err != nil || string(got) != "still here" {
		t.Errorf("the file whose commit failed holds %q, %v; want it unchanged", got, err)
	}
	t.Logf("writes again %v after the restart", time.Since(start).Round(time.Millisecond))
}
