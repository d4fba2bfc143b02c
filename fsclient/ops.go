package fsclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"meshfs/member"
	"meshfs/namespace"
)

// Stat describes the file or directory name, following symbolic links.
func (c *Client) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	p, err := absPath("stat", name)
	if err != nil {
		return nil, err
	}
	info, _, err := c.follow(ctx, c.level, p, true)
	if err != nil {
		return nil, pathError("stat", name, err)
	}
	return newFileInfo(name, info), nil
}

// Lstat describes name without following a symbolic link at its end.
func (c *Client) Lstat(ctx context.Context, name string) (fs.FileInfo, error) {
	p, err := absPath("lstat", name)
	if err != nil {
		return nil, err
	}
	info, _, err := c.follow(ctx, c.level, p, false)
	if err != nil {
		return nil, pathError("lstat", name, err)
	}
	return newFileInfo(name, info), nil
}

// Readlink returns the target of the symbolic link name.
func (c *Client) Readlink(ctx context.Context, name string) (string, error) {
	info, err := c.Lstat(ctx, name)
	if err != nil {
		return "", pathError("readlink", name, err)
	}
	if info.Mode().Type() != fs.ModeSymlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return info.Sys().(*Info).Target, nil
}

// ReadDir returns the entries of the directory name, sorted by name; each
// describes its entry without following a link.
func (c *Client) ReadDir(ctx context.Context, name string) ([]fs.DirEntry, error) {
	p, err := absPath("readdir", name)
	if err != nil {
		return nil, err
	}
	entries, err := c.readDir(ctx, p)
	return entries, pathError("readdir", name, err)
}

// readDir lists the directory at the API path p, following links.
func (c *Client) readDir(ctx context.Context, p string) ([]fs.DirEntry, error) {
	entries, err := c.list(ctx, p)
	if !errors.Is(err, namespace.ErrNotDir) {
		return entries, err
	}
	// A link to a directory, or a link on the way there.
	info, real, ferr := c.follow(ctx, c.level, p, true)
	if ferr != nil || info.Kind != "dir" || real == p {
		return nil, err
	}
	return c.list(ctx, real)
}

// ReadFile returns the bytes of the file name, following symbolic links.
func (c *Client) ReadFile(ctx context.Context, name string) ([]byte, error) {
	p, err := absPath("open", name)
	if err != nil {
		return nil, err
	}
	b, err := c.readFile(ctx, p)
	return b, pathError("open", name, err)
}

// readFile reads the file at the API path p in one request if no link is
// on the way, else by following the links and reading the content.
func (c *Client) readFile(ctx context.Context, p string) ([]byte, error) {
	b, err := c.cat(ctx, p)
	if !errors.Is(err, fs.ErrInvalid) && !errors.Is(err, namespace.ErrNotDir) {
		return b, err
	}
	info, real, ferr := c.follow(ctx, c.level, p, true)
	switch {
	case ferr != nil:
		return nil, ferr
	case real == p:
		return nil, err
	case info.Kind == "dir":
		return nil, errIsDir
	}
	f := c.newFile(ctx, p, real, 0, info)
	defer f.Close()
	out := make([]byte, f.size)
	if _, err := io.ReadFull(f, out); err != nil {
		return nil, err
	}
	return out, nil
}

// cat reads the file at the API path p through fs/cat.
func (c *Client) cat(ctx context.Context, p string) ([]byte, error) {
	q := url.Values{"arg": {p}}
	if c.level != member.Strong {
		q.Set("consistency", string(c.level))
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: apiFS + "cat", query: q})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	size, err := strconv.ParseInt(resp.Header.Get("X-Meshfs-Size"), 10, 64)
	if err != nil || size < 0 {
		return nil, fmt.Errorf("%w: fs/cat gave no X-Meshfs-Size", ErrBadAnswer)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(resp.Body, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: fs/cat ended early", ErrBadAnswer)
		}
		return nil, err
	}
	return b, nil
}

