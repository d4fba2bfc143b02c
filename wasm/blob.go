//go:build js && wasm

package main

import (
	"io"
	"syscall/js"
)

// blobReader streams a JS Blob (a File the person picked or dropped) in
// slices, so a large file never sits whole in Go's memory.
type blobReader struct {
	blob      js.Value
	off, size int64
	buf       []byte
}

const blobSlice = 1 << 20

func newBlobReader(b js.Value) *blobReader {
	return &blobReader{blob: b, size: int64(b.Get("size").Float())}
}

func (r *blobReader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		if r.off >= r.size {
			return 0, io.EOF
		}
		end := min(r.off+blobSlice, r.size)
		ab, err := await(r.blob.Call("slice", r.off, end).Call("arrayBuffer"))
		if err != nil {
			return 0, err
		}
		u := js.Global().Get("Uint8Array").New(ab)
		r.buf = make([]byte, u.Length())
		js.CopyBytesToGo(r.buf, u)
		r.off = end
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// bytesReader reads a Uint8Array (or ArrayBuffer) in slices.
type bytesReader struct {
	arr       js.Value
	off, size int
}

func newBytesReader(v js.Value) *bytesReader {
	if v.InstanceOf(js.Global().Get("ArrayBuffer")) {
		v = js.Global().Get("Uint8Array").New(v)
	}
	return &bytesReader{arr: v, size: v.Length()}
}

func (r *bytesReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	end := min(r.off+len(p), r.size)
	n := js.CopyBytesToGo(p, r.arr.Call("subarray", r.off, end))
	r.off += n
	return n, nil
}
