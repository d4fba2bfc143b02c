package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/gateway"
	"meshfs/internal/testrand"
)

func testRand(t *testing.T) *rand.Rand { return testrand.New(t) }

func randomBytes(r *rand.Rand, n int) []byte { return testrand.Bytes(r, n) }

// importBytes stores data as a file in s and returns its root.
func importBytes(t *testing.T, s content.BlockPutter, data []byte, opts content.ImportOptions) content.FileRoot {
	t.Helper()
	root, err := content.Import(context.Background(), bytes.NewReader(data), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// putAll stores blocks in s.
func putAll(t *testing.T, s content.BlockPutter, blocks []content.Block) {
	t.Helper()
	for _, b := range blocks {
		if err := s.Put(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

// serve starts a gateway over g.
func serve(t *testing.T, g content.BlockGetter, opts gateway.Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(gateway.New(g, opts))
	t.Cleanup(srv.Close)
	return srv
}

// fetch makes a request and reads the whole response. A body that breaks
// off is returned with its error.
func fetch(t *testing.T, method, url string, header ...string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// get is fetch for a GET whose body must arrive whole.
func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	resp, body, err := fetch(t, http.MethodGet, url, header...)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp, body
}

// readCAR reads a whole CAR, verifying every block.
func readCAR(t *testing.T, data []byte) ([]cid.Cid, []content.Block) {
	t.Helper()
	cr, err := gateway.NewCARReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []content.Block
	for {
		b, err := cr.NextBlock()
		if errors.Is(err, io.EOF) {
			return cr.Roots(), blocks
		}
		if err != nil {
			t.Fatalf("CAR block %d: %v", len(blocks), err)
		}
		blocks = append(blocks, b)
	}
}

func cids(blocks []content.Block) []cid.Cid {
	out := make([]cid.Cid, len(blocks))
	for i, b := range blocks {
		out[i] = b.CID()
	}
	return out
}

// dfsOrder is the test's own model of a CAR's block order: depth-first
// pre-order from root, links in node order, each block once unless dups.
func dfsOrder(t *testing.T, s content.BlockGetter, root cid.Cid, dups bool) []cid.Cid {
	t.Helper()
	var out []cid.Cid
	seen := map[cid.Cid]bool{}
	var visit func(c cid.Cid)
	visit = func(c cid.Cid) {
		if seen[c] && !dups {
			return
		}
		seen[c] = true
		out = append(out, c)
		if c.Prefix().Codec != content.CodecDagPB {
			return
		}
		b, err := s.Get(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		n, err := content.DecodePBNode(b.Data())
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range n.Links {
			visit(l.CID)
		}
	}
	visit(root)
	return out
}

// storeOf returns a store holding blocks.
func storeOf(t *testing.T, blocks []content.Block) *content.MemStore {
	t.Helper()
	s := content.NewMemStore()
	putAll(t, s, blocks)
	return s
}

func equalCIDs(a, b []cid.Cid) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equals(b[i]) {
			return false
		}
	}
	return true
}

// hookGetter calls hook before each Get; a hook that returns an error
// fails that Get.
type hookGetter struct {
	content.BlockGetter
	hook func(ctx context.Context, c cid.Cid) error
}

func (g hookGetter) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	if err := g.hook(ctx, c); err != nil {
		return content.Block{}, err
	}
	return g.BlockGetter.Get(ctx, c)
}

// countGetter counts Gets, and the most at once.
type countGetter struct {
	content.BlockGetter
	mu                  sync.Mutex
	calls, now, maxOnce int
}

func (g *countGetter) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	g.mu.Lock()
	g.calls++
	g.now++
	g.maxOnce = max(g.maxOnce, g.now)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.now--
		g.mu.Unlock()
	}()
	return g.BlockGetter.Get(ctx, c)
}
