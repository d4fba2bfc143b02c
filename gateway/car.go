package gateway

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// Limits of the CAR reader. A header or section over them is refused
// before it is buffered.
const (
	// MaxCARHeaderSize bounds the encoded CARv1 header.
	MaxCARHeaderSize = 1 << 20
	// MaxCARCIDSize bounds the CID at the start of a section.
	MaxCARCIDSize = 128
	// MaxCARSectionSize bounds a section: a CID and a block of at most
	// content.MaxBlockSize bytes.
	MaxCARSectionSize = content.MaxBlockSize + MaxCARCIDSize
)

// CBOR major types used by the CARv1 header.
const (
	cborUint  = 0
	cborBytes = 2
	cborText  = 3
	cborArray = 4
	cborMap   = 5
	cborTag   = 6
	cborTagID = 42 // a CID, as dag-cbor links are tagged
)

// CARWriter writes a CARv1 stream: the header, then one section per block.
// It writes straight through to its io.Writer, so it holds no more than
// the block it is given.
type CARWriter struct {
	w   io.Writer
	buf []byte // section prefix: length varint and CID
}

// NewCARWriter writes the CARv1 header naming roots to w and returns a
// writer for the blocks that follow.
func NewCARWriter(w io.Writer, roots ...cid.Cid) (*CARWriter, error) {
	h, err := encodeCARHeader(roots)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(h); err != nil {
		return nil, err
	}
	return &CARWriter{w: w}, nil
}

// WriteBlock appends b as a section. A content.Block is verified by
// construction, so the stream holds nothing that does not match its CID.
func (cw *CARWriter) WriteBlock(b content.Block) error {
	if !b.Defined() {
		return errors.New("gateway: write of an undefined block")
	}
	cw.buf = appendSectionHead(cw.buf[:0], b.CID(), len(b.Data()))
	if _, err := cw.w.Write(cw.buf); err != nil {
		return err
	}
	_, err := cw.w.Write(b.Data())
	return err
}

// appendSectionHead appends the length varint and CID of a section whose
// block is n bytes long.
func appendSectionHead(dst []byte, c cid.Cid, n int) []byte {
	dst = binary.AppendUvarint(dst, uint64(c.ByteLen()+n))
	return append(dst, c.Bytes()...)
}

// encodeCARHeader returns the length-prefixed dag-cbor header
// {"roots": [roots...], "version": 1}, keys in dag-cbor's length-first
// order.
func encodeCARHeader(roots []cid.Cid) ([]byte, error) {
	var h []byte
	h = appendCBORHead(h, cborMap, 2)
	h = appendCBORText(h, "roots")
	h = appendCBORHead(h, cborArray, uint64(len(roots)))
	for _, r := range roots {
		if !r.Defined() {
			return nil, errors.New("gateway: undefined CAR root")
		}
		h = appendCBORHead(h, cborTag, cborTagID)
		h = appendCBORHead(h, cborBytes, uint64(1+r.ByteLen()))
		h = append(h, 0) // the multibase prefix of binary CIDs
		h = append(h, r.Bytes()...)
	}
	h = appendCBORText(h, "version")
	h = appendCBORHead(h, cborUint, 1)
	if len(h) > MaxCARHeaderSize {
		return nil, fmt.Errorf("gateway: CAR header of %d bytes, limit %d", len(h), MaxCARHeaderSize)
	}
	return append(binary.AppendUvarint(nil, uint64(len(h))), h...), nil
}

// appendCBORHead appends a CBOR item head in its shortest form, as
// dag-cbor requires.
func appendCBORHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

func appendCBORText(b []byte, s string) []byte {
	return append(appendCBORHead(b, cborText, uint64(len(s))), s...)
}

// CARReader reads a CARv1 stream strictly: the header must be the
// canonical dag-cbor {"roots": [...], "version": 1} and nothing else,
// varints must be minimal, and every section must hold a CID and at most
// content.MaxBlockSize bytes. It does not trust its input: nothing larger
// than the limits is buffered, and blocks are only verified by NextBlock.
type CARReader struct {
	r     *bufio.Reader
	roots []cid.Cid
	err   error // sticky: the reader stops at its first error
}

