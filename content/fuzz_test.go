package content_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// Native fuzz targets for every decoder that takes bytes from a disk or the
// network: the dag-pb and UnixFS codecs, the file reader and directory
// reader over a fuzzed root block, the disk store's verification of a
// fuzzed block file, and CID parsing. The seed corpora are encodings made
// by the package itself (Import, BuildDirectory, Symlink, Encode) plus
// hand-made malformed cases. Run one with, e.g.,
//
//	go test -run '^$' -fuzz '^FuzzDecodePBNode$' -fuzztime 60s ./content/
//
// All helpers here are prefixed "fuzz" to stay clear of the package's other
// test files.

// fuzzHangLimit is how long one input may take in the targets that walk a
// DAG; past it the input is reported as a hang.
const fuzzHangLimit = 10 * time.Second

// fuzzReadLimit bounds how much of a fuzzed file is read, since a small
// root can link the same subtree many times.
const fuzzReadLimit = 1 << 20

// ---------------------------------------------------------------------------
// Fixture: a small set of valid blocks made by the package itself.

type fuzzFixture struct {
	blocks []content.Block // every block below, each once: the store's contents

	hello, empty content.Block   // raw leaves: "hello\n" and the empty block
	leaves       []content.Block // every raw leaf
	bigRoot      content.FileRoot
	midRoot      content.FileRoot
	fileNodes    []content.Block // every dag-pb node of the imported files
	extraFiles   []content.Block // hand-made valid file nodes, also stored
	inlineNode   content.Block   // file node with inline data and a leaf
	rawTypeNode  content.Block   // dag-pb node of UnixFS type Raw

	dir, emptyDir content.Block   // basic directories
	nestedDir     content.Block   // basic directory holding hamt8
	hamt8         []content.Block // fanout-8 HAMT with sub-shards, root last
	hamt256       []content.Block // default-fanout HAMT, one shard
	symlink       content.Block
	notStored     content.Block // a raw block that is not in the store
}

