package namespace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// ErrBadOp reports bytes that are not an encoded operation.
var ErrBadOp = errors.New("namespace: malformed operation")

// MaxOpSize bounds an encoded operation: operations name content, they do
// not carry it.
const MaxOpSize = 64 << 10

// wireOp is an operation as JSON: its name and the fields it uses. Fields
// added later are omitted when zero, so what older code logged decodes
// the same (the owners, added with Chown, default to 0, root).
type wireOp struct {
	Op        string      `json:"op"`
	Path      string      `json:"path,omitempty"`
	To        string      `json:"to,omitempty"`
	Target    string      `json:"target,omitempty"`
	Perm      fs.FileMode `json:"perm,omitempty"`
	Uid       uint32      `json:"uid,omitempty"`
	Gid       uint32      `json:"gid,omitempty"`
	Mtime     int64       `json:"mtime,omitempty"`
	CID       string      `json:"cid,omitempty"`
	Size      uint64      `json:"size,omitempty"`
	Tsize     uint64      `json:"tsize,omitempty"`
	Parents   bool        `json:"parents,omitempty"`
	Exclusive bool        `json:"exclusive,omitempty"`
	NoReplace bool        `json:"noreplace,omitempty"`
	Recursive bool        `json:"recursive,omitempty"`
	Prev      string      `json:"prev,omitempty"`
	IfEmpty   bool        `json:"ifempty,omitempty"`
	Peer      string      `json:"peer,omitempty"`
	NoCreate  bool        `json:"nocreate,omitempty"`
	Label     string      `json:"label,omitempty"`
}

// EncodeOp returns op's encoding for the log.
func EncodeOp(op Op) ([]byte, error) {
	var w wireOp
	switch o := op.(type) {
	case Mkdir:
		w = wireOp{Path: o.Path, Perm: o.Perm, Uid: o.Uid, Gid: o.Gid, Mtime: o.Mtime, Parents: o.Parents}
	case Create:
		w = wireOp{Path: o.Path, Perm: o.Perm, Uid: o.Uid, Gid: o.Gid, Mtime: o.Mtime, CID: cidString(o.CID), Size: o.Size, Tsize: o.Tsize, Exclusive: o.Exclusive}
	case SetContent:
		w = wireOp{Path: o.Path, CID: cidString(o.CID), Size: o.Size, Tsize: o.Tsize, Mtime: o.Mtime, Prev: cidString(o.Prev), IfEmpty: o.IfEmpty}
	case Rename:
		w = wireOp{Path: o.From, To: o.To, Mtime: o.Mtime, NoReplace: o.NoReplace}
	case Unlink:
		w = wireOp{Path: o.Path, Mtime: o.Mtime}
	case Rmdir:
		w = wireOp{Path: o.Path, Mtime: o.Mtime, Recursive: o.Recursive}
	case Symlink:
		w = wireOp{Path: o.Path, Target: o.Target, Uid: o.Uid, Gid: o.Gid, Mtime: o.Mtime}
	case Chmod:
		w = wireOp{Path: o.Path, Perm: o.Perm}
	case Chown:
		w = wireOp{Path: o.Path, Uid: o.Uid, Gid: o.Gid}
	case Touch:
		w = wireOp{Path: o.Path, Uid: o.Uid, Gid: o.Gid, Mtime: o.Mtime, NoCreate: o.NoCreate}
	case Allow:
		w = wireOp{Peer: o.Peer}
	case Deny:
		w = wireOp{Peer: o.Peer}
	case Pin:
		w = wireOp{Label: o.Label, CID: cidString(o.CID)}
	case Unpin:
		w = wireOp{Label: o.Label}
	default:
		return nil, fmt.Errorf("%w: unknown operation %T", ErrBadOp, op)
	}
	w.Op = op.Name()
	return json.Marshal(w)
}

func cidString(c cid.Cid) string {
	if !c.Defined() {
		return ""
	}
	return c.String()
}

// DecodeOp decodes an operation encoded by EncodeOp. It refuses unknown
// operations and fields, and CIDs meshfs does not use.
func DecodeOp(b []byte) (Op, error) {
	if len(b) > MaxOpSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadOp, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wireOp
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadOp, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrBadOp)
	}
	c, err := parseWireCID(w.CID)
	if err != nil {
		return nil, err
	}
	prev, err := parseWireCID(w.Prev)
	if err != nil {
		return nil, err
	}
	if w.Perm&^fs.ModePerm != 0 {
		return nil, fmt.Errorf("%w: mode %v has more than permission bits", ErrBadOp, w.Perm)
	}
	switch w.Op {
	case "mkdir":
		return Mkdir{Path: w.Path, Perm: w.Perm, Uid: w.Uid, Gid: w.Gid, Mtime: w.Mtime, Parents: w.Parents}, nil
	case "create":
		return Create{Path: w.Path, Perm: w.Perm, Uid: w.Uid, Gid: w.Gid, Mtime: w.Mtime, CID: c, Size: w.Size, Tsize: w.Tsize, Exclusive: w.Exclusive}, nil
	case "write":
		return SetContent{Path: w.Path, CID: c, Size: w.Size, Tsize: w.Tsize, Mtime: w.Mtime, Prev: prev, IfEmpty: w.IfEmpty}, nil
	case "rename":
		return Rename{From: w.Path, To: w.To, Mtime: w.Mtime, NoReplace: w.NoReplace}, nil
	case "unlink":
		return Unlink{Path: w.Path, Mtime: w.Mtime}, nil
	case "rmdir":
		return Rmdir{Path: w.Path, Mtime: w.Mtime, Recursive: w.Recursive}, nil
	case "symlink":
		return Symlink{Path: w.Path, Target: w.Target, Uid: w.Uid, Gid: w.Gid, Mtime: w.Mtime}, nil
	case "chmod":
		return Chmod{Path: w.Path, Perm: w.Perm}, nil
	case "chown":
		return Chown{Path: w.Path, Uid: w.Uid, Gid: w.Gid}, nil
	case "touch":
		return Touch{Path: w.Path, Uid: w.Uid, Gid: w.Gid, Mtime: w.Mtime, NoCreate: w.NoCreate}, nil
	case "allow":
		return Allow{Peer: w.Peer}, nil
	case "deny":
		return Deny{Peer: w.Peer}, nil
	case "pin":
		return Pin{Label: w.Label, CID: c}, nil
	case "unpin":
		return Unpin{Label: w.Label}, nil
	}
	return nil, fmt.Errorf("%w: unknown operation %q", ErrBadOp, w.Op)
}

// parseWireCID decodes an encoded CID; "" is cid.Undef.
func parseWireCID(s string) (cid.Cid, error) {
	if s == "" {
		return cid.Undef, nil
	}
	c, err := content.ParseCID(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %w", ErrBadOp, err)
	}
	return c, nil
}
