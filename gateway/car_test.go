package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
)

// Tests of the CAR writer and reader, and FuzzReadCAR. They live inside
// the package to re-encode what the reader accepts with the writer's own
// encoders: a strict reader accepts only what the writer would write.

func mustBlock(t testing.TB, codec uint64, data []byte) content.Block {
	t.Helper()
	b, err := content.NewBlock(codec, data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sampleCAR returns a CAR of a few blocks and the blocks.
func sampleCAR(t testing.TB) ([]byte, []content.Block) {
	t.Helper()
	leaf1 := mustBlock(t, content.CodecRaw, []byte("hello\n"))
	leaf2 := mustBlock(t, content.CodecRaw, nil) // an empty block is a valid section
	node := mustBlock(t, content.CodecDagPB, content.PBNode{
		Links: []content.Link{{CID: leaf1.CID(), Tsize: 6}, {CID: leaf2.CID()}},
		Data:  content.FSData{Type: content.TypeFile, BlockSizes: []uint64{6, 0}}.Encode(),
	}.Encode())
	blocks := []content.Block{node, leaf1, leaf2}
	var buf bytes.Buffer
	cw, err := NewCARWriter(&buf, node.CID())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if err := cw.WriteBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes(), blocks
}

func TestCARRoundTrip(t *testing.T) {
	data, blocks := sampleCAR(t)
	cr, err := NewCARReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if roots := cr.Roots(); len(roots) != 1 || !roots[0].Equals(blocks[0].CID()) {
		t.Fatalf("roots %v, want [%s]", roots, blocks[0].CID())
	}
	for i, want := range blocks {
		b, err := cr.NextBlock()
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if !b.CID().Equals(want.CID()) || !bytes.Equal(b.Data(), want.Data()) {
			t.Fatalf("block %d: %s, want %s", i, b, want)
		}
	}
	if _, err := cr.NextBlock(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last block: %v, want io.EOF", err)
	}
}

// TestCARHeaderBytes pins the header to the bytes the CARv1 spec's
// dag-cbor gives, written out by hand.
func TestCARHeaderBytes(t *testing.T) {
	c := mustBlock(t, content.CodecRaw, []byte("x")).CID()
	want := []byte{0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x81, 0xd8, 0x2a, 0x58, byte(1 + c.ByteLen()), 0x00}
	want = append(want, c.Bytes()...)
	want = append(want, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01)
	want = append([]byte{byte(len(want))}, want...)
	got, err := encodeCARHeader([]cid.Cid{c})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("header\n% x\nwant\n% x", got, want)
	}
	// No roots, and more than 23 (a two-byte array head).
	for _, n := range []int{0, 24, 300} {
		roots := make([]cid.Cid, n)
		for i := range roots {
			roots[i] = c
		}
		h, err := encodeCARHeader(roots)
		if err != nil {
			t.Fatal(err)
		}
		cr, err := NewCARReader(bytes.NewReader(h))
		if err != nil {
			t.Fatalf("%d roots: %v", n, err)
		}
		if len(cr.Roots()) != n {
			t.Fatalf("%d roots read back as %d", n, len(cr.Roots()))
		}
	}
}

// header builds a length-prefixed header from raw CBOR bytes.
func header(cbor ...byte) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(cbor))), cbor...)
}

