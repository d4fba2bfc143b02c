package peer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	dhtrecord "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/core/routing"

	"meshfs/content"
)

// A namespace's root record says which root CID the namespace's writer (the
// Raft leader among its voters) committed at which (term, index). The writer
// signs it in a libp2p signed envelope ([SignRootRecord]) and publishes it in
// meshfs's DHT under [RootRecordKey] ([Node.PublishRoot]); a reader that
// settles for eventual consistency fetches the newest valid one there
// ([Node.FindRoot]) even when no voter answers. Every DHT peer checks records
// with [RootValidator]: only a namespace's voters may sign its records, and
// the highest (term, index) wins.

var (
	// ErrBadRootRecord reports bytes that are not a well-formed root record
	// signed by the writer it names, or a record filed under the wrong key.
	ErrBadRootRecord = errors.New("peer: bad root record")
	// ErrRootWriterNotVoter reports a root record signed by a peer that is
	// not a voter of its namespace.
	ErrRootWriterNotVoter = errors.New("peer: root record writer is not a voter")
	// ErrNoRootRecord reports that the DHT holds no valid root record for a
	// namespace.
	ErrNoRootRecord = errors.New("peer: no root record")
)

const (
	// RootRecordNamespace is the DHT record namespace of root records: the
	// record of namespace ns lives under the key "/meshfs-root/" + ns.
	RootRecordNamespace = "meshfs-root"

	// RootRecordDomain is the signature domain of root-record envelopes, so a
	// root-record signature can never pass for another record's.
	RootRecordDomain = "meshfs-root-record"

	// RootRecordCodec is the multicodec of a root record's payload, the
	// envelope's payload type (as an unsigned varint). 0x300100 lies in the
	// multicodec private-use range 0x300000–0x3fffff, which the public table
	// never assigns, so no public record type shares it.
	RootRecordCodec = 0x300100

	// MaxRootRecordSize bounds a signed root record (envelope included); an
	// RSA-4096 key and signature fit with room to spare.
	MaxRootRecordSize = 4 << 10

	// MaxNamespaceLen bounds a namespace name, in bytes.
	MaxNamespaceLen = 255

	// rootPayloadVersion is the first byte of the payload encoding below:
	// 1 without a summary, 2 with one.
	rootPayloadVersion        = 1
	rootPayloadVersionSummary = 2

	// maxPeerIDLen bounds a writer's binary peer ID: an inlined key or a
	// sha2-256 multihash is at most 44 bytes.
	maxPeerIDLen = 64
)

// RootRecord is a namespace's committed root as its writer signed it.
type RootRecord struct {
	// Namespace names the namespace: 1 to MaxNamespaceLen bytes of UTF-8
	// without control characters.
	Namespace string
	// Root is the CID of the namespace's root directory (a CIDv1 meshfs
	// accepts: raw or dag-pb over sha2-256).
	Root cid.Cid
	// Term and Index are the Raft term and log index of the committed state;
	// a record with a higher (Term, Index) supersedes a lower one.
	Term, Index uint64
	// Time is when the writer signed the record, in Unix nanoseconds; it
	// only breaks ties between records of the same (Term, Index).
	Time int64
	// Writer is the peer that signed the record.
	Writer peer.ID
	// Summary, when defined, is the CID of a UnixFS file holding the
	// garbage collector's summary of the live set as of this record (see
	// package gc); holders trust it because the writer signed it here.
	Summary cid.Cid
}

// newer reports whether r supersedes o: a higher (Term, Index), then a
// later Time.
func (r RootRecord) newer(o RootRecord) bool {
	if r.Term != o.Term {
		return r.Term > o.Term
	}
	if r.Index != o.Index {
		return r.Index > o.Index
	}
	return r.Time > o.Time
}

// RootRecordKey returns the DHT key of namespace ns's root record,
// "/meshfs-root/" + ns: the "/namespace/rest" form the DHT's namespaced
// validator dispatches on.
func RootRecordKey(ns string) string {
	return "/" + RootRecordNamespace + "/" + ns
}