// WriteFile writes data to the file name, making it with perm if it does
// not exist (perm is not applied to an existing file), as os.WriteFile
// does; the new content replaces the old in one change. A symbolic link
// is followed.
func (c *Client) WriteFile(ctx context.Context, name string, data []byte, perm fs.FileMode) error {
	_, err := c.Write(ctx, name, bytes.NewReader(data), WriteOptions{Perm: perm, Size: int64(len(data))})
	return err
}

// WriteOptions say how Write writes.
type WriteOptions struct {
	// Perm is the permission bits of a file the write makes (0644 if 0).
	Perm fs.FileMode
	// Parents makes the missing directories above the file (mode 0755).
	Parents bool
	// Exclusive fails with fs.ErrExist if the file exists (whole-file
	// writes only).
	Exclusive bool
	// NoCreate fails with fs.ErrNotExist if the file does not exist.
	NoCreate bool
	// At writes the bytes at Offset (past the end, the gap reads as
	// zeros) instead of replacing the content; the daemon rewrites only
	// the chunks they touch, and takes at most 256 MiB this way.
	At     bool
	Offset int64
	// Append writes the bytes at the file's end, as the daemon finds it.
	Append bool
	// Size, if positive, is how many bytes r holds (sent as the request's
	// length; r is read to its end anyway).
	Size int64
}

// Write writes the bytes of r into the file name as one change of the
// namespace, replacing its content unless opts say At or Append, and
// returns the commit. A symbolic link is followed. Unlike a File, it
// streams r to the daemon without holding it, so it suits large uploads.
func (c *Client) Write(ctx context.Context, name string, r io.Reader, opts WriteOptions) (Commit, error) {
	p, err := absPath("write", name)
	if err != nil {
		return Commit{}, err
	}
	switch {
	case opts.At && opts.Append:
		return Commit{}, &fs.PathError{Op: "write", Path: name, Err: fmt.Errorf("%w: both At and Append", fs.ErrInvalid)}
	case opts.At && opts.Offset < 0:
		return Commit{}, &fs.PathError{Op: "write", Path: name, Err: errNegativeOffset}
	case opts.Exclusive && (opts.At || opts.Append || opts.NoCreate):
		return Commit{}, &fs.PathError{Op: "write", Path: name, Err: fmt.Errorf("%w: Exclusive with At, Append or NoCreate", fs.ErrInvalid)}
	}
	q := url.Values{"arg": {p}}
	if !opts.NoCreate {
		c.setOwner(q)
	}
	if opts.Perm != 0 {
		q.Set("mode", fmt.Sprintf("%04o", opts.Perm.Perm()))
	}
	flags := []struct {
		on   bool
		k, v string
	}{
		{opts.Parents, "parents", "1"}, {opts.Exclusive, "exclusive", "1"}, {opts.NoCreate, "create", "0"},
		{opts.Append, "append", "1"}, {opts.At, "offset", strconv.FormatInt(opts.Offset, 10)},
	}
	for _, fl := range flags {
		if fl.on {
			q.Set(fl.k, fl.v)
		}
	}
	size := int64(-1)
	if opts.Size > 0 {
		size = opts.Size
	}
	if r == nil {
		r = http.NoBody
	}
	var cm Commit
	err = c.call(ctx, request{method: http.MethodPost, path: apiFS + "write", query: q, body: r, size: size}, &cm)
	if (errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrInvalid) || errors.Is(err, namespace.ErrNotDir) ||
		errors.Is(err, namespace.ErrIsDir)) && !opts.Exclusive {
		// Perhaps a symbolic link, which the daemon does not follow: follow
		// it, if the body can be sent again.
		if s, ok := r.(io.Seeker); ok {
			if _, real, ferr := c.follow(ctx, member.Strong, p, true); (ferr == nil || errors.Is(ferr, fs.ErrNotExist)) && real != p {
				if _, serr := s.Seek(0, io.SeekStart); serr == nil {
					q.Set("arg", real)
					err = c.call(ctx, request{method: http.MethodPost, path: apiFS + "write", query: q, body: r, size: size}, &cm)
				}
			}
		}
	}
	return cm, pathError("write", name, err)
}

