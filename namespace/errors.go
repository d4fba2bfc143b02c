package namespace

import (
	"errors"
	"io/fs"
)

var (
	// ErrNotDir reports a path through, or an operation on, something that
	// is not a directory.
	ErrNotDir = errors.New("not a directory")
	// ErrIsDir reports a file operation on a directory.
	ErrIsDir = errors.New("is a directory")
	// ErrNotEmpty reports removing or replacing a directory that has
	// entries.
	ErrNotEmpty = errors.New("directory not empty")
	// ErrConflict reports a conditional [SetContent] whose file no longer
	// holds the content it was conditioned on: someone wrote it since.
	ErrConflict = errors.New("content changed")
	// ErrBadSnapshot reports bytes that are not a snapshot MarshalBinary
	// could have written: malformed, or a tree no operations could build.
	ErrBadSnapshot = errors.New("namespace: malformed snapshot")
)

func pathErr(op, path string, err error) error {
	return &fs.PathError{Op: op, Path: path, Err: err}
}
