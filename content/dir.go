package content

import (
	"context"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/spaolacci/murmur3"
)

// Directory defaults, as in IPFS (boxo's unixfs/io and Kubo's Import
// config): a directory is HAMT-sharded when the sum over its entries of
// len(name) plus the CID's byte length exceeds 256 KiB; shards have 256
// slots and hash names with murmur3-x64-64.
const (
	DefaultShardingThreshold = 256 << 10
	DefaultHAMTFanout        = 256
	hashMurmur3              = 0x22
)

// DirEntry is one named child of a directory: the CID of its DAG and the
// cumulative size of that DAG (FileRoot.Tsize, or a sub-directory's).
type DirEntry struct {
	Name  string
	CID   cid.Cid
	Tsize uint64
}

// DirOptions tune BuildDirectory. The zero value is IPFS's defaults.
type DirOptions struct {
	// ShardingThreshold is the estimated size above which the directory is
	// a HAMT; 0 means DefaultShardingThreshold, negative never shards.
	ShardingThreshold int
	// Fanout is the HAMT's slots per shard, a power of two and a multiple
	// of 8; 0 means DefaultHAMTFanout.
	Fanout int
}

// DirRoot describes a built directory.
type DirRoot struct {
	CID     cid.Cid
	Tsize   uint64 // cumulative size: the directory's blocks plus its entries'
	Sharded bool
}

// CheckName returns nil if name can be a directory entry: not empty, not
// "." or "..", and without '/' or NUL.
func CheckName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%w: bad entry name %q", ErrInvalidOption, name)
	}
	return nil
}

// BuildDirectory lays out a UnixFS directory over entries, basic or
// HAMT-sharded as IPFS would, and returns its root and the blocks to store
// (children first, the root last). It is pure. Entry names must be unique
// and pass CheckName.
func BuildDirectory(entries []DirEntry, opts DirOptions) (DirRoot, []Block, error) {
	if opts.ShardingThreshold == 0 {
		opts.ShardingThreshold = DefaultShardingThreshold
	}
	if opts.Fanout == 0 {
		opts.Fanout = DefaultHAMTFanout
	}
	if opts.Fanout < 8 || opts.Fanout%8 != 0 || bits.OnesCount(uint(opts.Fanout)) != 1 {
		return DirRoot{}, nil, fmt.Errorf("%w: HAMT fanout %d", ErrInvalidOption, opts.Fanout)
	}
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b DirEntry) int { return strings.Compare(a.Name, b.Name) })
	estimate := 0
	for i, e := range sorted {
		if err := CheckName(e.Name); err != nil {
			return DirRoot{}, nil, err
		}
		if err := CheckCID(e.CID); err != nil {
			return DirRoot{}, nil, fmt.Errorf("entry %q: %w", e.Name, err)
		}
		if i > 0 && sorted[i-1].Name == e.Name {
			return DirRoot{}, nil, fmt.Errorf("%w: duplicate entry name %q", ErrInvalidOption, e.Name)
		}
		estimate += len(e.Name) + e.CID.ByteLen()
	}
	if opts.ShardingThreshold < 0 || estimate <= opts.ShardingThreshold {
		links := make([]Link, len(sorted))
		for i, e := range sorted {
			links[i] = Link{CID: e.CID, Name: e.Name, Tsize: e.Tsize}
		}
		blk, tsize, err := dirNode(links, FSData{Type: TypeDirectory})
		if err != nil {
			return DirRoot{}, nil, err
		}
		return DirRoot{CID: blk.CID(), Tsize: tsize}, []Block{blk}, nil
	}
	h := hamtBuilder{fanout: opts.Fanout, bitsPerLevel: bits.TrailingZeros(uint(opts.Fanout))}
	h.padFormat = fmt.Sprintf("%%0%dX", len(fmt.Sprintf("%X", opts.Fanout-1)))
	hashed := make([]hamtEntry, len(sorted))
	for i, e := range sorted {
		hashed[i] = hamtEntry{DirEntry: e, hash: hamtHash(e.Name)}
	}
	link, err := h.shard(hashed, 0)
	if err != nil {
		return DirRoot{}, nil, err
	}
	return DirRoot{CID: link.CID, Tsize: link.Tsize, Sharded: true}, h.blocks, nil
}