// fuzzPattern returns n deterministic pseudo-random bytes.
func fuzzPattern(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed*2654435761 + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func fuzzPtr[T any](v T) *T { return &v }

// fuzzMust returns v, panicking on err; for building fixtures and seeds.
func fuzzMust[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func fuzzBlockOrder(a, b content.Block) int {
	return strings.Compare(a.CID().KeyString(), b.CID().KeyString())
}

// fuzzImport imports data into a fresh MemStore and returns the root and
// every block stored, in a fixed order.
func fuzzImport(tb testing.TB, data []byte, opts content.ImportOptions) (content.FileRoot, []content.Block) {
	tb.Helper()
	ctx := context.Background()
	ms := content.NewMemStore()
	root, err := content.Import(ctx, bytes.NewReader(data), ms, opts)
	if err != nil {
		tb.Fatal(err)
	}
	var blocks []content.Block
	for c, err := range ms.All(ctx) {
		if err != nil {
			tb.Fatal(err)
		}
		blocks = append(blocks, fuzzMust(ms.Get(ctx, c)))
	}
	slices.SortFunc(blocks, fuzzBlockOrder)
	return root, blocks
}

func fuzzDirectory(tb testing.TB, entries []content.DirEntry, opts content.DirOptions) (content.DirRoot, []content.Block) {
	tb.Helper()
	root, blocks, err := content.BuildDirectory(entries, opts)
	if err != nil {
		tb.Fatal(err)
	}
	if last := blocks[len(blocks)-1]; !last.CID().Equals(root.CID) {
		tb.Fatalf("BuildDirectory: last block %s is not the root %s", last.CID(), root.CID)
	}
	return root, blocks
}

// fuzzFileNodeBytes encodes a dag-pb UnixFS file node.
func fuzzFileNodeBytes(typ content.UnixFSType, data []byte, links []content.Link, sizes []uint64, fileSize *uint64) []byte {
	return content.PBNode{Links: links, Data: content.FSData{Type: typ, Data: data, FileSize: fileSize, BlockSizes: sizes}.Encode()}.Encode()
}

func newFuzzFixture(tb testing.TB) *fuzzFixture {
	tb.Helper()
	fx := &fuzzFixture{}
	seen := make(map[cid.Cid]bool)
	add := func(bs ...content.Block) {
		for _, b := range bs {
			if !seen[b.CID()] {
				seen[b.CID()] = true
				fx.blocks = append(fx.blocks, b)
			}
		}
	}
	dagpb := func(data []byte) content.Block {
		return fuzzMust(content.NewBlock(content.CodecDagPB, data))
	}

	// Files: a three-level DAG (1 KiB chunks, 3 links a node), a one-level
	// one, and two single-leaf files whose root is the raw leaf itself.
	var blocks []content.Block
	fx.bigRoot, blocks = fuzzImport(tb, fuzzPattern(10*1024+300, 1), content.ImportOptions{ChunkSize: content.MinChunkSize, LinksPerNode: 3})
	add(blocks...)
	fx.midRoot, blocks = fuzzImport(tb, fuzzPattern(3000, 2), content.ImportOptions{ChunkSize: content.MinChunkSize})
	add(blocks...)
	helloRoot, blocks := fuzzImport(tb, []byte("hello\n"), content.ImportOptions{})
	add(blocks...)
	emptyRoot, blocks := fuzzImport(tb, nil, content.ImportOptions{})
	add(blocks...)
	for _, b := range fx.blocks {
		switch {
		case b.CID().Equals(helloRoot.CID):
			fx.hello = b
		case b.CID().Equals(emptyRoot.CID):
			fx.empty = b
		}
		if b.CID().Prefix().Codec == content.CodecRaw {
			fx.leaves = append(fx.leaves, b)
		} else {
			fx.fileNodes = append(fx.fileNodes, b)
		}
	}
	if !fx.hello.Defined() || !fx.empty.Defined() || fx.bigRoot.CID.Prefix().Codec != content.CodecDagPB {
		tb.Fatal("fixture: unexpected import layout")
	}

	// Hand-made valid file nodes that fuzzed roots may link to: content in
	// the node itself before a leaf, UnixFS Raw, and an empty file.
	fx.inlineNode = dagpb(fuzzFileNodeBytes(content.TypeFile, []byte("inline:"),
		[]content.Link{{CID: fx.hello.CID(), Tsize: 6}}, []uint64{6}, fuzzPtr(uint64(13))))
	fx.rawTypeNode = dagpb(fuzzFileNodeBytes(content.TypeRaw, []byte("an old-style dag-pb leaf"), nil, nil, fuzzPtr(uint64(24))))
	emptyFile := dagpb(fuzzFileNodeBytes(content.TypeFile, nil, nil, nil, nil))
	fx.extraFiles = []content.Block{fx.inlineNode, fx.rawTypeNode, emptyFile}
	add(fx.extraFiles...)

	fx.symlink = fuzzMust(content.Symlink("../some/target"))
	add(fx.symlink)
	fx.notStored = fuzzMust(content.NewRawBlock([]byte("never stored")))

	// Directories: empty, basic, HAMT of fanout 8 deep enough to have
	// sub-shards, HAMT of the default fanout, and a basic one holding a HAMT.
	emptyDir, blocks := fuzzDirectory(tb, nil, content.DirOptions{})
	fx.emptyDir = blocks[0]
	add(blocks...)
	entries := []content.DirEntry{
		{Name: "hello.txt", CID: fx.hello.CID(), Tsize: 6},
		{Name: "big.bin", CID: fx.bigRoot.CID, Tsize: fx.bigRoot.Tsize},
		{Name: "mid.bin", CID: fx.midRoot.CID, Tsize: fx.midRoot.Tsize},
		{Name: "empty", CID: fx.empty.CID()},
		{Name: "link", CID: fx.symlink.CID(), Tsize: uint64(fx.symlink.Size())},
		{Name: "sub", CID: emptyDir.CID, Tsize: emptyDir.Tsize},
		{Name: "ünïcode name with spaces", CID: fx.inlineNode.CID(), Tsize: uint64(fx.inlineNode.Size()) + 6},
	}
	_, blocks = fuzzDirectory(tb, entries, content.DirOptions{})
	fx.dir = blocks[0]
	add(blocks...)
	var many []content.DirEntry
	for i := range 40 {
		leaf := fx.leaves[i%len(fx.leaves)]
		many = append(many, content.DirEntry{Name: fmt.Sprintf("entry-%02d", i), CID: leaf.CID(), Tsize: uint64(leaf.Size())})
	}
	hamt8Root, hamt8 := fuzzDirectory(tb, many, content.DirOptions{ShardingThreshold: 1, Fanout: 8})
	if !hamt8Root.Sharded || len(hamt8) < 2 {
		tb.Fatalf("fixture: fanout-8 HAMT has %d blocks, want sub-shards", len(hamt8))
	}
	fx.hamt8 = hamt8
	add(hamt8...)
	hamt256Root, hamt256 := fuzzDirectory(tb, entries, content.DirOptions{ShardingThreshold: 1})
	if !hamt256Root.Sharded {
		tb.Fatal("fixture: HAMT not sharded")
	}
	fx.hamt256 = hamt256
	add(hamt256...)
	_, blocks = fuzzDirectory(tb, []content.DirEntry{
		{Name: "shard", CID: hamt8Root.CID, Tsize: hamt8Root.Tsize},
		{Name: "file", CID: fx.midRoot.CID, Tsize: fx.midRoot.Tsize},
	}, content.DirOptions{})
	fx.nestedDir = blocks[0]
	add(blocks...)
	return fx
}

// store returns a fresh MemStore holding the fixture and root.
func (fx *fuzzFixture) store(t *testing.T, root content.Block) *content.MemStore {
	t.Helper()
	ctx := context.Background()
	ms := content.NewMemStore()
	for _, b := range fx.blocks {
		if err := ms.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := ms.Put(ctx, root); err != nil {
		t.Fatal(err)
	}
	return ms
}

// dagPBBlocks returns the bytes of every dag-pb block of the fixture.
func (fx *fuzzFixture) dagPBBlocks() [][]byte {
	var out [][]byte
	for _, b := range fx.blocks {
		if b.CID().Prefix().Codec == content.CodecDagPB {
			out = append(out, b.Data())
		}
	}
	return out
}

// cidV0 returns the CIDv0 of data: a valid CID that meshfs does not store.
func fuzzCIDv0(tb testing.TB, data []byte) cid.Cid {
	d := sha256.Sum256(data)
	return fuzzMust(cid.Cast(append([]byte{0x12, 0x20}, d[:]...)))
}

// ---------------------------------------------------------------------------
// Raw protobuf helpers for hand-made (often malformed) seeds.

func fuzzTag(field, wire int) []byte { return binary.AppendUvarint(nil, uint64(field)<<3|uint64(wire)) }

func fuzzVarint(field int, v uint64) []byte {
	return binary.AppendUvarint(fuzzTag(field, 0), v)
}

func fuzzLenField(field int, v []byte) []byte {
	b := binary.AppendUvarint(fuzzTag(field, 2), uint64(len(v)))
	return append(b, v...)
}

func fuzzCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// ---------------------------------------------------------------------------
// 1. dag-pb

func FuzzDecodePBNode(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, b := range fx.dagPBBlocks() {
		f.Add(b)
	}
	hello := fx.hello.CID()
	v0 := fuzzCIDv0(f, []byte("v0"))
	identity := fuzzMust(cid.Cast([]byte{0x01, 0x71, 0x00, 0x03, 'a', 'b', 'c'})) // dag-cbor, identity hash
	for _, n := range []content.PBNode{
		{},               // empty node: no links, Data absent
		{Data: []byte{}}, // Data present but empty
		{Data: []byte("x")},
		{Links: []content.Link{{CID: hello}}},
		{Links: []content.Link{{CID: hello, Name: "", Tsize: math.MaxUint64}}, Data: []byte{}},
		{Links: []content.Link{{CID: v0, Name: "v0"}, {CID: identity, Name: strings.Repeat("n", 200), Tsize: 1 << 40}}},
		{Links: []content.Link{{CID: hello, Name: "a"}, {CID: hello, Name: "a"}}, Data: []byte{0x08, 0x01}},
	} {
		f.Add(n.Encode())
	}

	linkHash := fuzzLenField(1, hello.Bytes())
	linkName := fuzzLenField(2, []byte("name"))
	linkSize := fuzzVarint(3, 6)
	link := func(fields ...[]byte) []byte { return fuzzLenField(2, fuzzCat(fields...)) }
	data := fuzzLenField(1, []byte{0x08, 0x02})
	for _, b := range [][]byte{
		link(linkHash),                                         // valid, not canonical: no Name, no Tsize
		link(linkHash, linkSize),                               // valid, not canonical: no Name
		link(linkHash, linkName),                               // valid, not canonical: no Tsize
		fuzzCat(link(linkHash), data),                          // valid
		fuzzCat(data, link(linkHash)),                          // link after Data
		fuzzCat(data, data),                                    // Data twice
		link(linkName, linkHash),                               // link fields out of order
		link(linkHash, linkHash),                               // Hash twice
		link(linkName, linkSize),                               // link without Hash
		link(),                                                 // empty link
		link(fuzzLenField(1, []byte{1, 0x55})),                 // truncated CID
		link(linkHash, fuzzLenField(3, []byte{6})),             // Tsize with wire type 2
		link(linkHash, fuzzLenField(2, nil), fuzzVarint(4, 1)), // unknown link field
		link(fuzzCat(fuzzTag(1, 0), []byte{1})),                // Hash with wire type 0
		fuzzLenField(3, nil),                                   // unknown node field
		fuzzVarint(1, 1),                                       // Data with wire type 0
		{0x0a},                                                 // tag without length
		{0x0a, 0x05, 'a', 'b'},                                 // length past the end
		{0x8a, 0x00, 0x00},                                     // non-minimal tag
		{0x0a, 0x80, 0x00},                                     // non-minimal length
		{0x02, 0x00},                                           // field number 0
		{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // varint overflow
		{0x0d, 0, 0, 0, 0},                   // fixed32 field
		fx.dir.Data()[:len(fx.dir.Data())/2], // truncated
	} {
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		n, err := content.DecodePBNode(in)
		if fuzzRefused(t, err) {
			return
		}
		for i, l := range n.Links {
			if !l.CID.Defined() {
				t.Fatalf("link %d has an undefined CID", i)
			}
		}
		enc := n.Encode()
		n2, err := content.DecodePBNode(enc)
		if err != nil {
			t.Fatalf("Encode of a decoded node does not decode: %v\ninput    %x\nencoding %x", err, in, enc)
		}
		if err := fuzzSamePBNode(n, n2); err != nil {
			t.Fatalf("decode(encode(decode(x))) != decode(x): %v\ninput    %x\nencoding %x", err, in, enc)
		}
		// Encode writes the canonical form, so it is a fixed point; and an
		// input already canonical comes back byte for byte on both rounds.
		enc2 := n2.Encode()
		if !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding not stable:\nfirst  %x\nsecond %x", enc, enc2)
		}
		if bytes.Equal(enc, in) && !bytes.Equal(enc2, in) {
			t.Fatalf("canonical input not reproduced on the second round:\ninput  %x\nsecond %x", in, enc2)
		}
	})
}

func fuzzSamePBNode(a, b content.PBNode) error {
	if len(a.Links) != len(b.Links) {
		return fmt.Errorf("%d links, then %d", len(a.Links), len(b.Links))
	}
	for i := range a.Links {
		la, lb := a.Links[i], b.Links[i]
		if !la.CID.Equals(lb.CID) || la.Name != lb.Name || la.Tsize != lb.Tsize {
			return fmt.Errorf("link %d: {%s %q %d}, then {%s %q %d}", i, la.CID, la.Name, la.Tsize, lb.CID, lb.Name, lb.Tsize)
		}
	}
	// nil Data means absent, non-nil empty means present: both must survive.
	if (a.Data == nil) != (b.Data == nil) {
		return fmt.Errorf("Data nil %v, then nil %v", a.Data == nil, b.Data == nil)
	}
	if !bytes.Equal(a.Data, b.Data) {
		return fmt.Errorf("Data %x, then %x", a.Data, b.Data)
	}
	return nil
}

// ---------------------------------------------------------------------------
// 2. UnixFS

func FuzzDecodeFSData(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, b := range fx.dagPBBlocks() {
		n, err := content.DecodePBNode(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(n.Data)
	}
	for _, d := range []content.FSData{
		{Type: content.TypeFile},
		{Type: content.TypeDirectory, Data: []byte{}},
		{Type: content.TypeSymlink, Data: []byte("target")},
		{Type: content.TypeMetadata, Mode: fuzzPtr(uint32(math.MaxUint32))},
		{Type: 99, FileSize: fuzzPtr(uint64(math.MaxUint64))},
		{
			Type: content.TypeFile, Data: []byte("abc"), FileSize: fuzzPtr(uint64(10)), BlockSizes: []uint64{3, 4, 0},
			HashType: fuzzPtr(uint64(0x22)), Fanout: fuzzPtr(uint64(256)), Mode: fuzzPtr(uint32(0o755)),
			Mtime: &content.UnixTime{Seconds: 1700000000, Nanos: 123456789},
		},
		{Type: content.TypeHAMTShard, Data: []byte{0xff}, HashType: fuzzPtr(uint64(0x22)), Fanout: fuzzPtr(uint64(8))},
		{Type: content.TypeFile, Mtime: &content.UnixTime{Seconds: -1}},
		{Type: content.TypeFile, Mtime: &content.UnixTime{}},
		{Type: content.TypeFile, Mtime: &content.UnixTime{Seconds: math.MinInt64, Nanos: 999999999}},
	} {
		f.Add(d.Encode())
	}
	typ := fuzzVarint(1, 2)
	fixed32 := func(field int, v uint32) []byte { return binary.LittleEndian.AppendUint32(fuzzTag(field, 5), v) }
	for _, b := range [][]byte{
		{},
		fuzzCat(typ, fuzzLenField(4, []byte{0x01, 0x80, 0x01, 0x00})),                             // packed block sizes
		fuzzCat(typ, fuzzLenField(4, []byte{0x80})),                                               // packed, truncated varint
		fuzzCat(typ, fuzzVarint(9, 1), fuzzLenField(11, []byte("x")), fixed32(12, 7)),             // unknown fields
		fuzzCat(typ, fuzzTag(10, 1), make([]byte, 8)),                                             // unknown fixed64
		fuzzCat(typ, fuzzTag(10, 1), make([]byte, 3)),                                             // truncated fixed64
		fuzzCat(typ, fuzzTag(13, 3)),                                                              // group: unsupported
		fuzzCat(typ, fuzzVarint(7, 1<<32)),                                                        // mode out of range
		fuzzCat(typ, fuzzLenField(8, fuzzCat(fuzzVarint(1, 5), fixed32(2, 1e9)))),                 // nanos out of range
		fuzzCat(typ, fuzzLenField(8, fuzzCat(fuzzVarint(1, 5), fuzzTag(2, 5), []byte{1, 2}))),     // truncated nanos
		fuzzCat(typ, fuzzLenField(8, fuzzCat(fuzzVarint(3, 1), fixed32(2, 5), fuzzVarint(1, 9)))), // unknown mtime field
		fuzzCat(typ, fuzzLenField(8, fuzzTag(0, 0))),                                              // mtime field 0
		fuzzVarint(3, 5),                                                 // no Type
		fuzzLenField(1, []byte{2}),                                       // Type with wire type 2
		fuzzCat(typ, fuzzVarint(2, 1)),                                   // Data with wire type 0
		fuzzCat(typ, typ, fuzzVarint(1, 1)),                              // Type repeated
		fuzzCat(typ, fuzzLenField(2, []byte("a")), fuzzLenField(2, nil)), // Data repeated
		{0x08, 0x82, 0x00},                                               // non-minimal varint
		{0x08},                                                           // truncated
	} {
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := content.DecodeFSData(in)
		if fuzzRefused(t, err) {
			return
		}
		enc := d.Encode()
		d2, err := content.DecodeFSData(enc)
		if err != nil {
			t.Fatalf("Encode of a decoded message does not decode: %v\ninput    %x\nencoding %x", err, in, enc)
		}
		if err := fuzzSameFSData(d, d2); err != nil {
			t.Fatalf("decode(encode(decode(x))) != decode(x): %v\ninput    %x\nencoding %x", err, in, enc)
		}
		if enc2 := d2.Encode(); !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding not stable:\nfirst  %x\nsecond %x", enc, enc2)
		}
	})
}

func fuzzSamePtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func fuzzShowPtr[T any](p *T) string {
	if p == nil {
		return "absent"
	}
	return fmt.Sprint(*p)
}

func fuzzSameFSData(a, b content.FSData) error {
	switch {
	case a.Type != b.Type:
		return fmt.Errorf("Type %d, then %d", a.Type, b.Type)
	case (a.Data == nil) != (b.Data == nil) || !bytes.Equal(a.Data, b.Data):
		return fmt.Errorf("Data %x (nil %v), then %x (nil %v)", a.Data, a.Data == nil, b.Data, b.Data == nil)
	case !fuzzSamePtr(a.FileSize, b.FileSize):
		return fmt.Errorf("FileSize %s, then %s", fuzzShowPtr(a.FileSize), fuzzShowPtr(b.FileSize))
	case !slices.Equal(a.BlockSizes, b.BlockSizes):
		return fmt.Errorf("BlockSizes %v, then %v", a.BlockSizes, b.BlockSizes)
	case !fuzzSamePtr(a.HashType, b.HashType):
		return fmt.Errorf("HashType %s, then %s", fuzzShowPtr(a.HashType), fuzzShowPtr(b.HashType))
	case !fuzzSamePtr(a.Fanout, b.Fanout):
		return fmt.Errorf("Fanout %s, then %s", fuzzShowPtr(a.Fanout), fuzzShowPtr(b.Fanout))
	case !fuzzSamePtr(a.Mode, b.Mode):
		return fmt.Errorf("Mode %s, then %s", fuzzShowPtr(a.Mode), fuzzShowPtr(b.Mode))
	case !fuzzSamePtr(a.Mtime, b.Mtime):
		return fmt.Errorf("Mtime %s, then %s", fuzzShowPtr(a.Mtime), fuzzShowPtr(b.Mtime))
	}
	return nil
}

// ---------------------------------------------------------------------------
// Hang watchdog for the targets that walk a DAG.

// fuzzWithin runs check in a goroutine and reports the problems it returns;
// if it has not returned after fuzzHangLimit, the input is a hang. check
// must not touch t (it may outlive the test).
func fuzzWithin(t *testing.T, check func() []string) {
	t.Helper()
	done := make(chan []string, 1)
	go func() { done <- check() }()
	timer := time.NewTimer(fuzzHangLimit)
	defer timer.Stop()
	select {
	case problems := <-done:
		for _, p := range problems {
			t.Error(p)
		}
	case <-timer.C:
		t.Fatalf("no result after %v: hang", fuzzHangLimit)
	}
}

// ---------------------------------------------------------------------------
// 3. File reader

func FuzzFileReader(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, b := range fx.fileNodes {
		f.Add(b.Data())
	}
	for _, b := range fx.extraFiles {
		f.Add(b.Data())
	}
	hello, empty := fx.hello.CID(), fx.empty.CID()
	link := func(c cid.Cid, tsize uint64) content.Link { return content.Link{CID: c, Tsize: tsize} }
	file := func(data []byte, links []content.Link, sizes []uint64, fileSize *uint64) []byte {
		return fuzzFileNodeBytes(content.TypeFile, data, links, sizes, fileSize)
	}
	big, mid := fx.bigRoot, fx.midRoot
	for _, b := range [][]byte{
		// valid
		file(nil, []content.Link{link(hello, 6), link(hello, 6)}, []uint64{6, 6}, fuzzPtr(uint64(12))),
		file([]byte("head "), []content.Link{link(fx.inlineNode.CID(), 0), link(fx.rawTypeNode.CID(), 0)}, []uint64{13, 24}, nil),
		file(nil, []content.Link{link(big.CID, big.Tsize), link(mid.CID, mid.Tsize), link(big.CID, big.Tsize)}, []uint64{big.FileSize, mid.FileSize, big.FileSize}, nil),
		file(nil, []content.Link{link(empty, 0), link(hello, 6)}, []uint64{0, 6}, nil),
		file(nil, []content.Link{link(hello, 6)}, []uint64{0}, nil), // a leaf said to be empty is never fetched
		fuzzFileNodeBytes(content.TypeRaw, []byte("raw"), nil, nil, nil),
		// invalid
		file(nil, []content.Link{link(hello, 6)}, []uint64{5}, nil),                                 // leaf size wrong
		file(nil, []content.Link{link(hello, 6)}, []uint64{6}, fuzzPtr(uint64(7))),                  // filesize wrong
		file(nil, []content.Link{link(hello, 6), link(hello, 6)}, []uint64{6}, nil),                 // sizes vs links
		file(nil, []content.Link{link(fx.notStored.CID(), 12)}, []uint64{12}, nil),                  // missing leaf
		file(nil, []content.Link{link(fx.dir.CID(), 10)}, []uint64{10}, nil),                        // child is a directory
		file(nil, []content.Link{link(fuzzCIDv0(f, []byte("x")), 1)}, []uint64{1}, nil),             // CIDv0 child
		file(nil, []content.Link{link(hello, 6), link(hello, 6)}, []uint64{math.MaxUint64, 2}, nil), // sizes overflow
		file(nil, []content.Link{link(hello, 6)}, []uint64{1 << 40}, nil),                           // huge leaf
		file(nil, []content.Link{link(mid.CID, mid.Tsize)}, []uint64{mid.FileSize + 1}, nil),        // child size wrong
		file([]byte("x"), []content.Link{link(fx.inlineNode.CID(), 0)}, []uint64{12}, nil),          // child size wrong
		content.PBNode{Links: []content.Link{link(hello, 6)}}.Encode(),                              // no UnixFS data
		content.PBNode{Data: []byte{0xff}}.Encode(),                                                 // bad UnixFS data
		fuzzFileNodeBytes(content.TypeFile, nil, []content.Link{{CID: hello, Name: "named"}}, []uint64{6}, nil),
		fx.dir.Data(),     // a directory
		fx.symlink.Data(), // a symlink
		fx.hamt8[len(fx.hamt8)-1].Data(),
		big.CID.Bytes(),
		{},
		{0x00, 0x01, 0x02},
	} {
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := content.NewBlock(content.CodecDagPB, data)
		if err != nil {
			return // over MaxBlockSize
		}
		store := fx.store(t, root)
		fuzzWithin(t, func() []string { return fuzzCheckFile(bufferStore{store}, root.CID()) })
	})
}

