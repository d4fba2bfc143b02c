package content

import (
	"encoding/binary"
	"math"

	"github.com/ipfs/go-cid"
)

// Link is a dag-pb link: the CID of a child, its name within the parent
// (empty for file chunks) and its cumulative size (the child's block plus
// everything below it, as IPFS counts it).
type Link struct {
	CID   cid.Cid
	Name  string
	Tsize uint64
}

// PBNode is a dag-pb node: links, then opaque data (UnixFS for us). A nil
// Data is absent from the encoding; a non-nil empty Data is present.
type PBNode struct {
	Links []Link
	Data  []byte
}

// Protobuf wire constants used by dag-pb and UnixFS.
const (
	wireVarint = 0
	wireBytes  = 2
)

func appendTag(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire))
}

func appendBytesField(b []byte, field int, v []byte) []byte {
	b = appendTag(b, field, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendVarintField(b []byte, field int, v uint64) []byte {
	b = appendTag(b, field, wireVarint)
	return binary.AppendUvarint(b, v)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// encodedLinkLen is the length of a PBLink message body.
func encodedLinkLen(l Link) int {
	h := l.CID.ByteLen()
	return 1 + uvarintLen(uint64(h)) + h + 1 + uvarintLen(uint64(len(l.Name))) + len(l.Name) + 1 + uvarintLen(l.Tsize)
}

// Encode returns the canonical dag-pb bytes of n, as go-codec-dagpb writes
// them: every link with Hash, Name (even when empty) and Tsize, links in
// the order given, then Data if it is non-nil.
func (n PBNode) Encode() []byte {
	size := 0
	for _, l := range n.Links {
		ll := encodedLinkLen(l)
		size += 1 + uvarintLen(uint64(ll)) + ll
	}
	if n.Data != nil {
		size += 1 + uvarintLen(uint64(len(n.Data))) + len(n.Data)
	}
	b := make([]byte, 0, size)
	for _, l := range n.Links {
		b = appendTag(b, 2, wireBytes)
		b = binary.AppendUvarint(b, uint64(encodedLinkLen(l)))
		b = appendBytesField(b, 1, l.CID.Bytes())
		b = appendBytesField(b, 2, []byte(l.Name))
		b = appendVarintField(b, 3, l.Tsize)
	}
	if n.Data != nil {
		b = appendBytesField(b, 1, n.Data)
	}
	return b
}

// protoReader reads protobuf fields from a byte slice, refusing anything
// that runs past the end or is not minimally sized.
type protoReader struct {
	b   []byte
	off int
}

func (r *protoReader) done() bool { return r.off >= len(r.b) }

func (r *protoReader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		return 0, malformed("bad varint at offset %d", r.off)
	}
	if n > 1 && r.b[r.off+n-1] == 0 {
		return 0, malformed("non-minimal varint at offset %d", r.off)
	}
	r.off += n
	return v, nil
}

// tag reads a field tag and returns its field number and wire type.
func (r *protoReader) tag() (field int, wire int, err error) {
	v, err := r.uvarint()
	if err != nil {
		return 0, 0, err
	}
	if v>>3 == 0 || v>>3 > math.MaxInt32 {
		return 0, 0, malformed("bad field number %d", v>>3)
	}
	return int(v >> 3), int(v & 7), nil
}

// bytesField reads a length-delimited value; the result aliases r.b.
func (r *protoReader) bytesField() ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)-r.off) {
		return nil, malformed("length %d runs past the end", n)
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v, nil
}

// DecodePBNode parses dag-pb bytes strictly (the dag-pb spec's rules: only
// the Links and Data fields, links before data, each link with a valid CID
// and its fields in order, no field repeated). The node's Data aliases b.
func DecodePBNode(b []byte) (PBNode, error) {
	var n PBNode
	r := protoReader{b: b}
	sawData := false
	for !r.done() {
		field, wire, err := r.tag()
		if err != nil {
			return PBNode{}, err
		}
		if wire != wireBytes {
			return PBNode{}, malformed("PBNode field %d has wire type %d", field, wire)
		}
		v, err := r.bytesField()
		if err != nil {
			return PBNode{}, err
		}
		switch field {
		case 1:
			if sawData {
				return PBNode{}, malformed("PBNode has two Data fields")
			}
			sawData = true
			n.Data = v
		case 2:
			if sawData {
				return PBNode{}, malformed("PBNode link after Data")
			}
			l, err := decodePBLink(v)
			if err != nil {
				return PBNode{}, err
			}
			n.Links = append(n.Links, l)
		default:
			return PBNode{}, malformed("PBNode has unknown field %d", field)
		}
	}
	if sawData && n.Data == nil {
		n.Data = []byte{}
	}
	return n, nil
}

func decodePBLink(b []byte) (Link, error) {
	var l Link
	r := protoReader{b: b}
	last := 0
	for !r.done() {
		field, wire, err := r.tag()
		if err != nil {
			return Link{}, err
		}
		if field <= last {
			return Link{}, malformed("PBLink field %d out of order or repeated", field)
		}
		last = field
		switch field {
		case 1, 2:
			if wire != wireBytes {
				return Link{}, malformed("PBLink field %d has wire type %d", field, wire)
			}
			v, err := r.bytesField()
			if err != nil {
				return Link{}, err
			}
			if field == 1 {
				c, err := cid.Cast(v)
				if err != nil {
					return Link{}, malformed("PBLink hash: %v", err)
				}
				l.CID = c
			} else {
				l.Name = string(v)
			}
		case 3:
			if wire != wireVarint {
				return Link{}, malformed("PBLink Tsize has wire type %d", wire)
			}
			if l.Tsize, err = r.uvarint(); err != nil {
				return Link{}, err
			}
		default:
			return Link{}, malformed("PBLink has unknown field %d", field)
		}
	}
	if !l.CID.Defined() {
		return Link{}, malformed("PBLink without a hash")
	}
	return l, nil
}
