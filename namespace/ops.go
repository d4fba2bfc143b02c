package namespace

import (
	"fmt"
	"io/fs"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// Op is one change to the tree. Every value an operation needs (its time,
// a file's new content CID and size) is in it, so applying the same
// operations in the same order gives the same tree on every replica.
type Op interface {
	// Name is the operation's name in errors and logs.
	Name() string
	apply(s *State) error
}

// KeepID as the Uid or Gid of a [Chown] leaves that one as it is, as -1
// does for chown(2). It is no inode's owner or group: an operation that
// makes an inode refuses it (fs.ErrInvalid).
const KeepID = ^uint32(0)

// Mkdir makes the directory Path, owned by Uid and Gid; with Parents, also
// the missing directories above it (owned alike), and an existing
// directory at Path is no error.
type Mkdir struct {
	Path     string
	Perm     fs.FileMode
	Uid, Gid uint32
	Mtime    int64
	Parents  bool
}

// Create makes the file Path, owned by Uid and Gid, with the given
// content, or replaces the content of the file there (unless Exclusive;
// its permissions and owners stay). A defined CID must pass
// content.CheckCID.
type Create struct {
	Path      string
	Perm      fs.FileMode
	Uid, Gid  uint32
	Mtime     int64
	CID       cid.Cid // cid.Undef for a file with no content yet
	Size      uint64  // file bytes
	Tsize     uint64  // cumulative size of the content's blocks
	Exclusive bool
}

// SetContent replaces the content of the existing file Path: whole-file
// writes, writes at an offset, appends and truncations all end as one
// SetContent naming the new content's root. A defined CID must pass
// content.CheckCID.
//
// Prev and IfEmpty make it a compare-and-set: the write applies only if
// the file still holds what the writer read, and fails with ErrConflict
// otherwise. A read-modify-write that began with st, err := s.Stat(path)
// sets Prev: st.CID, IfEmpty: !st.CID.Defined(). Setting both is
// fs.ErrInvalid (no file matches both).
type SetContent struct {
	Path  string
	CID   cid.Cid
	Size  uint64 // file bytes
	Tsize uint64 // cumulative size of the content's blocks
	Mtime int64
	// Prev, when defined, is the content CID the file must hold now.
	Prev cid.Cid
	// IfEmpty requires the file to hold no content CID now (cid.Undef, as
	// Create and Touch without content leave it): Prev cannot say that.
	IfEmpty bool
}

// Rename moves From to To atomically, replacing a file at To, or an empty
// directory at To when From is a directory (unless NoReplace).
type Rename struct {
	From, To  string
	Mtime     int64
	NoReplace bool
}

// Unlink removes the file or symbolic link Path.
type Unlink struct {
	Path  string
	Mtime int64
}

// Rmdir removes the directory Path: an empty one, or with Recursive
// everything below it too.
type Rmdir struct {
	Path      string
	Mtime     int64
	Recursive bool
}

// Symlink makes a symbolic link at Path that points to Target, owned by
// Uid and Gid.
type Symlink struct {
	Path, Target string
	Uid, Gid     uint32
	Mtime        int64
}

// Chmod sets the permission bits of Path.
type Chmod struct {
	Path string
	Perm fs.FileMode
}

// Chown sets the owner of Path to Uid and its group to Gid; KeepID leaves
// either as it is. A symbolic link at Path is changed itself (lchown(2)).
// Who may change owners is for the caller to decide (the mount lets the
// kernel check): the tree only records them.
type Chown struct {
	Path     string
	Uid, Gid uint32
}

// Touch sets the modification time of Path, creating an empty file (mode
// 0644, owned by Uid and Gid) if nothing is there, unless NoCreate.
type Touch struct {
	Path     string
	Uid, Gid uint32
	Mtime    int64
	NoCreate bool
}

func (Mkdir) Name() string      { return "mkdir" }
func (Create) Name() string     { return "create" }
func (SetContent) Name() string { return "write" }
func (Rename) Name() string     { return "rename" }
func (Unlink) Name() string     { return "unlink" }
func (Rmdir) Name() string      { return "rmdir" }
func (Symlink) Name() string    { return "symlink" }
func (Chmod) Name() string      { return "chmod" }
func (Chown) Name() string      { return "chown" }
func (Touch) Name() string      { return "touch" }

// checkOwner refuses KeepID as the owner or group of a new inode.
func checkOwner(op, p string, uid, gid uint32) error {
	if uid == KeepID || gid == KeepID {
		return pathErr(op, p, fmt.Errorf("%w: owner %d:%d", fs.ErrInvalid, uid, gid))
	}
	return nil
}

func (o Mkdir) apply(s *State) error {
	if err := checkOwner(o.Name(), o.Path, o.Uid, o.Gid); err != nil {
		return err
	}
	names, err := splitPath(o.Name(), o.Path)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		if o.Parents {
			return nil
		}
		return pathErr(o.Name(), o.Path, fs.ErrExist)
	}
	// Find where the existing path ends, and check the rest can be made,
	// before changing anything.
	n := s.inodes[RootIno]
	i := 0
	for ; i < len(names); i++ {
		if n.Kind != KindDir {
			return pathErr(o.Name(), o.Path, ErrNotDir)
		}
		ino, ok := n.entries[names[i]]
		if !ok {
			break
		}
		n = s.inodes[ino]
	}
	switch {
	case i == len(names) && o.Parents && n.Kind == KindDir:
		return nil
	case i == len(names):
		return pathErr(o.Name(), o.Path, fs.ErrExist)
	case n.Kind != KindDir:
		return pathErr(o.Name(), o.Path, ErrNotDir)
	case i < len(names)-1 && !o.Parents:
		return pathErr(o.Name(), o.Path, fs.ErrNotExist)
	}
	for ; i < len(names); i++ {
		n = s.add(n, names[i], &Inode{Kind: KindDir, Perm: o.Perm.Perm(), Uid: o.Uid, Gid: o.Gid, Mtime: o.Mtime, entries: map[string]Ino{}}, o.Mtime)
	}
	s.changed(o.Path)
	return nil
}

