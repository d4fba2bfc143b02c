package content

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"strings"

	"github.com/ipfs/go-cid"
)

// ErrNotDirectory is returned when a path goes through a node that is not a
// UnixFS directory.
var ErrNotDirectory = errors.New("content: not a directory")

// ParseIPFSPath parses "CID", "CID/a/b" or "/ipfs/CID/a/b" into the root
// CID and the names below it.
func ParseIPFSPath(s string) (cid.Cid, []string, error) {
	rest := strings.TrimPrefix(s, "/ipfs/")
	first, tail, _ := strings.Cut(rest, "/")
	c, err := ParseCID(first)
	if err != nil {
		return cid.Undef, nil, err
	}
	var names []string
	for _, n := range strings.Split(tail, "/") {
		switch n {
		case "":
		case ".", "..":
			return cid.Undef, nil, fmt.Errorf("%w: path %q: %q is not allowed", ErrInvalidOption, s, n)
		default:
			names = append(names, n)
		}
	}
	return c, names, nil
}

// ResolvePath walks names down the directories below root and returns the
// CID they lead to, fetching one block per directory (and, in a HAMT, the
// shards on the way to the name only). A missing name is a *fs.PathError
// wrapping fs.ErrNotExist; a name below something that is not a directory
// wraps ErrNotDirectory.
func ResolvePath(ctx context.Context, g BlockGetter, root cid.Cid, names []string) (cid.Cid, error) {
	c := root
	for i, name := range names {
		b, err := getChecked(ctx, g, c, nil)
		if err != nil {
			return cid.Undef, err
		}
		next, _, err := LookupEntry(ctx, g, b, name)
		p := root.String() + "/" + strings.Join(names[:i+1], "/")
		switch {
		case errors.Is(err, ErrNotDirectory):
			return cid.Undef, &fs.PathError{Op: "resolve", Path: p, Err: ErrNotDirectory}
		case err != nil:
			return cid.Undef, err
		case !next.Defined():
			return cid.Undef, &fs.PathError{Op: "resolve", Path: p, Err: fs.ErrNotExist}
		}
		c = next
	}
	return c, nil
}

// LookupEntry finds name in the directory whose root block is dir, basic or
// HAMT-sharded, and returns its CID (cid.Undef if it is not there) and the
// HAMT shards it read on the way, verified. A dir that is not a UnixFS
// directory is ErrNotDirectory.
func LookupEntry(ctx context.Context, g BlockGetter, dir Block, name string) (cid.Cid, []Block, error) {
	pb, fsd, err := decodeDir(dir)
	if err != nil {
		return cid.Undef, nil, err
	}
	if fsd.Type == TypeDirectory {
		for _, l := range pb.Links {
			if l.Name == name {
				return l.CID, nil, nil
			}
		}
		return cid.Undef, nil, nil
	}
	fanout, err := hamtFanout(dir.CID(), fsd)
	if err != nil {
		return cid.Undef, nil, err
	}
	bitsPerLevel := bits.TrailingZeros(uint(fanout))
	pad := len(fmt.Sprintf("%X", fanout-1))
	hash := hamtHash(name)
	var shards []Block
	for depth := 0; ; depth++ {
		if (depth+1)*bitsPerLevel > 64 {
			return cid.Undef, nil, malformed("%s: HAMT deeper than its hash", dir.CID())
		}
		slot := int(hash>>(64-(depth+1)*bitsPerLevel)) & (fanout - 1)
		prefix := fmt.Sprintf("%0*X", pad, slot)
		var sub cid.Cid
		for _, l := range pb.Links {
			switch {
			case !strings.HasPrefix(l.Name, prefix):
			case l.Name[len(prefix):] == name:
				return l.CID, shards, nil
			case len(l.Name) == len(prefix):
				sub = l.CID
			}
		}
		if !sub.Defined() {
			return cid.Undef, shards, nil // the slot is empty or holds another name
		}
		b, err := getChecked(ctx, g, sub, nil)
		if err != nil {
			return cid.Undef, nil, err
		}
		if pb, fsd, err = decodeDir(b); err != nil {
			return cid.Undef, nil, err
		}
		if f, err := hamtFanout(sub, fsd); err != nil || f != fanout || fsd.Type != TypeHAMTShard {
			return cid.Undef, nil, malformed("%s: HAMT shard unlike its parent", sub)
		}
		shards = append(shards, b)
	}
}

// decodeDir decodes a directory node (basic or HAMT shard); anything else
// is ErrNotDirectory.
func decodeDir(b Block) (PBNode, FSData, error) {
	if b.CID().Prefix().Codec != CodecDagPB {
		return PBNode{}, FSData{}, fmt.Errorf("%w: %s is a raw block", ErrNotDirectory, b.CID())
	}
	pb, err := DecodePBNode(b.Data())
	if err != nil {
		return PBNode{}, FSData{}, fmt.Errorf("%s: %w", b.CID(), err)
	}
	if pb.Data == nil {
		return PBNode{}, FSData{}, fmt.Errorf("%w: %s has no UnixFS data", ErrNotDirectory, b.CID())
	}
	fsd, err := DecodeFSData(pb.Data)
	if err != nil {
		return PBNode{}, FSData{}, fmt.Errorf("%s: %w", b.CID(), err)
	}
	if fsd.Type != TypeDirectory && fsd.Type != TypeHAMTShard {
		return PBNode{}, FSData{}, fmt.Errorf("%w: %s is a UnixFS %s", ErrNotDirectory, b.CID(), fsd.Type)
	}
	return pb, fsd, nil
}
