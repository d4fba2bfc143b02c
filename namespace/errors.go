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
)

func pathErr(op, path string, err error) error {
	return &fs.PathError{Op: op, Path: path, Err: err}
}
