package namespace

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
)

// A snapshot is the whole state in one deterministic byte string, for
// storing beside the log and sending to a replica that is far behind:
//
//	snapshot = "MFNS" version:3 next:uvarint
//	           npeers:uvarint { peer:string }           (sorted, unique)
//	           ninodes:uvarint { inode }                (by number, unique)
//	           npins:uvarint { label:string cid:bytes } (by label, unique)
//	inode    = ino:uvarint kind:byte perm:uvarint uid:uvarint gid:uvarint
//	           mtime:varint body
//	body     = file:    size:uvarint tsize:uvarint cid:bytes (empty: none)
//	         | dir:     nentries:uvarint { name:string ino:uvarint } (sorted)
//	         | symlink: target:string
//	string, bytes = len:uvarint data
//
// Every varint has its shortest form, so a state has exactly one snapshot.
// The render cache is not part of it.
//
// Version 2, written before pins, is the same without the pins; version 1,
// written before inodes had owners, is version 2 without uid and gid.
// UnmarshalState still reads both (from repos and from the mesh), their
// inodes owned by 0:0, root, and nothing pinned.
const (
	snapshotMagic   = "MFNS"
	snapshotVersion = 3
	// snapshotNoOwners is the last version without uid and gid.
	snapshotNoOwners = 1
	// snapshotNoPins is the last version without pins.
	snapshotNoPins = 2
)

var _ encoding.BinaryMarshaler = (*State)(nil)

// maxNext bounds a snapshot's next inode number far beyond any real tree,
// so that adding inodes can never wrap it around onto the root.
const maxNext Ino = 1 << 63

// MarshalBinary returns the state's snapshot (see UnmarshalState): the
// tree, the next inode number and the access list; the same state always
// gives the same bytes.
func (s *State) MarshalBinary() ([]byte, error) { return s.marshal(snapshotVersion) }

// marshal writes the snapshot in the given version; version 1 cannot
// carry owners other than 0:0.
func (s *State) marshal(version byte) ([]byte, error) {
	b := append([]byte(snapshotMagic), version)
	b = binary.AppendUvarint(b, uint64(s.next))
	b = binary.AppendUvarint(b, uint64(len(s.access)))
	for _, p := range s.AccessList() {
		b = appendString(b, p)
	}
	b = binary.AppendUvarint(b, uint64(len(s.inodes)))
	for _, ino := range slices.Sorted(maps.Keys(s.inodes)) {
		n := s.inodes[ino]
		b = binary.AppendUvarint(b, uint64(ino))
		b = append(b, byte(n.Kind))
		b = binary.AppendUvarint(b, uint64(n.Perm))
		switch {
		case version > snapshotNoOwners:
			b = binary.AppendUvarint(b, uint64(n.Uid))
			b = binary.AppendUvarint(b, uint64(n.Gid))
		case n.Uid != 0 || n.Gid != 0:
			return nil, fmt.Errorf("namespace: inode %d has owner %d:%d, which snapshot version %d cannot hold", ino, n.Uid, n.Gid, version)
		}
		b = binary.AppendVarint(b, n.Mtime)
		switch n.Kind {
		case KindFile:
			b = binary.AppendUvarint(b, n.Size)
			b = binary.AppendUvarint(b, n.Tsize)
			var c []byte
			if n.CID.Defined() {
				c = n.CID.Bytes()
			}
			b = appendString(b, string(c))
		case KindDir:
			b = binary.AppendUvarint(b, uint64(len(n.entries)))
			for _, name := range n.Names() {
				b = appendString(b, name)
				b = binary.AppendUvarint(b, uint64(n.entries[name]))
			}
		case KindSymlink:
			b = appendString(b, n.Target)
		default:
			return nil, fmt.Errorf("namespace: inode %d has kind %d", ino, n.Kind)
		}
	}
	switch {
	case version > snapshotNoPins:
		b = binary.AppendUvarint(b, uint64(len(s.pins)))
		for _, p := range s.PinList() {
			b = appendString(b, p.Label)
			b = appendString(b, string(p.CID.Bytes()))
		}
	case len(s.pins) > 0:
		return nil, fmt.Errorf("namespace: %d pins, which snapshot version %d cannot hold", len(s.pins), version)
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
