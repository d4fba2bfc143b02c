package gc_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/gc"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestLeases(t *testing.T) {
	r := testRand(t)
	a, b := randomCID(r, content.CodecRaw), randomCID(r, content.CodecDagPB)
	// The same bytes under the other codec share a's lease.
	aPB := cid.NewCidV1(content.CodecDagPB, a.Hash())
	type step struct {
		add     []cid.Cid
		expiry  time.Duration // from t0
		release []cid.Cid
		index   uint64
	}
	type check struct {
		c       cid.Cid
		at      time.Duration
		covered uint64
		want    bool
	}
	tests := []struct {
		name   string
		steps  []step
		checks []check
	}{
		{"unleased", nil, []check{{a, 0, 0, false}}},
		{"until expiry", []step{{add: []cid.Cid{a}, expiry: time.Minute}}, []check{
			{a, 0, 0, true}, {aPB, 0, 0, true}, {a, 59 * time.Second, 99, true}, {a, time.Minute, 0, false}, {b, 0, 0, false},
		}},
		{"later expiry wins", []step{
			{add: []cid.Cid{a}, expiry: 2 * time.Minute}, {add: []cid.Cid{a}, expiry: time.Minute},
		}, []check{{a, 90 * time.Second, 0, true}, {a, 2 * time.Minute, 0, false}}},
		{"release holds until covered", []step{
			{add: []cid.Cid{a, b}, expiry: time.Minute}, {release: []cid.Cid{a}, index: 10},
		}, []check{
			{a, time.Hour, 9, true}, {a, time.Hour, 10, false}, {a, 0, 10, true}, {b, time.Hour, 0, false},
		}},
		{"release never shortens", []step{
			{add: []cid.Cid{a}, expiry: time.Hour}, {release: []cid.Cid{a}, index: 3},
		}, []check{{a, time.Minute, 100, true}}},
		{"highest release wins", []step{
			{release: []cid.Cid{a}, index: 12}, {release: []cid.Cid{a}, index: 7},
		}, []check{{a, 0, 11, true}, {a, 0, 12, false}}},
		{"release without a lease", []step{{release: []cid.Cid{b}, index: 5}}, []check{{b, 0, 4, true}, {b, 0, 5, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := gc.NewLeases()
			for _, s := range tt.steps {
				if s.add != nil {
					if err := l.Add(s.add, t0.Add(s.expiry)); err != nil {
						t.Fatal(err)
					}
				}
				if s.release != nil {
					if err := l.Release(s.release, s.index); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, l := range []*gc.Leases{l, roundTripLeases(t, l)} {
				for _, c := range tt.checks {
					got, why := l.Protects(c.c, t0.Add(c.at), c.covered)
					if got != c.want || got != (why != "") {
						t.Errorf("Protects(%s, t0+%v, %d) = %v %q, want %v", c.c, c.at, c.covered, got, why, c.want)
					}
				}
			}
		})
	}
}

func roundTripLeases(t *testing.T, l *gc.Leases) *gc.Leases {
	t.Helper()
	enc := l.Encode()
	dec, err := gc.DecodeLeases(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec.Encode(), enc) || dec.Len() != l.Len() {
		t.Fatal("leases do not round-trip")
	}
	return dec
}

func TestLeasesExpiredAndPrune(t *testing.T) {
	r := testRand(t)
	var cs []cid.Cid
	for range 4 {
		cs = append(cs, randomCID(r, content.CodecRaw))
	}
	l := gc.NewLeases()
	must(t, l.Add(cs[:3], t0.Add(time.Minute)))
	must(t, l.Add(cs[3:], t0.Add(time.Hour)))
	must(t, l.Release(cs[1:2], 5))
	must(t, l.Release(cs[2:3], 9))
	at := t0.Add(2 * time.Minute)
	exp := l.Expired(at)
	if len(exp) != 1 || !bytes.Equal(exp[0], cs[0].Hash()) {
		t.Errorf("Expired = %v, want only the unreleased %s", exp, cs[0])
	}
	if n := l.Prune(at, 5); n != 2 || l.Len() != 2 {
		t.Errorf("Prune removed %d, left %d; want 2, 2", n, l.Len())
	}
	if ok, _ := l.Protects(cs[2], at, 5); !ok {
		t.Error("pruned a release above the summary")
	}
	if n := l.Prune(t0.Add(2*time.Hour), 9); n != 2 || l.Len() != 0 {
		t.Errorf("Prune removed %d, left %d", n, l.Len())
	}
}

func TestLeasesRefuse(t *testing.T) {
	r := testRand(t)
	good := randomCID(r, content.CodecRaw)
	v0, _ := cid.Decode("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	l := gc.NewLeases()
	for name, err := range map[string]error{
		"unsupported CID":    l.Add([]cid.Cid{good, v0}, t0),
		"zero expiry":        l.Add([]cid.Cid{good}, time.Time{}),
		"expiry before 1970": l.Add([]cid.Cid{good}, time.Unix(-5, 0)),
		"release index 0":    l.Release([]cid.Cid{good}, 0),
		"release v0":         l.Release([]cid.Cid{v0}, 3),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if l.Len() != 0 {
		t.Errorf("a refused call changed the table: %d entries", l.Len())
	}
	if ok, _ := l.Protects(v0, t0, 0); ok {
		t.Error("protects an unsupported CID")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// leaseEntry encodes one entry as Encode lays it out.
func leaseEntry(d byte, expiry int64, index uint64) []byte {
	b := bytes.Repeat([]byte{d}, 32)
	b = binary.BigEndian.AppendUint64(b, uint64(expiry))
	return binary.AppendUvarint(b, index)
}

func TestDecodeLeases(t *testing.T) {
	head := func(n uint64) []byte { return binary.AppendUvarint([]byte("mfgl\x01"), n) }
	cat := func(bs ...[]byte) []byte { return slices.Concat(bs...) }
	good := cat(head(2), leaseEntry(1, 5, 0), leaseEntry(2, 0, 7))
	if l, err := gc.DecodeLeases(good); err != nil || l.Len() != 2 || !bytes.Equal(l.Encode(), good) {
		t.Fatalf("good: %v", err)
	}
	if l, err := gc.DecodeLeases(head(0)); err != nil || l.Len() != 0 {
		t.Fatalf("empty: %v", err)
	}
	tests := map[string][]byte{
		"nothing":           nil,
		"magic":             cat([]byte("mfgd\x01"), []byte{0}),
		"version":           cat([]byte("mfgl\x02"), []byte{0}),
		"no count":          []byte("mfgl\x01"),
		"non-minimal":       cat([]byte("mfgl\x01\x80\x00")),
		"count too big":     cat(head(3), leaseEntry(1, 5, 0), leaseEntry(2, 0, 7)),
		"truncated":         good[:len(good)-1],
		"trailing":          cat(good, []byte{0}),
		"out of order":      cat(head(2), leaseEntry(2, 5, 0), leaseEntry(1, 0, 7)),
		"repeated":          cat(head(2), leaseEntry(1, 5, 0), leaseEntry(1, 6, 0)),
		"protects nothing":  cat(head(1), leaseEntry(1, 0, 0)),
		"negative expiry":   cat(head(1), leaseEntry(1, -1, 3)),
		"non-minimal index": cat(head(1), append(leaseEntry(1, 5, 0)[:40], 0x81, 0x00)),
		"huge count":        cat(head(1<<40), leaseEntry(1, 5, 0)),
	}
	for name, b := range tests {
		if _, err := gc.DecodeLeases(b); !errors.Is(err, gc.ErrMalformed) {
			t.Errorf("%s: DecodeLeases = %v, want ErrMalformed", name, err)
		}
	}
}