// NewCARReader reads the CAR header from r.
func NewCARReader(r io.Reader) (*CARReader, error) {
	cr := &CARReader{r: bufio.NewReaderSize(r, 64<<10)}
	n, err := cr.uvarint(MaxCARHeaderSize, "header")
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: empty stream: %w", ErrBadCAR, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty header", ErrBadCAR)
	}
	h := make([]byte, n)
	if _, err := io.ReadFull(cr.r, h); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrBadCAR, unexpected(err))
	}
	if cr.roots, err = decodeCARHeader(h); err != nil {
		return nil, err
	}
	return cr, nil
}

// Roots returns the CIDs the header names.
func (cr *CARReader) Roots() []cid.Cid { return slices.Clone(cr.roots) }

// Next returns the next section's CID and bytes, which it has not checked
// against each other; io.EOF after the last section. The bytes are the
// caller's to keep.
func (cr *CARReader) Next() (cid.Cid, []byte, error) {
	if cr.err != nil {
		return cid.Undef, nil, cr.err
	}
	c, data, err := cr.next()
	if err != nil {
		cr.err = err
	}
	return c, data, err
}

// NextBlock is Next, with the bytes checked against the CID (which must be
// one meshfs stores, see content.CheckCID).
func (cr *CARReader) NextBlock() (content.Block, error) {
	c, data, err := cr.Next()
	if err != nil {
		return content.Block{}, err
	}
	b, err := content.BlockFromCID(c, data)
	if err != nil {
		cr.err = err
		return content.Block{}, err
	}
	return b, nil
}

func (cr *CARReader) next() (cid.Cid, []byte, error) {
	n, err := cr.uvarint(MaxCARSectionSize, "section")
	if err != nil {
		return cid.Undef, nil, err // io.EOF exactly at a section boundary
	}
	if n == 0 {
		return cid.Undef, nil, fmt.Errorf("%w: empty section", ErrBadCAR)
	}
	sec := make([]byte, n)
	if _, err := io.ReadFull(cr.r, sec); err != nil {
		return cid.Undef, nil, fmt.Errorf("%w: section: %w", ErrBadCAR, unexpected(err))
	}
	k, c, err := cid.CidFromBytes(sec[:min(len(sec), MaxCARCIDSize)])
	if err != nil {
		return cid.Undef, nil, fmt.Errorf("%w: section CID: %v", ErrBadCAR, err)
	}
	if len(sec)-k > content.MaxBlockSize {
		return cid.Undef, nil, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrBadCAR, c, len(sec)-k, content.MaxBlockSize)
	}
	return c, sec[k:], nil
}

