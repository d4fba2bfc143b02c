package gc

import (
	"bytes"
	"encoding/binary"
	"maps"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
)

// DeadSince is the state a holder keeps between collection passes: for
// each block it holds that the last pass found dead, when a pass first
// found it dead (and every pass since). [Policy.Sweep] reads one and
// returns the next; the caller persists it (Encode, DecodeDeadSince).
//
// Every way of losing it is safe: a block missing from it is treated as
// first seen dead now, which only delays its deletion by a grace period.
type DeadSince struct {
	m map[key]int64 // Unix nanoseconds, > 0
}

// NewDeadSince returns an empty state.
func NewDeadSince() *DeadSince { return &DeadSince{m: make(map[key]int64)} }

// Len returns the number of blocks recorded.
func (d *DeadSince) Len() int { return len(d.m) }

// Get returns when block c was first seen dead, if it is recorded.
func (d *DeadSince) Get(c cid.Cid) (time.Time, bool) {
	k, ok := keyOf(c)
	if !ok {
		return time.Time{}, false
	}
	t, ok := d.m[k]
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, t), true
}

func (d *DeadSince) get(k key) time.Time {
	if t, ok := d.m[k]; ok {
		return time.Unix(0, t)
	}
	return time.Time{}
}

const (
	deadMagic   = "mfgd"
	deadVersion = 1
	deadSize    = len(key{}) + 8
	// MaxDeadSince bounds the entries an encoded state may hold.
	MaxDeadSince = 1 << 28
)

// Encode returns the state's canonical bytes:
//
//	magic    4 bytes, "mfgd"
//	version  1 byte, 1
//	count    uvarint
//	entries  count times: digest (32 bytes, the block's sha2-256),
//	         time first seen dead (8 bytes, big-endian Unix nanoseconds, > 0)
//
// in strictly increasing digest order, with nothing after them.
func (d *DeadSince) Encode() []byte {
	ks := slices.SortedFunc(maps.Keys(d.m), func(a, b key) int { return bytes.Compare(a[:], b[:]) })
	b := make([]byte, 0, 5+binary.MaxVarintLen64+len(ks)*deadSize)
	b = append(b, deadMagic...)
	b = append(b, deadVersion)
	b = binary.AppendUvarint(b, uint64(len(ks)))
	for _, k := range ks {
		b = append(b, k[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(d.m[k]))
	}
	return b
}

// DecodeDeadSince decodes Encode's bytes strictly; every departure is an
// error wrapping ErrMalformed.
func DecodeDeadSince(b []byte) (*DeadSince, error) {
	dec := decoder{b: b}
	dec.magic(deadMagic, deadVersion)
	n := dec.count("entries", MaxDeadSince, deadSize)
	if dec.err == nil && n*deadSize != len(dec.b) {
		dec.fail("%d entries in %d bytes", n, len(dec.b))
	}
	d := &DeadSince{m: make(map[key]int64, n)}
	var last key
	for i := 0; i < n && dec.err == nil; i++ {
		var k key
		copy(k[:], dec.take("digest", len(k)))
		t := int64(dec.uint64("time"))
		switch {
		case dec.err != nil:
		case i > 0 && bytes.Compare(last[:], k[:]) >= 0:
			dec.fail("entry %d out of order", i)
		case t <= 0:
			dec.fail("entry %d: time %d", i, t)
		}
		d.m[k], last = t, k
	}
	if err := dec.end(); err != nil {
		return nil, err
	}
	return d, nil
}
