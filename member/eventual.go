package member

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/namespace"
)

// ErrNoRecords reports an eventual read on a member without root records.
var ErrNoRecords = errors.New("no root records (eventual reads need the DHT)")

// findRecord returns the newest valid root record.
func (m *Member) findRecord(ctx context.Context) (RootRecord, error) {
	if m.cfg.Records == nil || m.cfg.Blocks == nil {
		return RootRecord{}, ErrNoRecords
	}
	return m.cfg.Records.Find(ctx, m.cfg.Namespace)
}

// statEventual describes p in the newest published tree. Plain UnixFS has
// no modes or times: files read as 0644, directories 0755, times 0.
func (m *Member) statEventual(ctx context.Context, p string) (Info, error) {
	r, err := m.findRecord(ctx)
	if err != nil {
		return Info{}, err
	}
	c, err := m.walk(ctx, "stat", r.Root, p)
	if err != nil {
		return Info{}, err
	}
	return m.describe(ctx, path.Join("/", p), c)
}

// listEventual lists the directory p in the newest published tree.
func (m *Member) listEventual(ctx context.Context, p string) ([]Info, error) {
	r, err := m.findRecord(ctx)
	if err != nil {
		return nil, err
	}
	c, err := m.walk(ctx, "readdir", r.Root, p)
	if err != nil {
		return nil, err
	}
	entries, err := content.ReadDirectory(ctx, m.cfg.Blocks, c)
	if errors.Is(err, content.ErrNotDirectory) {
		return nil, &fs.PathError{Op: "readdir", Path: p, Err: namespace.ErrNotDir}
	}
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(entries))
	for _, e := range entries {
		info, err := m.describe(ctx, path.Join("/", p, e.Name), e.CID)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// walk resolves p below root.
func (m *Member) walk(ctx context.Context, op string, root cid.Cid, p string) (cid.Cid, error) {
	var names []string
	for _, n := range strings.Split(path.Clean("/"+p), "/") {
		if n != "" {
			names = append(names, n)
		}
	}
	c, err := content.ResolvePath(ctx, m.cfg.Blocks, root, names)
	var pe *fs.PathError
	switch {
	case errors.Is(err, content.ErrNotDirectory):
		return cid.Undef, &fs.PathError{Op: op, Path: p, Err: namespace.ErrNotDir}
	case errors.As(err, &pe):
		return cid.Undef, &fs.PathError{Op: op, Path: p, Err: pe.Err}
	}
	return c, err
}

// describe reads the node c to say what it is.
func (m *Member) describe(ctx context.Context, p string, c cid.Cid) (Info, error) {
	info := Info{Path: p, Name: path.Base(p), CID: c.String()}
	b, err := m.cfg.Blocks.Get(ctx, c)
	if err != nil {
		return Info{}, err
	}
	if c.Prefix().Codec == content.CodecRaw {
		info.Kind, info.Mode, info.Size, info.Tsize = "file", 0o644, uint64(b.Size()), uint64(b.Size())
		return info, nil
	}
	pb, err := content.DecodePBNode(b.Data())
	if err != nil {
		return Info{}, err
	}
	d, err := content.DecodeFSData(pb.Data)
	if err != nil {
		return Info{}, err
	}
	switch d.Type {
	case content.TypeDirectory:
		info.Kind, info.Mode, info.CID, info.Size = "dir", fs.ModeDir|0o755, "", uint64(len(pb.Links))
	case content.TypeHAMTShard: // the entries are spread over the shards
		info.Kind, info.Mode, info.CID = "dir", fs.ModeDir|0o755, ""
		entries, err := content.ReadDirectory(ctx, m.cfg.Blocks, c)
		if err != nil {
			return Info{}, err
		}
		info.Size = uint64(len(entries))
	case content.TypeSymlink:
		info.Kind, info.Mode, info.Target, info.CID = "symlink", fs.ModeSymlink|0o777, string(d.Data), ""
		info.Size = uint64(len(d.Data))
	default:
		info.Kind, info.Mode = "file", 0o644
		if d.FileSize != nil {
			info.Size = *d.FileSize
		} else {
			info.Size = uint64(len(d.Data))
		}
	}
	return info, nil
}

func parseCID(s string) (cid.Cid, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: root %q: %v", ErrBadRequest, s, err)
	}
	return c, nil
}
