package content

import (
	"encoding/binary"
	"math"
)

// UnixFSType is the kind of a UnixFS node.
type UnixFSType uint64

// UnixFS node kinds, as numbered in the UnixFS spec.
const (
	TypeRaw       UnixFSType = 0
	TypeDirectory UnixFSType = 1
	TypeFile      UnixFSType = 2
	TypeMetadata  UnixFSType = 3
	TypeSymlink   UnixFSType = 4
	TypeHAMTShard UnixFSType = 5
)

func (t UnixFSType) String() string {
	switch t {
	case TypeRaw:
		return "raw"
	case TypeDirectory:
		return "directory"
	case TypeFile:
		return "file"
	case TypeMetadata:
		return "metadata"
	case TypeSymlink:
		return "symlink"
	case TypeHAMTShard:
		return "hamt-shard"
	}
	return "unknown"
}

// UnixTime is the UnixFS mtime: seconds since the epoch plus nanoseconds.
type UnixTime struct {
	Seconds int64
	Nanos   uint32
}

// FSData is the UnixFS message carried in a dag-pb node's Data. Optional
// scalar fields are pointers: nil means absent from the encoding.
type FSData struct {
	Type       UnixFSType
	Data       []byte // nil: absent
	FileSize   *uint64
	BlockSizes []uint64
	HashType   *uint64
	Fanout     *uint64
	Mode       *uint32
	Mtime      *UnixTime
}

// Encode returns the protobuf bytes of d, fields in number order as the
// IPFS implementations write them.
func (d FSData) Encode() []byte {
	b := make([]byte, 0, 16+len(d.Data)+10*len(d.BlockSizes))
	b = appendVarintField(b, 1, uint64(d.Type))
	if d.Data != nil {
		b = appendBytesField(b, 2, d.Data)
	}
	if d.FileSize != nil {
		b = appendVarintField(b, 3, *d.FileSize)
	}
	for _, s := range d.BlockSizes {
		b = appendVarintField(b, 4, s)
	}
	if d.HashType != nil {
		b = appendVarintField(b, 5, *d.HashType)
	}
	if d.Fanout != nil {
		b = appendVarintField(b, 6, *d.Fanout)
	}
	if d.Mode != nil {
		b = appendVarintField(b, 7, uint64(*d.Mode))
	}
	if d.Mtime != nil {
		var t []byte
		t = appendVarintField(t, 1, uint64(d.Mtime.Seconds))
		if d.Mtime.Nanos != 0 {
			t = appendTag(t, 2, 5)
			t = binary.LittleEndian.AppendUint32(t, d.Mtime.Nanos)
		}
		b = appendBytesField(b, 8, t)
	}
	return b
}

// DecodeFSData parses a UnixFS message. It refuses truncated or
// ill-typed fields and a missing Type, and skips unknown fields as protobuf
// requires. Data aliases b.
func DecodeFSData(b []byte) (FSData, error) {
	var d FSData
	sawType := false
	r := protoReader{b: b}
	for !r.done() {
		field, wire, err := r.tag()
		if err != nil {
			return FSData{}, err
		}
		switch {
		case field == 1 && wire == wireVarint:
			v, err := r.uvarint()
			if err != nil {
				return FSData{}, err
			}
			d.Type, sawType = UnixFSType(v), true
		case field == 2 && wire == wireBytes:
			if d.Data, err = r.bytesField(); err != nil {
				return FSData{}, err
			}
		case field == 3 && wire == wireVarint:
			v, err := r.uvarint()
			if err != nil {
				return FSData{}, err
			}
			d.FileSize = &v
		case field == 4 && wire == wireVarint:
			v, err := r.uvarint()
			if err != nil {
				return FSData{}, err
			}
			d.BlockSizes = append(d.BlockSizes, v)
		case field == 4 && wire == wireBytes: // packed
			p, err := r.bytesField()
			if err != nil {
				return FSData{}, err
			}
			pr := protoReader{b: p}
			for !pr.done() {
				v, err := pr.uvarint()
				if err != nil {
					return FSData{}, err
				}
				d.BlockSizes = append(d.BlockSizes, v)
			}
		case field == 5 && wire == wireVarint:
			v, err := r.uvarint()
			if err != nil {
				return FSData{}, err
			}
			d.HashType = &v
		case field == 6 && wire == wireVarint:
			v, err := r.uvarint()
			if err != nil {
				return FSData{}, err
			}
			d.Fanout = &v
		case field == 7 && wire == wireVarint:
			v, err := r.uvarint()
			if err != nil {
				return FSData{}, err
			}
			if v > math.MaxUint32 {
				return FSData{}, malformed("UnixFS mode %d out of range", v)
			}
			m := uint32(v)
			d.Mode = &m
		case field == 8 && wire == wireBytes:
			v, err := r.bytesField()
			if err != nil {
				return FSData{}, err
			}
			t, err := decodeUnixTime(v)
			if err != nil {
				return FSData{}, err
			}
			d.Mtime = &t
		case field <= 8:
			return FSData{}, malformed("UnixFS field %d has wire type %d", field, wire)
		default:
			if err := r.skip(wire); err != nil {
				return FSData{}, err
			}
		}
	}
	if !sawType {
		return FSData{}, malformed("UnixFS message without a Type")
	}
	return d, nil
}

func decodeUnixTime(b []byte) (UnixTime, error) {
	var t UnixTime
	r := protoReader{b: b}
	for !r.done() {
		field, wire, err := r.tag()
		if err != nil {
			return UnixTime{}, err
		}
		switch {
		case field == 1 && wire == wireVarint:
			v, err := r.uvarint()
			if err != nil {
				return UnixTime{}, err
			}
			t.Seconds = int64(v)
		case field == 2 && wire == 5:
			if len(r.b)-r.off < 4 {
				return UnixTime{}, malformed("truncated mtime nanoseconds")
			}
			t.Nanos = binary.LittleEndian.Uint32(r.b[r.off:])
			r.off += 4
			if t.Nanos > 999_999_999 {
				return UnixTime{}, malformed("mtime nanoseconds %d out of range", t.Nanos)
			}
		default:
			if err := r.skip(wire); err != nil {
				return UnixTime{}, err
			}
		}
	}
	return t, nil
}

// skip passes over one field value of the given wire type.
func (r *protoReader) skip(wire int) error {
	switch wire {
	case wireVarint:
		_, err := r.uvarint()
		return err
	case wireBytes:
		_, err := r.bytesField()
		return err
	case 1, 5: // fixed64, fixed32
		n := 8
		if wire == 5 {
			n = 4
		}
		if len(r.b)-r.off < n {
			return malformed("truncated fixed field")
		}
		r.off += n
		return nil
	}
	return malformed("unsupported wire type %d", wire)
}

// ptr returns a pointer to v, for FSData's optional fields.
func ptr[T any](v T) *T { return &v }
