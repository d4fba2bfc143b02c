package namespace

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errTruncated reports a snapshot that ends early.
var errTruncated = errors.New("truncated")

// snapReader reads a snapshot's fields. The first error sticks: later
// reads return zero values, so a decoder checks r.err once per record.
type snapReader struct {
	b   []byte
	err error
}

// take returns the next n bytes.
func (r *snapReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = errTruncated
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *snapReader) byte() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

// uvarint reads an unsigned varint in its shortest form.
func (r *snapReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	switch {
	case n == 0:
		r.err = errTruncated
		return 0
	case n < 0:
		r.err = errors.New("varint overflows 64 bits")
		return 0
	case n != len(binary.AppendUvarint(nil, v)):
		r.err = fmt.Errorf("varint %d not in its shortest form", v)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// varint reads a signed (zig-zag) varint in its shortest form.
func (r *snapReader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// bytes reads a length-prefixed byte string (aliasing the input).
func (r *snapReader) bytes() []byte {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = errTruncated
	}
	return r.take(int(n))
}

func (r *snapReader) string() string { return string(r.bytes()) }
