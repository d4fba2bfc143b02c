package gc

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
)

// Limits of a summary, checked when one is built and when one is decoded.
const (
	// MaxCoverRoots bounds the roots a summary covers (K).
	MaxCoverRoots = 1024
	// MaxCoverPins bounds the pins a summary lists.
	MaxCoverPins = 1 << 16
	// MaxCoverExtra bounds the other CIDs a summary lists.
	MaxCoverExtra = 1 << 16
	// MaxHashes bounds the bloom filter's hash count.
	MaxHashes = 32
	// MaxBits bounds the bloom filter's size in bits (2 GiB: about 1.8
	// billion blocks at a 1% false-positive rate).
	MaxBits = 1 << 34
	// MaxNamespaceLen bounds a namespace name, as root records do.
	MaxNamespaceLen = 255
	// SaltSize is the length of a summary's hash salt.
	SaltSize = 16
)

const (
	summaryMagic   = "mfgs"
	summaryVersion = 1
)

// Root is one committed namespace root: the Raft term and log index of the
// state it renders and the CID of its UnixFS directory.
type Root struct {
	Term, Index uint64
	CID         cid.Cid
}

// after reports whether r is later than o in (term, index) order.
func (r Root) after(o Root) bool {
	if r.Term != o.Term {
		return r.Term > o.Term
	}
	return r.Index > o.Index
}

func (r Root) String() string { return fmt.Sprintf("%s@%d/%d", r.CID, r.Term, r.Index) }

// Cover is what a summary's live set was marked from, and so what it
// protects.
type Cover struct {
	// Namespace names the namespace (1 to MaxNamespaceLen bytes of UTF-8
	// without control characters).
	Namespace string
	// Roots are the last K committed roots, oldest first, each strictly
	// later in (term, index) than the one before. The last is the newest:
	// the summary is as of its index and is published in its root record.
	Roots []Root
	// Pins are the pinned CIDs in the state at the newest root's index.
	Pins []cid.Cid
	// Extra are the other CIDs the writer keeps live, chiefly the content
	// CIDs named by log entries after the newest root's index (operations
	// in flight, doc.go rule W1). Summary orders Pins and Extra by CID
	// bytes and drops repeats.
	Extra []cid.Cid
}

// Newest returns the cover's last root.
func (c Cover) Newest() Root { return c.Roots[len(c.Roots)-1] }

// WindowAppend returns roots with next appended and the oldest dropped
// beyond k: the writer's last-K window after publishing next. next must be
// later in (term, index) than the newest of roots. roots is not modified.
func WindowAppend(roots []Root, next Root, k int) ([]Root, error) {
	if k < 1 || k > MaxCoverRoots {
		return nil, invalid("window of %d roots, want 1 to %d", k, MaxCoverRoots)
	}
	if err := content.CheckCID(next.CID); err != nil {
		return nil, errorf("window: %w", err)
	}
	if n := len(roots); n > 0 && !next.after(roots[n-1]) {
		return nil, errorf("window: root %s is not later than %s", next, roots[n-1])
	}
	out := append(slices.Clone(roots), next)
	if len(out) > k {
		out = slices.Clone(out[len(out)-k:])
	}
	return out, nil
}

// normalize checks c and returns it with Pins and Extra sorted and
// without repeats.
func (c Cover) normalize() (Cover, error) {
	if err := checkNamespace(c.Namespace); err != nil {
		return Cover{}, err
	}
	if len(c.Roots) < 1 || len(c.Roots) > MaxCoverRoots {
		return Cover{}, invalid("%d roots, want 1 to %d", len(c.Roots), MaxCoverRoots)
	}
	for i, r := range c.Roots {
		if err := content.CheckCID(r.CID); err != nil {
			return Cover{}, fmt.Errorf("%w: root %d: %w", ErrInvalidConfig, i, err)
		}
		if i > 0 && !r.after(c.Roots[i-1]) {
			return Cover{}, invalid("root %s is not later than %s", r, c.Roots[i-1])
		}
	}
	var err error
	out := Cover{Namespace: c.Namespace, Roots: slices.Clone(c.Roots)}
	if out.Pins, err = sortCIDs("pins", c.Pins, MaxCoverPins); err != nil {
		return Cover{}, err
	}
	if out.Extra, err = sortCIDs("extra", c.Extra, MaxCoverExtra); err != nil {
		return Cover{}, err
	}
	return out, nil
}

