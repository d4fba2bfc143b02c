package peer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

func testCIDs(t testing.TB, n int) []cid.Cid {
	t.Helper()
	out := make([]cid.Cid, n)
	for i := range out {
		b, err := content.NewRawBlock([]byte{byte(i), byte(i >> 8)})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b.CID()
	}
	return out
}

func TestRequestRoundTrip(t *testing.T) {
	cids := testCIDs(t, MaxBatch)
	for _, tc := range []struct {
		op   op
		cids []cid.Cid
		n    int
	}{
		{opHave, cids[:1], 1}, {opHave, cids, MaxBatch}, {opGet, cids[:7], 7}, {opPut, nil, 16},
	} {
		b := encodeRequest(tc.op, tc.cids, tc.n)
		if len(b) > maxRequestFrame {
			t.Fatalf("%v request of %d bytes exceeds the frame limit", tc.op, len(b))
		}
		req, err := decodeRequest(b)
		if err != nil {
			t.Fatalf("%v: %v", tc.op, err)
		}
		if req.op != tc.op || req.n != tc.n || !slices.EqualFunc(req.cids, tc.cids, cid.Cid.Equals) {
			t.Fatalf("%v: decoded %+v", tc.op, req)
		}
	}
}

func TestDecodeRequestRejects(t *testing.T) {
	c := testCIDs(t, 1)[0]
	v1dagcbor := cid.NewCidV1(cid.DagCBOR, c.Hash())
	over := encodeRequest(opHave, testCIDs(t, MaxBatch+1), 0)
	for name, b := range map[string][]byte{
		"empty":          nil,
		"unknown op":     {9, 1},
		"zero count":     {byte(opGet), 0},
		"too many":       over,
		"put too many":   binary.AppendUvarint([]byte{byte(opPut)}, MaxBatch+1),
		"short":          encodeRequest(opGet, []cid.Cid{c}, 0)[:10],
		"trailing":       append(encodeRequest(opGet, []cid.Cid{c}, 0), 0),
		"put trailing":   append(encodeRequest(opPut, nil, 1), 1),
		"count mismatch": append(encodeRequest(opGet, []cid.Cid{c}, 0)[:1], append([]byte{2}, encodeRequest(opGet, []cid.Cid{c}, 0)[2:]...)...),
		"bad codec":      encodeRequest(opGet, []cid.Cid{v1dagcbor}, 0),
	} {
		if _, err := decodeRequest(b); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v, want ErrProtocol", name, err)
		}
	}
}

func TestBlockFrameRoundTrip(t *testing.T) {
	b, _ := content.NewRawBlock([]byte("hello"))
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeFrame(w, blockHeader(statusOK, b.CID()), b.Data()); err != nil {
		t.Fatal(err)
	}
	if err := writeFrame(w, blockHeader(statusNotFound, b.CID())); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	r := bufio.NewReader(&buf)
	for _, want := range []status{statusOK, statusNotFound} {
		f, err := readFrame(r, maxBlockFrame, nil)
		if err != nil {
			t.Fatal(err)
		}
		st, c, data, err := decodeBlockFrame(f)
		if err != nil || st != want || !c.Equals(b.CID()) {
			t.Fatalf("frame: %v %v %v", st, c, err)
		}
		if want == statusOK && !bytes.Equal(data, b.Data()) {
			t.Fatal("data differs")
		}
	}
	if _, err := readFrame(r, maxBlockFrame, nil); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

func TestReadFrameLimits(t *testing.T) {
	var buf bytes.Buffer
	buf.Write(binary.AppendUvarint(nil, maxBlockFrame+1))
	if _, err := readFrame(bufio.NewReader(&buf), maxBlockFrame, nil); !errors.Is(err, ErrProtocol) {
		t.Fatalf("oversized frame: %v", err)
	}
	buf.Reset()
	buf.Write(binary.AppendUvarint(nil, 10))
	buf.Write([]byte("short"))
	if _, err := readFrame(bufio.NewReader(&buf), 100, nil); !errors.Is(err, ErrProtocol) {
		t.Fatalf("truncated frame: %v", err)
	}
	// A frame whose data would exceed a block is refused even when the
	// frame limit would allow it.
	c := testCIDs(t, 1)[0]
	big := append(blockHeader(statusOK, c), make([]byte, content.MaxBlockSize+1)...)
	if _, _, _, err := decodeBlockFrame(big); !errors.Is(err, content.ErrBlockTooLarge) {
		t.Fatalf("oversized block: %v", err)
	}
	if _, _, _, err := decodeBlockFrame(append(blockHeader(statusNotFound, c), 1)); !errors.Is(err, ErrProtocol) {
		t.Fatalf("data with a not-found status: %v", err)
	}
}

func TestStatuses(t *testing.T) {
	ss := []status{statusOK, statusNotFound, statusRejected, statusFailed}
	got, err := decodeStatuses(encodeStatuses(ss), len(ss))
	if err != nil || !slices.Equal(got, ss) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := decodeStatuses(encodeStatuses(ss), 3); !errors.Is(err, ErrProtocol) {
		t.Fatalf("count mismatch: %v", err)
	}
	if _, err := decodeStatuses([]byte{1, 7}, 1); !errors.Is(err, ErrProtocol) {
		t.Fatalf("unknown status: %v", err)
	}
}
