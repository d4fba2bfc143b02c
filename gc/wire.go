package gc

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
)

// key is a block's sha2-256 digest: the multihash of a meshfs block is
// 0x12 0x20 followed by it ([content.CheckCID]). Liveness, leases and the
// dead-since state are kept per digest, not per CID: the raw and dag-pb
// CIDs of the same bytes are one key, which can only make a block look
// live when it is not, never the reverse.
type key [sha256.Size]byte

// keyOf returns c's digest, or false if c is not a CID meshfs stores.
func keyOf(c cid.Cid) (key, bool) {
	k, _, ok := parseCID(c)
	return k, ok
}

// parseCID returns c's digest and whether its codec is dag-pb, or false if
// c is not a CID meshfs stores. Such a CID ([content.CheckCID]: version 1,
// raw or dag-pb, sha2-256 of full length) is exactly the 36 bytes
// 0x01, codec (0x55 or 0x70), 0x12, 0x20 and the digest; reading them
// allocates nothing.
func parseCID(c cid.Cid) (key, bool, bool) {
	var k key
	s := c.KeyString()
	if len(s) != 4+len(k) || s[0] != 1 || s[1] != content.CodecRaw && s[1] != content.CodecDagPB ||
		s[2] != mh.SHA2_256 || s[3] != sha256.Size {
		return k, false, false
	}
	copy(k[:], s[4:])
	return k, s[1] == content.CodecDagPB, true
}

// keyOfMultihash returns the digest of a sha2-256 multihash of full length,
// or false for any other bytes.
func keyOfMultihash(m mh.Multihash) (key, bool) {
	var k key
	if len(m) != 2+sha256.Size || m[0] != mh.SHA2_256 || m[1] != sha256.Size {
		return k, false
	}
	copy(k[:], m[2:])
	return k, true
}

// multihash returns k as a sha2-256 multihash.
func (k key) multihash() mh.Multihash {
	m := make(mh.Multihash, 2+sha256.Size)
	m[0], m[1] = mh.SHA2_256, sha256.Size
	copy(m[2:], k[:])
	return m
}

// cidOf returns the CIDv1 of codec over digest k.
func (k key) cid(codec uint64) cid.Cid { return cid.NewCidV1(codec, k.multihash()) }

// appendBytes appends v's length as a uvarint and v.
func appendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// decoder reads an encoding front to back; its first error sticks and
// makes every later read return the zero value. Varints must be minimal.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = malformed(format, args...)
	}
}

func (d *decoder) take(what string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("%s: %d bytes wanted, %d left", what, n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8(what string) uint8 {
	v := d.take(what, 1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (d *decoder) uint64(what string) uint64 {
	v := d.take(what, 8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("%s: bad varint", what)
		return 0
	}
	if n > 1 && d.b[n-1] == 0 {
		d.fail("%s: non-minimal varint", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a uvarint element count, refusing more than max or more than
// the bytes left could hold at minSize bytes each, so that no caller
// allocates for elements that are not there.
func (d *decoder) count(what string, max, minSize int) int {
	n := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if n > uint64(max) || n > uint64(len(d.b)/minSize) {
		d.fail("%s: %d elements, limit %d, %d bytes left", what, n, max, len(d.b))
		return 0
	}
	return int(n)
}

// bytes reads a uvarint length and that many bytes, at most max.
func (d *decoder) bytes(what string, max int) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > uint64(max) {
		d.fail("%s: %d bytes, limit %d", what, n, max)
		return nil
	}
	return d.take(what, int(n))
}

// cid reads a length-prefixed binary CID that content.CheckCID accepts.
func (d *decoder) cid(what string) cid.Cid {
	b := d.bytes(what, maxCIDLen)
	if d.err != nil {
		return cid.Undef
	}
	n, c, err := cid.CidFromBytes(b)
	if err != nil || n != len(b) {
		d.fail("%s: not a CID", what)
		return cid.Undef
	}
	if err := content.CheckCID(c); err != nil {
		d.fail("%s: %v", what, err)
		return cid.Undef
	}
	return c
}

// magic reads and checks a 4-byte magic and a version byte.
func (d *decoder) magic(want string, version uint8) {
	if m := d.take("magic", len(want)); d.err == nil && string(m) != want {
		d.fail("magic %q, want %q", m, want)
	}
	if v := d.u8("version"); d.err == nil && v != version {
		d.fail("version %d, want %d", v, version)
	}
}

// end fails if bytes are left.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

// maxCIDLen bounds one encoded CID (a meshfs CID is 36 bytes).
const maxCIDLen = 64

// errorf formats an error for this package.
func errorf(format string, args ...any) error { return fmt.Errorf("gc: "+format, args...) }