func sortCIDs(what string, cs []cid.Cid, max int) ([]cid.Cid, error) {
	out := slices.Clone(cs)
	for _, c := range out {
		if err := content.CheckCID(c); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, what, err)
		}
	}
	slices.SortFunc(out, func(a, b cid.Cid) int { return bytes.Compare(a.Bytes(), b.Bytes()) })
	out = slices.CompactFunc(out, cid.Cid.Equals)
	if len(out) > max {
		return nil, invalid("%d %s, limit %d", len(out), what, max)
	}
	return out, nil
}

func checkNamespace(ns string) error {
	switch {
	case ns == "" || len(ns) > MaxNamespaceLen:
		return invalid("namespace of %d bytes, want 1 to %d", len(ns), MaxNamespaceLen)
	case !utf8.ValidString(ns):
		return invalid("namespace is not UTF-8")
	case strings.ContainsFunc(ns, unicode.IsControl):
		return invalid("namespace %q has a control character", ns)
	}
	return nil
}

// Summary is a compact, signable picture of a namespace's live set: a
// bloom filter over the sha2-256 digests of every live block, with the
// cover it was marked from. Its only error is the safe one: MayBeLive is
// true for every block of the live set it was built from, and for a small
// share (about the configured rate) of other blocks. A Summary is
// immutable and safe for concurrent use.
//
// The filter is defined by its encoding's parameters alone (see Encode), so
// that a holder's answer never depends on the version of the code that
// built it: with m bits, k hashes and salt s, a block of digest d sets or
// tests the bits floor(x_i * m / 2^64) for i = 0..k-1, where
// x_i = h1 + i*h2 + i*i*h3 (mod 2^64), h1, h2 and h3 are the first three
// little-endian uint64 of SHA-256(s || d), and bit j is bit j%8 (least
// significant first) of byte j/8 of the bitset.
type Summary struct {
	cover Cover
	count uint64 // distinct digests inserted
	bytes uint64 // live bytes, for accounting
	k     uint8
	salt  [SaltSize]byte
	m     uint64   // bits, a multiple of 64
	bits  []uint64 // m/64 words
}

var _ LiveSet = (*Summary)(nil)

// NewSummary builds the summary of live, which must be complete
// ([ErrIncompleteMark] otherwise) and marked from exactly the cover's
// roots, pins and extra CIDs, with the given false-positive rate (in
// (0, 0.5]). The salt is derived from the namespace and the newest root,
// so the same live set and cover always give the same bytes.
func NewSummary(live *Live, cover Cover, fpRate float64) (*Summary, error) {
	if !live.Complete() {
		return nil, fmt.Errorf("%w: %s", ErrIncompleteMark, live)
	}
	cover, err := cover.normalize()
	if err != nil {
		return nil, err
	}
	if err := sameRoots(live, cover); err != nil {
		return nil, err
	}
	n := live.digests()
	m, k, err := bloomParams(n, fpRate)
	if err != nil {
		return nil, err
	}
	s := &Summary{cover: cover, count: uint64(n), bytes: uint64(live.Bytes()), k: k, m: m, bits: make([]uint64, m/64)}
	s.salt = deriveSalt(cover)
	live.keys(s.add)
	return s, nil
}

// sameRoots checks that live was marked from the cover's CIDs, no more and
// no fewer.
func sameRoots(live *Live, c Cover) error {
	want := make(map[cid.Cid]bool)
	for _, r := range c.Roots {
		want[r.CID] = true
	}
	for _, p := range c.Pins {
		want[p] = true
	}
	for _, e := range c.Extra {
		want[e] = true
	}
	got := live.Roots()
	if len(got) != len(want) {
		return invalid("live set marked from %d CIDs, cover names %d", len(got), len(want))
	}
	for _, r := range got {
		if !want[r] {
			return invalid("live set marked from %s, which the cover does not name", r)
		}
	}
	return nil
}

