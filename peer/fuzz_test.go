package peer

import (
	"bufio"
	"bytes"
	"errors"
	"testing"

	"github.com/ipfs/go-cid"
	"meshfs/content"
)

// Every decoder of block-protocol bytes either decodes or returns
// ErrProtocol; none panics, and what decodes re-encodes to the same bytes.

func FuzzDecodeRequest(f *testing.F) {
	cids := testCIDs(f, 3)
	f.Add(encodeRequest(opHave, cids, 0))
	f.Add(encodeRequest(opGet, cids[:1], 0))
	f.Add(encodeRequest(opPut, nil, 5))
	f.Add([]byte{2, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeRequest(b)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v is not ErrProtocol", err)
			}
			return
		}
		if req.n < 1 || req.n > MaxBatch {
			t.Fatalf("count %d out of bounds", req.n)
		}
		if again := encodeRequest(req.op, req.cids, req.n); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzDecodeBlockFrame(f *testing.F) {
	b, _ := content.NewRawBlock([]byte("data"))
	f.Add(append(blockHeader(statusOK, b.CID()), b.Data()...))
	f.Add(blockHeader(statusNotFound, b.CID()))
	f.Add([]byte{0, 36})
	f.Fuzz(func(t *testing.T, frame []byte) {
		st, c, data, err := decodeBlockFrame(frame)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v is not ErrProtocol", err)
			}
			return
		}
		if err := content.CheckCID(c); err != nil {
			t.Fatalf("accepted CID %v: %v", c, err)
		}
		if len(data) > content.MaxBlockSize || (st != statusOK && len(data) > 0) {
			t.Fatalf("accepted %d bytes with status %v", len(data), st)
		}
		if again := append(blockHeader(st, c), data...); !bytes.Equal(again, frame) {
			t.Fatal("re-encoding differs")
		}
		// Whatever arrives, only bytes that hash to the CID become a block.
		if blk, err := content.BlockFromCID(c, data); err == nil && !cid.NewCidV1(c.Prefix().Codec, blk.CID().Hash()).Equals(c) {
			t.Fatal("block with another CID")
		}
	})
}

func FuzzDecodeStatuses(f *testing.F) {
	f.Add(encodeStatuses([]status{statusOK, statusFailed}), 2)
	f.Add([]byte{0}, 0)
	f.Fuzz(func(t *testing.T, b []byte, want int) {
		if want < 0 || want > MaxBatch {
			return
		}
		ss, err := decodeStatuses(b, want)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v is not ErrProtocol", err)
			}
			return
		}
		if len(ss) != want || !bytes.Equal(encodeStatuses(ss), b) {
			t.Fatal("statuses do not round-trip")
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{3, 'a', 'b', 'c'}, 10)
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1}, 10)
	f.Fuzz(func(t *testing.T, b []byte, limit int) {
		if limit < 0 || limit > 1<<20 {
			return
		}
		frame, err := readFrame(bufio.NewReader(bytes.NewReader(b)), limit, nil)
		if err == nil && len(frame) > limit {
			t.Fatalf("frame of %d bytes over the limit %d", len(frame), limit)
		}
	})
}