// checkNamespace reports a namespace name a root record cannot carry.
func checkNamespace(ns string) error {
	switch {
	case ns == "":
		return errors.New("empty namespace")
	case len(ns) > MaxNamespaceLen:
		return fmt.Errorf("namespace of %d bytes, limit %d", len(ns), MaxNamespaceLen)
	case !utf8.ValidString(ns):
		return errors.New("namespace is not UTF-8")
	case strings.ContainsFunc(ns, unicode.IsControl):
		return fmt.Errorf("namespace %q has a control character", ns)
	}
	return nil
}

// SignRootRecord returns r sealed in a signed envelope by key, which must be
// r.Writer's key. The bytes are what [OpenRootRecord] and the DHT take. A
// record OpenRootRecord would refuse is refused here, with an error wrapping
// [ErrBadRootRecord].
func SignRootRecord(key crypto.PrivKey, r RootRecord) ([]byte, error) {
	if key == nil {
		return nil, errors.New("peer: sign root record: no key")
	}
	signer, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("peer: sign root record: %w", err)
	}
	if signer != r.Writer {
		return nil, fmt.Errorf("%w: the key of %s cannot sign for writer %s", ErrBadRootRecord, signer, r.Writer)
	}
	if _, err := encodeRootPayload(r); err != nil {
		return nil, err
	}
	env, err := record.Seal(&rootPayload{r: r}, key)
	if err != nil {
		return nil, fmt.Errorf("peer: sign root record: %w", err)
	}
	b, err := env.Marshal()
	if err != nil {
		return nil, fmt.Errorf("peer: sign root record: %w", err)
	}
	if len(b) > MaxRootRecordSize {
		return nil, fmt.Errorf("peer: sign root record: %d bytes signed, limit %d", len(b), MaxRootRecordSize)
	}
	return b, nil
}

// OpenRootRecord verifies a signed root record and decodes it. It refuses,
// with an error wrapping [ErrBadRootRecord], bytes over MaxRootRecordSize,
// an envelope that is not in canonical form, of another domain or payload
// type, or whose signature does not verify, a signer other than the record's
// Writer, and a payload the strict decoder refuses.
func OpenRootRecord(b []byte) (RootRecord, error) {
	if len(b) > MaxRootRecordSize {
		return RootRecord{}, fmt.Errorf("%w: %d bytes, limit %d", ErrBadRootRecord, len(b), MaxRootRecordSize)
	}
	var p rootPayload
	env, err := record.ConsumeTypedEnvelope(b, &p)
	if err != nil {
		return RootRecord{}, fmt.Errorf("%w: %w", ErrBadRootRecord, err)
	}
	// ConsumeTypedEnvelope checks the domain but not the payload type.
	if !bytes.Equal(env.PayloadType, p.Codec()) {
		return RootRecord{}, fmt.Errorf("%w: payload type %x, want %x", ErrBadRootRecord, env.PayloadType, p.Codec())
	}
	// One record, one encoding: no unknown or repeated envelope fields.
	if again, err := env.Marshal(); err != nil || !bytes.Equal(again, b) {
		return RootRecord{}, fmt.Errorf("%w: envelope not in canonical form", ErrBadRootRecord)
	}
	signer, err := peer.IDFromPublicKey(env.PublicKey)
	if err != nil {
		return RootRecord{}, fmt.Errorf("%w: signing key: %w", ErrBadRootRecord, err)
	}
	if signer != p.r.Writer {
		return RootRecord{}, fmt.Errorf("%w: signed by %s, names writer %s", ErrBadRootRecord, signer, p.r.Writer)
	}
	return p.r, nil
}

