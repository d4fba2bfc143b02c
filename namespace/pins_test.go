package namespace

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/ipfs/go-cid"
)

func TestPins(t *testing.T) {
	a, b := testCID(t, "a"), testCID(t, "b")
	s := New()
	steps := []struct {
		op   Op
		want error
	}{
		{Pin{Label: "release-1", CID: a}, nil},
		{Pin{Label: "mirror", CID: a}, nil},
		{Pin{Label: "release-1", CID: b}, nil}, // moves the label
		{Pin{Label: "", CID: a}, fs.ErrInvalid},
		{Pin{Label: "bad\x00label", CID: a}, fs.ErrInvalid},
		{Pin{Label: "none", CID: cid.Undef}, fs.ErrInvalid},
		{Unpin{Label: "absent"}, fs.ErrNotExist},
		{Unpin{Label: "mirror"}, nil},
		{Pin{Label: "again", CID: b}, nil},
	}
	for _, st := range steps {
		if err := s.Apply(st.op); !errors.Is(err, st.want) || (st.want == nil) != (err == nil) {
			t.Fatalf("%+v: %v, want %v", st.op, err, st.want)
		}
	}
	list := s.PinList()
	if len(list) != 2 || list[0] != (PinEntry{"again", b}) || list[1] != (PinEntry{"release-1", b}) {
		t.Fatalf("pins %v", list)
	}
	if pins := s.Pins(); len(pins) != 1 || pins[0] != b {
		t.Fatalf("pinned CIDs %v, want just %s", pins, b)
	}
	// Pins survive a snapshot and the log's encoding, and clones.
	data, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalState(data)
	if err != nil || len(back.PinList()) != 2 || back.PinList()[1] != list[1] {
		t.Fatalf("snapshot round trip: %v, %v", back.PinList(), err)
	}
	if c := s.Clone(); len(c.PinList()) != 2 {
		t.Fatal("clone lost the pins")
	}
	for _, op := range []Op{Pin{Label: "x", CID: a}, Unpin{Label: "x"}} {
		enc, err := EncodeOp(op)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := DecodeOp(enc)
		if err != nil || dec != op {
			t.Fatalf("log round trip of %+v: %+v, %v", op, dec, err)
		}
	}
	// Version 2 cannot carry pins; it still decodes, with none.
	if _, err := s.marshal(snapshotNoPins); err == nil {
		t.Fatal("version 2 wrote pins it cannot hold")
	}
	old, err := New().marshal(snapshotNoPins)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := UnmarshalState(old); err != nil || len(st.PinList()) != 0 {
		t.Fatalf("version 2: %v, %v", st, err)
	}
}

func TestUnmarshalPinsRefuses(t *testing.T) {
	good := testCID(t, "x").Bytes()
	base := func() snap {
		return snap(snapshotMagic).raw(snapshotVersion).u(2).u(0).u(1).dir(1)
	}
	if _, err := UnmarshalState(base().u(1).s("p").s(string(good))); err != nil {
		t.Fatalf("a valid pin: %v", err)
	}
	for name, b := range map[string]snap{
		"unsorted":  base().u(2).s("b").s(string(good)).s("a").s(string(good)),
		"repeated":  base().u(2).s("a").s(string(good)).s("a").s(string(good)),
		"empty cid": base().u(1).s("a").s(""),
		"bad cid":   base().u(1).s("a").s("xyz"),
		"no label":  base().u(1).s("").s(string(good)),
		"truncated": base().u(2).s("a").s(string(good)),
		"too many":  base().u(MaxPins + 1),
	} {
		if _, err := UnmarshalState(b); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: %v, want ErrBadSnapshot", name, err)
		}
	}
}