func (o Create) apply(s *State) error {
	if err := checkOwner(o.Name(), o.Path, o.Uid, o.Gid); err != nil {
		return err
	}
	dir, name, err := s.parentOf(o.Name(), o.Path)
	if err != nil {
		return err
	}
	if err := checkContent(o.Name(), o.Path, o.CID); err != nil {
		return err
	}
	if ino, ok := dir.entries[name]; ok {
		n := s.inodes[ino]
		switch {
		case n.Kind == KindDir:
			return pathErr(o.Name(), o.Path, ErrIsDir)
		case n.Kind != KindFile || o.Exclusive:
			return pathErr(o.Name(), o.Path, fs.ErrExist)
		}
		n.CID, n.Size, n.Tsize, n.Mtime = o.CID, o.Size, o.Tsize, o.Mtime
		s.changed(o.Path)
		return nil
	}
	s.add(dir, name, &Inode{Kind: KindFile, Perm: o.Perm.Perm(), Uid: o.Uid, Gid: o.Gid, Mtime: o.Mtime, CID: o.CID, Size: o.Size, Tsize: o.Tsize}, o.Mtime)
	s.changed(o.Path)
	return nil
}

func (o SetContent) apply(s *State) error {
	n, err := s.lookup(o.Name(), o.Path)
	if err != nil {
		return err
	}
	switch {
	case n.Kind == KindDir:
		return pathErr(o.Name(), o.Path, ErrIsDir)
	case n.Kind == KindSymlink:
		return pathErr(o.Name(), o.Path, fs.ErrInvalid)
	case o.IfEmpty && o.Prev.Defined():
		return pathErr(o.Name(), o.Path, fmt.Errorf("%w: both Prev and IfEmpty", fs.ErrInvalid))
	}
	if err := checkContent(o.Name(), o.Path, o.CID); err != nil {
		return err
	}
	if o.Prev.Defined() && !n.CID.Equals(o.Prev) || o.IfEmpty && n.CID.Defined() {
		return pathErr(o.Name(), o.Path, ErrConflict)
	}
	n.CID, n.Size, n.Tsize, n.Mtime = o.CID, o.Size, o.Tsize, o.Mtime
	s.changed(o.Path)
	return nil
}

// checkContent refuses a content CID meshfs does not store, so that every
// tree can be rendered and snapshotted.
func checkContent(op, p string, c cid.Cid) error {
	if !c.Defined() {
		return nil
	}
	if err := content.CheckCID(c); err != nil {
		return pathErr(op, p, fmt.Errorf("%w: %w", fs.ErrInvalid, err))
	}
	return nil
}

