package content

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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

// IsDirectory reports whether c is a UnixFS directory (basic or HAMT),
// fetching its root block through g.
func IsDirectory(ctx context.Context, g BlockGetter, c cid.Cid) (bool, error) {
	if c.Prefix().Codec != CodecDagPB {
		return false, nil
	}
	b, err := getChecked(ctx, g, c, nil)
	if err != nil {
		return false, err
	}
	pb, err := DecodePBNode(b.Data())
	if err != nil {
		return false, err
	}
	d, err := DecodeFSData(pb.Data)
	if err != nil {
		return false, err
	}
	return d.Type == TypeDirectory || d.Type == TypeHAMTShard, nil
}

// ResolvePath walks names down the directories below root and returns the
// CID they lead to. A missing name is a *fs.PathError wrapping
// fs.ErrNotExist; a name below something that is not a directory wraps
// ErrNotDirectory.
func ResolvePath(ctx context.Context, g BlockGetter, root cid.Cid, names []string) (cid.Cid, error) {
	c := root
	for i, name := range names {
		p := root.String() + "/" + strings.Join(names[:i+1], "/")
		dir, err := IsDirectory(ctx, g, c)
		if err != nil {
			return cid.Undef, err
		}
		if !dir {
			return cid.Undef, &fs.PathError{Op: "resolve", Path: p, Err: ErrNotDirectory}
		}
		entries, err := ReadDirectory(ctx, g, c)
		if err != nil {
			return cid.Undef, err
		}
		found := false
		for _, e := range entries {
			if e.Name == name {
				c, found = e.CID, true
				break
			}
		}
		if !found {
			return cid.Undef, &fs.PathError{Op: "resolve", Path: p, Err: fs.ErrNotExist}
		}
	}
	return c, nil
}
