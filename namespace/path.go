package namespace

import (
	"io/fs"
	"strings"
)

// splitPath checks that p is an absolute, clean path and returns its names
// ("/" has none).
func splitPath(op, p string) ([]string, error) {
	if p == "/" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return nil, pathErr(op, p, fs.ErrInvalid)
	}
	names := strings.Split(p[1:], "/")
	for _, n := range names {
		if n == "" || n == "." || n == ".." || strings.ContainsRune(n, 0) {
			return nil, pathErr(op, p, fs.ErrInvalid)
		}
	}
	return names, nil
}

// walk returns the inode at names, or the error for op on path p.
func (s *State) walk(op, p string, names []string) (*Inode, error) {
	n := s.inodes[RootIno]
	for _, name := range names {
		if n.Kind != KindDir {
			return nil, pathErr(op, p, ErrNotDir)
		}
		ino, ok := n.entries[name]
		if !ok {
			return nil, pathErr(op, p, fs.ErrNotExist)
		}
		n = s.inodes[ino]
	}
	return n, nil
}

// parentOf returns the directory that holds (or would hold) the last name
// of p, and that name. p must not be "/".
func (s *State) parentOf(op, p string) (*Inode, string, error) {
	names, err := splitPath(op, p)
	if err != nil {
		return nil, "", err
	}
	if len(names) == 0 {
		return nil, "", pathErr(op, p, fs.ErrInvalid)
	}
	dir, err := s.walk(op, p, names[:len(names)-1])
	if err != nil {
		return nil, "", err
	}
	if dir.Kind != KindDir {
		return nil, "", pathErr(op, p, ErrNotDir)
	}
	return dir, names[len(names)-1], nil
}

// lookup returns the inode at p.
func (s *State) lookup(op, p string) (*Inode, error) {
	names, err := splitPath(op, p)
	if err != nil {
		return nil, err
	}
	return s.walk(op, p, names)
}

// entry returns the directory holding p, p's name in it and its inode
// number; p must exist.
func (s *State) entry(op, p string) (*Inode, string, Ino, error) {
	dir, name, err := s.parentOf(op, p)
	if err != nil {
		return nil, "", 0, err
	}
	ino, ok := dir.entries[name]
	if !ok {
		return nil, "", 0, pathErr(op, p, fs.ErrNotExist)
	}
	return dir, name, ino, nil
}
