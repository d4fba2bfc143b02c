// Command content measures the throughput of meshfs's content path on this
// machine and compares it with raw SHA-256 measured in the same run:
//
//	go run ./bench/content --bin bin/meshfs
//
// (`make bench` builds bin/meshfs and runs this.) It generates a fixture file
// (--size bytes, 1 GiB by default; not timed), imports it once into a repo
// to read back from, checks that the CIDs agree and that `meshfs cat`
// returns the file's bytes, and then times, --runs times each:
//
//   - raw sha256: crypto/sha256.Sum256 over 256 KiB buffers, in this
//     process, on one core, for as many bytes as the file holds;
//   - meshfs add --only-hash -q FILE;
//   - meshfs add --repo REPO -q FILE, into a new empty repo each time (the
//     page cache is synced before each run, and the repo removed after);
//   - meshfs cat --repo REPO CID, to /dev/null;
//   - the disk alone, without hashing: 256 KiB files each fsynced with its
//     folder (the store's first way), and one file fsynced once (the
//     best this disk can do).
//
// The measures are taken in rounds (one of each per round), so drift in the
// machine's speed affects them all alike. Each is reported as the median,
// min and max MB/s (1 MB = 1e6 bytes) and as a ratio to the median raw
// SHA-256 MB/s, against an informational target. The exit status is 0
// whether or not the targets are met, and 1 if a correctness check fails
// or a command fails.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"meshfs/bench/internal/benchkit"
	"meshfs/internal/fixture"
)

// hashBufSize is the buffer size of the raw SHA-256 reference: the
// importer's default chunk size.
const hashBufSize = benchkit.HashBufSize

// hashBuf is fixture bytes, like the file's, for the disk references.
var hashBuf = fixture.Bytes(hashBufSize)

// measure is one row of the report.
type measure struct {
	key    string  // machine-readable name, BENCH <key>_mbps=...
	label  string  // row label
	target float64 // minimum ratio to raw sha256; 0 for none
	mbps   []float64
}

func main() { benchkit.Main("bench/content", run) }

