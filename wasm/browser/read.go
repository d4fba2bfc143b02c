package browser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/member"
)

// ErrNotFile reports a read of something that is not a file.
var ErrNotFile = errors.New("not a file")

// readAt runs read at the strong level, and at the eventual level when
// no voter confirms it within the read timeout; it returns the level that
// answered.
func readAt[T any](ctx context.Context, n *Node, read func(context.Context, member.Level) (T, error)) (T, member.Level, error) {
	return strongOrEventual(ctx, n.cfg.ReadTimeout, n.cfg.Logf, read)
}

// strongOrEventual is readAt's policy: only a strong read that no voter
// confirmed in time falls back; its answers (a missing file, say) stand.
func strongOrEventual[T any](ctx context.Context, timeout time.Duration, logf func(string, ...any), read func(context.Context, member.Level) (T, error)) (T, member.Level, error) {
	sctx, cancel := context.WithTimeout(ctx, timeout)
	v, err := read(sctx, member.Strong)
	cancel()
	if err == nil || !errors.Is(err, member.ErrNoWriter) && !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return v, member.Strong, err
	}
	logf("no voter answered (%v): reading the last signed root", err)
	v, err = read(ctx, member.Eventual)
	return v, member.Eventual, err
}

// Stat describes path.
func (n *Node) Stat(ctx context.Context, path string) (member.Info, member.Level, error) {
	return readAt(ctx, n, func(ctx context.Context, l member.Level) (member.Info, error) {
		return n.ns.Stat(ctx, l, path)
	})
}

// List returns the entries of directory path.
func (n *Node) List(ctx context.Context, path string) ([]member.Info, member.Level, error) {
	return readAt(ctx, n, func(ctx context.Context, l member.Level) ([]member.Info, error) {
		return n.ns.List(ctx, l, path)
	})
}

// Root returns the namespace's current root.
func (n *Node) Root(ctx context.Context) (member.RootInfo, member.Level, error) {
	return readAt(ctx, n, func(ctx context.Context, l member.Level) (member.RootInfo, error) {
		return n.ns.Root(ctx, l)
	})
}

// Open returns a reader of file path (streaming, seekable, verified block
// by block) and its description.
func (n *Node) Open(ctx context.Context, path string) (*content.FileReader, member.Info, error) {
	info, _, err := n.Stat(ctx, path)
	if err != nil {
		return nil, info, err
	}
	if info.Kind != "file" {
		return nil, info, fmt.Errorf("open %s: %w", path, ErrNotFile)
	}
	c := info.ContentCID()
	if !c.Defined() {
		// A file created without content yet reads as empty.
		c, err = emptyFile()
		if err != nil {
			return nil, info, err
		}
	}
	r, err := n.OpenCID(ctx, c)
	return r, info, err
}

// OpenCID returns a reader of the file with root CID c.
func (n *Node) OpenCID(ctx context.Context, c cid.Cid) (*content.FileReader, error) {
	return content.NewFileReader(ctx, n.blocks, c, 8)
}

// ReadFile returns the whole content of file path.
func (n *Node) ReadFile(ctx context.Context, path string) ([]byte, error) {
	r, info, err := n.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, info.Size)
	w := bytesWriter{&buf}
	if _, err := io.Copy(w, r); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return buf, nil
}

type bytesWriter struct{ b *[]byte }

func (w bytesWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }

// emptyFile is the CID of no bytes.
func emptyFile() (cid.Cid, error) {
	b, err := content.NewRawBlock(nil)
	return b.CID(), err
}