// bloomParams returns the bits and hash count of a filter for n keys at
// false-positive rate p: m = ceil(-n ln p / ln² 2) rounded up to a
// multiple of 64, k = round(m/n ln 2) within [1, MaxHashes].
func bloomParams(n int, p float64) (uint64, uint8, error) {
	if !(p > 0 && p <= 0.5) {
		return 0, 0, invalid("false-positive rate %v, want (0, 0.5]", p)
	}
	if n == 0 {
		return 64, 1, nil
	}
	mf := math.Ceil(-float64(n) * math.Log(p) / (math.Ln2 * math.Ln2))
	if mf > MaxBits {
		return 0, 0, invalid("%d blocks at rate %v need %.0f bits, limit %d", n, p, mf, uint64(MaxBits))
	}
	m := (uint64(mf) + 63) &^ 63
	k := math.Round(float64(m) / float64(n) * math.Ln2)
	return m, uint8(min(max(k, 1), MaxHashes)), nil
}

// deriveSalt returns SHA-256("meshfs gc summary salt" || namespace length
// || namespace || newest root's term, index and CID)[:SaltSize].
func deriveSalt(c Cover) [SaltSize]byte {
	newest := c.Newest()
	b := []byte("meshfs gc summary salt")
	b = appendBytes(b, []byte(c.Namespace))
	b = binary.AppendUvarint(b, newest.Term)
	b = binary.AppendUvarint(b, newest.Index)
	b = appendBytes(b, newest.CID.Bytes())
	sum := sha256.Sum256(b)
	var salt [SaltSize]byte
	copy(salt[:], sum[:])
	return salt
}

// hashes returns h1, h2 and h3 of digest k (see Summary).
func (s *Summary) hashes(k key) (uint64, uint64, uint64) {
	var in [SaltSize + len(key{})]byte
	copy(in[:], s.salt[:])
	copy(in[SaltSize:], k[:])
	h := sha256.Sum256(in[:])
	return binary.LittleEndian.Uint64(h[0:8]), binary.LittleEndian.Uint64(h[8:16]), binary.LittleEndian.Uint64(h[16:24])
}

// bit returns the i-th bit digest k selects (see Summary).
func (s *Summary) bit(h1, h2, h3, i uint64) uint64 {
	j, _ := bits.Mul64(h1+i*h2+i*i*h3, s.m)
	return j
}

func (s *Summary) add(k key) {
	h1, h2, h3 := s.hashes(k)
	for i := range uint64(s.k) {
		j := s.bit(h1, h2, h3, i)
		s.bits[j/64] |= 1 << (j % 64)
	}
}

func (s *Summary) test(k key) bool {
	h1, h2, h3 := s.hashes(k)
	for i := range uint64(s.k) {
		j := s.bit(h1, h2, h3, i)
		if s.bits[j/64]&(1<<(j%64)) == 0 {
			return false
		}
	}
	return true
}

// MayBeLive implements [LiveSet]: false means the block of multihash m is
// certainly not in the live set the summary was built from. Bytes that are
// not a sha2-256 multihash of full length are answered true.
func (s *Summary) MayBeLive(m mh.Multihash) bool {
	k, ok := keyOfMultihash(m)
	return !ok || s.test(k)
}

func (s *Summary) hasKeyMaybe(k key) bool { return s.test(k) }

// MayBeLiveCID is MayBeLive(c.Hash()).
func (s *Summary) MayBeLiveCID(c cid.Cid) bool { return s.MayBeLive(c.Hash()) }

// Cover returns what the summary covers (a copy).
func (s *Summary) Cover() Cover {
	return Cover{Namespace: s.cover.Namespace, Roots: slices.Clone(s.cover.Roots),
		Pins: slices.Clone(s.cover.Pins), Extra: slices.Clone(s.cover.Extra)}
}

// Namespace returns the namespace the summary is of.
func (s *Summary) Namespace() string { return s.cover.Namespace }

// Newest returns the newest root covered: the summary is as of its index.
func (s *Summary) Newest() Root { return s.cover.Newest() }

// Index returns the log index the summary is as of (Newest().Index).
// A committed lease ([Leases.Release]) at or below it is covered.
func (s *Summary) Index() uint64 { return s.cover.Newest().Index }

