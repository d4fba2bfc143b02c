// Command mount measures `meshfs mount` on this machine against the CLI
// path measured in the same run:
//
//	go run ./bench/mount --bin bin/meshfs
//
// (`make bench` runs it last; it needs root and /dev/fuse, and says so and
// stops otherwise.) On a testnet of 3 daemons, all voters, it reports:
//
//   - sequential write of a --size file (1 GiB by default) into the mount,
//     against `meshfs fs put` of the same bytes, as MB/s and their ratio;
//   - sequential read of it from a fresh open, against `meshfs fs cat`;
//   - `cp -r` of a tree of --files small files (2,000 of 1-4 KiB) into the
//     mount, in files/s;
//   - `ls -l` of a directory of --entries entries (10,000), in ms.
//
// Target (informational): mount sequential I/O >= 0.6 of the CLI path.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"meshfs/bench/internal/benchkit"
	"meshfs/testnet"
)

func main() { benchkit.Main("bench/mount", run) }

func run(ctx context.Context) error {
	bin := flag.String("bin", "bin/meshfs", "the meshfs binary to measure")
	size := flag.Int64("size", 1<<30, "bytes of the file written and read")
	files := flag.Int("files", 2000, "small files copied with cp -r")
	entries := flag.Int("entries", 10000, "entries of the directory listed")
	parent := flag.String("dir", "", "folder for the temporary folder (default: the system's temp folder)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Println("bench/mount: skipped: mounting needs root")
		return nil
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		fmt.Println("bench/mount: skipped: no /dev/fuse")
		return nil
	}
	abs, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(*parent, "meshfs-bench-mount-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	net, err := testnet.Start(ctx, testnet.Config{Binary: abs, Dir: filepath.Join(dir, "net"), Peers: 3})
	if err != nil {
		return err
	}
	defer net.Close()
	api := net.Peer(0).API
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		return err
	}
	stopMount, err := startMount(ctx, abs, api, mnt)
	if err != nil {
		return err
	}
	defer stopMount()
	// cli runs `meshfs fs SUB --api API ARGS...`.
	cli := func(sub string, args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, abs, append([]string{"fs", sub, "--api", api}, args...)...)
	}

	// The file, written once locally.
	local := filepath.Join(dir, "big.bin")
	sum, err := benchkit.WriteFile(local, rand.NewChaCha8([32]byte{9}), *size)
	if err != nil {
		return err
	}
	// CLI path: fs put, then fs cat.
	t := time.Now()
	if out, err := exec.CommandContext(ctx, abs, "fs", "put", "-q", "--api", api, local, "/cli.bin").CombinedOutput(); err != nil {
		return fmt.Errorf("fs put: %v: %s", err, out)
	}
	cliWrite := benchkit.MBps(*size, time.Since(t))
	t = time.Now()
	if err := checkSum(exec.CommandContext(ctx, abs, "fs", "cat", "--api", api, "/cli.bin"), sum); err != nil {
		return fmt.Errorf("fs cat: %w", err)
	}
	cliRead := benchkit.MBps(*size, time.Since(t))
	benchkit.Logf("CLI: put %.0f MB/s, cat %.0f MB/s", cliWrite, cliRead)

	// Mount path: copy in (close commits), then read from a fresh open.
	t = time.Now()
	if err := copyFile(local, filepath.Join(mnt, "mount.bin")); err != nil {
		return err
	}
	mountWrite := benchkit.MBps(*size, time.Since(t))
	t = time.Now()
	if err := checkSum(exec.CommandContext(ctx, "cat", filepath.Join(mnt, "mount.bin")), sum); err != nil {
		return fmt.Errorf("read through the mount: %w", err)
	}
	mountRead := benchkit.MBps(*size, time.Since(t))
	benchkit.Logf("mount: write %.0f MB/s, read %.0f MB/s", mountWrite, mountRead)

	// cp -r of small files.
	tree := filepath.Join(dir, "tree")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range *files {
		p := filepath.Join(tree, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("f%04d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		b := make([]byte, 1024+rng.IntN(3072))
		for j := range b {
			b[j] = byte(rng.UintN(256))
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	t = time.Now()
	if out, err := exec.CommandContext(ctx, "cp", "-r", tree, filepath.Join(mnt, "tree")).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -r: %v: %s", err, out)
	}
	cpRate := float64(*files) / time.Since(t).Seconds()
	if out, err := exec.CommandContext(ctx, "diff", "-r", tree, filepath.Join(mnt, "tree")).CombinedOutput(); err != nil {
		return fmt.Errorf("diff -r after cp -r: %v: %s", err, out)
	}
	benchkit.Logf("cp -r of %d files: %.0f files/s", *files, cpRate)

	// A big directory, made through the API (the namespace, not the mount,
	// is what is timed after).
	if err := makeEntries(ctx, cli, *entries); err != nil {
		return err
	}
	var lsMS []float64
	for range 3 {
		t = time.Now()
		out, err := exec.CommandContext(ctx, "ls", "-l", filepath.Join(mnt, "big")).Output()
		if err != nil {
			return fmt.Errorf("ls -l: %w", err)
		}
		lsMS = append(lsMS, float64(time.Since(t).Microseconds())/1000)
		if n := strings.Count(string(out), "\n"); n != *entries+1 {
			return fmt.Errorf("ls -l printed %d lines for %d entries", n, *entries)
		}
	}

	fmt.Printf("\nmeshfs mount benchmark: %s, %d CPUs, 3 daemons (all voters), R=3 W=2\n\n", benchkit.CPUModel(), runtime.NumCPU())
	fmt.Printf("sequential write of %s: mount %.0f MB/s, fs put %.0f MB/s: ratio %.2f (target >= 0.60: %s)\n",
		benchkit.HumanSize(*size), mountWrite, cliWrite, mountWrite/cliWrite, benchkit.MetOrBelow(mountWrite/cliWrite, 0.6))
	fmt.Printf("sequential read of %s:  mount %.0f MB/s, fs cat %.0f MB/s: ratio %.2f (target >= 0.60: %s)\n",
		benchkit.HumanSize(*size), mountRead, cliRead, mountRead/cliRead, benchkit.MetOrBelow(mountRead/cliRead, 0.6))
	fmt.Printf("cp -r of %d files of 1-4 KiB: %.0f files/s\n", *files, cpRate)
	fmt.Printf("ls -l of %d entries: %.0f ms (first), %.0f ms (median of 3)\n", *entries, lsMS[0], benchkit.Median(lsMS))
	return nil
}

// startMount runs `meshfs mount` until stop is called.
func startMount(ctx context.Context, bin, api, mnt string) (stop func(), err error) {
	cmd := exec.CommandContext(ctx, bin, "mount", "--api", api, mnt)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, "mounted") {
		stop()
		return nil, fmt.Errorf("meshfs mount: %q %v", line, err)
	}
	go io.Copy(io.Discard, out)
	return stop, nil
}

// makeEntries makes the directory /big with n empty files, through the
// API, several at a time.
func makeEntries(ctx context.Context, cli func(string, ...string) *exec.Cmd, n int) error {
	if out, err := cli("mkdir", "/big").CombinedOutput(); err != nil {
		return fmt.Errorf("mkdir /big: %v: %s", err, out)
	}
	errs := make(chan error, 16)
	next := make(chan int)
	for range 16 {
		go func() {
			for i := range next {
				if out, err := cli("touch", fmt.Sprintf("/big/e%05d", i)).CombinedOutput(); err != nil {
					errs <- fmt.Errorf("touch: %v: %s", err, out)
					return
				}
			}
			errs <- nil
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	var first error
	for range 16 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(out, in, make([]byte, 1<<20)); err != nil {
		out.Close()
		return err
	}
	return out.Close() // the commit
}

// checkSum runs cmd and checks the SHA-256 of its output.
func checkSum(cmd *exec.Cmd, want []byte) error {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	h := sha256.New()
	_, cerr := io.CopyBuffer(h, out, make([]byte, 1<<20))
	if err := cmd.Wait(); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	if string(h.Sum(nil)) != string(want) {
		return errors.New("the bytes read differ from those written")
	}
	return nil
}
