// Package benchkit is what meshfs's bench programs share: running the
// meshfs binary and timing it, the raw SHA-256 reference, and the report's
// arithmetic (medians, ratios, BENCH lines).
package benchkit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"meshfs/internal/fixture"
)

// Meshfs runs the binary under test.
type Meshfs struct {
	Ctx context.Context
	Bin string
}

// Command returns the command for args with stderr passed through.
func (m Meshfs) Command(args ...string) *exec.Cmd {
	cmd := exec.CommandContext(m.Ctx, m.Bin, args...)
	cmd.Stderr = os.Stderr
	return cmd
}

// Add runs `meshfs add args...` (give -q) and returns the CID it printed
// and the wall time it took.
func (m Meshfs) Add(args ...string) (string, time.Duration, error) {
	var out bytes.Buffer
	cmd := m.Command(append([]string{"add"}, args...)...)
	cmd.Stdout = &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return "", 0, fmt.Errorf("meshfs add %s: %w", strings.Join(args, " "), err)
	}
	c := strings.TrimSpace(out.String())
	if c == "" || strings.ContainsAny(c, " \n") {
		return "", 0, fmt.Errorf("meshfs add %s printed %q, not one CID", strings.Join(args, " "), out.String())
	}
	return c, d, nil
}

// CatToDevNull times `meshfs cat args... > /dev/null`.
func (m Meshfs) CatToDevNull(args ...string) (time.Duration, error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer null.Close()
	cmd := m.Command(append([]string{"cat"}, args...)...)
	cmd.Stdout = null
	start := time.Now()
	err = cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("meshfs cat %s: %w", strings.Join(args, " "), err)
	}
	return d, nil
}

// CheckCat checks that `meshfs cat args...` writes size bytes whose
// SHA-256 is sum.
func (m Meshfs) CheckCat(size int64, sum []byte, args ...string) error {
	h := &countingHash{Hash: sha256.New()}
	cmd := m.Command(append([]string{"cat"}, args...)...)
	cmd.Stdout = h
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("meshfs cat %s: %w", strings.Join(args, " "), err)
	}
	if h.n != size {
		return fmt.Errorf("meshfs cat %s wrote %d bytes, the file has %d", strings.Join(args, " "), h.n, size)
	}
	if got := h.Sum(nil); !bytes.Equal(got, sum) {
		return fmt.Errorf("meshfs cat %s wrote bytes with sha256 %x, the file's is %x", strings.Join(args, " "), got, sum)
	}
	return nil
}

type countingHash struct {
	hash.Hash
	n int64
}

func (h *countingHash) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	return h.Hash.Write(p)
}

// HashBufSize is the raw SHA-256 reference's buffer: the default chunk.
const HashBufSize = 256 << 10

var (
	hashBuf  = fixture.Bytes(HashBufSize)
	hashSink [sha256.Size]byte
)

// RawHash hashes total bytes as sha256.Sum256 calls over 256 KiB buffers on
// the calling goroutine (one core) and returns the time taken.
func RawHash(total int64) time.Duration {
	runtime.GC()
	start := time.Now()
	for left := total; left > 0; left -= HashBufSize {
		s := sha256.Sum256(hashBuf[:min(left, HashBufSize)])
		hashSink[0] ^= s[0]
	}
	return time.Since(start)
}

// MBps is bytes per duration in MB/s (1 MB = 1e6 bytes).
func MBps(bytes int64, d time.Duration) float64 { return float64(bytes) / 1e6 / d.Seconds() }

// Median of xs (not empty).
func Median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Percentile returns the p-th percentile (0..100) of xs by nearest rank.
func Percentile(xs []float64, p float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// MetOrBelow says whether ratio reaches target.
func MetOrBelow(ratio, target float64) string {
	if ratio >= target {
		return "MET"
	}
	return "BELOW"
}

// HumanSize formats a byte count with binary units.
func HumanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// CPUModel returns the CPU's model name from /proc/cpuinfo, or "".
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Logf prints a progress line on stderr.
func Logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
}

// WriteFile writes size bytes from r to path, fsyncs them (so no dirty
// pages bias a later measure) and returns their SHA-256.
func WriteFile(path string, r io.Reader, size int64) (sum []byte, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	h := sha256.New()
	if _, err := io.CopyBuffer(io.MultiWriter(f, h), io.LimitReader(r, size), make([]byte, 1<<20)); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// Main runs a benchmark's run until it ends or SIGINT/SIGTERM, and exits 1
// with its error if it fails.
func Main(name string, run func(context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "\n%s: FAIL: %v\n", name, err)
		os.Exit(1)
	}
}
