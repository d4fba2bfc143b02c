package browser

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/gateway"
	"meshfs/wasm/blockstore"
)

// testFile imports size pseudo-random bytes into a new MemStore as a file
// of 1 KiB leaves under nodes of at most 4 links (a deep DAG), and returns
// the store, the file's root and its bytes.
func testFile(t *testing.T, size int, seed uint64) (*content.MemStore, cid.Cid, []byte) {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	ms := content.NewMemStore()
	root, err := content.Import(context.Background(), bytes.NewReader(data), ms,
		content.ImportOptions{ChunkSize: content.MinChunkSize, LinksPerNode: 4})
	if err != nil {
		t.Fatal(err)
	}
	return ms, root.CID, data
}

// handlerTransport is a Transport that serves each base URL with an
// http.Handler in process (no sockets, so it runs under js/wasm too); a
// base without one gives no answer. It counts the requests and can change
// the sections of CAR answers.
type handlerTransport struct {
	handlers map[string]http.Handler
	// sections, if set, changes a CAR answer's sections.
	sections func([]Section) []Section

	mu   sync.Mutex
	gets map[string]int // base: requests
}

var errNoAnswer = errors.New("test: connection refused")

func newHandlerTransport(handlers map[string]http.Handler) *handlerTransport {
	return &handlerTransport{handlers: handlers, gets: map[string]int{}}
}

func (t *handlerTransport) serve(ctx context.Context, url, accept string) ([]byte, error) {
	base, _, _ := strings.Cut(url, "/ipfs/")
	t.mu.Lock()
	t.gets[base]++
	t.mu.Unlock()
	h := t.handlers[base]
	if h == nil {
		return nil, errNoAnswer
	}
	req := httptest.NewRequest(http.MethodGet, url, nil).WithContext(ctx)
	req.Header.Set("Accept", accept)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil, &StatusError{URL: url, Code: rec.Code}
	}
	return rec.Body.Bytes(), nil
}

func (t *handlerTransport) asked(base string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.gets[base]
}

func (t *handlerTransport) Get(ctx context.Context, url, accept string) ([]byte, error) {
	return t.serve(ctx, url, accept)
}

func (t *handlerTransport) OpenCAR(ctx context.Context, url string) (SectionReader, error) {
	body, err := t.serve(ctx, url, mediaCAR)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReader(bytes.NewReader(body))
	var secs []Section
	for {
		b, err := readSection(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		secs = append(secs, Section{Data: b})
	}
	if t.sections != nil {
		secs = t.sections(secs)
	}
	return &sliceSections{secs: secs}, nil
}

// sliceSections gives its sections two at a time, then fails with err
// (io.EOF if nil).
type sliceSections struct {
	secs []Section
	err  error
}

func (s *sliceSections) Next() ([]Section, error) {
	if len(s.secs) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		return nil, io.EOF
	}
	n := min(2, len(s.secs))
	out := s.secs[:n]
	s.secs = s.secs[n:]
	return out, nil
}

// countingStore is a stand-in for the mesh: a MemStore that counts Gets.
type countingStore struct {
	*content.MemStore
	mu   sync.Mutex
	gets int
}

func (s *countingStore) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	s.mu.Lock()
	s.gets++
	s.mu.Unlock()
	return s.MemStore.Get(ctx, c)
}

func (s *countingStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets
}

// testBlocks returns a cachingBlocks over a memory blockstore, with the
// gateways g (nil: none) and mesh as the mesh; its cache writer stops with
// the test.
func testBlocks(t *testing.T, g *Gateways, mesh meshBlocks) *cachingBlocks {
	t.Helper()
	store, err := blockstore.NewMemory(blockstore.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	b := &cachingBlocks{store: store, mesh: mesh, gateways: g, cache: newCacheWriter(store, t.Logf), logf: t.Logf}
	t.Cleanup(func() {
		b.cache.close()
		store.Close()
	})
	return b
}

// gatewayOver is a trustless gateway over g.
func gatewayOver(g content.BlockGetter) http.Handler { return gateway.New(g, gateway.Options{}) }