// fuzzCheckFile opens and reads the file root in g and returns what is
// wrong with the results.
func fuzzCheckFile(g content.BlockGetter, root cid.Cid) (bad []string) {
	fail := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	ctx, cancel := context.WithTimeout(context.Background(), fuzzHangLimit/2)
	defer cancel()
	defer func() {
		if ctx.Err() != nil {
			fail("still working when the context expired: hang")
		}
	}()

	r, err := content.NewFileReader(ctx, g, root, 0)
	if err != nil {
		if r != nil {
			fail("NewFileReader returned both a reader and %v", err)
		}
		return
	}
	defer r.Close()
	size := r.Size()
	all, err := io.ReadAll(io.LimitReader(r, fuzzReadLimit))
	if err == nil && int64(len(all)) != min(size, fuzzReadLimit) {
		fail("read %d bytes without error, but Size() is %d (read limit %d)", len(all), size, fuzzReadLimit)
	}
	// whole: the file read back completely, so every other way of reading
	// it must succeed and agree.
	whole := err == nil && size >= 0 && size <= fuzzReadLimit && int64(len(all)) == size
	if size < 0 {
		return
	}

	// ReadAt at the start, the middle and the end, within one leaf and
	// across leaves, then at and past the end and before the start.
	offsets := []int64{0, size / 3, size / 2, size - 1, size - 17}
	for _, off := range offsets {
		if off < 0 || off >= size {
			continue
		}
		for _, n := range []int{1, 16, 1500} {
			p := make([]byte, n)
			got, err := r.ReadAt(p, off)
			switch {
			case got < 0 || got > n:
				fail("ReadAt(%d bytes, %d) returned n=%d", n, off, got)
			case got < n && err == nil:
				fail("ReadAt(%d bytes, %d) returned n=%d and no error", n, off, got)
			case err == nil || err == io.EOF:
				if err == io.EOF && off+int64(got) != size {
					fail("ReadAt(%d bytes, %d) returned n=%d and EOF, file size %d", n, off, got, size)
				}
				if whole && int64(got) <= size-off && !bytes.Equal(p[:got], all[off:off+int64(got)]) {
					fail("ReadAt(%d bytes, %d) returned bytes that differ from a full read", n, off)
				}
			case whole:
				fail("ReadAt(%d bytes, %d) failed though the whole file read: %v", n, off, err)
			}
		}
	}
	if got, err := r.ReadAt(make([]byte, 4), size); got != 0 || err != io.EOF {
		fail("ReadAt at the end (%d) returned %d, %v; want 0, EOF", size, got, err)
	}
	if got, err := r.ReadAt(make([]byte, 4), -1); got != 0 || err == nil {
		fail("ReadAt at -1 returned %d, %v; want an error", got, err)
	}
	if !whole {
		return
	}

	// A second reader, with little read-ahead: WriteTo, then Seek and Read.
	r2, err := content.NewFileReader(ctx, g, root, 1)
	if err != nil {
		fail("second NewFileReader failed: %v", err)
		return
	}
	defer r2.Close()
	var buf bytes.Buffer
	if n, err := r2.WriteTo(&buf); err != nil || n != size || !bytes.Equal(buf.Bytes(), all) {
		fail("WriteTo wrote %d bytes (same as ReadAll: %v), err %v; Size() %d", n, bytes.Equal(buf.Bytes(), all), err, size)
	}
	mid := size / 2
	if pos, err := r2.Seek(mid, io.SeekStart); err != nil || pos != mid {
		fail("Seek(%d) = %d, %v", mid, pos, err)
		return
	}
	if rest, err := io.ReadAll(r2); err != nil || !bytes.Equal(rest, all[mid:]) {
		fail("after Seek(%d), read %d bytes (want %d, same: %v), err %v", mid, len(rest), size-mid, bytes.Equal(rest, all[mid:]), err)
	}
	return
}

