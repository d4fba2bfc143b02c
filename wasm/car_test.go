//go:build js && wasm

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"syscall/js"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/gateway"
	"meshfs/wasm/browser"
)

// These tests run car.js on the page's thread (Node.js has no Web Worker)
// against a fetch() that answers from a table, in chunks of odd sizes:
//
//	GOOS=js GOARCH=wasm go test -exec "$PWD/wasm/blockstore/testdata/nodeexec" ./wasm/

// fakeFetch makes fetch(url) answer status with body, cut into chunks of
// 1 to 3000 bytes.
func fakeFetch(t *testing.T, url string, status int, body []byte) {
	t.Helper()
	if js.Global().Get("fakeAnswers").IsUndefined() {
		js.Global().Get("Function").New(`
			globalThis.fakeAnswers = {};
			globalThis.fetch = async (url, opts) => {
				const a = fakeAnswers[url];
				if (!a) throw new TypeError("Failed to fetch");
				let i = 0;
				const body = new ReadableStream({pull(c) {
					if (i < a.chunks.length) c.enqueue(a.chunks[i++]); else c.close();
				}});
				return new Response(body, {status: a.status});
			};`).Invoke()
	}
	r := rand.New(rand.NewPCG(uint64(len(body)), 7))
	chunks := js.Global().Get("Array").New()
	for off := 0; off < len(body); {
		n := min(1+r.IntN(3000), len(body)-off)
		a := js.Global().Get("Uint8Array").New(n)
		js.CopyBytesToJS(a, body[off:off+n])
		chunks.Call("push", a)
		off += n
	}
	js.Global().Get("fakeAnswers").Set(url, map[string]any{"status": status, "chunks": chunks})
}

// testCAR returns the CAR of a file of 40 KiB in 1 KiB leaves, and its
// blocks.
func testCAR(t *testing.T) ([]byte, *content.MemStore) {
	t.Helper()
	data := make([]byte, 40<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	ms := content.NewMemStore()
	root, err := content.Import(context.Background(), bytes.NewReader(data), ms,
		content.ImportOptions{ChunkSize: content.MinChunkSize, LinksPerNode: 8})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/ipfs/"+root.CID.String()+"?format=car&dag-scope=entity", nil)
	rec := httptest.NewRecorder()
	gateway.New(ms, gateway.Options{}).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("gateway: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.Bytes(), ms
}

// TestCARSections: car.js cuts a CAR fetched in odd chunks into its
// header and blocks, each with the SHA-256 of its bytes.
func TestCARSections(t *testing.T) {
	car, ms := testCAR(t)
	fakeFetch(t, "http://gw/ok.car", 200, car)
	sr, err := newJSTransport().OpenCAR(context.Background(), "http://gw/ok.car")
	if err != nil {
		t.Fatal(err)
	}
	var secs []browser.Section
	for {
		s, err := sr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		secs = append(secs, s...)
	}
	if len(secs) < 2 || secs[0].Body != nil {
		t.Fatalf("%d sections, the first with a body", len(secs))
	}
	seen := map[cid.Cid]bool{}
	for _, s := range secs[1:] {
		n, c, err := cid.CidFromBytes(s.Data)
		if err != nil || n != len(s.Data) || s.Body == nil {
			t.Fatalf("section: CID %d of %d bytes, %v, body %v", n, len(s.Data), err, s.Body != nil)
		}
		b := make([]byte, s.Body.Len())
		b = b[:s.Body.CopyTo(b)]
		if _, err := content.BlockFromCID(c, b); err != nil {
			t.Fatal(err)
		}
		if s.Sum == nil || *s.Sum != sha256.Sum256(b) || s.SumFrom != n {
			t.Fatalf("%s: digest %x from %d", c, s.Sum, s.SumFrom)
		}
		seen[c] = true
	}
	for c, err := range ms.All(context.Background()) {
		if err != nil || !seen[c] {
			t.Fatalf("block %s not in the sections (%v)", c, err)
		}
	}
}

// TestCARFailures: an answer other than 200 is a StatusError; a body cut
// short, or with a section over the limit, fails.
func TestCARFailures(t *testing.T) {
	car, _ := testCAR(t)
	tr := newJSTransport()
	ctx := context.Background()
	fakeFetch(t, "http://gw/404", 404, []byte("not found"))
	if _, err := tr.OpenCAR(ctx, "http://gw/404"); !errors.As(err, new(*browser.StatusError)) {
		t.Fatalf("404: %v", err)
	}
	if _, err := tr.OpenCAR(ctx, "http://down/x"); err == nil {
		t.Fatal("no answer: no error")
	}
	readAll := func(url string) error {
		sr, err := tr.OpenCAR(ctx, url)
		if err != nil {
			return err
		}
		for {
			if _, err := sr.Next(); err != nil {
				return err
			}
		}
	}
	fakeFetch(t, "http://gw/short.car", 200, car[:len(car)-10])
	if err := readAll("http://gw/short.car"); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("cut short: %v", err)
	}
	huge := append([]byte{0x80, 0x80, 0x80, 0x02}, make([]byte, 100)...) // a 4 MiB section
	fakeFetch(t, "http://gw/huge.car", 200, huge)
	if err := readAll("http://gw/huge.car"); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("oversized section: %v", err)
	}
}
