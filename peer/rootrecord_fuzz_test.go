package peer

import (
	"bytes"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"meshfs/content"
)

// FuzzOpenRootRecord feeds the same bytes to OpenRootRecord and, since a
// signature stands between random bytes and the payload decoder, to the
// payload decoder alone. Each either refuses with ErrBadRootRecord or
// returns a record that passes every check; a decoded payload re-encodes to
// the same bytes.
func FuzzOpenRootRecord(f *testing.F) {
	key, id := rootKey(f, 7)
	r := RootRecord{Namespace: "home", Root: rootCID(f, "root"), Term: 3, Index: 17, Time: 1_700_000_000_000_000_000, Writer: id}
	signed := signRoot(f, key, r)
	payload := mustPayload(f, r)
	f.Add(signed)
	f.Add(signed[:len(signed)/2])
	f.Add(payload)
	f.Add(payload[:len(payload)-3])
	f.Add(seal(f, key, RootRecordDomain, rootCodec(), append(bytes.Clone(payload), 0)))
	f.Add([]byte("garbage"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := OpenRootRecord(b); err != nil {
			if !errors.Is(err, ErrBadRootRecord) {
				t.Fatalf("open: error %v is not ErrBadRootRecord", err)
			}
		} else {
			checkOpened(t, r)
			v := RootValidator{Voters: func(string) []peer.ID { return []peer.ID{r.Writer} }}
			if err := v.Validate(RootRecordKey(r.Namespace), b); err != nil {
				t.Fatalf("opened but not valid: %v", err)
			}
		}

		p, err := decodeRootPayload(b)
		if err != nil {
			if !errors.Is(err, ErrBadRootRecord) {
				t.Fatalf("decode: error %v is not ErrBadRootRecord", err)
			}
			return
		}
		checkOpened(t, p)
		again, err := encodeRootPayload(p)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", p, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b)
		}
	})
}

// checkOpened fails t if r breaks a rule a root record keeps.
func checkOpened(t *testing.T, r RootRecord) {
	t.Helper()
	if err := checkNamespace(r.Namespace); err != nil {
		t.Fatalf("accepted namespace %q: %v", r.Namespace, err)
	}
	if err := content.CheckCID(r.Root); err != nil {
		t.Fatalf("accepted root %v: %v", r.Root, err)
	}
	if err := r.Writer.Validate(); err != nil {
		t.Fatalf("accepted writer %q: %v", r.Writer, err)
	}
}