func (o Rename) apply(s *State) error {
	fromDir, fromName, ino, err := s.entry(o.Name(), o.From)
	if err != nil {
		return err
	}
	toDir, toName, err := s.parentOf(o.Name(), o.To)
	if err != nil {
		return err
	}
	src := s.inodes[ino]
	if src.Kind == KindDir && s.isBelow(toDir.Ino, src) {
		return pathErr(o.Name(), o.To, fs.ErrInvalid) // into itself
	}
	if old, ok := toDir.entries[toName]; ok {
		if old == ino {
			return nil // the same file: nothing to do
		}
		dst := s.inodes[old]
		switch {
		case o.NoReplace:
			return pathErr(o.Name(), o.To, fs.ErrExist)
		case src.Kind == KindDir && dst.Kind != KindDir:
			return pathErr(o.Name(), o.To, ErrNotDir)
		case src.Kind != KindDir && dst.Kind == KindDir:
			return pathErr(o.Name(), o.To, ErrIsDir)
		case dst.Kind == KindDir && len(dst.entries) > 0:
			return pathErr(o.Name(), o.To, ErrNotEmpty)
		}
		s.removeTree(old)
	}
	delete(fromDir.entries, fromName)
	toDir.entries[toName] = ino
	fromDir.Mtime, toDir.Mtime = o.Mtime, o.Mtime
	// The moved inode renders as before; the directories above both
	// names do not.
	s.changed(o.From)
	s.changed(o.To)
	return nil
}

func (o Unlink) apply(s *State) error {
	dir, name, ino, err := s.entry(o.Name(), o.Path)
	if err != nil {
		return err
	}
	if s.inodes[ino].Kind == KindDir {
		return pathErr(o.Name(), o.Path, ErrIsDir)
	}
	delete(dir.entries, name)
	s.forget(ino)
	delete(s.inodes, ino)
	dir.Mtime = o.Mtime
	s.changed(o.Path)
	return nil
}

func (o Rmdir) apply(s *State) error {
	if o.Path == "/" {
		return pathErr(o.Name(), o.Path, fs.ErrInvalid)
	}
	dir, name, ino, err := s.entry(o.Name(), o.Path)
	if err != nil {
		return err
	}
	n := s.inodes[ino]
	switch {
	case n.Kind != KindDir:
		return pathErr(o.Name(), o.Path, ErrNotDir)
	case len(n.entries) > 0 && !o.Recursive:
		return pathErr(o.Name(), o.Path, ErrNotEmpty)
	}
	delete(dir.entries, name)
	s.removeTree(ino)
	dir.Mtime = o.Mtime
	s.changed(o.Path)
	return nil
}

func (o Symlink) apply(s *State) error {
	if err := checkOwner(o.Name(), o.Path, o.Uid, o.Gid); err != nil {
		return err
	}
	dir, name, err := s.parentOf(o.Name(), o.Path)
	if err != nil {
		return err
	}
	if o.Target == "" {
		return pathErr(o.Name(), o.Path, fs.ErrInvalid)
	}
	if _, ok := dir.entries[name]; ok {
		return pathErr(o.Name(), o.Path, fs.ErrExist)
	}
	s.add(dir, name, &Inode{Kind: KindSymlink, Perm: 0o777, Uid: o.Uid, Gid: o.Gid, Mtime: o.Mtime, Target: o.Target, Size: uint64(len(o.Target))}, o.Mtime)
	s.changed(o.Path)
	return nil
}

// Chmod, Chown and Touch of an existing inode change nothing Render shows
// (plain UnixFS has no modes, owners or times), so they leave the render
// cache alone.
func (o Chmod) apply(s *State) error {
	n, err := s.lookup(o.Name(), o.Path)
	if err != nil {
		return err
	}
	n.Perm = o.Perm.Perm()
	return nil
}

func (o Chown) apply(s *State) error {
	n, err := s.lookup(o.Name(), o.Path)
	if err != nil {
		return err
	}
	if o.Uid != KeepID {
		n.Uid = o.Uid
	}
	if o.Gid != KeepID {
		n.Gid = o.Gid
	}
	return nil
}

func (o Touch) apply(s *State) error {
	if !o.NoCreate {
		if err := checkOwner(o.Name(), o.Path, o.Uid, o.Gid); err != nil {
			return err
		}
	}
	dir, name, err := s.parentOf(o.Name(), o.Path)
	if err != nil {
		if o.Path == "/" {
			s.inodes[RootIno].Mtime = o.Mtime
			return nil
		}
		return err
	}
	if ino, ok := dir.entries[name]; ok {
		s.inodes[ino].Mtime = o.Mtime
		return nil
	}
	if o.NoCreate {
		return pathErr(o.Name(), o.Path, fs.ErrNotExist)
	}
	s.add(dir, name, &Inode{Kind: KindFile, Perm: 0o644, Uid: o.Uid, Gid: o.Gid, Mtime: o.Mtime}, o.Mtime)
	s.changed(o.Path)
	return nil
}
