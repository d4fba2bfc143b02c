package fsclient

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"

	"meshfs/member"
)

// Open opens the file or directory name for reading, following symbolic
// links, as os.Open does.
func (c *Client) Open(ctx context.Context, name string) (*File, error) {
	return c.OpenFile(ctx, name, os.O_RDONLY, 0)
}

// Create opens the file name for reading and writing, making it (mode
// 0644) if it does not exist, and truncating it if it does, as os.Create
// does; the truncation, like every change, is committed by Sync or Close.
func (c *Client) Create(ctx context.Context, name string) (*File, error) {
	return c.OpenFile(ctx, name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
}

// OpenFile opens the file name with the flags of os.OpenFile: one of
// os.O_RDONLY, os.O_WRONLY and os.O_RDWR, or'ed with any of os.O_CREATE,
// os.O_EXCL, os.O_TRUNC and os.O_APPEND. Symbolic links are followed,
// except with O_CREATE|O_EXCL. ctx bounds every request the file makes,
// its commits included.
//
// A file O_CREATE makes is made at once, empty, with the permission bits
// of perm, so O_CREATE|O_EXCL is an atomic test-and-create (it fails with
// fs.ErrExist). Everything else, O_TRUNC's truncation included, stays in
// the client until Sync or Close commits it. A file opened for writing is
// looked up with a strong read whatever the client's level, so its commit
// starts from the newest content.
func (c *Client) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (*File, error) {
	p, err := absPath("open", name)
	if err != nil {
		return nil, err
	}
	if flag&(os.O_WRONLY|os.O_RDWR) == os.O_WRONLY|os.O_RDWR {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: both O_WRONLY and O_RDWR", fs.ErrInvalid)}
	}
	write := flag&(os.O_WRONLY|os.O_RDWR) != 0
	level := c.level
	if write {
		level = member.Strong
	}
	var (
		info Info
		real = p
	)
	switch {
	case flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		if err = c.createEmpty(ctx, p, perm); err == nil {
			info, err = c.lstat(ctx, member.Strong, p)
		}
	case flag&os.O_CREATE != 0:
		info, real, err = c.follow(ctx, level, p, true)
		if errors.Is(err, fs.ErrNotExist) {
			err = c.createEmpty(ctx, real, perm)
			if errors.Is(err, fs.ErrExist) { // made meanwhile: open that one
				info, real, err = c.follow(ctx, member.Strong, p, true)
			} else if err == nil {
				info, err = c.lstat(ctx, member.Strong, real)
			}
		}
	default:
		info, real, err = c.follow(ctx, level, p, true)
	}
	if err != nil {
		return nil, pathError("open", name, err)
	}
	if info.Kind == "dir" && write {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errIsDir}
	}
	f := c.newFile(ctx, name, real, flag, info)
	if write && flag&os.O_TRUNC != 0 {
		f.truncate(0)
	}
	return f, nil
}

// createEmpty makes an empty file at the API path p, failing with
// fs.ErrExist if something is there.
func (c *Client) createEmpty(ctx context.Context, p string, perm fs.FileMode) error {
	q := c.setOwner(url.Values{"arg": {p}, "exclusive": {"1"}, "mode": {fmt.Sprintf("%04o", perm.Perm())}})
	var cm Commit
	return c.call(ctx, request{method: http.MethodPost, path: apiFS + "write", query: q, body: http.NoBody}, &cm)
}
