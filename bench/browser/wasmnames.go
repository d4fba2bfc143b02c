package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
)

// wasmNames reads the function names of a wasm module's "name" section,
// keyed by the form DevTools shows them in (see v8Key), so a profile's
// "meshfs_peer.__Node_.Get" reads again as "meshfs/peer.(*Node).Get".
func wasmNames(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return nil, errors.New("not a wasm module")
	}
	out := map[string]string{}
	r := wasmReader{b: b[8:]}
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		sec := wasmReader{b: r.bytes(int(r.uint()))}
		if id != 0 || sec.name() != "name" {
			continue
		}
		for len(sec.b) > 0 && sec.err == nil {
			sub := sec.byte()
			body := wasmReader{b: sec.bytes(int(sec.uint()))}
			if sub != 1 { // function names
				continue
			}
			for n := body.uint(); n > 0 && body.err == nil; n-- {
				body.uint() // function index
				name := body.name()
				out[v8Key(name)] = name
			}
		}
	}
	return out, r.err
}

// v8Key is name with every byte but letters, digits and dots replaced by
// an underscore, as V8 does for wasm function names (and idempotent).
func v8Key(name string) string {
	k := []byte(name)
	for i, c := range k {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.') {
			k[i] = '_'
		}
	}
	return string(k)
}

// wasmReader reads the LEB128 encoding of a wasm module.
type wasmReader struct {
	b   []byte
	err error
}

func (r *wasmReader) fail() { r.err, r.b = errors.New("truncated wasm module"), nil }

func (r *wasmReader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *wasmReader) uint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wasmReader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail()
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *wasmReader) name() string { return string(r.bytes(int(r.uint()))) }