// Mkdir makes the directory name with the permission bits of perm.
func (c *Client) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	return c.mkdir(ctx, "mkdir", name, perm, false)
}

// MkdirAll makes the directory name and any missing directories above it,
// with the permission bits of perm; it does nothing if name is a
// directory already.
func (c *Client) MkdirAll(ctx context.Context, name string, perm fs.FileMode) error {
	return c.mkdir(ctx, "mkdir", name, perm, true)
}

func (c *Client) mkdir(ctx context.Context, op, name string, perm fs.FileMode, parents bool) error {
	p, err := absPath(op, name)
	if err != nil {
		return err
	}
	q := c.setOwner(url.Values{"arg": {p}, "mode": {fmt.Sprintf("%04o", perm.Perm())}})
	if parents {
		q.Set("parents", "1")
	}
	_, err = c.post(ctx, "mkdir", q)
	return pathError(op, name, err)
}

// Remove removes the file, symbolic link or empty directory name.
func (c *Client) Remove(ctx context.Context, name string) error {
	p, err := absPath("remove", name)
	if err != nil {
		return err
	}
	_, err = c.post(ctx, "rm", url.Values{"arg": {p}})
	return pathError("remove", name, err)
}

// RemoveAll removes name and everything below it, in one change; it
// returns nil if name does not exist.
func (c *Client) RemoveAll(ctx context.Context, name string) error {
	p, err := absPath("removeall", name)
	if err != nil {
		return err
	}
	_, err = c.post(ctx, "rm", url.Values{"arg": {p}, "recursive": {"1"}})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return pathError("removeall", name, err)
}

// Rename moves oldpath to newpath atomically, replacing a file there, or
// an empty directory when oldpath is a directory.
func (c *Client) Rename(ctx context.Context, oldpath, newpath string) error {
	return c.rename(ctx, oldpath, newpath, false)
}

// RenameNoReplace is Rename that fails with fs.ErrExist, atomically, if
// newpath exists (renameat2's RENAME_NOREPLACE).
func (c *Client) RenameNoReplace(ctx context.Context, oldpath, newpath string) error {
	return c.rename(ctx, oldpath, newpath, true)
}

func (c *Client) rename(ctx context.Context, oldpath, newpath string, noReplace bool) error {
	from, err := absPath("rename", oldpath)
	if err != nil {
		return err
	}
	to, err := absPath("rename", newpath)
	if err != nil {
		return err
	}
	q := url.Values{"arg": {from, to}}
	if noReplace {
		q.Set("noreplace", "1")
	}
	_, err = c.post(ctx, "mv", q)
	return linkError("rename", oldpath, newpath, err)
}

// Symlink makes newname a symbolic link to oldname (a path in the
// namespace, absolute or relative to the link's directory).
func (c *Client) Symlink(ctx context.Context, oldname, newname string) error {
	p, err := absPath("symlink", newname)
	if err != nil {
		return err
	}
	if oldname == "" {
		return &fs.PathError{Op: "symlink", Path: newname, Err: fs.ErrInvalid}
	}
	_, err = c.post(ctx, "symlink", c.setOwner(url.Values{"arg": {oldname, p}}))
	return linkError("symlink", oldname, newname, err)
}

// Chmod sets the permission bits of name (following symbolic links) to
// those of mode.
func (c *Client) Chmod(ctx context.Context, name string, mode fs.FileMode) error {
	p, err := c.followed(ctx, "chmod", name)
	if err != nil {
		return err
	}
	_, err = c.post(ctx, "chmod", url.Values{"arg": {p}, "mode": {fmt.Sprintf("%04o", mode.Perm())}})
	return pathError("chmod", name, err)
}