// rootPayload is a root record as an envelope's [record.Record]. Its payload
// encoding is strict and canonical (decoding then encoding gives the same
// bytes):
//
//	version    1 byte, 1
//	namespace  uvarint length | UTF-8 bytes
//	root       uvarint length | binary CID
//	term       uvarint
//	index      uvarint
//	time       8 bytes, big-endian two's complement
//	writer     uvarint length | binary peer ID
//	summary    uvarint length | binary CID (version 2 only)
//
// Varints are minimal; nothing may follow the last field. A record with a
// summary is version 2, one without is version 1, so records signed before
// summaries existed keep their bytes.
type rootPayload struct{ r RootRecord }

var _ record.Record = (*rootPayload)(nil)

// Domain implements [record.Record].
func (*rootPayload) Domain() string { return RootRecordDomain }

// Codec implements [record.Record]: RootRecordCodec as a uvarint.
func (*rootPayload) Codec() []byte { return binary.AppendUvarint(nil, RootRecordCodec) }

// MarshalRecord implements [record.Record].
func (p *rootPayload) MarshalRecord() ([]byte, error) { return encodeRootPayload(p.r) }

// UnmarshalRecord implements [record.Record].
func (p *rootPayload) UnmarshalRecord(b []byte) error {
	r, err := decodeRootPayload(b)
	if err != nil {
		return err
	}
	p.r = r
	return nil
}

// encodeRootPayload encodes r, refusing a record that could not be decoded.
func encodeRootPayload(r RootRecord) ([]byte, error) {
	if err := checkNamespace(r.Namespace); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRootRecord, err)
	}
	if err := content.CheckCID(r.Root); err != nil {
		return nil, fmt.Errorf("%w: root: %w", ErrBadRootRecord, err)
	}
	if err := r.Writer.Validate(); err != nil {
		return nil, fmt.Errorf("%w: writer: %w", ErrBadRootRecord, err)
	}
	version := byte(rootPayloadVersion)
	if r.Summary.Defined() {
		if err := content.CheckCID(r.Summary); err != nil {
			return nil, fmt.Errorf("%w: summary: %w", ErrBadRootRecord, err)
		}
		version = rootPayloadVersionSummary
	}
	b := make([]byte, 0, 128+len(r.Namespace)+len(r.Writer))
	b = append(b, version)
	b = appendBytes(b, []byte(r.Namespace))
	b = appendBytes(b, r.Root.Bytes())
	b = binary.AppendUvarint(b, r.Term)
	b = binary.AppendUvarint(b, r.Index)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time))
	b = appendBytes(b, []byte(r.Writer))
	if r.Summary.Defined() {
		b = appendBytes(b, r.Summary.Bytes())
	}
	return b, nil
}

// appendBytes appends v's length as a uvarint and v.
func appendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// decodeRootPayload decodes a payload made by encodeRootPayload; every error
// wraps ErrBadRootRecord.
func decodeRootPayload(b []byte) (RootRecord, error) {
	if len(b) > MaxRootRecordSize {
		return RootRecord{}, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrBadRootRecord, len(b), MaxRootRecordSize)
	}
	d := payloadDecoder{b: b}
	v := d.u8()
	if d.err == nil && v != rootPayloadVersion && v != rootPayloadVersionSummary {
		return RootRecord{}, fmt.Errorf("%w: payload version %d, want %d or %d", ErrBadRootRecord, v, rootPayloadVersion, rootPayloadVersionSummary)
	}
	ns := d.bytes("namespace", MaxNamespaceLen)
	rootBytes := d.bytes("root", maxCIDLen)
	term := d.uvarint("term")
	index := d.uvarint("index")
	tm := d.uint64("time")
	writer := d.bytes("writer", maxPeerIDLen)
	var summary []byte
	if v == rootPayloadVersionSummary {
		summary = d.bytes("summary", maxCIDLen)
	}
	if d.err != nil {
		return RootRecord{}, fmt.Errorf("%w: %w", ErrBadRootRecord, d.err)
	}
	if len(d.b) > 0 {
		return RootRecord{}, fmt.Errorf("%w: %d trailing bytes", ErrBadRootRecord, len(d.b))
	}
	r := RootRecord{Namespace: string(ns), Term: term, Index: index, Time: int64(tm)}
	var err error
	if r.Root, err = cid.Cast(rootBytes); err != nil {
		return RootRecord{}, fmt.Errorf("%w: root: %w", ErrBadRootRecord, err)
	}
	if r.Writer, err = peer.IDFromBytes(writer); err != nil {
		return RootRecord{}, fmt.Errorf("%w: writer: %w", ErrBadRootRecord, err)
	}
	if v == rootPayloadVersionSummary {
		if r.Summary, err = cid.Cast(summary); err != nil || !r.Summary.Defined() {
			return RootRecord{}, fmt.Errorf("%w: summary: %v", ErrBadRootRecord, err)
		}
	}
	again, err := encodeRootPayload(r)
	if err != nil {
		return RootRecord{}, err
	}
	if !bytes.Equal(again, b) {
		return RootRecord{}, fmt.Errorf("%w: payload not in canonical form", ErrBadRootRecord)
	}
	return r, nil
}

