//go:build unix

package fsclient_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"meshfs/fsclient"
	"meshfs/internal/fixture"
	"meshfs/namespace"
)

func TestWriteReadAcrossPeers(t *testing.T) {
	t.Parallel()
	w, r1, r2 := client(t, 0), client(t, 1), client(t, 2)
	ctx := t.Context()
	dir := testDir(t, w)
	for _, n := range []int{0, 1, 1000, 300 << 10, 1<<20 + 7} {
		name := dir + "/f" + strings.Repeat("x", n%7)
		data := fixture.Bytes(n)
		if err := w.WriteFile(ctx, name, data, 0o600); err != nil {
			t.Fatalf("WriteFile %d bytes: %v", n, err)
		}
		for i, r := range []*fsclient.Client{r1, r2} {
			got, err := r.ReadFile(ctx, name)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("peer %d: ReadFile of %d bytes: %d bytes, %v", i+1, n, len(got), err)
			}
			info, err := r.Stat(ctx, name)
			if err != nil || info.Size() != int64(n) || info.Mode() != 0o600 || info.IsDir() {
				t.Fatalf("peer %d: Stat: %v, %v", i+1, info, err)
			}
		}
		// The same through an open file, read in odd pieces.
		f, err := r2.Open(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(f, 5000)))
		if err != nil || !bytes.Equal(got, data[:min(n, 5000)]) {
			t.Fatalf("Open+Read of %d bytes: %v", n, err)
		}
		rest, err := io.ReadAll(f)
		if err != nil || !bytes.Equal(append(got, rest...), data) {
			t.Fatalf("Open+ReadAll of %d bytes: %v", n, err)
		}
		f.Close()
	}
	entries, err := r1.ReadDir(ctx, dir)
	if err != nil || len(entries) != 5 || entries[0].Name() != "f" {
		t.Fatalf("ReadDir: %v, %v", entries, err)
	}
}

// TestReadOfLargeFile runs iotest.TestReader on a file past the size an
// open file reads whole: sequential reads share one stream, ReadAt and
// Seek make range requests.
func TestReadOfLargeFile(t *testing.T) {
	t.Parallel()
	c := client(t, 1)
	ctx := t.Context()
	name := testDir(t, c) + "/big"
	data := fixture.Bytes(700<<10 + 3)
	if err := c.WriteFile(ctx, name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := client(t, 2).Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := iotest.TestReader(f, data); err != nil {
		t.Fatal(err)
	}
}

// TestCloseToOpen checks that a writer's changes show nowhere before its
// commit and everywhere after it, and that a file open for reading keeps
// the version it opened.
func TestCloseToOpen(t *testing.T) {
	t.Parallel()
	w, r := client(t, 0), client(t, 1)
	ctx := t.Context()
	name := testDir(t, w) + "/doc"
	old := fixture.Bytes(100 << 10)
	if err := w.WriteFile(ctx, name, old, 0o644); err != nil {
		t.Fatal(err)
	}
	sees := func(want []byte, when string) {
		t.Helper()
		got, err := r.ReadFile(ctx, name)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: the other peer reads %d bytes (want %d), %v", when, len(got), len(want), err)
		}
	}
	pinned, err := client(t, 2).Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Close()

	f, err := w.OpenFile(ctx, name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(old)
	if _, err := f.WriteAt([]byte("HELLO"), 10); err != nil {
		t.Fatal(err)
	}
	copy(want[10:], "HELLO")
	if _, err := f.Seek(-3, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("tail!")); err != nil {
		t.Fatal(err)
	}
	want = append(want[:len(want)-3], "tail!"...)
	// The writer reads its own changes at once.
	got := make([]byte, 20)
	if _, err := f.ReadAt(got, 5); err != nil || !bytes.Equal(got, want[5:25]) {
		t.Fatalf("ReadAt of the changes: %q, %v", got, err)
	}
	if info, err := f.Stat(); err != nil || info.Size() != int64(len(want)) {
		t.Fatalf("Stat of the open file: %v, %v", info, err)
	}
	sees(old, "before Sync")
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	sees(want, "after Sync")
	synced := bytes.Clone(want)

	// More changes after a Sync: cut, extend with zeros, write past the end.
	if err := f.Truncate(50); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(60); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("end"), 70); err != nil {
		t.Fatal(err)
	}
	want = append(append(want[:50:50], make([]byte, 20)...), "end"...)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if all, err := io.ReadAll(f); err != nil || !bytes.Equal(all, want) {
		t.Fatalf("ReadAll of the open file: %q, %v", all, err)
	}
	sees(synced, "before Close")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	sees(want, "after Close")
	if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}

	// The file opened before both commits still reads the first version.
	if all, err := io.ReadAll(pinned); err != nil || !bytes.Equal(all, old) {
		t.Fatalf("the pinned reader read %d bytes (want %d), %v", len(all), len(old), err)
	}
}

