package gc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// Leases is a holder's table of blocks protected for writes in flight
// (doc.go rules C1, C2 and P). A block pushed to this holder is leased until an
// expiry time ([Leases.Add]); once the write's operation commits at log
// index c, the client releases it ([Leases.Release]), which hands the
// protection over to the summary: the block stays protected until the
// holder trusts a summary as of an index >= c, a summary that has the block
// if any root or pin still reaches it.
//
// Leases are kept per block digest, not per write: several writes sharing
// a block share one entry, holding the latest expiry and the highest commit
// index. So a Release never shortens protection, a lost or repeated message
// never unprotects a block, and an entry protects while either part does.
//
// Leases is a plain value with no clock or lock: the caller passes the
// time and serializes access (and must hold the same lock while it adds a
// lease on a push and while it rechecks a block before deleting it).
type Leases struct {
	m map[key]lease
}

// lease is one block's protection.
type lease struct {
	expiry int64  // Unix nanoseconds; 0: none
	index  uint64 // commit index of a released write; 0: none
}

// NewLeases returns an empty table.
func NewLeases() *Leases { return &Leases{m: make(map[key]lease)} }

// Len returns the number of blocks with an entry.
func (l *Leases) Len() int { return len(l.m) }

// Add leases blocks until expiry, or later if they already are. It is
// called when a push arrives, before the push is acknowledged, whether or
// not the block is already held. A CID meshfs does not store is an error
// and nothing is added.
func (l *Leases) Add(cids []cid.Cid, expiry time.Time) error {
	ks, err := keysOf(cids)
	if err != nil {
		return err
	}
	if expiry.IsZero() {
		return errorf("lease: zero expiry")
	}
	e := expiry.UnixNano()
	if e <= 0 {
		return errorf("lease: expiry %v before 1970", expiry)
	}
	for _, k := range ks {
		le := l.m[k]
		le.expiry = max(le.expiry, e)
		l.m[k] = le
	}
	return nil
}

// Release records that the write that pushed blocks committed at log index
// (> 0): they stay protected until the holder trusts a summary as of an
// index >= it (and, regardless, until their expiry). A block with no lease
// gets one. A CID meshfs does not store is an error and nothing changes.
func (l *Leases) Release(cids []cid.Cid, index uint64) error {
	ks, err := keysOf(cids)
	if err != nil {
		return err
	}
	if index == 0 {
		return errorf("release: commit index 0")
	}
	for _, k := range ks {
		le := l.m[k]
		le.index = max(le.index, index)
		l.m[k] = le
	}
	return nil
}

func keysOf(cids []cid.Cid) ([]key, error) {
	ks := make([]key, len(cids))
	for i, c := range cids {
		k, ok := keyOf(c)
		if !ok {
			return nil, errorf("lease: %s is not a CID meshfs stores", c)
		}
		ks[i] = k
	}
	return ks, nil
}

// Protects reports whether c is leased at now, given that the holder
// trusts a summary as of log index covered, and says why.
func (l *Leases) Protects(c cid.Cid, now time.Time, covered uint64) (bool, string) {
	k, ok := keyOf(c)
	if !ok {
		return false, ""
	}
	return l.protects(k, now.UnixNano(), covered)
}

func (l *Leases) protects(k key, now int64, covered uint64) (bool, string) {
	le, ok := l.m[k]
	switch {
	case !ok:
		return false, ""
	case le.index > covered:
		return true, fmt.Sprintf("committed at index %d, after the summary's index %d", le.index, covered)
	case now < le.expiry:
		return true, "leased until " + time.Unix(0, le.expiry).UTC().Format(time.RFC3339Nano)
	}
	return false, ""
}

// Expired returns the blocks whose lease has expired at now without their
// write being released: writes that never committed, or whose client never
// said so. Ordered by multihash.
func (l *Leases) Expired(now time.Time) []mh.Multihash {
	t := now.UnixNano()
	var out []mh.Multihash
	for k, le := range l.m {
		if le.index == 0 && le.expiry <= t {
			out = append(out, k.multihash())
		}
	}
	slices.SortFunc(out, func(a, b mh.Multihash) int { return bytes.Compare(a, b) })
	return out
}

// Prune drops the entries that protect nothing any more at now under a
// summary as of covered, and returns how many. covered must be the index
// of a summary the holder trusts (never more), or entries still needed go.
func (l *Leases) Prune(now time.Time, covered uint64) int {
	t, n := now.UnixNano(), 0
	for k, le := range l.m {
		if le.expiry <= t && le.index <= covered {
			delete(l.m, k)
			n++
		}
	}
	return n
}

const (
	leasesMagic   = "mfgl"
	leasesVersion = 1
	// leaseMinSize is the least bytes one encoded entry takes.
	leaseMinSize = len(key{}) + 8 + 1
	// MaxLeases bounds the entries an encoded table may hold.
	MaxLeases = 1 << 26
)

// Encode returns the table's canonical bytes, for the holder to persist:
//
//	magic    4 bytes, "mfgl"
//	version  1 byte, 1
//	count    uvarint
//	entries  count times: digest (32 bytes, the block's sha2-256),
//	         expiry (8 bytes, big-endian Unix nanoseconds, 0 for none),
//	         index (uvarint, 0 for none)
//
// Entries are in strictly increasing digest order, none with both expiry
// and index 0, no expiry negative; varints are minimal, nothing trails.
func (l *Leases) Encode() []byte {
	ks := slices.SortedFunc(maps.Keys(l.m), func(a, b key) int { return bytes.Compare(a[:], b[:]) })
	b := make([]byte, 0, 5+binary.MaxVarintLen64+len(ks)*(leaseMinSize+4))
	b = append(b, leasesMagic...)
	b = append(b, leasesVersion)
	b = binary.AppendUvarint(b, uint64(len(ks)))
	for _, k := range ks {
		le := l.m[k]
		b = append(b, k[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(le.expiry))
		b = binary.AppendUvarint(b, le.index)
	}
	return b
}

// DecodeLeases decodes Encode's bytes strictly; every departure is an
// error wrapping ErrMalformed.
func DecodeLeases(b []byte) (*Leases, error) {
	d := decoder{b: b}
	d.magic(leasesMagic, leasesVersion)
	n := d.count("leases", MaxLeases, leaseMinSize)
	l := &Leases{m: make(map[key]lease, n)}
	var last key
	for i := 0; i < n && d.err == nil; i++ {
		var k key
		copy(k[:], d.take("digest", len(k)))
		le := lease{expiry: int64(d.uint64("expiry")), index: d.uvarint("index")}
		switch {
		case d.err != nil:
		case i > 0 && bytes.Compare(last[:], k[:]) >= 0:
			d.fail("lease %d out of order", i)
		case le.expiry < 0:
			d.fail("lease %d expires before 1970", i)
		case le.expiry == 0 && le.index == 0:
			d.fail("lease %d protects nothing", i)
		}
		l.m[k], last = le, k
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return l, nil
}