// payloadDecoder reads a payload front to back; its first error sticks and
// makes every later read return the zero value.
type payloadDecoder struct {
	b   []byte
	err error
}

// u8 reads one byte.
func (d *payloadDecoder) u8() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.err = errors.New("empty payload")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// uvarint reads an unsigned varint.
func (d *payloadDecoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%s: truncated or overlong varint", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// uint64 reads 8 bytes, big-endian.
func (d *payloadDecoder) uint64(what string) uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.err = fmt.Errorf("%s: truncated", what)
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// bytes reads a uvarint length, at most limit, and that many bytes.
func (d *payloadDecoder) bytes(what string, limit int) []byte {
	n := d.uvarint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(limit) {
		d.err = fmt.Errorf("%s of %d bytes, limit %d", what, n, limit)
		return nil
	}
	if uint64(len(d.b)) < n {
		d.err = fmt.Errorf("%s: truncated", what)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// RootValidator is the DHT [dhtrecord.Validator] of the "meshfs-root"
// record namespace. Validate accepts a value only if it opens
// ([OpenRootRecord]), names the namespace its key names, and was signed by
// one of that namespace's voters. Select picks the valid value with the
// highest (Term, Index), then the latest Time, then the first in the list;
// invalid values never win.
//
// Every DHT peer runs it when it stores or receives a record, so a peer
// whose Voters does not know a namespace neither stores nor returns its
// records.
type RootValidator struct {
	// Voters returns the peers that may sign namespace ns's root records. A
	// nil Voters, or an empty list, accepts no record.
	Voters func(ns string) []peer.ID
}

var _ dhtrecord.Validator = RootValidator{}

// Validate implements [dhtrecord.Validator]. Its errors wrap
// [ErrBadRootRecord] or [ErrRootWriterNotVoter].
func (v RootValidator) Validate(key string, value []byte) error {
	_, err := v.open(key, value)
	return err
}

// Select implements [dhtrecord.Validator]. When no value is valid, its
// error wraps [ErrNoRootRecord] and the first value's reason.
func (v RootValidator) Select(key string, values [][]byte) (int, error) {
	best := -1
	var bestRec RootRecord
	var firstErr error
	for i, b := range values {
		r, err := v.open(key, b)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if best < 0 || r.newer(bestRec) {
			best, bestRec = i, r
		}
	}
	switch {
	case best >= 0:
		return best, nil
	case firstErr == nil:
		return 0, fmt.Errorf("%w: no values to select from", ErrNoRootRecord)
	default:
		return 0, fmt.Errorf("%w: none of %d values is valid: %w", ErrNoRootRecord, len(values), firstErr)
	}
}

// open opens value and checks it against key and the voters.
func (v RootValidator) open(key string, value []byte) (RootRecord, error) {
	kns, ns, err := dhtrecord.SplitKey(key)
	if err != nil || kns != RootRecordNamespace {
		return RootRecord{}, fmt.Errorf("%w: key %q is not under /%s/", ErrBadRootRecord, key, RootRecordNamespace)
	}
	r, err := OpenRootRecord(value)
	if err != nil {
		return RootRecord{}, err
	}
	if r.Namespace != ns {
		return RootRecord{}, fmt.Errorf("%w: record of namespace %q under key %q", ErrBadRootRecord, r.Namespace, key)
	}
	if v.Voters == nil || !slices.Contains(v.Voters(ns), r.Writer) {
		return RootRecord{}, fmt.Errorf("%w: %s, namespace %q", ErrRootWriterNotVoter, r.Writer, ns)
	}
	return r, nil
}

// SignRoot signs r with the node's own key ([SignRootRecord]); an empty
// r.Writer means the node.
func (n *Node) SignRoot(r RootRecord) ([]byte, error) {
	if r.Writer == "" {
		r.Writer = n.ID()
	}
	key := n.host.Peerstore().PrivKey(n.ID())
	if key == nil {
		return nil, errors.New("peer: sign root record: the node's key is not in its peerstore")
	}
	return SignRootRecord(key, r)
}

// PublishRoot puts a signed root record in the DHT under its namespace's
// key: this node stores it (unless it holds a newer one, an error) and sends
// it to the DHT servers closest to the key, which keep it unless they hold a
// newer one. A nil error does not mean any server accepted it. Records
// expire from servers after the DHT's record age (48 h), so the writer
// republishes. The record must be one this node's [RootValidator] accepts.
func (n *Node) PublishRoot(ctx context.Context, signed []byte) error {
	r, err := OpenRootRecord(signed)
	if err != nil {
		return err
	}
	if err := n.dht.PutValue(ctx, RootRecordKey(r.Namespace), signed); err != nil {
		return fmt.Errorf("peer: publish root of %q at term %d index %d: %w", r.Namespace, r.Term, r.Index, err)
	}
	return nil
}

// FindRoot asks the DHT for namespace ns's root record and returns the
// newest valid one ([RootValidator.Select]) with its signed bytes. When the
// DHT holds none this node's validator accepts, the error wraps
// [ErrNoRootRecord].
func (n *Node) FindRoot(ctx context.Context, ns string) (RootRecord, []byte, error) {
	return n.findRoot(ctx, ctx, ns)
}

// FindRootWithin is [Node.FindRoot] for a reader that would rather have a
// record that may not be the newest than none: once the DHT lookup has run
// for wait, it answers with the newest valid record found by then (this
// node's own included). Peers that are down or hung hold a lookup open
// until their dials or requests time out, seconds or more.
func (n *Node) FindRootWithin(ctx context.Context, ns string, wait time.Duration) (RootRecord, []byte, error) {
	lctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return n.findRoot(ctx, lctx, ns)
}

// findRoot looks ns's record up within lctx; a lookup that lctx, not ctx,
// cut short still answers with the best record it found.
func (n *Node) findRoot(ctx, lctx context.Context, ns string) (RootRecord, []byte, error) {
	if err := checkNamespace(ns); err != nil {
		return RootRecord{}, nil, fmt.Errorf("%w for %q: %v", ErrNoRootRecord, ns, err)
	}
	b, err := n.dht.GetValue(lctx, RootRecordKey(ns))
	if err != nil && len(b) > 0 && lctx.Err() != nil && ctx.Err() == nil {
		err = nil
	}
	switch {
	case errors.Is(err, routing.ErrNotFound):
		return RootRecord{}, nil, fmt.Errorf("%w for namespace %q", ErrNoRootRecord, ns)
	case err != nil:
		return RootRecord{}, nil, fmt.Errorf("peer: find root of %q: %w", ns, err)
	}
	// The DHT validated b under ns's key; opening it again only decodes it.
	r, err := OpenRootRecord(b)
	if err != nil {
		return RootRecord{}, nil, err
	}
	if r.Namespace != ns {
		return RootRecord{}, nil, fmt.Errorf("%w: record of namespace %q for %q", ErrBadRootRecord, r.Namespace, ns)
	}
	return r, b, nil
}
