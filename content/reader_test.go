package content_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

func importBytes(t *testing.T, store content.BlockPutter, data []byte, opts content.ImportOptions) content.FileRoot {
	t.Helper()
	root, err := content.Import(context.Background(), bytes.NewReader(data), store, opts)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestRoundTripRandomSizes(t *testing.T) {
	r := testRand(t)
	sizes := []int{0, 1, 1023, 1024, 1025, 4096, 174 * 1024, 174*1024 + 1, 174 * 174 * 1024, 174*174*1024 + 5}
	for range 12 {
		sizes = append(sizes, r.IntN(3<<20))
	}
	for _, size := range sizes {
		data := randomBytes(r, size)
		chunk := []int{1024, 4096, 65536, content.DefaultChunkSize}[r.IntN(4)]
		var store content.Store = content.NewMemStore()
		if r.IntN(2) == 0 {
			store = newBufferStore() // the reader reuses its buffers
		}
		root := importBytes(t, store, data, content.ImportOptions{ChunkSize: chunk})
		if root.FileSize != uint64(size) {
			t.Fatalf("size %d: root says %d", size, root.FileSize)
		}
		st, _ := store.Stat(context.Background())
		if uint64(st.Bytes) < root.FileSize || root.Tsize != uint64(st.Bytes) {
			t.Errorf("size %d: tsize %d, store bytes %d", size, root.Tsize, st.Bytes)
		}
		fr, err := content.NewFileReader(context.Background(), store, root.CID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fr.Size() != int64(size) {
			t.Fatalf("reader size %d, want %d", fr.Size(), size)
		}
		if size <= 64<<10 {
			// iotest.TestReader checks Read, ReadAt and Seek byte by byte.
			if err := iotest.TestReader(fr, data); err != nil {
				t.Fatalf("size %d chunk %d: %v", size, chunk, err)
			}
		} else {
			var buf bytes.Buffer
			if _, err := fr.WriteTo(&buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
				t.Fatalf("size %d chunk %d: WriteTo differs (err %v)", size, chunk, err)
			}
			if _, err := fr.Seek(int64(size/3), io.SeekStart); err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(iotest.HalfReader(fr))
			if err != nil || !bytes.Equal(rest, data[size/3:]) {
				t.Fatalf("size %d chunk %d: Read after Seek differs (err %v)", size, chunk, err)
			}
		}
		fr.Close()
	}
}

func TestRandomAccessAgainstReference(t *testing.T) {
	r := testRand(t)
	data := randomBytes(r, 5<<20+777)
	store := newBufferStore()
	root := importBytes(t, store, data, content.ImportOptions{ChunkSize: 4096, LinksPerNode: 7}) // deep tree
	fr, err := content.NewFileReader(context.Background(), store, root.CID, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	for range 300 {
		off := r.Int64N(int64(len(data)) + 100)
		n := r.IntN(70000)
		buf := make([]byte, n)
		got, err := fr.ReadAt(buf, off)
		wantN := max(0, min(int64(n), int64(len(data))-off))
		if int64(got) != wantN {
			t.Fatalf("ReadAt(%d, %d) = %d bytes, want %d (err %v)", n, off, got, wantN, err)
		}
		if wantN < int64(n) && !errors.Is(err, io.EOF) {
			t.Fatalf("short ReadAt(%d, %d) err %v, want EOF", n, off, err)
		}
		if wantN == int64(n) && err != nil {
			t.Fatalf("ReadAt(%d, %d): %v", n, off, err)
		}
		if !bytes.Equal(buf[:got], data[off:off+int64(got)]) {
			t.Fatalf("ReadAt(%d, %d) bytes differ", n, off)
		}
		// Range reads the same.
		rc, err := fr.Range(off, int64(n))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(b, buf[:got]) {
			t.Fatalf("Range(%d, %d): %d bytes, err %v", off, n, len(b), err)
		}
	}
}

func TestReadFetchesOnlyNeededBlocks(t *testing.T) {
	const chunk = 1024
	data := randomBytes(testRand(t), 300*chunk)
	store := content.NewMemStore()
	root := importBytes(t, store, data, content.ImportOptions{ChunkSize: chunk, LinksPerNode: 10})
	g := newCountingGetter(store)
	fr, err := content.NewFileReader(context.Background(), g, root.CID, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	g.reset()
	// Bytes [5000, 7000) lie in leaves 4..6: three leaves plus the internal
	// nodes on their path (300 leaves at 10 links a node: two levels below
	// the root).
	buf := make([]byte, 2000)
	if _, err := fr.ReadAt(buf, 5000); err != nil {
		t.Fatal(err)
	}
	fetched := g.reset()
	leaves, nodes := 0, 0
	for c := range fetched {
		if c.Prefix().Codec == content.CodecRaw {
			leaves++
		} else {
			nodes++
		}
	}
	if leaves != 3 || nodes > 2 {
		t.Errorf("ReadAt fetched %d leaves and %d nodes, want 3 leaves and at most 2 nodes", leaves, nodes)
	}
	if !bytes.Equal(buf, data[5000:7000]) {
		t.Error("bytes differ")
	}
	// A Range never reads ahead past its end.
	rc, err := fr.Range(100*chunk, 3*chunk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	leaves = 0
	for c := range g.reset() {
		if c.Prefix().Codec == content.CodecRaw {
			leaves++
		}
	}
	if leaves != 3 {
		t.Errorf("Range over 3 leaves fetched %d leaves", leaves)
	}
}

// lyingGetter answers every request with another block.
type lyingGetter struct {
	content.BlockGetter
	swap map[cid.Cid]content.Block
}

func (g lyingGetter) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	if b, ok := g.swap[c]; ok {
		return b, nil
	}
	return g.BlockGetter.Get(ctx, c)
}

func TestReaderRejectsWrongBlocks(t *testing.T) {
	r := testRand(t)
	data := randomBytes(r, 10*1024)
	store := content.NewMemStore()
	root := importBytes(t, store, data, content.ImportOptions{ChunkSize: 1024})
	// Find a leaf and answer it with another block.
	node, err := store.Get(context.Background(), root.CID)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := content.DecodePBNode(node.Data())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := content.NewRawBlock(randomBytes(r, 1024))
	g := lyingGetter{BlockGetter: store, swap: map[cid.Cid]content.Block{pb.Links[3].CID: other}}
	fr, err := content.NewFileReader(context.Background(), g, root.CID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	_, err = io.ReadAll(fr)
	if !errors.Is(err, content.ErrHashMismatch) {
		t.Fatalf("reading with a wrong leaf: %v, want ErrHashMismatch", err)
	}
	// The bytes before the bad leaf are fine to read at random.
	buf := make([]byte, 3*1024)
	if _, err := fr.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, data[:3*1024]) {
		t.Fatalf("ReadAt before the bad leaf: %v", err)
	}
}

func TestReaderMissingBlockAndNotFile(t *testing.T) {
	store := content.NewMemStore()
	data := randomBytes(testRand(t), 5000)
	root := importBytes(t, store, data, content.ImportOptions{ChunkSize: 1024})
	empty := content.NewMemStore()
	if _, err := content.NewFileReader(context.Background(), empty, root.CID, 0); !errors.Is(err, content.ErrNotFound) {
		t.Errorf("missing root: %v, want ErrNotFound", err)
	}
	dir, blocks, err := content.BuildDirectory([]content.DirEntry{{Name: "f", CID: root.CID, Tsize: root.Tsize}}, content.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		store.Put(context.Background(), b)
	}
	if _, err := content.NewFileReader(context.Background(), store, dir.CID, 0); !errors.Is(err, content.ErrNotFile) {
		t.Errorf("directory as a file: %v, want ErrNotFile", err)
	}
	// A missing leaf fails the read with ErrNotFound, not a hang.
	node, _ := store.Get(context.Background(), root.CID)
	pb, _ := content.DecodePBNode(node.Data())
	store.Delete(context.Background(), pb.Links[2].CID)
	fr, err := content.NewFileReader(context.Background(), store, root.CID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(fr); !errors.Is(err, content.ErrNotFound) {
		t.Errorf("missing leaf: %v, want ErrNotFound", err)
	}
}

func TestReaderSeekAndClose(t *testing.T) {
	data := randomBytes(testRand(t), 100000)
	store := content.NewMemStore()
	root := importBytes(t, store, data, content.ImportOptions{ChunkSize: 1024})
	fr, err := content.NewFileReader(context.Background(), store, root.CID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pos, err := fr.Seek(-10, io.SeekEnd); err != nil || pos != 99990 {
		t.Fatalf("Seek end: %d %v", pos, err)
	}
	rest, err := io.ReadAll(fr)
	if err != nil || !bytes.Equal(rest, data[99990:]) {
		t.Fatalf("after seek: %v", err)
	}
	if _, err := fr.Seek(-1, io.SeekStart); err == nil {
		t.Error("negative seek accepted")
	}
	if _, err := fr.Seek(200000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if n, err := fr.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("read past end: %d %v", n, err)
	}
	fr.Close()
	if _, err := fr.ReadAt(make([]byte, 10), 5000); err == nil {
		t.Error("ReadAt after Close succeeded")
	}
}

func putAllBlocks(t *testing.T, s content.Store, blocks ...content.Block) {
	t.Helper()
	for _, b := range blocks {
		if err := s.Put(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

// fileNode makes a UnixFS file node over links with the sizes it claims.
func fileNode(t *testing.T, links []content.Link, sizes []uint64) content.Block {
	t.Helper()
	var total uint64
	for _, s := range sizes {
		total += s
	}
	data := content.FSData{Type: content.TypeFile, FileSize: &total, BlockSizes: sizes}.Encode()
	b, err := content.NewBlock(content.CodecDagPB, content.PBNode{Links: links, Data: data}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReaderRefusesHostileDAGs(t *testing.T) {
	ctx := context.Background()
	hello, _ := content.NewRawBlock([]byte("hello\n"))
	store := newBufferStore()
	putAllBlocks(t, store, hello)

	// A leaf claimed far larger than a block: refused, nothing allocated.
	huge := fileNode(t, []content.Link{{CID: hello.CID()}}, []uint64{1 << 50})
	putAllBlocks(t, store, huge)
	if _, err := content.NewFileReader(ctx, store, huge.CID(), 0); !errors.Is(err, content.ErrMalformed) {
		t.Errorf("leaf claimed at 1 PiB: %v, want ErrMalformed", err)
	}

	// An empty subtree linked 174 times at each of 6 levels: 174^6 links
	// to walk if the reader followed empty children.
	empty := fileNode(t, nil, nil)
	putAllBlocks(t, store, empty)
	z := empty
	for range 6 {
		links := make([]content.Link, 174)
		for i := range links {
			links[i] = content.Link{CID: z.CID()}
		}
		z = fileNode(t, links, make([]uint64, 174))
		putAllBlocks(t, store, z)
	}
	root := fileNode(t, []content.Link{{CID: hello.CID()}, {CID: z.CID()}, {CID: hello.CID()}}, []uint64{6, 0, 6})
	putAllBlocks(t, store, root)
	fr, err := content.NewFileReader(ctx, store, root.CID(), 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(fr)
	if err != nil || string(got) != "hello\nhello\n" {
		t.Fatalf("read %q, %v", got, err)
	}
}