// dirNode encodes a directory or shard node and returns it with its
// cumulative size.
func dirNode(links []Link, data FSData) (Block, uint64, error) {
	blk, err := NewBlock(CodecDagPB, PBNode{Links: links, Data: data.Encode()}.Encode())
	if err != nil {
		return Block{}, 0, fmt.Errorf("content: directory node: %w", err)
	}
	tsize := uint64(blk.Size())
	for _, l := range links {
		tsize += l.Tsize
	}
	return blk, tsize, nil
}

type hamtEntry struct {
	DirEntry
	hash uint64
}

// hamtHash is IPFS's HAMT hash: murmur3-x64-64 of the name, read from its
// most significant bit down.
func hamtHash(name string) uint64 {
	return murmur3.Sum64([]byte(name))
}

type hamtBuilder struct {
	fanout, bitsPerLevel int
	padFormat            string
	blocks               []Block
}

// slot returns the entry's slot at the given depth.
func (h *hamtBuilder) slot(e hamtEntry, depth int) int {
	shift := 64 - (depth+1)*h.bitsPerLevel
	return int(e.hash>>uint(shift)) & (h.fanout - 1)
}

// shard builds the (canonical) shard over entries at depth: a slot holding
// one entry links to it directly, a slot holding more links to a child
// shard.
func (h *hamtBuilder) shard(entries []hamtEntry, depth int) (Link, error) {
	if (depth+1)*h.bitsPerLevel > 64 {
		return Link{}, fmt.Errorf("%w: HAMT too deep (murmur3 collision on %q)", ErrInvalidOption, entries[0].Name)
	}
	bySlot := make(map[int][]hamtEntry)
	for _, e := range entries {
		s := h.slot(e, depth)
		bySlot[s] = append(bySlot[s], e)
	}
	slots := make([]int, 0, len(bySlot))
	for s := range bySlot {
		slots = append(slots, s)
	}
	slices.Sort(slots)
	bitfield := make([]byte, h.fanout/8)
	links := make([]Link, 0, len(slots))
	for _, s := range slots {
		bitfield[len(bitfield)-1-s/8] |= 1 << (s % 8)
		prefix := fmt.Sprintf(h.padFormat, s)
		if group := bySlot[s]; len(group) == 1 {
			links = append(links, Link{CID: group[0].CID, Name: prefix + group[0].Name, Tsize: group[0].Tsize})
		} else {
			child, err := h.shard(group, depth+1)
			if err != nil {
				return Link{}, err
			}
			child.Name = prefix
			links = append(links, child)
		}
	}
	// The bitfield is written big-endian without leading zero bytes, as
	// go-bitfield's Bytes does.
	for len(bitfield) > 0 && bitfield[0] == 0 {
		bitfield = bitfield[1:]
	}
	if len(bitfield) == 0 {
		bitfield = nil
	}
	data := FSData{Type: TypeHAMTShard, Data: bitfield, HashType: ptr(uint64(hashMurmur3)), Fanout: ptr(uint64(h.fanout))}
	blk, tsize, err := dirNode(links, data)
	if err != nil {
		return Link{}, err
	}
	h.blocks = append(h.blocks, blk)
	return Link{CID: blk.CID(), Tsize: tsize}, nil
}

// ReadDirectory returns the entries of the UnixFS directory c, basic or
// HAMT-sharded, sorted by name. Every node is fetched through g and
// checked; in a HAMT, every entry must sit in the slots its name hashes to,
// so a shard cannot be linked twice to inflate the listing.
func ReadDirectory(ctx context.Context, g BlockGetter, c cid.Cid) ([]DirEntry, error) {
	var out []DirEntry
	if err := readDirNode(ctx, g, c, nil, map[cid.Cid]bool{}, &out); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b DirEntry) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(out); i++ {
		if out[i].Name == out[i-1].Name {
			return nil, malformed("directory %s has two entries named %q", c, out[i].Name)
		}
	}
	return out, nil
}

// hamtPath is where a shard sits in its HAMT: the fanout and the slots
// taken from the root down.
type hamtPath struct {
	fanout int
	slots  []int
}

