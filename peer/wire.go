package peer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/protocol"

	"meshfs/content"
)

// BlockProtocol is the libp2p protocol that moves blocks between peers.
//
// One request per stream. The requester writes a request frame and, for a
// put, one block frame per block, then closes its write side; the responder
// answers with a status frame (have, put) or one block frame per CID in
// request order (get). A frame is a uvarint length and that many bytes:
//
//	request: op (1 have, 2 get, 3 put) | uvarint n | have/get: n × (uvarint len | CID)
//	block:   status | uvarint len | CID | data (the rest of the frame)
//	status:  uvarint n | n status bytes
const BlockProtocol = protocol.ID("/meshfs/block/1.0.0")

// Block-protocol limits. A frame longer than its kind allows ends the stream.
const (
	// MaxBatch is the most CIDs or blocks one request may carry.
	MaxBatch = 256
	// maxCIDLen bounds one CID's bytes (a sha2-256 CIDv1 is 36).
	maxCIDLen = 64
	// maxRequestFrame bounds a request frame.
	maxRequestFrame = 1 + 2*binary.MaxVarintLen64 + MaxBatch*(1+maxCIDLen)
	// maxBlockFrame bounds a block frame: a whole block and its CID.
	maxBlockFrame = 1 + 1 + maxCIDLen + content.MaxBlockSize
	// maxStatusFrame bounds a status frame.
	maxStatusFrame = binary.MaxVarintLen64 + MaxBatch
)

type op byte

const (
	opHave    op = 1
	opGet     op = 2
	opPut     op = 3
	opLease   op = 4 // have, and lease each block (package gc, rules C1 and P)
	opRelease op = 5 // have, and release each block at a commit index (rule C2)
)

func (o op) String() string {
	switch o {
	case opHave:
		return "have"
	case opGet:
		return "get"
	case opPut:
		return "put"
	case opLease:
		return "lease"
	case opRelease:
		return "release"
	}
	return fmt.Sprintf("op(%d)", byte(o))
}

// status is one CID's outcome in a response.
type status byte

const (
	statusOK       status = 0 // have: held; get: data follows; put: durable
	statusNotFound status = 1 // not held
	statusRejected status = 2 // put: bytes do not match the CID, or too large
	statusFailed   status = 3 // the responder could not do it (store error, busy)
)

func (s status) String() string {
	switch s {
	case statusOK:
		return "ok"
	case statusNotFound:
		return "not found"
	case statusRejected:
		return "rejected"
	case statusFailed:
		return "failed"
	}
	return fmt.Sprintf("status(%d)", byte(s))
}

// request is a decoded request frame.
type request struct {
	op    op
	n     int       // number of CIDs (have, get, lease, release) or block frames that follow (put)
	cids  []cid.Cid // have, get, lease, release
	index uint64    // release: the commit index, > 0
}

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// writeFrame writes one frame whose body is the concatenation of parts.
func writeFrame(w *bufio.Writer, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	var hdr [binary.MaxVarintLen64]byte
	if _, err := w.Write(hdr[:binary.PutUvarint(hdr[:], uint64(n))]); err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// errOversized marks a frame longer than its kind allows.
var errOversized = errors.New("oversized frame")

// readFrame reads one frame of at most limit bytes into buf (grown if
// needed) and returns it. A clean end of stream before the frame is io.EOF.
func readFrame(r *bufio.Reader, limit int, buf []byte) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, protoErr("frame length: %v", err)
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("%w: %w: %d bytes, limit %d", ErrProtocol, errOversized, n, limit)
	}
	if uint64(cap(buf)) >= n {
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, protoErr("frame body: %v", io.ErrUnexpectedEOF)
		}
		return buf, nil
	}
	// The buffer grows as the bytes arrive (doubling, from frameChunk), so
	// a peer that announces a large frame and sends little of it costs
	// little memory.
	buf = buf[:0]
	for uint64(len(buf)) < n {
		k := int(min(n-uint64(len(buf)), uint64(max(frameChunk, len(buf)))))
		buf = slices.Grow(buf, k)
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+got]
		if err != nil {
			return nil, protoErr("frame body: %v", io.ErrUnexpectedEOF)
		}
	}
	return buf, nil
}

// frameChunk is how much of a frame readFrame reads before it grows its
// buffer for more.
const frameChunk = 64 << 10

// uvarint decodes a minimally encoded uvarint from b and returns it and
// the bytes it took; k <= 0 on malformed or overlong input, so that every
// message has one encoding.
func uvarint(b []byte) (v uint64, k int) {
	v, k = binary.Uvarint(b)
	if k > 0 && k != len(binary.AppendUvarint(nil, v)) {
		return 0, -1
	}
	return v, k
}