// ---------------------------------------------------------------------------
// 4. Directory reader

func FuzzReadDirectory(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, b := range [][]byte{fx.dir.Data(), fx.emptyDir.Data(), fx.nestedDir.Data(), fx.symlink.Data(), fx.bigRoot.CID.Bytes()} {
		f.Add(b)
	}
	for _, b := range slices.Concat(fx.hamt8, fx.hamt256) {
		f.Add(b.Data())
	}
	for _, b := range fx.fileNodes {
		f.Add(b.Data())
	}
	hello := fx.hello.CID()
	dir := func(links ...content.Link) []byte {
		return content.PBNode{Links: links, Data: content.FSData{Type: content.TypeDirectory}.Encode()}.Encode()
	}
	shard := func(fanout uint64, hash *uint64, links ...content.Link) []byte {
		d := content.FSData{Type: content.TypeHAMTShard, Data: []byte{0xff}, HashType: hash, Fanout: &fanout}
		return content.PBNode{Links: links, Data: d.Encode()}.Encode()
	}
	murmur := fuzzPtr(uint64(0x22))
	named := func(name string, c cid.Cid) content.Link { return content.Link{CID: c, Name: name, Tsize: 1} }
	subShard := fx.hamt8[0].CID() // a sub-shard of the fanout-8 HAMT (children come first)
	var nine []content.Link
	for i := range 9 {
		nine = append(nine, named(fmt.Sprintf("%dx%d", i%8, i), hello))
	}
	for _, b := range [][]byte{
		// valid
		dir(named("zeta", hello), named("alpha", hello), named("mid", fx.dir.CID())), // unsorted, output is sorted
		dir(named("v0", fuzzCIDv0(f, []byte("v0")))),
		shard(16, murmur, named("0a", hello), named("Fb", hello), named("3", fx.hamt8[len(fx.hamt8)-1].CID())),
		shard(8, murmur, named("1", subShard), named("2entry", hello)),
		// invalid
		dir(named("..", hello)),
		dir(named(".", hello)),
		dir(named("a/b", hello)),
		dir(named("", hello)),
		dir(named("nul\x00", hello)),
		dir(named("x", hello), named("x", fx.empty.CID())),
		shard(7, murmur, named("0a", hello)),
		shard(1<<17, murmur, named("0000a", hello)),
		shard(8, nil, named("0a", hello)),
		shard(8, fuzzPtr(uint64(0x11)), named("0a", hello)),
		shard(8, murmur, nine...),
		shard(256, murmur, named("0", hello)),                        // name shorter than the pad
		shard(8, murmur, named("0", fx.dir.CID())),                   // sub-shard is a basic directory
		shard(8, murmur, named("0", hello)),                          // sub-shard is a raw leaf
		shard(8, murmur, named("0", fx.notStored.CID())),             // sub-shard missing
		shard(8, murmur, named("0", subShard), named("1", subShard)), // the same entries twice
		shard(8, murmur, named("0..", hello)),
		content.PBNode{Links: []content.Link{named("a", hello)}}.Encode(), // no UnixFS data
		content.PBNode{Data: []byte{0x08}}.Encode(),                       // bad UnixFS data
		{},
	} {
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := content.NewBlock(content.CodecDagPB, data)
		if err != nil {
			return
		}
		store := fx.store(t, root)
		fuzzWithin(t, func() []string { return fuzzCheckDirectory(store, root.CID()) })
	})
}

