package gc_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
	"meshfs/gc"
)

// flatLive marks n raw leaves under one dag-pb node per 1000 leaves, all
// under a root node, without fetching the leaves: a large live set
// cheaply. It returns the live set, the root and the leaves' CIDs.
func flatLive(t testing.TB, seed uint64, n int) (*gc.Live, cid.Cid, []cid.Cid) {
	t.Helper()
	s := newStore()
	var leaves []cid.Cid
	var top []content.Link
	for lo := 0; lo < n; lo += 1000 {
		var links []content.Link
		for i := lo; i < min(lo+1000, n); i++ {
			var d [16]byte
			binary.LittleEndian.PutUint64(d[:], seed)
			binary.LittleEndian.PutUint64(d[8:], uint64(i))
			c := cidOfRaw(d[:])
			leaves = append(leaves, c)
			links = append(links, content.Link{CID: c, Tsize: 16})
		}
		node, err := content.NewBlock(content.CodecDagPB, content.PBNode{Links: links}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		s.put(t, node)
		top = append(top, content.Link{CID: node.CID(), Tsize: uint64(node.Size())})
	}
	root, err := content.NewBlock(content.CodecDagPB, content.PBNode{Links: top}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	s.put(t, root)
	return mark(t, s, []cid.Cid{root.CID()}, nil, gc.MarkOptions{}), root.CID(), leaves
}

// cidOfRaw is the raw CID of data, without keeping the data.
func cidOfRaw(data []byte) cid.Cid {
	m, err := mh.Sum(data, mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(content.CodecRaw, m)
}

func reversed(cs []cid.Cid) []cid.Cid {
	out := slices.Clone(cs)
	slices.Reverse(out)
	return out
}

func cover1(root cid.Cid) gc.Cover {
	return gc.Cover{Namespace: "meshfs", Roots: []gc.Root{{Term: 2, Index: 40, CID: root}}}
}

func TestSummaryHasNoFalseNegativesAndItsRate(t *testing.T) {
	for _, tt := range []struct {
		n  int
		fp float64
	}{{0, 0.01}, {1, 0.01}, {1000, 0.5}, {20000, 0.01}, {20000, 0.001}} {
		live, root, leaves := flatLive(t, 1, tt.n)
		s, err := gc.NewSummary(live, cover1(root), tt.fp)
		if err != nil {
			t.Fatal(err)
		}
		for c := range live.All() {
			if !s.MayBeLive(c.Hash()) || !s.MayBeLiveCID(c) {
				t.Fatalf("n=%d: live %s looks dead", tt.n, c)
			}
		}
		if got := len(leaves); s.Blocks() != uint64(live.Len()) || got != tt.n {
			t.Errorf("Blocks = %d, live set %d", s.Blocks(), live.Len())
		}
		// Dead blocks: another seed's leaves.
		_, _, dead := flatLive(t, 2, 20000)
		fp := 0
		for _, c := range dead {
			if s.MayBeLive(c.Hash()) {
				fp++
			}
		}
		rate := float64(fp) / float64(len(dead))
		t.Logf("n=%d target %v: %d bits, %d hashes, %d bytes; measured %.4f, estimated %.4f",
			tt.n, tt.fp, s.Bits(), s.Hashes(), len(s.Encode()), rate, s.FPRate())
		if tt.n > 0 && rate > 1.5*tt.fp+0.002 {
			t.Errorf("n=%d: false-positive rate %.4f, target %v", tt.n, rate, tt.fp)
		}
	}
}

// The size of a summary of 1 million blocks at 1%, from the sizing rule
// (BenchmarkSummary1M builds one).
func TestSummarySizeFor1MBlocks(t *testing.T) {
	const n, p = 1_000_000, 0.01
	bitsWanted := math.Ceil(-n * math.Log(p) / (math.Ln2 * math.Ln2))
	m := (uint64(bitsWanted) + 63) &^ 63
	if m != 9585088 {
		t.Errorf("m = %d", m)
	}
	t.Logf("1M blocks at 1%%: %d bits = %d bytes (%.2f MiB) + header, k = %v", m, m/8, float64(m/8)/(1<<20), math.Round(float64(m)/n*math.Ln2))
}

func TestSummaryEncodingRoundTripsAndIsDeterministic(t *testing.T) {
	r := testRand(t)
	s := newStore()
	f := newFile(t, s, 1, 40, 32, 4)
	old := newFile(t, s, 2, 10, 32, 4)
	d1, _ := dir(t, s, old)
	d2, _ := dir(t, s, f, old)
	pin := old.root
	extra := f.nodes[0].CID()
	roots := []cid.Cid{d1, d2, pin, extra}
	live := mark(t, s, roots, nil, gc.MarkOptions{})
	cover := gc.Cover{
		Namespace: "photos",
		Roots:     []gc.Root{{Term: 1, Index: 7, CID: d1}, {Term: 3, Index: 2, CID: d2}},
		Pins:      []cid.Cid{pin, pin},
		Extra:     []cid.Cid{extra},
	}
	sum, err := gc.NewSummary(live, cover, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	enc := sum.Encode()
	again, err := gc.NewSummary(mark(t, s, reversed(roots), nil, gc.MarkOptions{}), cover, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Encode(), enc) {
		t.Error("the same live set and cover encode differently")
	}
	dec, err := gc.DecodeSummary(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec.Encode(), enc) {
		t.Error("decode then encode differs")
	}
	if dec.Index() != 2 || dec.Newest().Term != 3 || !dec.Newest().CID.Equals(d2) || dec.Namespace() != "photos" {
		t.Errorf("decoded %v", dec)
	}
	if c := dec.Cover(); len(c.Pins) != 1 || len(c.Extra) != 1 || len(c.Roots) != 2 {
		t.Errorf("cover %+v", c)
	}
	if dec.LiveBytes() != uint64(live.Bytes()) || dec.Blocks() != sum.Blocks() {
		t.Errorf("accounting %d bytes %d blocks", dec.LiveBytes(), dec.Blocks())
	}
	for c := range live.All() {
		if !dec.MayBeLive(c.Hash()) {
			t.Errorf("decoded summary lost %s", c)
		}
	}
	for range 1000 {
		c := randomCID(r, content.CodecRaw)
		if dec.MayBeLive(c.Hash()) != sum.MayBeLive(c.Hash()) {
			t.Fatal("decoded summary answers differently")
		}
	}
	// Another newest root gives another salt, so other false positives.
	cover.Roots[1].Index = 3
	other, err := gc.NewSummary(live, cover, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other.Encode()[len(enc)-int(other.Bits()/8):], enc[len(enc)-int(sum.Bits()/8):]) {
		t.Error("same bitset under another root")
	}
}

func TestNewSummaryRefuses(t *testing.T) {
	s := newStore()
	f := newFile(t, s, 1, 10, 32, 4)
	g := newFile(t, s, 2, 10, 32, 4)
	live := mark(t, s, []cid.Cid{f.root}, nil, gc.MarkOptions{})
	root := gc.Root{Term: 1, Index: 1, CID: f.root}
	v0, _ := cid.Decode("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	tests := []struct {
		name  string
		cover gc.Cover
		fp    float64
	}{
		{"no namespace", gc.Cover{Roots: []gc.Root{root}}, 0.01},
		{"control character", gc.Cover{Namespace: "a\nb", Roots: []gc.Root{root}}, 0.01},
		{"bad UTF-8", gc.Cover{Namespace: "\xff", Roots: []gc.Root{root}}, 0.01},
		{"long namespace", gc.Cover{Namespace: string(make([]byte, 256)), Roots: []gc.Root{root}}, 0.01},
		{"no roots", gc.Cover{Namespace: "ns", Pins: []cid.Cid{f.root}}, 0.01},
		{"roots out of order", gc.Cover{Namespace: "ns", Roots: []gc.Root{{Term: 2, Index: 1, CID: f.root}, {Term: 1, Index: 9, CID: f.root}}}, 0.01},
		{"roots repeat an index", gc.Cover{Namespace: "ns", Roots: []gc.Root{root, root}}, 0.01},
		{"unsupported root", gc.Cover{Namespace: "ns", Roots: []gc.Root{{Term: 1, Index: 1, CID: v0}}}, 0.01},
		{"unsupported pin", gc.Cover{Namespace: "ns", Roots: []gc.Root{root}, Pins: []cid.Cid{v0}}, 0.01},
		{"cover names more", gc.Cover{Namespace: "ns", Roots: []gc.Root{root}, Pins: []cid.Cid{g.root}}, 0.01},
		{"cover names other", gc.Cover{Namespace: "ns", Roots: []gc.Root{{Term: 1, Index: 1, CID: g.root}}}, 0.01},
		{"rate 0", gc.Cover{Namespace: "ns", Roots: []gc.Root{root}}, 0},
		{"rate above 0.5", gc.Cover{Namespace: "ns", Roots: []gc.Root{root}}, 0.6},
		{"rate NaN", gc.Cover{Namespace: "ns", Roots: []gc.Root{root}}, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := gc.NewSummary(live, tt.cover, tt.fp); !errors.Is(err, gc.ErrInvalidConfig) {
				t.Errorf("NewSummary = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// summaryBytes returns a valid encoding to corrupt, with its parts' offsets.
func validSummary(t testing.TB) (*gc.Summary, []byte) {
	t.Helper()
	s := newStore()
	f := newFile(t, s, 1, 10, 32, 4)
	p := newFile(t, s, 2, 3, 32, 4)
	live := mark(t, s, []cid.Cid{f.root, p.root}, nil, gc.MarkOptions{})
	sum, err := gc.NewSummary(live, gc.Cover{Namespace: "ns", Roots: []gc.Root{{Term: 1, Index: 5, CID: f.root}}, Pins: []cid.Cid{p.root}}, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	return sum, sum.Encode()
}

// summaryParts encodes a summary from parts, so that tests can make
// encodings the encoder would never write.
type summaryParts struct {
	magic     string
	version   byte
	namespace []byte
	roots     [][]byte // each: term, index, CID already encoded
	pins      [][]byte // each: CID bytes
	extra     [][]byte
	blocks    uint64
	bytes     uint64
	k         byte
	salt      []byte
	m         []byte // uvarint bytes
	bitset    []byte
}

func (p summaryParts) encode() []byte {
	b := append([]byte(p.magic), p.version)
	b = binary.AppendUvarint(b, uint64(len(p.namespace)))
	b = append(b, p.namespace...)
	b = binary.AppendUvarint(b, uint64(len(p.roots)))
	for _, r := range p.roots {
		b = append(b, r...)
	}
	for _, cs := range [][][]byte{p.pins, p.extra} {
		b = binary.AppendUvarint(b, uint64(len(cs)))
		for _, c := range cs {
			b = binary.AppendUvarint(b, uint64(len(c)))
			b = append(b, c...)
		}
	}
	b = binary.AppendUvarint(b, p.blocks)
	b = binary.AppendUvarint(b, p.bytes)
	b = append(b, p.k)
	b = append(b, p.salt...)
	b = append(b, p.m...)
	return append(b, p.bitset...)
}

func rootBytes(term, index uint64, c cid.Cid) []byte {
	b := binary.AppendUvarint(nil, term)
	b = binary.AppendUvarint(b, index)
	b = binary.AppendUvarint(b, uint64(len(c.Bytes())))
	return append(b, c.Bytes()...)
}

func goodParts(t testing.TB) summaryParts {
	r := testRand(t)
	a, b := randomCID(r, content.CodecDagPB), randomCID(r, content.CodecRaw)
	if bytes.Compare(a.Bytes(), b.Bytes()) > 0 {
		a, b = b, a
	}
	bitset := make([]byte, 16)
	bitset[3], bitset[9] = 0x81, 0x10
	return summaryParts{
		magic: "mfgs", version: 1, namespace: []byte("ns"),
		roots: [][]byte{rootBytes(1, 4, randomCID(r, content.CodecDagPB)), rootBytes(2, 1, randomCID(r, content.CodecDagPB))},
		pins:  [][]byte{a.Bytes(), b.Bytes()},
		extra: [][]byte{b.Bytes()}, blocks: 2, bytes: 100, k: 2, salt: make([]byte, 16),
		m: binary.AppendUvarint(nil, 128), bitset: bitset,
	}
}

func TestDecodeSummary(t *testing.T) {
	good := goodParts(t)
	if _, err := gc.DecodeSummary(good.encode()); err != nil {
		t.Fatalf("good parts: %v", err)
	}
	sum, valid := validSummary(t)
	if d, err := gc.DecodeSummary(valid); err != nil || !bytes.Equal(d.Encode(), valid) {
		t.Fatalf("valid: %v", err)
	}
	v0, _ := cid.Decode("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	mod := func(f func(p *summaryParts)) []byte {
		p := goodParts(t)
		p.roots = slices.Clone(good.roots)
		p.pins, p.extra = slices.Clone(good.pins), slices.Clone(good.extra)
		p.bitset = slices.Clone(good.bitset)
		f(&p)
		return p.encode()
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"magic", mod(func(p *summaryParts) { p.magic = "mfgx" })},
		{"version", mod(func(p *summaryParts) { p.version = 2 })},
		{"truncated", valid[:len(valid)-1]},
		{"trailing", append(slices.Clone(valid), 0)},
		{"empty namespace", mod(func(p *summaryParts) { p.namespace = nil })},
		{"control in namespace", mod(func(p *summaryParts) { p.namespace = []byte("a\x00") })},
		{"no roots", mod(func(p *summaryParts) { p.roots = nil })},
		{"roots out of order", mod(func(p *summaryParts) { p.roots[0], p.roots[1] = p.roots[1], p.roots[0] })},
		{"roots repeat", mod(func(p *summaryParts) { p.roots[1] = p.roots[0] })},
		{"root CIDv0", mod(func(p *summaryParts) { p.roots = [][]byte{rootBytes(1, 1, v0)} })},
		{"root not a CID", mod(func(p *summaryParts) { p.roots = [][]byte{{1, 1, 3, 1, 2, 3}} })},
		{"root CID with trailing byte", mod(func(p *summaryParts) {
			r := p.roots[0]
			c := r[3:]
			p.roots = [][]byte{append(append(r[:2:2], byte(len(c)+1)), append(slices.Clone(c), 0)...)}
		})},
		{"non-minimal term", mod(func(p *summaryParts) { p.roots[0] = append([]byte{0x81, 0x00}, p.roots[0][1:]...) })},
		{"pins unordered", mod(func(p *summaryParts) { p.pins[0], p.pins[1] = p.pins[1], p.pins[0] })},
		{"pins repeat", mod(func(p *summaryParts) { p.pins[1] = p.pins[0] })},
		{"extra CIDv0", mod(func(p *summaryParts) { p.extra = [][]byte{v0.Bytes()} })},
		{"no hashes", mod(func(p *summaryParts) { p.k = 0 })},
		{"33 hashes", mod(func(p *summaryParts) { p.k = 33 })},
		{"short salt", mod(func(p *summaryParts) { p.salt = p.salt[:15] })},
		{"0 bits", mod(func(p *summaryParts) { p.m = []byte{0}; p.bitset = nil })},
		{"bits not a multiple of 64", mod(func(p *summaryParts) { p.m = binary.AppendUvarint(nil, 120); p.bitset = p.bitset[:15] })},
		{"bits over MaxBits", mod(func(p *summaryParts) { p.m = binary.AppendUvarint(nil, gc.MaxBits+64) })},
		{"non-minimal bits", mod(func(p *summaryParts) { p.m = []byte{0x80, 0x81, 0x00} })},
		{"bitset short", mod(func(p *summaryParts) { p.bitset = p.bitset[:8] })},
		{"bitset long", mod(func(p *summaryParts) { p.bitset = append(p.bitset, make([]byte, 8)...) })},
		{"bits set for no block", mod(func(p *summaryParts) { p.blocks, p.bytes = 0, 0 })},
		{"blocks but no bit set", mod(func(p *summaryParts) { p.bitset = make([]byte, 16) })},
		{"more bits than blocks*k", mod(func(p *summaryParts) { p.bitset[0] = 0xff })},
		{"more bytes than blocks can hold", mod(func(p *summaryParts) { p.bytes = 2*content.MaxBlockSize + 1 })},
		{"huge count", mod(func(p *summaryParts) { p.pins = nil; p.extra = nil; p.roots = nil })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := gc.DecodeSummary(tt.b); !errors.Is(err, gc.ErrMalformed) {
				t.Errorf("DecodeSummary = %v, want ErrMalformed", err)
			}
		})
	}
	_ = sum
}

func TestCheckSummary(t *testing.T) {
	r := testRand(t)
	mk := func(ns string, roots ...gc.Root) *gc.Summary {
		s := newStore()
		var cs []cid.Cid
		for _, x := range roots {
			cs = append(cs, x.CID)
		}
		sum, err := gc.NewSummary(mark(t, s, cs, nil, gc.MarkOptions{}), gc.Cover{Namespace: ns, Roots: roots}, 0.01)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	c1, c2 := randomCID(r, content.CodecRaw), randomCID(r, content.CodecRaw)
	r5 := gc.Root{Term: 1, Index: 5, CID: c1}
	r9 := gc.Root{Term: 1, Index: 9, CID: c2}
	r2t2 := gc.Root{Term: 2, Index: 2, CID: c2}
	s5, s9, s2t2 := mk("ns", r5), mk("ns", r5, r9), mk("ns", r2t2)
	other := mk("other", r9)
	tests := []struct {
		name    string
		s       *gc.Summary
		ns      string
		newest  gc.Root
		trusted *gc.Summary
		want    error
	}{
		{"first", s5, "ns", r5, nil, nil},
		{"newer", s9, "ns", r9, s5, nil},
		{"same again", s9, "ns", r9, s9, nil},
		{"newer term", s2t2, "ns", r2t2, s9, nil},
		{"older", s5, "ns", r5, s9, gc.ErrStaleSummary},
		{"older term", s9, "ns", r9, s2t2, gc.ErrStaleSummary},
		{"other namespace", other, "ns", r9, nil, gc.ErrSummaryMismatch},
		{"trusted of other namespace", s9, "ns", r9, other, gc.ErrSummaryMismatch},
		{"other index", s9, "ns", gc.Root{Term: 1, Index: 10, CID: c2}, nil, gc.ErrSummaryMismatch},
		{"other term", s9, "ns", gc.Root{Term: 2, Index: 9, CID: c2}, nil, gc.ErrSummaryMismatch},
		{"other root", s9, "ns", gc.Root{Term: 1, Index: 9, CID: c1}, nil, gc.ErrSummaryMismatch},
		{"older root of the summary", s9, "ns", r5, nil, gc.ErrSummaryMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := gc.CheckSummary(tt.s, tt.ns, tt.newest, tt.trusted)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("CheckSummary = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestWindowAppend(t *testing.T) {
	r := testRand(t)
	var w []gc.Root
	for i := range uint64(20) {
		next := gc.Root{Term: 1 + i/8, Index: 10 + i, CID: randomCID(r, content.CodecDagPB)}
		var err error
		if w, err = gc.WindowAppend(w, next, 16); err != nil {
			t.Fatal(err)
		}
		if len(w) != min(int(i)+1, 16) || w[len(w)-1] != next {
			t.Fatalf("after %d: %d roots", i, len(w))
		}
	}
	if w[0].Index != 14 {
		t.Errorf("oldest index %d, want 14", w[0].Index)
	}
	for _, bad := range []gc.Root{w[len(w)-1], {Term: 1, Index: 99, CID: w[0].CID}, {Term: 9, Index: 99}} {
		if _, err := gc.WindowAppend(w, bad, 16); err == nil {
			t.Errorf("appended %v", bad)
		}
	}
	if _, err := gc.WindowAppend(w, gc.Root{Term: 9, Index: 1, CID: w[0].CID}, 0); !errors.Is(err, gc.ErrInvalidConfig) {
		t.Errorf("k = 0: %v", err)
	}
}
