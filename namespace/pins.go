package namespace

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// Pin keeps the DAG under CID live under the name Label, whatever the
// tree holds: the garbage collector never frees a block a pin reaches.
// Pinning a label again moves it to the new CID.
type Pin struct {
	Label string
	CID   cid.Cid
}

// Unpin removes the pin Label (fs.ErrNotExist if there is none).
type Unpin struct {
	Label string
}

func (Pin) Name() string   { return "pin" }
func (Unpin) Name() string { return "unpin" }

// MaxPinName bounds a pin's name, in bytes; MaxPins the pins of a
// namespace (each summary of the live set lists them).
const (
	MaxPinName = 255
	MaxPins    = 1 << 16
)

// PinEntry is one pin.
type PinEntry struct {
	Label string
	CID   cid.Cid
}

func checkPinName(op, name string) error {
	if name == "" || len(name) > MaxPinName || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return pathErr(op, name, fs.ErrInvalid)
	}
	return nil
}

func (o Pin) apply(s *State) error {
	if err := checkPinName("pin", o.Label); err != nil {
		return err
	}
	if err := content.CheckCID(o.CID); err != nil {
		return pathErr("pin", o.Label, fmt.Errorf("%w: %w", fs.ErrInvalid, err))
	}
	if _, ok := s.pins[o.Label]; !ok && len(s.pins) >= MaxPins {
		return pathErr("pin", o.Label, fmt.Errorf("%w: %d pins already", fs.ErrInvalid, MaxPins))
	}
	s.pins[o.Label] = o.CID
	return nil
}

func (o Unpin) apply(s *State) error {
	if err := checkPinName("unpin", o.Label); err != nil {
		return err
	}
	if _, ok := s.pins[o.Label]; !ok {
		return pathErr("unpin", o.Label, fs.ErrNotExist)
	}
	delete(s.pins, o.Label)
	return nil
}

// PinList returns the pins, by name.
func (s *State) PinList() []PinEntry {
	out := make([]PinEntry, 0, len(s.pins))
	for _, name := range slices.Sorted(maps.Keys(s.pins)) {
		out = append(out, PinEntry{Label: name, CID: s.pins[name]})
	}
	return out
}

// Pins returns the pinned CIDs, each once, in no particular order.
func (s *State) Pins() []cid.Cid {
	seen := map[cid.Cid]bool{}
	var out []cid.Cid
	for _, c := range s.pins {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}
