package content_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"meshfs/content"
	"meshfs/internal/fixture"
)

// failingPutter fails every Put after the first n.
type failingPutter struct {
	n     int64
	calls atomic.Int64
}

var errDiskFull = errors.New("disk full")

func (p *failingPutter) Put(context.Context, content.Block) error {
	if p.calls.Add(1) > p.n {
		return errDiskFull
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestImportStopsOnPutError(t *testing.T) {
	const size = 256 << 20
	in := &countingReader{r: fixture.New(size)}
	_, err := content.Import(context.Background(), in, &failingPutter{n: 3}, content.ImportOptions{ChunkSize: 1 << 20})
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Import: %v, want the Put error", err)
	}
	// The reader may run ahead by its buffers (2*Parallel chunks), no more.
	if read := in.n.Load(); read > 64<<20 {
		t.Errorf("Import read %d MiB after Put failed", read>>20)
	}
}

// blockedReader gives one chunk, then blocks until released, as a pipe
// with no writer does.
type blockedReader struct {
	first   bool
	release chan struct{}
}

func (b *blockedReader) Read(p []byte) (int, error) {
	if !b.first {
		b.first = true
		return copy(p, make([]byte, 4096)), nil
	}
	<-b.release
	return 0, io.EOF
}

func TestImportReturnsWhenCancelledDuringARead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	in := &blockedReader{release: make(chan struct{})}
	defer close(in.release)
	done := make(chan error, 1)
	go func() {
		_, err := content.Import(ctx, in, content.Discard, content.ImportOptions{ChunkSize: 1024})
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Import: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second): // a deadline for a hang, not a wait
		t.Fatal("Import did not return after its context was cancelled")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("input broke") }

func TestImportReportsReadError(t *testing.T) {
	_, err := content.Import(context.Background(), errReader{}, content.Discard, content.ImportOptions{})
	if err == nil || err.Error() != "content: reading input: input broke" {
		t.Fatalf("Import: %v", err)
	}
}