// Blocks returns the number of distinct live blocks (digests) inserted.
func (s *Summary) Blocks() uint64 { return s.count }

// LiveBytes returns the live set's size in bytes as the writer counted it.
func (s *Summary) LiveBytes() uint64 { return s.bytes }

// Bits returns the filter's size in bits.
func (s *Summary) Bits() uint64 { return s.m }

// Hashes returns the filter's hash count.
func (s *Summary) Hashes() int { return int(s.k) }

// FPRate estimates the share of dead blocks that look live: the filter's
// fill to the power k.
func (s *Summary) FPRate() float64 {
	set := 0
	for _, w := range s.bits {
		set += bits.OnesCount64(w)
	}
	return math.Pow(float64(set)/float64(s.m), float64(s.k))
}

func (s *Summary) String() string {
	return fmt.Sprintf("summary of %q at %d/%d (%d roots, %d pins, %d blocks)",
		s.cover.Namespace, s.Newest().Term, s.Index(), len(s.cover.Roots), len(s.cover.Pins), s.count)
}

// Encode returns the summary's canonical bytes, what the writer stores in
// the mesh and names in its signed root record (doc.go):
//
//	magic      4 bytes, "mfgs"
//	version    1 byte, 1
//	namespace  uvarint length | UTF-8 bytes
//	roots      uvarint count (1..MaxCoverRoots), each:
//	             term uvarint | index uvarint | uvarint length | binary CID
//	           oldest first, strictly increasing in (term, index)
//	pins       uvarint count | each uvarint length | binary CID,
//	           strictly increasing in CID bytes
//	extra      the same, for Cover.Extra
//	blocks     uvarint, distinct digests inserted
//	bytes      uvarint, live bytes
//	hashes     1 byte, k (1..MaxHashes)
//	salt       SaltSize bytes
//	bits       uvarint, m: a multiple of 64 in [64, MaxBits]
//	bitset     m/8 bytes
//
// Varints are minimal, CIDs pass content.CheckCID, nothing follows the
// bitset, and the bitset has at least one bit set if and only if blocks
// is not zero, and at most blocks*k. Decoding then encoding gives the same
// bytes.
func (s *Summary) Encode() []byte {
	b := make([]byte, 0, s.headerSize()+int(s.m/8))
	b = append(b, summaryMagic...)
	b = append(b, summaryVersion)
	b = appendBytes(b, []byte(s.cover.Namespace))
	b = binary.AppendUvarint(b, uint64(len(s.cover.Roots)))
	for _, r := range s.cover.Roots {
		b = binary.AppendUvarint(b, r.Term)
		b = binary.AppendUvarint(b, r.Index)
		b = appendBytes(b, r.CID.Bytes())
	}
	for _, cs := range [][]cid.Cid{s.cover.Pins, s.cover.Extra} {
		b = binary.AppendUvarint(b, uint64(len(cs)))
		for _, c := range cs {
			b = appendBytes(b, c.Bytes())
		}
	}
	b = binary.AppendUvarint(b, s.count)
	b = binary.AppendUvarint(b, s.bytes)
	b = append(b, s.k)
	b = append(b, s.salt[:]...)
	b = binary.AppendUvarint(b, s.m)
	for _, w := range s.bits {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return b
}

// headerSize estimates the encoding's bytes before the bitset.
func (s *Summary) headerSize() int {
	return 64 + len(s.cover.Namespace) + 60*len(s.cover.Roots) + 40*(len(s.cover.Pins)+len(s.cover.Extra))
}

// DecodeSummary decodes the canonical bytes Encode makes, strictly: every
// departure from that encoding is an error wrapping ErrMalformed. It
// allocates no more than len(b) bytes for the bitset.
func DecodeSummary(b []byte) (*Summary, error) {
	d := decoder{b: b}
	d.magic(summaryMagic, summaryVersion)
	s := &Summary{}
	ns := d.bytes("namespace", MaxNamespaceLen)
	if d.err == nil {
		if err := checkNamespace(string(ns)); err != nil {
			d.fail("%v", err)
		}
		s.cover.Namespace = string(ns)
	}
	n := d.count("roots", MaxCoverRoots, 3)
	if d.err == nil && n == 0 {
		d.fail("no roots")
	}
	for i := 0; i < n && d.err == nil; i++ {
		r := Root{Term: d.uvarint("root term"), Index: d.uvarint("root index"), CID: d.cid("root CID")}
		if d.err == nil && i > 0 && !r.after(s.cover.Roots[i-1]) {
			d.fail("root %d is not later than root %d", i, i-1)
		}
		s.cover.Roots = append(s.cover.Roots, r)
	}
	s.cover.Pins = d.sortedCIDs("pins", MaxCoverPins)
	s.cover.Extra = d.sortedCIDs("extra", MaxCoverExtra)
	s.count = d.uvarint("blocks")
	s.bytes = d.uvarint("bytes")
	s.k = d.u8("hashes")
	if d.err == nil && (s.k < 1 || s.k > MaxHashes) {
		d.fail("%d hashes, want 1 to %d", s.k, MaxHashes)
	}
	copy(s.salt[:], d.take("salt", SaltSize))
	s.m = d.uvarint("bits")
	if d.err == nil && (s.m < 64 || s.m > MaxBits || s.m%64 != 0) {
		d.fail("%d bits, want a multiple of 64 in [64, %d]", s.m, uint64(MaxBits))
	}
	if d.err == nil && s.m/8 != uint64(len(d.b)) {
		d.fail("bitset of %d bytes, %d left", s.m/8, len(d.b))
	}
	raw := d.take("bitset", int(s.m/8))
	if err := d.end(); err != nil {
		return nil, err
	}
	s.bits = make([]uint64, s.m/64)
	set := uint64(0)
	for i := range s.bits {
		s.bits[i] = binary.LittleEndian.Uint64(raw[8*i:])
		set += uint64(bits.OnesCount64(s.bits[i]))
	}
	switch {
	case (set == 0) != (s.count == 0):
		return nil, malformed("%d bits set for %d blocks", set, s.count)
	case s.count <= math.MaxUint64/uint64(s.k) && set > s.count*uint64(s.k):
		return nil, malformed("%d bits set, more than %d blocks times %d hashes", set, s.count, s.k)
	case s.count <= math.MaxUint64/content.MaxBlockSize && s.bytes > s.count*content.MaxBlockSize:
		return nil, malformed("%d bytes in %d blocks", s.bytes, s.count)
	}
	return s, nil
}

// sortedCIDs reads a count and that many CIDs in strictly increasing byte
// order.
func (d *decoder) sortedCIDs(what string, max int) []cid.Cid {
	n := d.count(what, max, 2)
	var out []cid.Cid
	for i := 0; i < n && d.err == nil; i++ {
		c := d.cid(what)
		if d.err == nil && i > 0 && bytes.Compare(out[i-1].Bytes(), c.Bytes()) >= 0 {
			d.fail("%s not in strictly increasing order", what)
		}
		out = append(out, c)
	}
	return out
}

// CheckSummary reports whether a holder may trust s: s must be the summary
// of namespace ns as of newest, the root that the signed root record naming
// s carries (the signature is the caller's to check, and the record must
// name s by CID), and, if the holder already trusts a summary, not older
// than it in (term, index): a holder never goes back to an older summary.
// The errors wrap ErrSummaryMismatch or ErrStaleSummary.
func CheckSummary(s *Summary, ns string, newest Root, trusted *Summary) error {
	got := s.Newest()
	switch {
	case s.Namespace() != ns:
		return fmt.Errorf("%w: summary of namespace %q, record of %q", ErrSummaryMismatch, s.Namespace(), ns)
	case got.Term != newest.Term || got.Index != newest.Index || !got.CID.Equals(newest.CID):
		return fmt.Errorf("%w: summary as of %s, record of %s", ErrSummaryMismatch, got, newest)
	case trusted == nil:
		return nil
	case trusted.Namespace() != ns:
		return fmt.Errorf("%w: trusted summary is of namespace %q, not %q", ErrSummaryMismatch, trusted.Namespace(), ns)
	case trusted.Newest().after(got):
		return fmt.Errorf("%w: summary as of %s, trusted one as of %s", ErrStaleSummary, got, trusted.Newest())
	}
	return nil
}
