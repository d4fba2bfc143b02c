package mount

import (
	"context"
	"errors"
	"io/fs"
	"syscall"

	"meshfs/fsclient"
	"meshfs/member"
	"meshfs/namespace"
)

var (
	// ErrBadConfig reports a Config that Validate refuses.
	ErrBadConfig = errors.New("mount: bad config")
	// errTimeout is the cause of an open file's context when one of its
	// calls took longer than Config.Timeout.
	errTimeout = errors.New("mount: call timed out")
)

// errnoTable maps sentinels to errnos, first match wins.
var errnoTable = []struct {
	err   error
	errno syscall.Errno
}{
	{context.DeadlineExceeded, syscall.EIO},
	{context.Canceled, syscall.EIO},
	{errTimeout, syscall.EIO},
	{fs.ErrNotExist, syscall.ENOENT},
	{fs.ErrExist, syscall.EEXIST},
	{namespace.ErrNotDir, syscall.ENOTDIR},
	{namespace.ErrIsDir, syscall.EISDIR},
	{namespace.ErrNotEmpty, syscall.ENOTEMPTY},
	{fsclient.ErrSymlinkLoop, syscall.ELOOP},
	{fsclient.ErrAccessMode, syscall.EBADF},
	{fs.ErrPermission, syscall.EACCES},
	{member.ErrNotAllowed, syscall.EACCES},
	{fs.ErrClosed, syscall.EBADF},
	{fs.ErrInvalid, syscall.EINVAL},
}

// toErrno returns the errno err maps to: 0 for nil, EIO for an error no
// sentinel explains.
func toErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	for _, e := range errnoTable {
		if errors.Is(err, e.err) {
			return e.errno
		}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}
