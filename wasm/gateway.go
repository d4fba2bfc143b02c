//go:build js && wasm

package main

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"errors"
	"io"
	"syscall/js"

	"meshfs/content"
	"meshfs/wasm/browser"
)

// getJS fetches url with the browser's fetch(): the body as a
// Uint8Array, or the HTTP status when it is not 200. The browser's HTTP
// cache is skipped: the node has its own (IndexedDB).
const getJS = `(url, accept, signal) => fetch(url, {headers: {Accept: accept}, cache: "no-store", signal})
	.then(r => r.ok ? r.arrayBuffer().then(b => new Uint8Array(b)) : r.status)`

// carJS cuts CAR streams into sections and hashes them, in a Web Worker
// when the page can start one: see the file.
//
//go:embed car.js
var carJS string

// jsTransport is a browser.Transport over the browser's fetch(), in as
// few round trips between Go and JavaScript as it can: one per block, or
// per batch of a CAR stream's sections (Go's net/http, over fetch() too,
// would take several per chunk of a body).
type jsTransport struct {
	get, car, abortController js.Value
}

func newJSTransport() *jsTransport {
	fn := js.Global().Get("Function")
	return &jsTransport{
		get:             fn.New("return " + getJS).Invoke(),
		car:             fn.New(carJS).Invoke().Invoke(carJS),
		abortController: js.Global().Get("AbortController"),
	}
}

// start makes car.js's worker ahead of the first read (which would make it
// otherwise).
func (t *jsTransport) start() { t.car.Call("start") }

// Get implements browser.Transport.
func (t *jsTransport) Get(ctx context.Context, url, accept string) ([]byte, error) {
	ac := t.abortController.New()
	v, err := awaitCtx(ctx, t.get.Invoke(url, accept, ac.Get("signal")), func() { ac.Call("abort") })
	if err != nil {
		return nil, err
	}
	if v.Type() == js.TypeNumber {
		return nil, &browser.StatusError{URL: url, Code: v.Int()}
	}
	return goBytes(v), nil
}

// OpenCAR implements browser.Transport.
func (t *jsTransport) OpenCAR(ctx context.Context, url string) (browser.SectionReader, error) {
	ac := t.abortController.New()
	abort := func() { ac.Call("abort") }
	v, err := awaitCtx(ctx, t.car.Call("open", url, ac.Get("signal"), browser.MaxSectionSize), abort)
	if err != nil {
		return nil, err
	}
	if v.Type() == js.TypeNumber {
		return nil, &browser.StatusError{URL: url, Code: v.Int()}
	}
	context.AfterFunc(ctx, abort) // the body is not read to its end
	return &jsSections{ctx: ctx, next: v.Get("next"), abort: abort}, nil
}

// jsSections reads the sections car.js gives.
type jsSections struct {
	ctx   context.Context
	next  js.Value
	abort func()
	err   error
}

func (s *jsSections) Next() ([]browser.Section, error) {
	if s.err != nil {
		return nil, s.err
	}
	v, err := awaitCtx(s.ctx, s.next.Invoke(), s.abort)
	switch {
	case err != nil:
		s.err = err
	case v.IsNull():
		s.err = io.EOF
	}
	if s.err != nil {
		return nil, s.err
	}
	out := make([]browser.Section, v.Length())
	for i := range out {
		sec := v.Index(i)
		body := sec.Get("b")
		if body.IsUndefined() { // the header, or a section without a CID
			out[i].Data = goBytes(sec.Get("s"))
			continue
		}
		// The block's bytes stay in JavaScript until a reader copies them
		// from the very array that was hashed.
		out[i].Data = goBytes(sec.Get("c"))
		out[i].Body = jsBody{body}
		if d := sec.Get("d"); !d.IsUndefined() && d.Length() == sha256.Size {
			var sum [sha256.Size]byte
			js.CopyBytesToGo(sum[:], d)
			out[i].Sum, out[i].SumFrom = &sum, len(out[i].Data)
		}
	}
	return out, nil
}

// jsBody is a block's bytes in a Uint8Array (a blockstore.Body).
type jsBody struct{ v js.Value }

func (b jsBody) Len() int              { return b.v.Length() }
func (b jsBody) CopyTo(dst []byte) int { return js.CopyBytesToGo(dst, b.v) }

// JSValue returns the array for IndexedDB to store: the view itself when
// it spans its whole buffer, else a copy of just its bytes (a view is
// stored with all of its buffer).
func (b jsBody) JSValue() js.Value {
	if b.v.Get("byteOffset").Int() == 0 && b.v.Get("byteLength").Int() == b.v.Get("buffer").Get("byteLength").Int() {
		return b.v
	}
	return b.v.Call("slice")
}

// goBytes copies a Uint8Array into a new slice.
func goBytes(v js.Value) []byte {
	b := make([]byte, v.Length())
	js.CopyBytesToGo(b, v)
	return b
}

// webCryptoHash returns a content.Hasher over the browser's SHA-256
// (crypto.subtle.digest, about 7 times as fast as Go's compiled to
// WebAssembly), or nil where there is none: crypto.subtle exists only in
// secure contexts (https, or http from localhost). It verifies the blocks
// read from IndexedDB and those fetched one by one; car.js hashes those of
// a CAR stream itself.
func webCryptoHash() content.Hasher {
	subtle := js.Global().Get("crypto")
	if subtle.Type() != js.TypeObject {
		return nil
	}
	if subtle = subtle.Get("subtle"); subtle.Type() != js.TypeObject {
		return nil
	}
	u8 := js.Global().Get("Uint8Array")
	return func(data []byte) ([sha256.Size]byte, error) {
		var sum [sha256.Size]byte
		a := u8.New(len(data))
		js.CopyBytesToJS(a, data)
		d, err := await(subtle.Call("digest", "SHA-256", a))
		if err != nil {
			return sum, err
		}
		digest := u8.New(d)
		if digest.Length() != sha256.Size {
			return sum, errors.New("crypto.subtle.digest: not a SHA-256 digest")
		}
		js.CopyBytesToGo(sum[:], digest)
		return sum, nil
	}
}