func fuzzCheckDirectory(g content.BlockGetter, root cid.Cid) (bad []string) {
	fail := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	ctx, cancel := context.WithTimeout(context.Background(), fuzzHangLimit/2)
	defer cancel()
	defer func() {
		if ctx.Err() != nil {
			fail("still working when the context expired: hang")
		}
	}()
	entries, err := content.ReadDirectory(ctx, g, root)
	if err != nil {
		return
	}
	for i, e := range entries {
		if err := content.CheckName(e.Name); err != nil {
			fail("entry %d: %v", i, err)
		}
		if !e.CID.Defined() {
			fail("entry %d (%q) has an undefined CID", i, e.Name)
		}
		if i > 0 && entries[i-1].Name >= e.Name {
			fail("entries %d and %d out of order or repeated: %q, %q", i-1, i, entries[i-1].Name, e.Name)
		}
	}
	return
}

// ---------------------------------------------------------------------------
// 5. Disk store verification

// FuzzDiskStoreGet replaces the file a DiskStore keeps for a valid block
// with the fuzzed bytes (extended past MaxBlockSize by a sparse hole when
// oversize is set) and checks Get either returns the valid block or
// reports it corrupt and quarantines the file, nothing else.
//
// Each fuzzing process opens one store (in f.TempDir; opening one per
// iteration would test the open, not Get) and every iteration puts it back
// in the same state first: the valid block stored, nothing else, the
// quarantine emptied.
func FuzzDiskStoreGet(f *testing.F) {
	valid := []byte("meshfs fuzz: the one valid block in the store\n")
	blk := fuzzMust(content.NewRawBlock(valid))
	c := blk.CID()
	flip := bytes.Clone(valid)
	flip[len(flip)/2] ^= 0x01
	f.Add(valid, false)
	f.Add(valid, true)
	f.Add([]byte{}, false)
	f.Add([]byte{}, true)
	f.Add(valid[:len(valid)-1], false)
	f.Add(append(bytes.Clone(valid), 0), false)
	f.Add(flip, false)
	f.Add(bytes.Repeat([]byte{0}, len(valid)), false)
	f.Add(c.Bytes(), false)

	ctx := context.Background()
	s, err := content.OpenDiskStore(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	if err := s.Put(ctx, blk); err != nil {
		f.Fatal(err)
	}
	path := fuzzFindFile(f, s.Dir(), c.String())

	f.Fuzz(func(t *testing.T, data []byte, oversize bool) {
		// The store holds exactly the valid block, intact.
		if err := s.Put(ctx, blk); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, valid) {
			t.Fatalf("block file before the test: %v (intact %v)", err, bytes.Equal(b, valid))
		}
		fuzzCheckCount(t, s, c, true, 1)

		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fileSize := int64(len(data))
		if oversize && fileSize <= content.MaxBlockSize {
			fileSize = content.MaxBlockSize + 1
			if err := os.Truncate(path, fileSize); err != nil {
				t.Fatal(err)
			}
		}
		intact := fileSize == int64(len(valid)) && bytes.Equal(data, valid)

		got, err := s.Get(ctx, c)
		if intact {
			if err != nil {
				t.Fatalf("Get of the intact block: %v", err)
			}
			if !got.CID().Equals(c) || !bytes.Equal(got.Data(), valid) {
				t.Fatalf("Get of the intact block returned %v", got)
			}
			fuzzCheckCount(t, s, c, true, 1)
			return
		}
		if err == nil {
			t.Fatalf("Get of a corrupt file (%d bytes) returned %v and no error", fileSize, got)
		}
		var cerr *content.CorruptBlockError
		if !errors.Is(err, content.ErrCorruptBlock) || !errors.As(err, &cerr) {
			t.Fatalf("Get of a corrupt file (%d bytes): %v (%T), want a *CorruptBlockError", fileSize, err, err)
		}
		if cerr.Quarantined != "" {
			defer os.Remove(cerr.Quarantined) // keep the quarantine from filling up
		}
		if got.Defined() {
			t.Fatalf("Get returned %v along with %v", got, err)
		}
		if !cerr.CID.Equals(c) {
			t.Fatalf("CorruptBlockError names %s, want %s", cerr.CID, c)
		}
		wantReason := content.ErrHashMismatch
		if fileSize > content.MaxBlockSize {
			wantReason = content.ErrBlockTooLarge
		}
		if !errors.Is(err, wantReason) {
			t.Errorf("corrupt file of %d bytes: reason %v, want %v", fileSize, cerr.Reason, wantReason)
		}
		// The bad copy is kept, unchanged, in quarantine.
		if cerr.Quarantined == "" {
			t.Errorf("corrupt file not quarantined: %v", err)
		} else if fi, err := os.Stat(cerr.Quarantined); err != nil || fi.Size() != fileSize {
			t.Errorf("quarantined copy: %v, %v; want %d bytes", fi, err, fileSize)
		} else if fileSize == int64(len(data)) {
			if q, err := os.ReadFile(cerr.Quarantined); err != nil || !bytes.Equal(q, data) {
				t.Errorf("quarantined copy differs from the corrupt file (err %v)", err)
			}
		}
		fuzzCheckCount(t, s, c, false, 0)
		if _, err := s.Get(ctx, c); !errors.Is(err, content.ErrNotFound) {
			t.Errorf("Get after quarantine: %v, want ErrNotFound", err)
		}
	})
}