// uvarint reads a minimal unsigned varint of at most limit. It returns
// io.EOF only if the stream ends before its first byte.
func (cr *CARReader) uvarint(limit uint64, what string) (uint64, error) {
	var v uint64
	for i := 0; ; i++ {
		b, err := cr.r.ReadByte()
		if err != nil {
			if i == 0 && errors.Is(err, io.EOF) {
				return 0, io.EOF
			}
			return 0, fmt.Errorf("%w: %s length: %w", ErrBadCAR, what, unexpected(err))
		}
		v |= uint64(b&0x7f) << (7 * i)
		if v > limit {
			return 0, fmt.Errorf("%w: %s of %d bytes or more, limit %d", ErrBadCAR, what, v, limit)
		}
		if b < 0x80 {
			if i > 0 && b == 0 {
				return 0, fmt.Errorf("%w: %s length is not a minimal varint", ErrBadCAR, what)
			}
			return v, nil
		}
		// A limit below 2^35 is exceeded by a sixth byte, or the varint
		// is not minimal; either way the loop ends.
		if i == 5 {
			return 0, fmt.Errorf("%w: %s length varint too long", ErrBadCAR, what)
		}
	}
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// decodeCARHeader parses the dag-cbor header; it accepts exactly what
// encodeCARHeader writes, for any roots.
func decodeCARHeader(h []byte) ([]cid.Cid, error) {
	d := cborDecoder{b: h}
	if err := d.expect(cborMap, 2, "header map of two entries"); err != nil {
		return nil, err
	}
	if err := d.text("roots"); err != nil {
		return nil, err
	}
	n, err := d.head(cborArray)
	if err != nil {
		return nil, err
	}
	if n > uint64(len(h)) {
		return nil, fmt.Errorf("%w: header claims %d roots", ErrBadCAR, n)
	}
	roots := make([]cid.Cid, 0, n)
	for range n {
		if err := d.expect(cborTag, cborTagID, "CID tag 42"); err != nil {
			return nil, err
		}
		b, err := d.bytes()
		if err != nil {
			return nil, err
		}
		if len(b) < 2 || b[0] != 0 {
			return nil, fmt.Errorf("%w: root CID without its 0x00 prefix", ErrBadCAR)
		}
		c, err := cid.Cast(b[1:])
		if err != nil {
			return nil, fmt.Errorf("%w: root CID: %v", ErrBadCAR, err)
		}
		roots = append(roots, c)
	}
	if err := d.text("version"); err != nil {
		return nil, err
	}
	v, err := d.head(cborUint)
	if err != nil {
		return nil, err
	}
	if v != 1 {
		return nil, fmt.Errorf("%w: CAR version %d, only version 1 is read", ErrBadCAR, v)
	}
	if d.off != len(h) {
		return nil, fmt.Errorf("%w: %d bytes after the header", ErrBadCAR, len(h)-d.off)
	}
	return roots, nil
}

// cborDecoder reads the few dag-cbor items of a CAR header, refusing
// anything that is not in dag-cbor's canonical form.
type cborDecoder struct {
	b   []byte
	off int
}

// head reads an item head of the given major type and returns its
// argument, which must be in its shortest form.
func (d *cborDecoder) head(major byte) (uint64, error) {
	if d.off >= len(d.b) {
		return 0, fmt.Errorf("%w: header ends early", ErrBadCAR)
	}
	ib := d.b[d.off]
	d.off++
	if ib>>5 != major {
		return 0, fmt.Errorf("%w: header has CBOR major type %d where %d belongs", ErrBadCAR, ib>>5, major)
	}
	info := ib & 0x1f
	if info < 24 {
		return uint64(info), nil
	}
	if info > 27 {
		return 0, fmt.Errorf("%w: header has CBOR additional info %d (indefinite or reserved)", ErrBadCAR, info)
	}
	size := 1 << (info - 24)
	if len(d.b)-d.off < size {
		return 0, fmt.Errorf("%w: header ends early", ErrBadCAR)
	}
	var v uint64
	for _, c := range d.b[d.off : d.off+size] {
		v = v<<8 | uint64(c)
	}
	d.off += size
	if least := [...]uint64{24, 1 << 8, 1 << 16, 1 << 32}[info-24]; v < least {
		return 0, fmt.Errorf("%w: header has a non-minimal CBOR integer", ErrBadCAR)
	}
	return v, nil
}

func (d *cborDecoder) expect(major byte, want uint64, what string) error {
	v, err := d.head(major)
	if err != nil {
		return err
	}
	if v != want {
		return fmt.Errorf("%w: header: want %s", ErrBadCAR, what)
	}
	return nil
}

// payload reads a byte or text string: its head, then its contents.
func (d *cborDecoder) payload(major byte) ([]byte, error) {
	n, err := d.head(major)
	if err != nil {
		return nil, err
	}
	if n > uint64(len(d.b)-d.off) {
		return nil, fmt.Errorf("%w: header string runs past its end", ErrBadCAR)
	}
	v := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return v, nil
}

func (d *cborDecoder) bytes() ([]byte, error) { return d.payload(cborBytes) }

func (d *cborDecoder) text(want string) error {
	v, err := d.payload(cborText)
	if err != nil {
		return err
	}
	if string(v) != want {
		return fmt.Errorf("%w: header key %q where %q belongs", ErrBadCAR, v, want)
	}
	return nil
}
