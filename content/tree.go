package content

import (
	"context"
	"fmt"
	"io/fs"
	"path"

	"github.com/ipfs/go-cid"
)

// TreeOptions tune ImportTree.
type TreeOptions struct {
	File ImportOptions
	Dir  DirOptions
	// Added, if set, is called for every file, symlink and directory once
	// it is stored, children before their parent, with its slash-separated
	// path below the root ("." for the root).
	Added func(name string, c cid.Cid, tsize uint64)
	// Progress, if set, is called with the file bytes stored so far.
	Progress func(done int64)
}

// ImportTree imports the file, directory tree or symlink at name in fsys
// and returns its CID and cumulative size: files as Import does,
// directories as BuildDirectory does, symbolic links (when fsys is an
// fs.ReadLinkFS) as UnixFS symlinks. Every entry is included, hidden ones
// too; other kinds of file (devices, sockets, pipes) are an error.
func ImportTree(ctx context.Context, fsys fs.FS, name string, dst BlockPutter, opts TreeOptions) (cid.Cid, uint64, error) {
	t := treeImporter{fsys: fsys, dst: dst, opts: opts}
	return t.entry(ctx, name, ".")
}

type treeImporter struct {
	fsys fs.FS
	dst  BlockPutter
	opts TreeOptions
	done int64 // bytes of finished files
}

func (t *treeImporter) entry(ctx context.Context, name, rel string) (cid.Cid, uint64, error) {
	if err := ctx.Err(); err != nil {
		return cid.Undef, 0, err
	}
	info, err := statNoFollow(t.fsys, name)
	if err != nil {
		return cid.Undef, 0, err
	}
	var (
		c     cid.Cid
		tsize uint64
	)
	switch mode := info.Mode(); {
	case mode.IsRegular():
		c, tsize, err = t.file(ctx, name)
	case mode.IsDir():
		c, tsize, err = t.dir(ctx, name, rel)
	case mode&fs.ModeSymlink != 0:
		c, tsize, err = t.symlink(ctx, name)
	default:
		err = fmt.Errorf("%w: %s is a %s, not a file, directory or symlink", ErrInvalidOption, name, mode.Type())
	}
	if err != nil {
		return cid.Undef, 0, err
	}
	if t.opts.Added != nil {
		t.opts.Added(rel, c, tsize)
	}
	return c, tsize, nil
}

func statNoFollow(fsys fs.FS, name string) (fs.FileInfo, error) {
	if l, ok := fsys.(fs.ReadLinkFS); ok {
		return l.Lstat(name)
	}
	return fs.Stat(fsys, name)
}

func (t *treeImporter) file(ctx context.Context, name string) (cid.Cid, uint64, error) {
	f, err := t.fsys.Open(name)
	if err != nil {
		return cid.Undef, 0, err
	}
	defer f.Close()
	opts := t.opts.File
	base := t.done
	if t.opts.Progress != nil {
		opts.Progress = func(done int64) { t.opts.Progress(base + done) }
	}
	root, err := Import(ctx, f, t.dst, opts)
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("%s: %w", name, err)
	}
	t.done += int64(root.FileSize)
	return root.CID, root.Tsize, nil
}

func (t *treeImporter) dir(ctx context.Context, name, rel string) (cid.Cid, uint64, error) {
	children, err := fs.ReadDir(t.fsys, name)
	if err != nil {
		return cid.Undef, 0, err
	}
	entries := make([]DirEntry, 0, len(children))
	for _, ch := range children {
		c, tsize, err := t.entry(ctx, path.Join(name, ch.Name()), path.Join(rel, ch.Name()))
		if err != nil {
			return cid.Undef, 0, err
		}
		entries = append(entries, DirEntry{Name: ch.Name(), CID: c, Tsize: tsize})
	}
	root, blocks, err := BuildDirectory(entries, t.opts.Dir)
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("%s: %w", name, err)
	}
	if err := putAll(ctx, t.dst, blocks); err != nil {
		return cid.Undef, 0, err
	}
	return root.CID, root.Tsize, nil
}

func (t *treeImporter) symlink(ctx context.Context, name string) (cid.Cid, uint64, error) {
	l, ok := t.fsys.(fs.ReadLinkFS)
	if !ok {
		return cid.Undef, 0, fmt.Errorf("%w: %s is a symlink and the file system cannot read links", ErrInvalidOption, name)
	}
	target, err := l.ReadLink(name)
	if err != nil {
		return cid.Undef, 0, err
	}
	blk, err := Symlink(target)
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("%s: %w", name, err)
	}
	if err := t.dst.Put(ctx, blk); err != nil {
		return cid.Undef, 0, err
	}
	return blk.CID(), uint64(blk.Size()), nil
}