func fuzzCheckCount(t *testing.T, s *content.DiskStore, c cid.Cid, wantHas bool, wantBlocks int64) {
	t.Helper()
	ctx := context.Background()
	if has, err := s.Has(ctx, c); err != nil || has != wantHas {
		t.Errorf("Has = %v, %v; want %v", has, err, wantHas)
	}
	if st, err := s.Stat(ctx); err != nil || st.Blocks != wantBlocks {
		t.Errorf("Stat = %+v, %v; want %d blocks", st, err, wantBlocks)
	}
}

// fuzzFindFile walks dir for the regular file called name.
func fuzzFindFile(t testing.TB, dir, name string) string {
	t.Helper()
	var found string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && d.Name() == name {
			found = p
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == "" {
		t.Fatalf("no file %s under %s", name, dir)
	}
	return found
}

// ---------------------------------------------------------------------------
// 6. CIDs

func FuzzParseCID(f *testing.F) {
	fx := newFuzzFixture(f)
	raw, pb := fx.hello.CID(), fx.bigRoot.CID
	for _, c := range []cid.Cid{raw, pb, fx.empty.CID()} {
		s := c.String()
		f.Add(s)
		f.Add("B" + strings.ToUpper(s[1:]))        // base32 upper
		f.Add("f" + hex.EncodeToString(c.Bytes())) // base16
		f.Add(s[:len(s)-1])                        // truncated
		f.Add(s + "a")                             // extended
	}
	f.Add(fuzzCIDv0(f, []byte("v0")).String())
	f.Add(cid.NewCidV1(0x71, raw.Hash()).String())                                                // dag-cbor codec
	f.Add(fuzzMust(cid.Cast([]byte{0x01, 0x55, 0x00, 0x03, 'a', 'b', 'c'})).String())             // identity hash
	f.Add(fuzzMust(cid.Cast(fuzzCat([]byte{0x01, 0x55, 0x12, 0x10}, make([]byte, 16)))).String()) // short sha2-256
	f.Add(fuzzMust(cid.Cast(fuzzCat([]byte{0x01, 0x55, 0x13, 0x40}, make([]byte, 64)))).String()) // sha2-512
	for _, s := range []string{"", "b", "z", "Qm", "bafy", " " + raw.String(), "bafkqaaa", "\x00", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, s string) {
		c, err := content.ParseCID(s)
		if err != nil {
			if !errors.Is(err, content.ErrUnsupportedCID) {
				t.Fatalf("ParseCID(%q): %v does not wrap ErrUnsupportedCID", s, err)
			}
			if c.Defined() {
				t.Fatalf("ParseCID(%q) returned %s along with %v", s, c, err)
			}
			return
		}
		if err := content.CheckCID(c); err != nil {
			t.Fatalf("ParseCID(%q) returned %s, which CheckCID refuses: %v", s, c, err)
		}
		c2, err := content.ParseCID(c.String())
		if err != nil {
			t.Fatalf("ParseCID(%q) = %s, which does not parse again: %v", s, c, err)
		}
		if !c2.Equals(c) || c2.String() != c.String() {
			t.Fatalf("ParseCID(%q) = %s, then %s", s, c, c2)
		}
	})
}

// fuzzRefused reports whether a decoder refused its input, failing the test
// if the refusal does not wrap ErrMalformed.
func fuzzRefused(t *testing.T, err error) bool {
	t.Helper()
	if err != nil && !errors.Is(err, content.ErrMalformed) {
		t.Fatalf("error does not wrap ErrMalformed: %v", err)
	}
	return err != nil
}