func appendCID(b []byte, c cid.Cid) []byte {
	cb := c.Bytes()
	b = binary.AppendUvarint(b, uint64(len(cb)))
	return append(b, cb...)
}

// readCID reads a length-prefixed CID from b and returns it and the rest.
func readCID(b []byte) (cid.Cid, []byte, error) {
	n, k := uvarint(b)
	if k <= 0 {
		return cid.Undef, nil, protoErr("CID length")
	}
	b = b[k:]
	if n == 0 || n > maxCIDLen || n > uint64(len(b)) {
		return cid.Undef, nil, protoErr("CID of %d bytes", n)
	}
	c, err := cid.Cast(b[:n])
	if err != nil {
		return cid.Undef, nil, protoErr("CID: %v", err)
	}
	if err := content.CheckCID(c); err != nil {
		return cid.Undef, nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return c, b[n:], nil
}

// encodeRequest encodes a request: op, then for a release its commit
// index, then the count of CIDs or blocks, then the CIDs (not for a put).
func encodeRequest(o op, cids []cid.Cid, nBlocks int) []byte {
	return encodeRequestAt(o, 0, cids, nBlocks)
}

func encodeRequestAt(o op, index uint64, cids []cid.Cid, nBlocks int) []byte {
	b := []byte{byte(o)}
	if o == opRelease {
		b = binary.AppendUvarint(b, index)
	}
	if o == opPut {
		return binary.AppendUvarint(b, uint64(nBlocks))
	}
	b = binary.AppendUvarint(b, uint64(len(cids)))
	for _, c := range cids {
		b = appendCID(b, c)
	}
	return b
}

func decodeRequest(b []byte) (request, error) {
	if len(b) == 0 {
		return request{}, protoErr("empty request")
	}
	req := request{op: op(b[0])}
	if req.op < opHave || req.op > opRelease {
		return request{}, protoErr("unknown op %d", b[0])
	}
	b = b[1:]
	if req.op == opRelease {
		idx, k := uvarint(b)
		if k <= 0 || idx == 0 {
			return request{}, protoErr("release index")
		}
		req.index, b = idx, b[k:]
	}
	n, k := uvarint(b)
	if k <= 0 {
		return request{}, protoErr("request count")
	}
	if n == 0 || n > MaxBatch {
		return request{}, protoErr("batch of %d, limit %d", n, MaxBatch)
	}
	req.n = int(n)
	rest := b[k:]
	if req.op == opPut {
		if len(rest) != 0 {
			return request{}, protoErr("trailing bytes after put request")
		}
		return req, nil
	}
	req.cids = make([]cid.Cid, 0, n)
	for range n {
		c, r, err := readCID(rest)
		if err != nil {
			return request{}, err
		}
		req.cids = append(req.cids, c)
		rest = r
	}
	if len(rest) != 0 {
		return request{}, protoErr("trailing bytes after request")
	}
	return req, nil
}

// blockHeader returns the bytes of a block frame that precede the data.
func blockHeader(s status, c cid.Cid) []byte {
	return appendCID([]byte{byte(s)}, c)
}

// decodeBlockFrame splits a block frame. data aliases b.
func decodeBlockFrame(b []byte) (s status, c cid.Cid, data []byte, err error) {
	if len(b) == 0 {
		return 0, cid.Undef, nil, protoErr("empty block frame")
	}
	s = status(b[0])
	if s > statusFailed {
		return 0, cid.Undef, nil, protoErr("unknown status %d", b[0])
	}
	c, data, err = readCID(b[1:])
	if err != nil {
		return 0, cid.Undef, nil, err
	}
	if s != statusOK && len(data) != 0 {
		return 0, cid.Undef, nil, protoErr("data with status %v", s)
	}
	if len(data) > content.MaxBlockSize {
		return 0, cid.Undef, nil, fmt.Errorf("%w: %w", ErrProtocol, content.ErrBlockTooLarge)
	}
	return s, c, data, nil
}

func encodeStatuses(ss []status) []byte {
	b := binary.AppendUvarint(nil, uint64(len(ss)))
	for _, s := range ss {
		b = append(b, byte(s))
	}
	return b
}

// decodeStatuses decodes a status frame that must answer want CIDs.
func decodeStatuses(b []byte, want int) ([]status, error) {
	n, k := uvarint(b)
	if k <= 0 {
		return nil, protoErr("status count")
	}
	if n != uint64(want) || len(b)-k != want {
		return nil, protoErr("%d statuses for %d CIDs", n, want)
	}
	ss := make([]status, want)
	for i, x := range b[k:] {
		if status(x) > statusFailed {
			return nil, protoErr("unknown status %d", x)
		}
		ss[i] = status(x)
	}
	return ss, nil
}
