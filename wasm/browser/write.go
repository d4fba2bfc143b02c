package browser

import (
	"context"
	"fmt"
	"io"
	"path"
	"sync/atomic"
	"time"

	"meshfs/content"
	"meshfs/member"
	"meshfs/namespace"
	meshpeer "meshfs/peer"
	"meshfs/peer/nslink"
)

// WriteOptions tune WriteFile.
type WriteOptions struct {
	// Progress, if set, is called with the bytes chunked so far (their
	// blocks are pushed as they are made).
	Progress func(done int64)
	// Parents makes the missing directories above the file.
	Parents bool
}

// WriteFile replaces (or creates) file p with what r yields: the bytes are
// chunked here, pushed to their home peers (each block acknowledged by W of
// them), and then one change names the new content.
func (n *Node) WriteFile(ctx context.Context, p string, r io.Reader, opts WriteOptions) (member.Commit, error) {
	if opts.Parents && path.Dir(p) != "/" {
		if err := n.Mkdir(ctx, path.Dir(p), true); err != nil {
			return member.Commit{}, err
		}
	}
	cr := &countingReader{r: r, progress: opts.Progress}
	// The blocks stay leased at their homes until the change is done, so
	// collection cannot take them however long the writer takes.
	leaser := n.mesh.NewLeaser()
	root, err := content.Import(ctx, cr, leasedBlocks{leaser, n.blocks}, content.ImportOptions{Parallel: 16})
	if err != nil {
		leaser.Done()
		return member.Commit{}, fmt.Errorf("write %s: %w", p, err)
	}
	c, err := n.do(ctx, namespace.Create{
		Path: p, Perm: 0o644, Mtime: time.Now().UnixNano(),
		CID: root.CID, Size: root.FileSize, Tsize: root.Tsize,
	})
	return c, nslink.EndWrite(ctx, leaser, c, err, "write "+p)
}

// leasedBlocks pushes a write's blocks through its Leaser and keeps them
// in the node's cache.
type leasedBlocks struct {
	l *meshpeer.Leaser
	b *cachingBlocks
}

func (lb leasedBlocks) Put(ctx context.Context, blk content.Block) error {
	if err := lb.l.Put(ctx, blk); err != nil {
		return err
	}
	lb.b.cache.keep(blk)
	return nil
}

// do sends a change to the writer, waiting at most the change timeout.
func (n *Node) do(ctx context.Context, op namespace.Op) (member.Commit, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ChangeTimeout)
	defer cancel()
	return n.ns.Do(ctx, op)
}

// Mkdir makes directory p (and with parents, those above it).
func (n *Node) Mkdir(ctx context.Context, p string, parents bool) error {
	_, err := n.do(ctx, namespace.Mkdir{Path: p, Perm: 0o755, Mtime: time.Now().UnixNano(), Parents: parents})
	return err
}

// Rename moves from to to, replacing a file there.
func (n *Node) Rename(ctx context.Context, from, to string) error {
	_, err := n.do(ctx, namespace.Rename{From: from, To: to, Mtime: time.Now().UnixNano()})
	return err
}

// Remove deletes p: a file or link, or a directory with all it holds.
func (n *Node) Remove(ctx context.Context, p string) error {
	info, _, err := n.Stat(ctx, p)
	if err != nil {
		return err
	}
	var op namespace.Op = namespace.Unlink{Path: p, Mtime: time.Now().UnixNano()}
	if info.Kind == "dir" {
		op = namespace.Rmdir{Path: p, Mtime: time.Now().UnixNano(), Recursive: true}
	}
	_, err = n.do(ctx, op)
	return err
}

// countingReader reports the bytes read through it.
type countingReader struct {
	r        io.Reader
	n        atomic.Int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	if k > 0 {
		done := c.n.Add(int64(k))
		if c.progress != nil {
			c.progress(done)
		}
	}
	return k, err
}