func run(ctx context.Context) (err error) {
	bin := flag.String("bin", "bin/meshfs", "the meshfs binary to measure")
	size := flag.Int64("size", 1<<30, "bytes in the generated file")
	runs := flag.Int("runs", 3, "timed runs of each measure")
	parent := flag.String("dir", "", "folder to create the temporary folder in (default: the system's temp folder)")
	keep := flag.Bool("keep", false, "keep the temporary folder (the file and the repo read by cat; the repos added to are always removed)")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if *size <= 0 {
		return fmt.Errorf("--size must be positive, not %d", *size)
	}
	if *runs < 1 {
		return fmt.Errorf("--runs must be at least 1, not %d", *runs)
	}
	binPath, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(binPath); err != nil {
		return fmt.Errorf("the meshfs binary: %w (build it with make build)", err)
	} else if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("the meshfs binary %s is not an executable file", binPath)
	}
	if *parent == "" {
		*parent = os.TempDir()
	}
	// The file, the repo read by cat and one repo being added to.
	if err := checkFreeSpace(*parent, 3*uint64(*size)+(256<<20)); err != nil {
		return err
	}

	tmp, err := os.MkdirTemp(*parent, "meshfs-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if *keep {
			fmt.Fprintf(os.Stderr, "bench/content: kept %s\n", tmp)
			return
		}
		if rerr := os.RemoveAll(tmp); rerr != nil && err == nil {
			err = fmt.Errorf("cleaning up: %w", rerr)
		}
	}()
	m := benchkit.Meshfs{Ctx: ctx, Bin: binPath}

	// Setup, not timed.
	benchkit.Logf("generating %s (%d bytes) in %s", benchkit.HumanSize(*size), *size, tmp)
	file := filepath.Join(tmp, "input.bin")
	fileSum, err := generate(file, *size)
	if err != nil {
		return fmt.Errorf("generating the file: %w", err)
	}
	benchkit.Logf("importing it into the repo cat reads from (not timed)")
	catRepo := filepath.Join(tmp, "repo-cat")
	wantCID, _, err := m.Add("--repo", catRepo, "-q", file)
	if err != nil {
		return err
	}
	benchkit.Logf("CID %s; checking that cat returns the file's bytes (not timed)", wantCID)
	if err := m.CheckCat(*size, fileSum, "--repo", catRepo, wantCID); err != nil {
		return err
	}
	benchkit.RawHash(min(*size, 64<<20)) // warm up

	rawM := &measure{key: "raw_sha256", label: "raw sha256 (1 core)"}
	onlyHashM := &measure{key: "add_only_hash", label: "add --only-hash", target: 0.85}
	addRepoM := &measure{key: "add_disk_repo", label: "add to disk repo", target: 0.60}
	catM := &measure{key: "cat_disk_repo", label: "cat from disk repo (verify)", target: 1.00}
	diskM := &measure{key: "disk_durable_write", label: "disk: 256 KiB files, fsync each (no hashing)"}
	seqM := &measure{key: "disk_sequential_write", label: "disk: one file, one fsync (no hashing)"}
	measures := []*measure{rawM, onlyHashM, addRepoM, catM, diskM, seqM}
	mbps := func(d time.Duration) float64 { return float64(*size) / 1e6 / d.Seconds() }

	for round := 1; round <= *runs; round++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := benchkit.RawHash(*size)
		rawM.mbps = append(rawM.mbps, mbps(d))
		benchkit.Logf("round %d/%d: raw sha256 %.1f MB/s", round, *runs, mbps(d))

		c, d, err := m.Add("--only-hash", "-q", file)
		if err != nil {
			return err
		}
		if c != wantCID {
			return fmt.Errorf("add --only-hash printed CID %s, add --repo printed %s", c, wantCID)
		}
		onlyHashM.mbps = append(onlyHashM.mbps, mbps(d))
		benchkit.Logf("round %d/%d: add --only-hash %.1f MB/s", round, *runs, mbps(d))

		repo, err := os.MkdirTemp(tmp, "repo-add-")
		if err != nil {
			return err
		}
		syscall.Sync()
		c, d, err = m.Add("--repo", repo, "-q", file)
		if rerr := os.RemoveAll(repo); rerr != nil && err == nil {
			err = fmt.Errorf("removing %s: %w", repo, rerr)
		}
		if err != nil {
			return err
		}
		if c != wantCID {
			return fmt.Errorf("add --repo printed CID %s in round %d, %s before", c, round, wantCID)
		}
		addRepoM.mbps = append(addRepoM.mbps, mbps(d))
		benchkit.Logf("round %d/%d: add to disk repo %.1f MB/s", round, *runs, mbps(d))

		d, err = m.CatToDevNull("--repo", catRepo, wantCID)
		if err != nil {
			return err
		}
		catM.mbps = append(catM.mbps, mbps(d))
		benchkit.Logf("round %d/%d: cat from disk repo %.1f MB/s", round, *runs, mbps(d))

		syscall.Sync()
		d, err = durableWrites(tmp, *size)
		if err != nil {
			return err
		}
		diskM.mbps = append(diskM.mbps, mbps(d))
		benchkit.Logf("round %d/%d: disk durable writes %.1f MB/s", round, *runs, mbps(d))

		syscall.Sync()
		d, err = sequentialWrite(tmp, *size)
		if err != nil {
			return err
		}
		seqM.mbps = append(seqM.mbps, mbps(d))
		benchkit.Logf("round %d/%d: disk sequential write %.1f MB/s", round, *runs, mbps(d))
	}

	report(os.Stdout, *size, *runs, measures)
	fmt.Printf("add to disk repo / disk sequential write: %.2f (how close add comes to what this disk can make durable at best)\n",
		benchkit.Median(addRepoM.mbps)/benchkit.Median(seqM.mbps))
	return nil
}

