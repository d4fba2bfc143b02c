package gateway

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"strings"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// nodeKind is what a block is, as the gateway serves it.
type nodeKind int

const (
	kindRawFile nodeKind = iota // a raw-codec block: a one-block file
	kindFile                    // a UnixFS file (or raw) dag-pb node
	kindDir                     // a basic UnixFS directory
	kindHAMT                    // a HAMT-sharded directory (or one of its shards)
	kindSymlink                 // a UnixFS symlink
	kindOther                   // dag-pb but not UnixFS, or UnixFS metadata
)

// node is a fetched block, decoded when it is dag-pb.
type node struct {
	blk  content.Block
	kind nodeKind
	pb   content.PBNode
	fsd  content.FSData
}

// decodeNode classifies b, decoding it if it is dag-pb. A dag-pb node
// whose Data is not UnixFS is kindOther, not an error: it is still a block
// to serve raw or in a CAR.
func decodeNode(b content.Block) (node, error) {
	n := node{blk: b}
	if b.CID().Prefix().Codec == content.CodecRaw {
		n.kind = kindRawFile
		return n, nil
	}
	pb, err := content.DecodePBNode(b.Data())
	if err != nil {
		return node{}, fmt.Errorf("%s: %w", b.CID(), err)
	}
	n.pb = pb
	if pb.Data == nil {
		n.kind = kindOther
		return n, nil
	}
	if n.fsd, err = content.DecodeFSData(pb.Data); err != nil {
		n.kind = kindOther
		return n, nil
	}
	switch n.fsd.Type {
	case content.TypeFile, content.TypeRaw:
		n.kind = kindFile
	case content.TypeDirectory:
		n.kind = kindDir
	case content.TypeHAMTShard:
		n.kind = kindHAMT
	case content.TypeSymlink:
		n.kind = kindSymlink
	default:
		n.kind = kindOther
	}
	return n, nil
}

// fileSize returns the content bytes of a file node, checking that its
// sizes add up.
func (n node) fileSize() (uint64, error) {
	if n.kind == kindRawFile {
		return uint64(n.blk.Size()), nil
	}
	if n.kind != kindFile {
		return 0, fmt.Errorf("%w: %s is not a file", content.ErrNotFile, n.blk.CID())
	}
	if len(n.fsd.BlockSizes) != len(n.pb.Links) {
		return 0, fmt.Errorf("%w: %s has %d links but %d block sizes", content.ErrMalformed, n.blk.CID(), len(n.pb.Links), len(n.fsd.BlockSizes))
	}
	size := uint64(len(n.fsd.Data))
	for _, s := range n.fsd.BlockSizes {
		if s > math.MaxInt64-size {
			return 0, fmt.Errorf("%w: %s sizes add up past the largest file", content.ErrMalformed, n.blk.CID())
		}
		size += s
	}
	if n.fsd.FileSize != nil && *n.fsd.FileSize != size {
		return 0, fmt.Errorf("%w: %s says filesize %d, its parts add up to %d", content.ErrMalformed, n.blk.CID(), *n.fsd.FileSize, size)
	}
	return size, nil
}

// hamtShape is the geometry of a HAMT shard.
type hamtShape struct {
	fanout int
	bits   int // bits of the hash per level
	pad    int // hex digits of a slot in a link name
}

const hashMurmur3 = 0x22

// shape checks that n is a HAMT shard IPFS can read and returns its
// geometry.
func (n node) shape() (hamtShape, error) {
	f := n.fsd.Fanout
	if n.kind != kindHAMT || f == nil || *f < 8 || *f > 1<<16 || bits.OnesCount64(*f) != 1 {
		return hamtShape{}, fmt.Errorf("%w: %s: not a HAMT shard with a usable fanout", content.ErrMalformed, n.blk.CID())
	}
	if n.fsd.HashType == nil || *n.fsd.HashType != hashMurmur3 {
		return hamtShape{}, fmt.Errorf("%w: %s: unsupported HAMT hash", content.ErrMalformed, n.blk.CID())
	}
	s := hamtShape{fanout: int(*f), bits: bits.TrailingZeros64(*f)}
	s.pad = len(fmt.Sprintf("%X", s.fanout-1))
	return s, nil
}

// resolution is a content path followed to its end.
type resolution struct {
	path []content.Block // blocks read to follow the path, in order; the terminus is not one
	term node            // the block the path names
	name string          // the last path segment; "" for a bare CID
}

// resolve fetches root and follows segs through UnixFS directories, basic
// or HAMT-sharded. In a HAMT only the shards on the way to the name are
// read. A name that is not there is errNoPath.
func resolve(ctx context.Context, get getFunc, root cid.Cid, segs []string) (resolution, error) {
	var res resolution
	b, err := get(ctx, root)
	if err != nil {
		return resolution{}, err
	}
	cur, err := decodeNode(b)
	if err != nil {
		return resolution{}, err
	}
	for i, seg := range segs {
		res.path = append(res.path, cur.blk)
		if cur.kind != kindDir && cur.kind != kindHAMT {
			return resolution{}, fmt.Errorf("%w: /%s is not a directory", errNoPath, strings.Join(segs[:i], "/"))
		}
		next, shards, err := content.LookupEntry(ctx, get, cur.blk, seg)
		if err != nil {
			return resolution{}, err
		}
		res.path = append(res.path, shards...)
		if !next.Defined() {
			return resolution{}, fmt.Errorf("%w: no %q in /%s", errNoPath, seg, strings.Join(segs[:i], "/"))
		}
		if b, err = get(ctx, next); err != nil {
			return resolution{}, err
		}
		if cur, err = decodeNode(b); err != nil {
			return resolution{}, err
		}
	}
	res.term = cur
	if len(segs) > 0 {
		res.name = segs[len(segs)-1]
	}
	return res, nil
}
