package content

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTakeBatch(t *testing.T) {
	reqs := make(chan *putRequest, 4)
	a, b, c := &putRequest{final: "a"}, &putRequest{final: "b"}, &putRequest{final: "c"}
	if batch, open := takeBatch(reqs, false); len(batch) != 0 || !open {
		t.Fatalf("empty, not waiting: %d requests, open %v", len(batch), open)
	}
	reqs <- a
	reqs <- b
	if batch, open := takeBatch(reqs, true); !slices.Equal(batch, []*putRequest{a, b}) || !open {
		t.Fatalf("took %v, open %v; want a and b", batch, open)
	}
	reqs <- c
	close(reqs)
	if batch, open := takeBatch(reqs, false); !slices.Equal(batch, []*putRequest{c}) || open {
		t.Fatalf("took %v, open %v; want c and closed", batch, open)
	}
	if batch, open := takeBatch(reqs, true); len(batch) != 0 || open {
		t.Fatalf("closed: took %v, open %v", batch, open)
	}
}

func TestRequestDirs(t *testing.T) {
	reqs := []*putRequest{{final: "s/ab/x"}, {final: "s/cd/y"}, {final: "s/ab/z"}}
	if got := requestDirs(reqs); !slices.Equal(got, []string{"s/ab", "s/cd"}) {
		t.Fatalf("requestDirs = %q", got)
	}
}

// testBlocks returns n distinct raw blocks of about size bytes.
func testBlocks(t *testing.T, n, size int) []Block {
	t.Helper()
	blocks := make([]Block, n)
	for i := range blocks {
		data := make([]byte, size+i)
		for k := range data {
			data[k] = byte(k*13 + i*7)
		}
		data[0], data[1] = byte(i), byte(i>>8)
		b, err := NewRawBlock(data)
		if err != nil {
			t.Fatal(err)
		}
		blocks[i] = b
	}
	return blocks
}