// durableWrites is the disk's side of `add --repo` as the store first did
// it, without any hashing: size bytes as 256 KiB files in 1024 folders,
// each written to a temporary name, fsynced, renamed and its folder
// fsynced, 16 at a time. (The store now makes many blocks durable with
// one sync, content/diskstore_commit.go, so `add --repo` may beat it.) It
// returns the time taken.
func durableWrites(parent string, size int64) (time.Duration, error) {
	dir, err := os.MkdirTemp(parent, "disk-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	for i := range 1024 {
		if err := os.Mkdir(filepath.Join(dir, strconv.Itoa(i)), 0o755); err != nil {
			return 0, err
		}
	}
	syscall.Sync()
	buf := hashBuf[:min(hashBufSize, size)]
	n := int((size + int64(len(buf)) - 1) / int64(len(buf)))
	jobs := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := durableFile(filepath.Join(dir, strconv.Itoa(i%1024)), i, buf); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	d := time.Since(start)
	close(errs)
	return d, <-errs
}

func durableFile(shard string, i int, data []byte) error {
	f, err := os.CreateTemp(shard, ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(shard, strconv.Itoa(i))); err != nil {
		return err
	}
	d, err := os.Open(shard)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// sequentialWrite is what the disk can make durable at best: size bytes
// written to one new file in 1 MiB writes and fsynced once. It returns
// the time the writes and the fsync took.
func sequentialWrite(parent string, size int64) (time.Duration, error) {
	f, err := os.CreateTemp(parent, "seq-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	buf := bytes.Repeat(hashBuf, (1<<20)/len(hashBuf))
	start := time.Now()
	for left := size; left > 0; left -= int64(len(buf)) {
		if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			f.Close()
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	d := time.Since(start)
	return d, f.Close()
}

// generate writes the first size fixture bytes to path, fsynced, and
// returns their SHA-256.
func generate(path string, size int64) ([]byte, error) {
	return benchkit.WriteFile(path, fixture.New(size), size)
}

// report prints the table and the BENCH lines.
func report(w io.Writer, size int64, runs int, measures []*measure) {
	raw := benchkit.Median(measures[0].mbps)
	fmt.Fprintf(w, "\nmeshfs content bench: %s file, %d runs each, GOMAXPROCS=%d (%d CPUs), %s %s/%s\n",
		benchkit.HumanSize(size), runs, runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if cpu := benchkit.CPUModel(); cpu != "" {
		fmt.Fprintf(w, "cpu: %s\n", cpu)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "measure\tmedian MB/s\t(min..max)\tratio to sha256\t(min..max)\ttarget\tstatus")
	for _, m := range measures {
		med, lo, hi := benchkit.Median(m.mbps), slices.Min(m.mbps), slices.Max(m.mbps)
		target, status := "", ""
		if m.target > 0 {
			target = fmt.Sprintf(">= %.2f", m.target)
			status = benchkit.MetOrBelow(med/raw, m.target)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t(%.1f..%.1f)\t%.2f\t(%.2f..%.2f)\t%s\t%s\n",
			m.label, med, lo, hi, med/raw, lo/raw, hi/raw, target, status)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, m := range measures {
		med, lo, hi := benchkit.Median(m.mbps), slices.Min(m.mbps), slices.Max(m.mbps)
		line := fmt.Sprintf("BENCH %s_mbps=%.1f min_mbps=%.1f max_mbps=%.1f ratio=%.3f ratio_min=%.3f ratio_max=%.3f runs=%d",
			m.key, med, lo, hi, med/raw, lo/raw, hi/raw, len(m.mbps))
		if m.target > 0 {
			line += fmt.Sprintf(" target=%.2f status=%s", m.target, benchkit.MetOrBelow(med/raw, m.target))
		}
		fmt.Fprintln(w, line)
	}
}

// checkFreeSpace fails if the file system holding dir has fewer than need
// bytes available.
func checkFreeSpace(dir string, need uint64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil // unknown; let the writes fail if it is short
	}
	if free := uint64(st.Bavail) * uint64(st.Bsize); free < need {
		return fmt.Errorf("%s has %s free, the bench needs about %s (use --dir or a smaller --size)",
			dir, benchkit.HumanSize(int64(free)), benchkit.HumanSize(int64(need)))
	}
	return nil
}
