package namespace

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// UnmarshalState decodes a snapshot written by MarshalBinary. The bytes
// are untrusted: it refuses, with an error wrapping ErrBadSnapshot, any
// that MarshalBinary could not have written for a state the operations
// can build: unknown versions, kinds or permission bits, owners equal to
// KeepID, varints not in
// their shortest form, truncation or trailing data, inode numbers that
// repeat, are out of order or not below next, a root that is missing or
// not a directory, entries naming missing inodes or the root, an inode
// reachable twice (a hard link or cycle) or not at all, names the
// operations refuse, content CIDs meshfs does not store, empty symbolic
// link targets and empty or repeated peers. The state it returns has
// nothing rendered yet.
func UnmarshalState(b []byte) (*State, error) {
	s, err := decodeSnapshot(&snapReader{b: b})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	return s, nil
}

func decodeSnapshot(r *snapReader) (*State, error) {
	if magic := r.take(len(snapshotMagic)); string(magic) != snapshotMagic {
		return nil, errors.New("not a snapshot")
	}
	version := r.byte()
	switch {
	case r.err != nil:
		return nil, r.err
	case version < snapshotNoOwners || version > snapshotVersion:
		return nil, fmt.Errorf("version %d", version)
	}
	s := &State{inodes: map[Ino]*Inode{}, next: Ino(r.uvarint()), access: map[string]struct{}{}, pins: map[string]cid.Cid{}}
	if err := decodeAccess(r, s); err != nil {
		return nil, err
	}
	count := r.uvarint()
	var last Ino
	for i := uint64(0); i < count && r.err == nil; i++ {
		n, err := decodeInode(r, version > snapshotNoOwners)
		if err != nil {
			return nil, err
		}
		if n.Ino <= last {
			return nil, fmt.Errorf("inode %d after inode %d", n.Ino, last)
		}
		last = n.Ino
		s.inodes[n.Ino] = n
	}
	if version > snapshotNoPins {
		if err := decodePins(r, s); err != nil {
			return nil, err
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) > 0 {
		return nil, fmt.Errorf("%d bytes of trailing data", len(r.b))
	}
	switch {
	case s.next <= last:
		return nil, fmt.Errorf("next inode %d is not above inode %d", s.next, last)
	case s.next > maxNext:
		return nil, fmt.Errorf("next inode %d is out of range", s.next)
	}
	if err := checkTree(s); err != nil {
		return nil, err
	}
	return s, nil
}

// decodePins reads the pins into s.
func decodePins(r *snapReader, s *State) error {
	count := r.uvarint()
	if count > MaxPins {
		return fmt.Errorf("%d pins, limit %d", count, MaxPins)
	}
	prev := ""
	for i := uint64(0); i < count && r.err == nil; i++ {
		label, raw := r.string(), r.string()
		if r.err != nil {
			return r.err
		}
		if err := checkPinName("pin", label); err != nil {
			return fmt.Errorf("pin label %q", label)
		}
		if i > 0 && label <= prev {
			return fmt.Errorf("pin %q after %q", label, prev)
		}
		c, err := cid.Cast([]byte(raw))
		if err != nil || content.CheckCID(c) != nil || string(c.Bytes()) != raw {
			return fmt.Errorf("pin %q: bad CID", label)
		}
		s.pins[label] = c
		prev = label
	}
	return r.err
}

// decodeAccess reads the access list into s.
func decodeAccess(r *snapReader, s *State) error {
	count := r.uvarint()
	prev := ""
	for i := uint64(0); i < count && r.err == nil; i++ {
		p := r.string()
		switch {
		case r.err != nil:
			return r.err
		case p == "":
			return errors.New("empty peer")
		case i > 0 && p <= prev:
			return fmt.Errorf("peer %q after %q", p, prev)
		}
		s.access[p] = struct{}{}
		prev = p
	}
	return r.err
}

// decodeInode reads one inode, with its owners if the version has them;
// its entries are checked by checkTree.
func decodeInode(r *snapReader, owners bool) (*Inode, error) {
	n := &Inode{Ino: Ino(r.uvarint()), Kind: Kind(r.byte())}
	perm := r.uvarint()
	var uid, gid uint64
	if owners {
		uid, gid = r.uvarint(), r.uvarint()
	}
	n.Mtime = r.varint()
	if r.err != nil {
		return nil, r.err
	}
	if n.Ino == 0 {
		return nil, errors.New("inode 0")
	}
	if perm > uint64(fs.ModePerm) {
		return nil, fmt.Errorf("inode %d: mode %#o has more than permission bits", n.Ino, perm)
	}
	if uid >= uint64(KeepID) || gid >= uint64(KeepID) {
		return nil, fmt.Errorf("inode %d: owner %d:%d out of range", n.Ino, uid, gid)
	}
	n.Uid, n.Gid = uint32(uid), uint32(gid)
	n.Perm = fs.FileMode(perm)
	switch n.Kind {
	case KindFile:
		n.Size = r.uvarint()
		n.Tsize = r.uvarint()
		raw := r.bytes()
		if r.err != nil || len(raw) == 0 {
			return n, r.err
		}
		c, err := cid.Cast(raw)
		if err == nil {
			err = content.CheckCID(c)
		}
		if err == nil && !bytes.Equal(c.Bytes(), raw) {
			err = errors.New("CID not in canonical form")
		}
		if err != nil {
			return nil, fmt.Errorf("inode %d: %w", n.Ino, err)
		}
		n.CID = c
	case KindDir:
		n.entries = map[string]Ino{}
		count := r.uvarint()
		prev := ""
		for i := uint64(0); i < count && r.err == nil; i++ {
			name, ino := r.string(), Ino(r.uvarint())
			if r.err != nil {
				break
			}
			if err := content.CheckName(name); err != nil {
				return nil, fmt.Errorf("inode %d: %w", n.Ino, err)
			}
			if i > 0 && name <= prev {
				return nil, fmt.Errorf("inode %d: entry %q after %q", n.Ino, name, prev)
			}
			n.entries[name] = ino
			prev = name
		}
	case KindSymlink:
		n.Target = r.string()
		if r.err == nil && n.Target == "" {
			return nil, fmt.Errorf("inode %d: empty symbolic link target", n.Ino)
		}
		n.Size = uint64(len(n.Target))
	default:
		return nil, fmt.Errorf("inode %d: kind %d", n.Ino, n.Kind)
	}
	return n, r.err
}

// checkTree checks that s's inodes form one tree under a root directory:
// every entry names an inode, and every inode but the root is reached from
// the root exactly once.
func checkTree(s *State) error {
	root, ok := s.inodes[RootIno]
	if !ok || root.Kind != KindDir {
		return errors.New("no root directory")
	}
	seen := map[Ino]bool{RootIno: true}
	queue := []*Inode{root}
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		for name, ino := range dir.entries {
			child, ok := s.inodes[ino]
			switch {
			case !ok:
				return fmt.Errorf("inode %d: entry %q names missing inode %d", dir.Ino, name, ino)
			case seen[ino]:
				return fmt.Errorf("inode %d: entry %q names inode %d, reached twice", dir.Ino, name, ino)
			}
			seen[ino] = true
			if child.Kind == KindDir {
				queue = append(queue, child)
			}
		}
	}
	if len(seen) != len(s.inodes) {
		return fmt.Errorf("%d inodes are not reachable from the root", len(s.inodes)-len(seen))
	}
	return nil
}
