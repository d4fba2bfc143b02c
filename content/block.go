package content

import (
	"crypto/sha256"
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// MaxBlockSize is the largest block meshfs stores or accepts: 2 MiB.
const MaxBlockSize = 2 << 20

// Codecs of the blocks meshfs makes.
const (
	CodecRaw   = cid.Raw         // 0x55: file leaves
	CodecDagPB = cid.DagProtobuf // 0x70: UnixFS nodes
)

// Block is a verified block: bytes and the CID they hash to. The zero Block
// is not valid. A Block's bytes must not be modified.
type Block struct {
	cid  cid.Cid
	data []byte
}

// CID returns the block's CID.
func (b Block) CID() cid.Cid { return b.cid }

// Data returns the block's bytes; the caller must not modify them.
func (b Block) Data() []byte { return b.data }

// Size returns the number of bytes in the block.
func (b Block) Size() int { return len(b.data) }

// Defined reports whether b is a real block and not the zero Block.
func (b Block) Defined() bool { return b.cid.Defined() }

// CopyTo returns a copy of b whose bytes live in buf's array (grown when
// too small), for callers that recycle their buffers.
func (b Block) CopyTo(buf []byte) Block { return Block{cid: b.cid, data: append(buf[:0], b.data...)} }

func (b Block) String() string { return fmt.Sprintf("block %s (%d bytes)", b.cid, len(b.data)) }

// NewBlock hashes data and returns it as a block of the given codec
// (CodecRaw or CodecDagPB). The block keeps data without copying.
func NewBlock(codec uint64, data []byte) (Block, error) {
	if len(data) > MaxBlockSize {
		return Block{}, fmt.Errorf("%w: %d bytes, limit %d", ErrBlockTooLarge, len(data), MaxBlockSize)
	}
	if codec != CodecRaw && codec != CodecDagPB {
		return Block{}, fmt.Errorf("%w: codec 0x%x", ErrUnsupportedCID, codec)
	}
	return Block{cid: sum(codec, data), data: data}, nil
}

// NewRawBlock is NewBlock(CodecRaw, data).
func NewRawBlock(data []byte) (Block, error) { return NewBlock(CodecRaw, data) }

// BlockFromCID checks that data hashes to c and returns them as a block. It
// is how bytes from a disk or a network become a Block. Oversized data is
// refused before it is hashed.
func BlockFromCID(c cid.Cid, data []byte) (Block, error) {
	if err := checkBlockFromCID(c, data); err != nil {
		return Block{}, err
	}
	return matchDigest(c, data, sha256.Sum256(data))
}

// A Hasher returns the SHA-256 digest of exactly data, as sha256.Sum256
// does, or an error if it cannot compute one.
type Hasher func(data []byte) ([sha256.Size]byte, error)

// BlockFromCIDHasher is [BlockFromCID] with the digest computed by h
// instead of crypto/sha256: the same checks, the same errors, and h's
// error as it is. It is for a platform with a faster SHA-256 than Go's:
// the browser node verifies with the browser's (WebCrypto, several times
// faster than Go compiled to WebAssembly). The block is only as verified
// as h is a SHA-256.
func BlockFromCIDHasher(c cid.Cid, data []byte, h Hasher) (Block, error) {
	if err := checkBlockFromCID(c, data); err != nil {
		return Block{}, err
	}
	sum, err := h(data)
	if err != nil {
		return Block{}, err
	}
	return matchDigest(c, data, sum)
}

// checkBlockFromCID refuses what need not be hashed: a CID meshfs does not
// store, data over the block limit.
func checkBlockFromCID(c cid.Cid, data []byte) error {
	if err := CheckCID(c); err != nil {
		return err
	}
	if len(data) > MaxBlockSize {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrBlockTooLarge, c, len(data), MaxBlockSize)
	}
	return nil
}

// matchDigest returns data as c's block if sum, its SHA-256, is c's digest.
func matchDigest(c cid.Cid, data []byte, sum [sha256.Size]byte) (Block, error) {
	want := c.Hash()
	// A checked CID's multihash is 0x12 0x20 followed by the 32-byte digest.
	if string(want[2:]) != string(sum[:]) {
		return Block{}, fmt.Errorf("%w: %s", ErrHashMismatch, c)
	}
	return Block{cid: c, data: data}, nil
}

// CheckCID returns nil if c is a CID meshfs stores: version 1, raw or
// dag-pb codec, sha2-256 multihash of full length.
func CheckCID(c cid.Cid) error {
	if !c.Defined() {
		return fmt.Errorf("%w: undefined CID", ErrUnsupportedCID)
	}
	p := c.Prefix()
	if p.Version != 1 {
		return fmt.Errorf("%w: %s is CIDv%d, want v1", ErrUnsupportedCID, c, p.Version)
	}
	if p.Codec != CodecRaw && p.Codec != CodecDagPB {
		return fmt.Errorf("%w: %s has codec 0x%x, want raw or dag-pb", ErrUnsupportedCID, c, p.Codec)
	}
	if p.MhType != mh.SHA2_256 || p.MhLength != sha256.Size || len(c.Hash()) != 2+sha256.Size {
		return fmt.Errorf("%w: %s is not a sha2-256 multihash", ErrUnsupportedCID, c)
	}
	return nil
}

// ParseCID decodes a CID string and checks it with CheckCID.
func ParseCID(s string) (cid.Cid, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %q: %v", ErrUnsupportedCID, s, err)
	}
	if err := CheckCID(c); err != nil {
		return cid.Undef, err
	}
	return c, nil
}

// sum returns the CIDv1 of data under codec.
func sum(codec uint64, data []byte) cid.Cid {
	d := sha256.Sum256(data)
	var m [2 + sha256.Size]byte
	m[0], m[1] = mh.SHA2_256, sha256.Size
	copy(m[2:], d[:])
	return cid.NewCidV1(codec, m[:])
}