// Chown sets the owner and group of name (following symbolic links) to
// uid and gid, as os.Chown does; -1 leaves one as it is.
func (c *Client) Chown(ctx context.Context, name string, uid, gid int) error {
	p, err := c.followed(ctx, "chown", name)
	if err != nil {
		return err
	}
	return pathError("chown", name, c.chown(ctx, p, uid, gid))
}

// Lchown is Chown of a symbolic link itself, as os.Lchown.
func (c *Client) Lchown(ctx context.Context, name string, uid, gid int) error {
	p, err := absPath("lchown", name)
	if err != nil {
		return err
	}
	return pathError("lchown", name, c.chown(ctx, p, uid, gid))
}

func (c *Client) chown(ctx context.Context, p string, uid, gid int) error {
	q := url.Values{"arg": {p}}
	for _, id := range []struct {
		name string
		v    int
	}{{"uid", uid}, {"gid", gid}} {
		switch {
		case id.v == -1:
		case id.v < 0 || int64(id.v) >= int64(namespace.KeepID):
			return fmt.Errorf("%w: %s %d", fs.ErrInvalid, id.name, id.v)
		default:
			q.Set(id.name, strconv.Itoa(id.v))
		}
	}
	_, err := c.post(ctx, "chown", q)
	return err
}

// Chtimes sets the modification time of name, following symbolic links;
// the namespace keeps no access time, so atime is ignored. Unlike Touch it
// makes nothing: a missing name is fs.ErrNotExist.
func (c *Client) Chtimes(ctx context.Context, name string, atime, mtime time.Time) error {
	p, err := c.followed(ctx, "chtimes", name)
	if err != nil {
		return err
	}
	return pathError("chtimes", name, c.touch(ctx, p, mtime, false))
}

// Lchtimes is Chtimes of a symbolic link itself, not what it points to
// (utimensat(2) with AT_SYMLINK_NOFOLLOW).
func (c *Client) Lchtimes(ctx context.Context, name string, atime, mtime time.Time) error {
	p, err := absPath("lchtimes", name)
	if err != nil {
		return err
	}
	return pathError("lchtimes", name, c.touch(ctx, p, mtime, false))
}

// Touch sets the modification time of name (the daemon's now if mtime is
// zero), making an empty file (mode 0644) if nothing is there, as touch(1)
// does. A symbolic link at the end of name gets the time itself.
func (c *Client) Touch(ctx context.Context, name string, mtime time.Time) error {
	p, err := absPath("touch", name)
	if err != nil {
		return err
	}
	return pathError("touch", name, c.touch(ctx, p, mtime, true))
}

// touch sets the mtime of the API path p, making an empty file there if
// create and nothing is there.
func (c *Client) touch(ctx context.Context, p string, mtime time.Time, create bool) error {
	q := url.Values{"arg": {p}, "create": {"0"}}
	if create {
		q = c.setOwner(url.Values{"arg": {p}})
	}
	if !mtime.IsZero() {
		q.Set("mtime", mtime.UTC().Format(time.RFC3339Nano))
	}
	_, err := c.post(ctx, "touch", q)
	return err
}

// Truncate sets the size of the file name (following symbolic links),
// cutting it or extending it with zeros, in one change; the daemon
// rewrites only the file's last chunks.
func (c *Client) Truncate(ctx context.Context, name string, size int64) error {
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: name, Err: fs.ErrInvalid}
	}
	p, err := c.followed(ctx, "truncate", name)
	if err != nil {
		return err
	}
	_, err = c.post(ctx, "truncate", url.Values{"arg": {p}, "size": {strconv.FormatInt(size, 10)}})
	return pathError("truncate", name, err)
}

// followed returns the API path of the existing name with every symbolic
// link followed, found with a strong read.
func (c *Client) followed(ctx context.Context, op, name string) (string, error) {
	p, err := absPath(op, name)
	if err != nil {
		return "", err
	}
	_, real, err := c.follow(ctx, member.Strong, p, true)
	if err != nil {
		return "", pathError(op, name, err)
	}
	return real, nil
}