// readDirNode appends the entries under c; shard is nil for the top node.
// seen holds the nodes read so far: no valid HAMT holds a shard twice.
func readDirNode(ctx context.Context, g BlockGetter, c cid.Cid, shard *hamtPath, seen map[cid.Cid]bool, out *[]DirEntry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if seen[c] {
		return malformed("HAMT links shard %s twice", c)
	}
	seen[c] = true
	if c.Prefix().Codec != CodecDagPB {
		return fmt.Errorf("%w: %w: %s is a raw block", ErrMalformed, ErrNotDirectory, c)
	}
	blk, err := getChecked(ctx, g, c, nil)
	if err != nil {
		return err
	}
	pb, err := DecodePBNode(blk.Data())
	if err != nil {
		return fmt.Errorf("%s: %w", c, err)
	}
	if pb.Data == nil {
		return malformed("%s has no UnixFS data", c)
	}
	fsd, err := DecodeFSData(pb.Data)
	if err != nil {
		return fmt.Errorf("%s: %w", c, err)
	}
	switch {
	case fsd.Type == TypeDirectory && shard == nil:
		for _, l := range pb.Links {
			if err := CheckName(l.Name); err != nil {
				return fmt.Errorf("%w: in %s: %v", ErrMalformed, c, err)
			}
			*out = append(*out, DirEntry{Name: l.Name, CID: l.CID, Tsize: l.Tsize})
		}
		return nil
	case fsd.Type == TypeHAMTShard:
		return readShard(ctx, g, c, pb, fsd, shard, seen, out)
	}
	return fmt.Errorf("%w: %w: %s is a UnixFS %s", ErrMalformed, ErrNotDirectory, c, fsd.Type)
}

// hamtFanout checks that fsd is a HAMT shard IPFS can read and returns
// its fanout.
func hamtFanout(c cid.Cid, fsd FSData) (int, error) {
	if fsd.Fanout == nil || *fsd.Fanout < 8 || *fsd.Fanout > 1<<16 || bits.OnesCount64(*fsd.Fanout) != 1 {
		return 0, malformed("%s: bad HAMT fanout", c)
	}
	if fsd.HashType == nil || *fsd.HashType != hashMurmur3 {
		return 0, malformed("%s: unsupported HAMT hash", c)
	}
	return int(*fsd.Fanout), nil
}

func readShard(ctx context.Context, g BlockGetter, c cid.Cid, pb PBNode, fsd FSData, parent *hamtPath, seen map[cid.Cid]bool, out *[]DirEntry) error {
	fanout, err := hamtFanout(c, fsd)
	if err != nil {
		return err
	}
	here := hamtPath{fanout: fanout}
	if parent != nil {
		if here.fanout != parent.fanout {
			return malformed("%s: HAMT fanout %d under a shard of fanout %d", c, here.fanout, parent.fanout)
		}
		here.slots = parent.slots
	}
	bitsPerLevel := bits.TrailingZeros(uint(here.fanout))
	if (len(here.slots)+1)*bitsPerLevel > 64 {
		return malformed("%s: HAMT deeper than its hash", c)
	}
	if len(pb.Links) > here.fanout {
		return malformed("%s: more links than HAMT slots", c)
	}
	h := hamtBuilder{fanout: here.fanout, bitsPerLevel: bitsPerLevel}
	pad := len(fmt.Sprintf("%X", here.fanout-1))
	last := -1
	for _, l := range pb.Links {
		if len(l.Name) < pad {
			return malformed("%s: HAMT link name %q too short", c, l.Name)
		}
		slot, err := strconv.ParseUint(l.Name[:pad], 16, 32)
		if err != nil || int(slot) >= here.fanout || fmt.Sprintf("%0*X", pad, slot) != l.Name[:pad] || int(slot) <= last {
			return malformed("%s: bad or unordered HAMT slot %q", c, l.Name[:pad])
		}
		last = int(slot)
		path := append(slices.Clip(here.slots), int(slot))
		if len(l.Name) == pad {
			if err := readDirNode(ctx, g, l.CID, &hamtPath{fanout: here.fanout, slots: path}, seen, out); err != nil {
				return err
			}
			continue
		}
		name := l.Name[pad:]
		if err := CheckName(name); err != nil {
			return fmt.Errorf("%w: in %s: %v", ErrMalformed, c, err)
		}
		e := hamtEntry{hash: hamtHash(name)}
		for depth, want := range path {
			if h.slot(e, depth) != want {
				return malformed("%s: entry %q is not in the slots its name hashes to", c, name)
			}
		}
		*out = append(*out, DirEntry{Name: name, CID: l.CID, Tsize: l.Tsize})
	}
	return nil
}

// Symlink returns the UnixFS symlink node pointing at target, as
// `ipfs add` stores a symbolic link.
func Symlink(target string) (Block, error) {
	if target == "" {
		return Block{}, fmt.Errorf("%w: empty symlink target", ErrInvalidOption)
	}
	return NewBlock(CodecDagPB, PBNode{Data: FSData{Type: TypeSymlink, Data: []byte(target)}.Encode()}.Encode())
}
