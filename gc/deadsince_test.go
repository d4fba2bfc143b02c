package gc_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"meshfs/gc"
)

func deadEntry(d byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Repeat([]byte{d}, 32), uint64(t))
}

func TestDecodeDeadSince(t *testing.T) {
	head := func(n uint64) []byte { return binary.AppendUvarint([]byte("mfgd\x01"), n) }
	cat := func(bs ...[]byte) []byte { return slices.Concat(bs...) }
	good := cat(head(2), deadEntry(1, 5), deadEntry(9, 1<<62))
	d, err := gc.DecodeDeadSince(good)
	if err != nil || d.Len() != 2 || !bytes.Equal(d.Encode(), good) {
		t.Fatalf("good: %v", err)
	}
	if d, err := gc.DecodeDeadSince(head(0)); err != nil || d.Len() != 0 {
		t.Fatalf("empty: %v", err)
	}
	if !bytes.Equal(gc.NewDeadSince().Encode(), head(0)) {
		t.Error("empty state encodes differently")
	}
	tests := map[string][]byte{
		"nothing":       nil,
		"magic":         cat([]byte("mfgs\x01"), []byte{0}),
		"version":       cat([]byte("mfgd\x00"), []byte{0}),
		"no count":      []byte("mfgd\x01"),
		"non-minimal":   []byte("mfgd\x01\x80\x00"),
		"count too big": cat(head(3), deadEntry(1, 5), deadEntry(2, 5)),
		"count small":   cat(head(1), deadEntry(1, 5), deadEntry(2, 5)),
		"truncated":     good[:len(good)-1],
		"out of order":  cat(head(2), deadEntry(2, 5), deadEntry(1, 5)),
		"repeated":      cat(head(2), deadEntry(1, 5), deadEntry(1, 6)),
		"zero time":     cat(head(1), deadEntry(1, 0)),
		"negative time": cat(head(1), deadEntry(1, -7)),
		"huge count":    cat(head(1<<40), deadEntry(1, 5)),
	}
	for name, b := range tests {
		if _, err := gc.DecodeDeadSince(b); !errors.Is(err, gc.ErrMalformed) {
			t.Errorf("%s: DecodeDeadSince = %v, want ErrMalformed", name, err)
		}
	}
}