// recorder is a proxy in front of a daemon's API that notes the changes
// sent through it ("write offset=N", "write", "truncate size=N", ...).
type recorder struct {
	mu      sync.Mutex
	changes []string
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.changes
	r.changes = nil
	return out
}

// recordingClient returns a client of peer i through a recorder.
func recordingClient(t *testing.T, i int, opts ...fsclient.Option) (*fsclient.Client, *recorder) {
	t.Helper()
	client(t, i) // skips in -short mode
	target, err := url.Parse(mesh.peers[i].API)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			q := r.URL.Query()
			note := strings.TrimPrefix(r.URL.Path, "/api/v0/fs/")
			for _, k := range []string{"offset", "size", "append", "create", "exclusive"} {
				if v := q.Get(k); v != "" {
					note += " " + k + "=" + v
				}
			}
			rec.mu.Lock()
			rec.changes = append(rec.changes, note)
			rec.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := fsclient.New(srv.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

// TestCommitWays checks which request a commit sends, and that each way
// leaves the bytes the file was given.
func TestCommitWays(t *testing.T) {
	t.Parallel()
	c, rec := recordingClient(t, 0, fsclient.WithMemoryLimit(64<<10))
	other := client(t, 2)
	ctx := t.Context()
	dir := testDir(t, c)
	const size = 1 << 20
	tests := []struct {
		name   string
		flag   int
		change func(f *fsclient.File, want []byte) []byte
		sent   string
	}{
		{"small write inside", os.O_RDWR, func(f *fsclient.File, want []byte) []byte {
			f.WriteAt([]byte("patch"), 300_000)
			copy(want[300_000:], "patch")
			return want
		}, "write offset=300000 create=0"},
		{"an edit spilled to a temporary file", os.O_RDWR, func(f *fsclient.File, want []byte) []byte {
			b := fixture.Bytes(100_000)
			f.WriteAt(b, 400_000)
			copy(want[400_000:], b)
			return want
		}, "write offset=400000 create=0"},
		{"append", os.O_WRONLY | os.O_APPEND, func(f *fsclient.File, want []byte) []byte {
			f.Write([]byte("more"))
			f.Write([]byte(" and more"))
			return append(want, "more and more"...)
		}, "write offset=1048576 create=0"},
		{"truncate only", os.O_RDWR, func(f *fsclient.File, want []byte) []byte {
			f.Truncate(1000)
			return want[:1000]
		}, "truncate size=1000 create=0"},
		{"extend only", os.O_RDWR, func(f *fsclient.File, want []byte) []byte {
			f.Truncate(size + 10)
			return append(want, make([]byte, 10)...)
		}, "truncate size=1048586 create=0"},
		{"two places", os.O_RDWR, func(f *fsclient.File, want []byte) []byte {
			f.WriteAt([]byte("a"), 10)
			f.WriteAt([]byte("b"), 900_000)
			want[10], want[900_000] = 'a', 'b'
			return want
		}, "write create=0"},
		{"cut then write", os.O_RDWR, func(f *fsclient.File, want []byte) []byte {
			f.Truncate(500)
			f.WriteAt([]byte("z"), 600)
			return append(append(want[:500], make([]byte, 100)...), 'z')
		}, "write create=0"},
		{"most of it, spilled to a temporary file", os.O_RDWR, func(f *fsclient.File, want []byte) []byte {
			b := fixture.Bytes(700_000)
			f.WriteAt(b, 1)
			copy(want[1:], b)
			return want
		}, "write create=0"},
		{"O_TRUNC and a rewrite", os.O_WRONLY | os.O_TRUNC, func(f *fsclient.File, want []byte) []byte {
			f.Write([]byte("new"))
			return []byte("new")
		}, "write create=0"},
		{"nothing", os.O_RDWR, func(f *fsclient.File, want []byte) []byte { return want }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := dir + "/" + strings.ReplaceAll(tt.name, " ", "-")
			base := fixture.Bytes(size)
			if err := c.WriteFile(ctx, name, base, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := c.OpenFile(ctx, name, tt.flag, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.change(f, bytes.Clone(base))
			rec.take()
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			sent := strings.Join(rec.take(), "; ")
			if sent != tt.sent {
				t.Errorf("the commit sent %q, want %q", sent, tt.sent)
			}
			if got, err := other.ReadFile(ctx, name); err != nil || !bytes.Equal(got, want) {
				t.Errorf("another peer reads %d bytes (want %d), %v", len(got), len(want), err)
			}
		})
	}

	// Someone else changed the file since the open: the small change goes
	// whole, so the last to commit wins with exactly its bytes.
	name := dir + "/raced"
	base := fixture.Bytes(size)
	if err := c.WriteFile(ctx, name, base, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := c.OpenFile(ctx, name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("mine"), 10)
	if err := other.WriteFile(ctx, name, []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec.take()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if sent := rec.take(); len(sent) != 1 || sent[0] != "write create=0" {
		t.Errorf("after a change by another, the commit sent %q", sent)
	}
	want := bytes.Clone(base)
	copy(want[10:], "mine")
	if got, err := other.ReadFile(ctx, name); err != nil || !bytes.Equal(got, want) {
		t.Errorf("after the race another peer reads %d bytes, %v", len(got), err)
	}
}

func TestOpenFlags(t *testing.T) {
	t.Parallel()
	c, other := client(t, 1), client(t, 0)
	ctx := t.Context()
	dir := testDir(t, c)
	name := dir + "/f"
	if err := c.WriteFile(ctx, name, []byte("old content"), 0o644); err != nil {
		t.Fatal(err)
	}

	// O_EXCL: an existing file is fs.ErrExist; a new one is made at once.
	if _, err := c.OpenFile(ctx, name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("O_EXCL on an existing file: %v", err)
	}
	f, err := c.OpenFile(ctx, dir+"/new", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := other.Stat(ctx, dir+"/new"); err != nil || info.Size() != 0 || info.Mode() != 0o600 {
		t.Errorf("the new file seen elsewhere before Close: %v, %v", info, err)
	}
	f.Write([]byte("made"))
	if _, err := f.Read(make([]byte, 1)); !errors.Is(err, fsclient.ErrAccessMode) {
		t.Errorf("Read of a write-only file: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := other.ReadFile(ctx, dir+"/new"); err != nil || string(b) != "made" {
		t.Errorf("after Close: %q, %v", b, err)
	}

	// O_TRUNC truncates at the commit, not at the open.
	f, err = c.OpenFile(ctx, name, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := other.ReadFile(ctx, name); err != nil || string(b) != "old content" {
		t.Errorf("O_TRUNC before Close: %q, %v", b, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := other.ReadFile(ctx, name); err != nil || len(b) != 0 {
		t.Errorf("O_TRUNC after Close: %q, %v", b, err)
	}

	// O_APPEND writes at the end; WriteAt is refused.
	if err := c.WriteFile(ctx, name, []byte("log:"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err = c.OpenFile(ctx, name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Seek(0, io.SeekStart)
	f.Write([]byte(" one"))
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("WriteAt with O_APPEND: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := other.ReadFile(ctx, name); string(b) != "log: one" {
		t.Errorf("after O_APPEND: %q", b)
	}

	// Create makes or truncates; read-only files refuse writes.
	f, err = c.Create(ctx, dir+"/created")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("abc")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = c.Open(ctx, dir+"/created")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, fsclient.ErrAccessMode) {
		t.Errorf("Write to a read-only file: %v", err)
	}
	if err := f.Truncate(0); !errors.Is(err, fsclient.ErrAccessMode) {
		t.Errorf("Truncate of a read-only file: %v", err)
	}
	if f.Name() != dir+"/created" {
		t.Errorf("Name() = %q", f.Name())
	}
	f.Close()

	tests := []struct {
		name string
		path string
		flag int
		want error
	}{
		{"missing", dir + "/none", os.O_RDONLY, fs.ErrNotExist},
		{"missing parent", dir + "/no/f", os.O_WRONLY | os.O_CREATE, fs.ErrNotExist},
		{"a directory for writing", dir, os.O_WRONLY, namespace.ErrIsDir},
		{"under a file", name + "/x", os.O_RDONLY, namespace.ErrNotDir},
		{"both write modes", name, os.O_WRONLY | os.O_RDWR, fs.ErrInvalid},
	}
	for _, tt := range tests {
		_, err := c.OpenFile(ctx, tt.path, tt.flag, 0o644)
		var pe *fs.PathError
		if !errors.Is(err, tt.want) || !errors.As(err, &pe) || pe.Op != "open" || pe.Path != tt.path {
			t.Errorf("%s: OpenFile: %v, want a PathError for open %s wrapping %v", tt.name, err, tt.path, tt.want)
		}
	}
	// A commit to a file removed meanwhile fails instead of making it again.
	f, err = c.OpenFile(ctx, name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("lost"))
	if err := other.Remove(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Close after the file was removed: %v", err)
	}
	if _, err := other.Stat(ctx, name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the commit made the removed file again: %v", err)
	}
}

func TestErrorsAreSentinels(t *testing.T) {
	t.Parallel()
	c := client(t, 2)
	ctx := t.Context()
	dir := testDir(t, c)
	if err := c.MkdirAll(ctx, dir+"/full/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile(ctx, dir+"/file", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"stat of nothing", func() error { _, err := c.Stat(ctx, dir+"/none"); return err }, fs.ErrNotExist},
		{"read of a directory", func() error { _, err := c.ReadFile(ctx, dir); return err }, namespace.ErrIsDir},
		{"readdir of a file", func() error { _, err := c.ReadDir(ctx, dir+"/file"); return err }, namespace.ErrNotDir},
		{"remove of a full directory", func() error { return c.Remove(ctx, dir+"/full") }, namespace.ErrNotEmpty},
		{"mkdir of an existing name", func() error { return c.Mkdir(ctx, dir+"/file", 0o755) }, fs.ErrExist},
		{"mkdir without its parent", func() error { return c.Mkdir(ctx, dir+"/a/b", 0o755) }, fs.ErrNotExist},
		{"rename of nothing", func() error { return c.Rename(ctx, dir+"/none", dir+"/x") }, fs.ErrNotExist},
		{"rename of a file over a directory", func() error { return c.Rename(ctx, dir+"/file", dir+"/full") }, namespace.ErrIsDir},
		{"remove of nothing", func() error { return c.Remove(ctx, dir+"/none") }, fs.ErrNotExist},
		{"readlink of a file", func() error { _, err := c.Readlink(ctx, dir+"/file"); return err }, fs.ErrInvalid},
		{"chmod of nothing", func() error { return c.Chmod(ctx, dir+"/none", 0o600) }, fs.ErrNotExist},
		{"chtimes of nothing", func() error { return c.Chtimes(ctx, dir+"/none", time.Time{}, time.Now()) }, fs.ErrNotExist},
		{"truncate of a directory", func() error { return c.Truncate(ctx, dir, 0) }, namespace.ErrIsDir},
		{"exclusive write", func() error {
			_, err := c.Write(ctx, dir+"/file", strings.NewReader("y"), fsclient.WriteOptions{Exclusive: true})
			return err
		}, fs.ErrExist},
		{"no-create write", func() error {
			_, err := c.Write(ctx, dir+"/none", strings.NewReader("y"), fsclient.WriteOptions{NoCreate: true})
			return err
		}, fs.ErrNotExist},
	}
	for _, tt := range tests {
		err := tt.do()
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	// RemoveAll of nothing is no error; of a tree, removes it.
	if err := c.RemoveAll(ctx, dir+"/none"); err != nil {
		t.Errorf("RemoveAll of nothing: %v", err)
	}
	if err := c.RemoveAll(ctx, dir+"/full"); err != nil {
		t.Errorf("RemoveAll: %v", err)
	}
	if _, err := c.Stat(ctx, dir+"/full/sub"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after RemoveAll: %v", err)
	}
}
