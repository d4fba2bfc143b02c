package fsclient

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"path"
	"strings"

	"meshfs/member"
	"meshfs/namespace"
)

// maxSymlinkHops bounds how many symbolic links one lookup follows, as
// Linux does.
const maxSymlinkHops = 40

// absPath returns the API path of the client path name: name cleaned and
// rooted at the namespace's root ("a/b" and "/a/b" are "/a/b").
func absPath(op, name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return path.Clean("/" + name), nil
}

// fsPath returns the API path of the io/fs name ("." is the root).
func fsPath(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return "/", nil
	}
	return "/" + name, nil
}

// lstat describes the inode at the API path p, not following a symbolic
// link, read at level.
func (c *Client) lstat(ctx context.Context, level member.Level, p string) (Info, error) {
	var i Info
	err := c.getAt(ctx, level, "stat", url.Values{"arg": {p}}, &i)
	return i, err
}

// linkTarget returns the path the symbolic link at p with target leads to.
func linkTarget(p, target string) string {
	if strings.HasPrefix(target, "/") {
		return path.Clean(target)
	}
	return path.Join(path.Dir(p), target)
}

// follow describes the inode the API path p names once every symbolic link
// on the way is followed (the daemon follows none), and returns the path it
// is at. If the last name does not exist, the error wraps fs.ErrNotExist
// and the path returned is where it would be, where O_CREATE makes a file.
//
// It costs one stat when p holds no link, one more for each link at its
// end, and one per name for a link inside p (the daemon reports "not a
// directory" there, and the client then looks for the link name by name).
//
// With last false, a link at the end of the path is described, not
// followed (as lstat does); links before it are followed.
func (c *Client) follow(ctx context.Context, level member.Level, p string, last bool) (Info, string, error) {
	for hops := 0; ; hops++ {
		if hops > maxSymlinkHops {
			return Info{}, p, ErrSymlinkLoop
		}
		info, err := c.lstat(ctx, level, p)
		switch {
		case err == nil && (info.Kind != "symlink" || !last):
			return info, p, nil
		case err == nil:
			p = linkTarget(p, info.Target)
		case errors.Is(err, namespace.ErrNotDir):
			q, ok, lerr := c.expandLink(ctx, level, p)
			if lerr != nil {
				return Info{}, p, lerr
			}
			if !ok {
				return Info{}, p, err
			}
			p = q
		default:
			return Info{}, p, err
		}
	}
}

// expandLink finds the first directory name in p that is a symbolic link
// and returns p with that link replaced by its target; ok is false if the
// first name that is not a directory is not a link.
func (c *Client) expandLink(ctx context.Context, level member.Level, p string) (string, bool, error) {
	names := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i := 1; i < len(names); i++ {
		prefix := "/" + strings.Join(names[:i], "/")
		info, err := c.lstat(ctx, level, prefix)
		if err != nil {
			return "", false, err
		}
		switch info.Kind {
		case "dir":
			continue
		case "symlink":
			rest := strings.Join(names[i:], "/")
			return path.Join(linkTarget(prefix, info.Target), rest), true, nil
		}
		return "", false, nil
	}
	return "", false, nil
}