// waitFor polls cond until it holds, failing the test after a deadline.
// It sleeps between polls rather than yielding: under js/wasm a file
// operation completes in Node's event loop, which runs only while every
// goroutine is blocked, so a runtime.Gosched loop would starve the Puts.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// temporaries returns the temporary files in the store's shard folders.
func temporaries(t *testing.T, dir string) []string {
	t.Helper()
	stray, err := filepath.Glob(filepath.Join(dir, "*", diskTmpPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return stray
}

// Puts that wait while a sync is under way are made durable together: the
// syncs do not grow with the number of Puts.
func TestDiskStoreGroupCommit(t *testing.T) {
	ctx := context.Background()
	h := openHeldStore(t) // the first sync waits until every other Put does
	dir, s, entered, release, syncs := h.dir, h.s, h.entered, h.release, &h.syncs
	blocks := testBlocks(t, 40, 3000)
	errs := make(chan error, len(blocks))
	put := func(b Block) { errs <- s.Put(ctx, b) }
	go put(blocks[0])
	<-entered
	for _, b := range blocks[1:] {
		go put(b)
	}
	waitFor(t, "the other Puts to queue", func() bool { return len(s.commits) == len(blocks)-1 })
	close(release)
	for range blocks {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Sync 0: the first block; 1: the others.
	if n := syncs.Load(); n != 2 {
		t.Errorf("%d Puts took %d syncs, want 2", len(blocks), n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkReopened(t, dir, blocks)
}

// checkReopened opens the store in dir and checks that it holds exactly
// blocks, whole, and no temporary file.
func checkReopened(t *testing.T, dir string, blocks []Block) {
	t.Helper()
	ctx := context.Background()
	s, err := OpenDiskStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, b := range blocks {
		got, err := s.Get(ctx, b.CID())
		if err != nil || string(got.Data()) != string(b.Data()) {
			t.Fatalf("after reopening, %s: %v", b.CID(), err)
		}
	}
	st, err := s.Stat(ctx)
	if err != nil || st.Blocks != int64(len(blocks)) {
		t.Fatalf("after reopening: Stat %+v, %v; want %d blocks", st, err, len(blocks))
	}
	if stray := temporaries(t, dir); len(stray) != 0 {
		t.Fatalf("temporary files after reopening: %q", stray)
	}
}

// A Put whose sync fails returns the failure, and the store takes no more
// blocks until it is reopened.
func TestDiskStoreFailedSyncFailsPuts(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blocks")
	injected := errors.New("injected sync failure")
	s, err := openDiskStore(dir, diskOptions{beforeSync: func(n int) error {
		if n == 1 { // the first block is stored, the second is not
			return injected
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	blocks := testBlocks(t, 3, 5000)
	if err := s.Put(ctx, blocks[0]); err != nil {
		t.Fatal(err)
	}
	err = s.Put(ctx, blocks[1])
	if !errors.Is(err, injected) || !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("Put whose sync failed: %v, want the injected failure and ErrStoreFailed", err)
	}
	err = s.Put(ctx, blocks[2])
	if !errors.Is(err, ErrStoreFailed) || !errors.Is(err, injected) {
		t.Fatalf("Put after a failed sync: %v, want ErrStoreFailed", err)
	}
	for _, b := range blocks[1:] {
		if ok, _ := s.Has(ctx, b.CID()); ok {
			t.Fatal("a refused block is in the store")
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if stray := temporaries(t, dir); len(stray) != 0 {
		t.Fatalf("temporary files after the failure: %q", stray)
	}
	// Reopened, the store takes blocks again, the failed one included.
	s, err = OpenDiskStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if err := s.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkReopened(t, dir, blocks)
}

// Close waits for the Puts under way: each Put either fails with
// ErrStoreClosed or its block is in the store when it is reopened.
func TestDiskStoreCloseDuringPuts(t *testing.T) {
	ctx := context.Background()
	h := openHeldStore(t)
	dir, s, entered, release := h.dir, h.s, h.entered, h.release
	blocks := testBlocks(t, 16, 2000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var stored []Block
	for i, b := range blocks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Put(ctx, b)
			switch {
			case err == nil:
				mu.Lock()
				stored = append(stored, b)
				mu.Unlock()
			case !errors.Is(err, ErrStoreClosed):
				t.Errorf("Put %d: %v", i, err)
			}
		}()
	}
	<-entered
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	waitFor(t, "Close to stop new Puts", func() bool { return s.closed.Load() })
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(stored) == 0 {
		t.Fatal("no Put succeeded: the one whose sync was held should have")
	}
	checkReopened(t, dir, stored)
}

// A Put whose context ends while it waits for its batch returns the
// context's error; its temporary file does not outlive the store.
func TestDiskStorePutCanceledWhileWaiting(t *testing.T) {
	h := openHeldStore(t)
	dir, s, entered, release := h.dir, h.s, h.entered, h.release
	blocks := testBlocks(t, 2, 1000)
	first := make(chan error)
	go func() { first <- s.Put(context.Background(), blocks[0]) }()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error)
	go func() { second <- s.Put(ctx, blocks[1]) }()
	waitFor(t, "the second Put to queue", func() bool { return len(s.commits) == 1 })
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled Put: %v", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if stray := temporaries(t, dir); len(stray) != 0 {
		t.Fatalf("temporary files after Close: %q", stray)
	}
	// The canceled block may or may not have been stored; the other is.
	s, err := OpenDiskStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(context.Background(), blocks[0].CID()); err != nil {
		t.Fatal(err)
	}
}

// One Put at a time takes one sync, and Close one more for the last
// rename. The tests above count on this numbering.
func TestDiskStoreSyncNumbering(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blocks")
	var seen []int
	s, err := openDiskStore(dir, diskOptions{beforeSync: func(n int) error {
		seen = append(seen, n) // the committer is one goroutine
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range testBlocks(t, 3, 100) {
		if err := s.Put(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 3}; !slices.Equal(seen, want) {
		t.Fatalf("syncs %v, want %v", seen, want)
	}
}

// heldStore is a store in a new folder whose first sync waits: entered is
// closed when it starts waiting, and it goes on once release is closed.
type heldStore struct {
	dir              string
	s                *DiskStore
	entered, release chan struct{}
	syncs            atomic.Int32 // syncs begun
}

func openHeldStore(t *testing.T) *heldStore {
	t.Helper()
	h := &heldStore{dir: filepath.Join(t.TempDir(), "blocks"), entered: make(chan struct{}), release: make(chan struct{})}
	s, err := openDiskStore(h.dir, diskOptions{beforeSync: func(n int) error {
		h.syncs.Add(1)
		if n == 0 {
			close(h.entered)
			<-h.release
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	return h
}

// A crash may leave an acknowledged block under its temporary name (its
// rename not yet durable): the next open renames it into place if its
// bytes match its CID, and removes torn and stray temporary files.
func TestDiskStoreRecoversTemporaries(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blocks")
	s, err := OpenDiskStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	blocks := testBlocks(t, 5, 3000)
	for _, b := range blocks[4:] {
		if err := s.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	temp := func(b Block, suffix string, data []byte) {
		t.Helper()
		key := b.CID().String()
		final := (&DiskStore{dir: dir}).path(key)
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(filepath.Dir(final), diskTmpPrefix+key+suffix), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	temp(blocks[0], ".1", blocks[0].Data())                           // whole: recovered
	temp(blocks[1], ".2", blocks[1].Data()[:1000])                    // torn: removed
	temp(blocks[2], ".3", append([]byte{1}, blocks[2].Data()[1:]...)) // wrong bytes: removed
	temp(blocks[4], ".4", blocks[4].Data())                           // a spare of a stored block: removed
	// Whole, but in another shard folder than its own: removed.
	own := filepath.Base(filepath.Dir((&DiskStore{dir: dir}).path(blocks[3].CID().String())))
	wrong := "aa"
	if own == wrong {
		wrong = "bb"
	}
	if err := os.MkdirAll(filepath.Join(dir, wrong), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, wrong, diskTmpPrefix+blocks[3].CID().String()+".5"), blocks[3].Data(), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = OpenDiskStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if stray := temporaries(t, dir); len(stray) != 0 {
		t.Fatalf("temporary files after opening: %q", stray)
	}
	for i, b := range blocks {
		has, err := s.Has(ctx, b.CID())
		if err != nil {
			t.Fatal(err)
		}
		if want := i == 0 || i == 4; has != want {
			t.Errorf("block %d: held %v, want %v", i, has, want)
		}
	}
	if got, err := s.Get(ctx, blocks[0].CID()); err != nil || !bytes.Equal(got.Data(), blocks[0].Data()) {
		t.Fatalf("recovered block: %v", err)
	}
}
