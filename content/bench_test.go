package content_test

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"meshfs/content"
	"meshfs/internal/fixture"
)

// benchFile writes n fixture bytes to a temporary file.
func benchFile(b *testing.B, n int64) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "in")
	if err := os.WriteFile(p, fixture.Bytes(int(n)), 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

// sha256MBps measures raw single-core SHA-256 over n bytes in 256 KiB
// buffers, the reference the benchmarks report their ratio against.
func sha256MBps(n int64) float64 {
	buf := make([]byte, content.DefaultChunkSize)
	start := time.Now()
	for done := int64(0); done < n; done += int64(len(buf)) {
		sha256.Sum256(buf)
	}
	return float64(n) / time.Since(start).Seconds() / 1e6
}

func BenchmarkImportOnlyHash(b *testing.B) {
	const n = 256 << 20
	p := benchFile(b, n)
	ref := sha256MBps(n)
	b.SetBytes(n)
	for b.Loop() {
		f, _ := os.Open(p)
		if _, err := content.Import(context.Background(), f, content.Discard, content.ImportOptions{}); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6/ref, "x-sha256")
}

// BenchmarkImportDiskStore imports into a new DiskStore each time: the
// durable write path (group commit) under the importer's concurrency.
func BenchmarkImportDiskStore(b *testing.B) {
	const n = 256 << 20
	p := benchFile(b, n)
	ref := sha256MBps(n)
	b.SetBytes(n)
	for b.Loop() {
		store, err := content.OpenDiskStore(filepath.Join(b.TempDir(), "blocks"))
		if err != nil {
			b.Fatal(err)
		}
		f, _ := os.Open(p)
		_, err = content.Import(context.Background(), f, store, content.ImportOptions{})
		f.Close()
		if cerr := store.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6/ref, "x-sha256")
}

func BenchmarkCatDiskStore(b *testing.B) {
	const n = 256 << 20
	p := benchFile(b, n)
	store, err := content.OpenDiskStore(filepath.Join(b.TempDir(), "blocks"))
	if err != nil {
		b.Fatal(err)
	}
	f, _ := os.Open(p)
	root, err := content.Import(context.Background(), f, store, content.ImportOptions{})
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	ref := sha256MBps(n)
	b.SetBytes(n)
	for b.Loop() {
		r, err := content.NewFileReader(context.Background(), store, root.CID, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6/ref, "x-sha256")
}