// cborHeader is the CBOR of {"roots": [c], "version": v}, split where the
// tests change it.
func cborHeader(c cid.Cid, version byte) []byte {
	b := []byte{0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x81, 0xd8, 0x2a, 0x58, byte(1 + c.ByteLen()), 0x00}
	b = append(b, c.Bytes()...)
	return append(b, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', version)
}

func TestCARReaderRejects(t *testing.T) {
	good, blocks := sampleCAR(t)
	root := blocks[0].CID()
	hdr, _ := encodeCARHeader([]cid.Cid{root})
	leaf := blocks[1]
	section := func(c cid.Cid, data []byte) []byte {
		return append(appendSectionHead(nil, c, len(data)), data...)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	v0 := cid.NewCidV0(leaf.CID().Hash())
	big := make([]byte, content.MaxBlockSize+1)
	swapped := []byte{0xa2, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01, 0x65, 'r', 'o', 'o', 't', 's', 0x80}

	cases := []struct {
		name       string
		in         []byte
		unexpected bool // the error also wraps io.ErrUnexpectedEOF
		header     bool // fails in NewCARReader, not at a section
	}{
		{"empty stream", nil, true, true},
		{"header length only", []byte{0x05}, true, true},
		{"zero-length header", []byte{0x00}, false, true},
		{"non-minimal header length", append([]byte{0x80 | byte(len(hdr)-1), 0x00}, hdr[1:]...), false, true},
		{"header over 1 MiB", binary.AppendUvarint(nil, MaxCARHeaderSize+1), false, true},
		{"huge header varint", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, false, true},
		{"truncated header", hdr[:len(hdr)-1], true, true},
		{"version 2", header(cborHeader(root, 0x02)...), false, true},
		{"CARv2 pragma", header(0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x02), false, true},
		{"keys out of order", header(swapped...), false, true},
		{"extra key", header(append(append([]byte{0xa3}, cborHeader(root, 1)[1:]...), 0x61, 'x', 0x00)...), false, true},
		{"indefinite map", header(append([]byte{0xbf}, append(cborHeader(root, 1)[1:], 0xff)...)...), false, true},
		{"non-minimal version", header(append(cborHeader(root, 1)[:len(cborHeader(root, 1))-1], 0x18, 0x01)...), false, true},
		{"trailing header byte", header(append(cborHeader(root, 1), 0x00)...), false, true},
		{"root without 0x00 prefix", header(append(append([]byte{0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x81, 0xd8, 0x2a, 0x58, byte(root.ByteLen())}, root.Bytes()...), 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01)...), false, true},
		{"root not tagged", header(append(append([]byte{0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x81, 0x58, byte(1 + root.ByteLen()), 0x00}, root.Bytes()...), 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01)...), false, true},
		{"zero-length section", cat(hdr, []byte{0x00}), false, false},
		{"non-minimal section length", cat(hdr, []byte{0x81, 0x00}), false, false},
		{"section over the limit", cat(hdr, binary.AppendUvarint(nil, MaxCARSectionSize+1)), false, false},
		{"truncated section length", cat(hdr, []byte{0x80}), true, false},
		{"truncated section", good[:len(good)-1], true, false},
		{"section without a CID", cat(hdr, []byte{0x03, 0x01, 0x02, 0x03}), false, false},
		{"block over 2 MiB", cat(hdr, section(leaf.CID(), big)), false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cr, err := NewCARReader(bytes.NewReader(tc.in))
			if tc.header {
				if err == nil {
					t.Fatalf("header accepted")
				}
			} else {
				if err != nil {
					t.Fatalf("header: %v", err)
				}
				for err == nil {
					_, _, err = cr.Next()
				}
				if _, _, again := cr.Next(); again != err {
					t.Errorf("error not sticky: %v, then %v", err, again)
				}
			}
			if !errors.Is(err, ErrBadCAR) {
				t.Errorf("error %v does not wrap ErrBadCAR", err)
			}
			if got := errors.Is(err, io.ErrUnexpectedEOF); got != tc.unexpected {
				t.Errorf("error %v: wraps io.ErrUnexpectedEOF = %v, want %v", err, got, tc.unexpected)
			}
		})
	}

	// Next returns what it reads, CIDv0 and mismatches included; NextBlock
	// verifies.
	in := cat(hdr, section(v0, leaf.Data()), section(leaf.CID(), []byte("not hello")))
	cr, err := NewCARReader(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if c, data, err := cr.Next(); err != nil || !c.Equals(v0) || !bytes.Equal(data, leaf.Data()) {
		t.Fatalf("CIDv0 section: %s %q %v", c, data, err)
	}
	if _, err := cr.NextBlock(); !errors.Is(err, content.ErrHashMismatch) {
		t.Fatalf("mismatched section: %v, want ErrHashMismatch", err)
	}
	if _, err := cr.NextBlock(); !errors.Is(err, content.ErrHashMismatch) {
		t.Fatalf("after a mismatch: %v, want the same error again", err)
	}
}

// FuzzReadCAR feeds the reader arbitrary bytes. It must not panic or
// allocate past its limits, and what it accepts must be exactly what the
// writer's encoders give for the roots and sections it returns: the
// accepted input re-encodes to itself (a prefix of it when the reader
// stops at an error).
//
//	go test -run '^$' -fuzz '^FuzzReadCAR$' -fuzztime 3m ./gateway/
func FuzzReadCAR(f *testing.F) {
	good, blocks := sampleCAR(f)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte{})
	empty, _ := encodeCARHeader(nil)
	f.Add(empty)
	f.Add(header(cborHeader(blocks[0].CID(), 2)...))
	f.Add(header(0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x02))
	v0 := cid.NewCidV0(blocks[1].CID().Hash())
	withV0, _ := encodeCARHeader([]cid.Cid{v0})
	f.Add(append(append(withV0, appendSectionHead(nil, v0, 6)...), "hello\n"...))
	idHash, _ := mh.Sum(nil, mh.IDENTITY, -1)
	probe := cid.NewCidV1(cid.Raw, idHash)
	withProbe, _ := encodeCARHeader([]cid.Cid{probe, blocks[0].CID()})
	f.Add(withProbe)
	f.Fuzz(func(t *testing.T, data []byte) {
		cr, err := NewCARReader(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrBadCAR) {
				t.Fatalf("header error %v does not wrap ErrBadCAR", err)
			}
			return
		}
		re, err := encodeCARHeader(cr.Roots())
		if err != nil {
			t.Fatalf("accepted roots do not re-encode: %v", err)
		}
		for {
			if !bytes.HasPrefix(data, re) {
				t.Fatalf("accepted input does not re-encode to itself:\n in % x\nout % x", data[:min(len(data), len(re)+16)], re)
			}
			c, block, err := cr.Next()
			if errors.Is(err, io.EOF) {
				if len(re) != len(data) {
					t.Fatalf("clean end after %d of %d bytes", len(re), len(data))
				}
				return
			}
			if err != nil {
				if !errors.Is(err, ErrBadCAR) {
					t.Fatalf("section error %v does not wrap ErrBadCAR", err)
				}
				return
			}
			if len(block) > content.MaxBlockSize || c.ByteLen() > MaxCARCIDSize {
				t.Fatalf("section over the limits: CID %d bytes, block %d", c.ByteLen(), len(block))
			}
			if b, err := content.BlockFromCID(c, block); err == nil && !bytes.Equal(b.Data(), block) {
				t.Fatal("BlockFromCID changed the bytes")
			}
			re = append(appendSectionHead(re, c, len(block)), block...)
		}
	})
}

// ExampleCARReader shows how to read a CAR and verify its blocks.
func ExampleCARReader() {
	var buf bytes.Buffer
	b, _ := content.NewRawBlock([]byte("hello\n"))
	cw, _ := NewCARWriter(&buf, b.CID())
	cw.WriteBlock(b)

	cr, err := NewCARReader(&buf)
	if err != nil {
		panic(err)
	}
	fmt.Println("roots:", cr.Roots())
	for {
		blk, err := cr.NextBlock()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %q\n", blk.CID(), blk.Data())
	}
	// Output:
	// roots: [bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am]
	// bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am "hello\n"
}
