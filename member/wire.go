package member

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"

	"github.com/ipfs/go-cid"
)

// MaxRequest bounds a request or an answer between members (an answer may
// list a large directory).
const MaxRequest = 4 << 20

// Request kinds.
const (
	kindApply  = "apply"  // propose Op at the writer
	kindStat   = "stat"   // stat Path
	kindList   = "list"   // list the directory Path
	kindRoot   = "root"   // render the tree and give its root
	kindWriter = "writer" // who writes, in which term, with which voters
	kindVoter  = "voter"  // add or remove the voter Path (a peer ID)
	kindPins   = "pins"   // list the pins
)

// request is what one member asks another.
type request struct {
	Kind     string          `json:"kind"`
	Op       json.RawMessage `json:"op,omitempty"`
	Path     string          `json:"path,omitempty"`
	Level    Level           `json:"level,omitempty"`
	MinIndex uint64          `json:"min_index,omitempty"`
	Remove   bool            `json:"remove,omitempty"`
}

// answer is the reply to a request.
type answer struct {
	Err     *wireError `json:"err,omitempty"`
	Index   uint64     `json:"index,omitempty"`
	Term    uint64     `json:"term,omitempty"`
	Writer  string     `json:"writer,omitempty"`
	Voters  []string   `json:"voters,omitempty"`
	Info    *Info      `json:"info,omitempty"`
	Entries []Info     `json:"entries,omitempty"`
	Root    string     `json:"root,omitempty"`
	Pins    []PinInfo  `json:"pins,omitempty"`
}

// PinInfo is one pin of the namespace: a label and the CID it keeps live.
type PinInfo struct {
	Label string `json:"label"`
	CID   string `json:"cid"`
}

// decodeStrict decodes one JSON value, refusing unknown fields and
// trailing data.
func decodeStrict(b []byte, v any) error {
	if len(b) > MaxRequest {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrBadRequest, len(b), MaxRequest)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if d.More() {
		return fmt.Errorf("%w: trailing data", ErrBadRequest)
	}
	return nil
}

func decodeRequest(b []byte) (request, error) {
	var r request
	if err := decodeStrict(b, &r); err != nil {
		return request{}, err
	}
	switch r.Kind {
	case kindApply, kindStat, kindList, kindRoot, kindWriter, kindVoter, kindPins:
	default:
		return request{}, fmt.Errorf("%w: unknown kind %q", ErrBadRequest, r.Kind)
	}
	if r.Level != "" {
		if _, err := ParseLevel(string(r.Level)); err != nil {
			return request{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
	}
	return r, nil
}

func decodeAnswer(b []byte) (answer, error) {
	var a answer
	if err := decodeStrict(b, &a); err != nil {
		return answer{}, err
	}
	if a.Info != nil {
		if err := a.Info.check(); err != nil {
			return answer{}, err
		}
	}
	for i := range a.Entries {
		if err := a.Entries[i].check(); err != nil {
			return answer{}, err
		}
	}
	if a.Root != "" {
		if _, err := cid.Decode(a.Root); err != nil {
			return answer{}, fmt.Errorf("%w: root: %v", ErrBadRequest, err)
		}
	}
	return a, nil
}

// Info describes one inode, as stat and ls show it.
type Info struct {
	Path   string      `json:"path"`
	Name   string      `json:"name"`
	Ino    uint64      `json:"ino,omitempty"`
	Kind   string      `json:"kind"` // file, dir, symlink
	Mode   fs.FileMode `json:"mode"`
	Uid    uint32      `json:"uid,omitempty"` // owner; 0 (root) in eventual reads, which walk plain UnixFS
	Gid    uint32      `json:"gid,omitempty"` // group; likewise
	Size   uint64      `json:"size"`
	Mtime  int64       `json:"mtime"` // Unix nanoseconds
	CID    string      `json:"cid,omitempty"`
	Tsize  uint64      `json:"tsize,omitempty"`
	Target string      `json:"target,omitempty"`
}

func (i *Info) check() error {
	switch i.Kind {
	case "file", "dir", "symlink":
	default:
		return fmt.Errorf("%w: inode kind %q", ErrBadRequest, i.Kind)
	}
	if i.CID != "" {
		if _, err := cid.Decode(i.CID); err != nil {
			return fmt.Errorf("%w: cid: %v", ErrBadRequest, err)
		}
	}
	return nil
}

// ContentCID returns the file's content CID (cid.Undef for an empty file
// or a non-file).
func (i Info) ContentCID() cid.Cid {
	c, err := cid.Decode(i.CID)
	if err != nil {
		return cid.Undef
	}
	return c
}
