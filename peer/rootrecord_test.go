package peer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	dhtrecord "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
)

// rootKey returns a deterministic Ed25519 key made from seed, and its peer
// ID.
func rootKey(t testing.TB, seed byte) (crypto.PrivKey, peer.ID) {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{seed}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, id
}

// rootCID returns the CID of a raw block holding s.
func rootCID(t testing.TB, s string) cid.Cid {
	t.Helper()
	b, err := content.NewRawBlock([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b.CID()
}

// signRoot signs r with key or fails the test.
func signRoot(t testing.TB, key crypto.PrivKey, r RootRecord) []byte {
	t.Helper()
	b, err := SignRootRecord(key, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawRecord is an envelope record with any domain, payload type and
// payload, to forge what SignRootRecord refuses to make.
type rawRecord struct {
	domain  string
	codec   []byte
	payload []byte
}

func (r *rawRecord) Domain() string                 { return r.domain }
func (r *rawRecord) Codec() []byte                  { return r.codec }
func (r *rawRecord) MarshalRecord() ([]byte, error) { return r.payload, nil }
func (r *rawRecord) UnmarshalRecord(b []byte) error { r.payload = b; return nil }

// seal signs payload with key under domain and payload type codec.
func seal(t testing.TB, key crypto.PrivKey, domain string, codec, payload []byte) []byte {
	t.Helper()
	env, err := record.Seal(&rawRecord{domain: domain, codec: codec, payload: payload}, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustPayload encodes r without checking it against anything but the
// encoder.
func mustPayload(t testing.TB, r RootRecord) []byte {
	t.Helper()
	b, err := encodeRootPayload(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rootCodec is RootRecordCodec as the envelope's payload type.
func rootCodec() []byte { return binary.AppendUvarint(nil, RootRecordCodec) }

func TestRootRecordRoundTrip(t *testing.T) {
	keyTypes := []struct {
		name string
		typ  int
		bits int
	}{
		{"ed25519", crypto.Ed25519, 0},
		{"secp256k1", crypto.Secp256k1, 0},
		{"ecdsa", crypto.ECDSA, 0},
		{"rsa2048", crypto.RSA, 2048},
	}
	dagpb := cid.NewCidV1(cid.DagProtobuf, rootCID(t, "dir").Hash())
	records := []struct {
		name string
		r    RootRecord
	}{
		{"plain", RootRecord{Namespace: "home", Root: rootCID(t, "a"), Term: 2, Index: 5, Time: 1_700_000_000_000_000_000}},
		{"zeros", RootRecord{Namespace: "n", Root: dagpb}},
		{"max", RootRecord{Namespace: strings.Repeat("x", MaxNamespaceLen), Root: dagpb, Term: ^uint64(0), Index: ^uint64(0), Time: 1<<63 - 1}},
		{"negative time", RootRecord{Namespace: "team/docs", Root: dagpb, Term: 1, Index: 1, Time: -1}},
		{"unicode", RootRecord{Namespace: "équipe ☃", Root: dagpb, Term: 7, Index: 300}},
		{"summary", RootRecord{Namespace: "home", Root: dagpb, Term: 3, Index: 9, Summary: rootCID(t, "summary")}},
	}
	for _, kt := range keyTypes {
		key, _, err := crypto.GenerateKeyPairWithReader(kt.typ, kt.bits, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		id, err := peer.IDFromPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range records {
			t.Run(kt.name+"/"+tc.name, func(t *testing.T) {
				want := tc.r
				want.Writer = id
				b := signRoot(t, key, want)
				got, err := OpenRootRecord(b)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("opened %+v, signed %+v", got, want)
				}
				v := RootValidator{Voters: func(string) []peer.ID { return []peer.ID{id} }}
				if err := v.Validate(RootRecordKey(want.Namespace), b); err != nil {
					t.Fatalf("validate: %v", err)
				}
			})
		}
	}
}

// TestRootRecordVersions: a record without a summary keeps the version 1
// encoding (records signed before summaries existed still open); one with
// a summary is version 2, and a version 2 payload without one is refused.
func TestRootRecordVersions(t *testing.T) {
	w, err := peer.Decode("12D3KooWHHzSeKaY8xuZVzkLbKFfvNgPPeKhFBGrMbNzbm5akpqu")
	if err != nil {
		t.Fatal(err)
	}
	r := RootRecord{Namespace: "home", Root: rootCID(t, "a"), Term: 1, Index: 2, Writer: w}
	b1, err := encodeRootPayload(r)
	if err != nil || b1[0] != 1 {
		t.Fatalf("no summary: version %d, %v", b1[0], err)
	}
	r.Summary = rootCID(t, "s")
	b2, err := encodeRootPayload(r)
	if err != nil || b2[0] != 2 {
		t.Fatalf("summary: version %d, %v", b2[0], err)
	}
	if got, err := decodeRootPayload(b2); err != nil || got != r {
		t.Fatalf("decode v2: %+v, %v", got, err)
	}
	bad := append([]byte{2}, b1[1:]...) // version 2, no summary field
	if _, err := decodeRootPayload(bad); !errors.Is(err, ErrBadRootRecord) {
		t.Fatalf("version 2 without a summary: %v", err)
	}
	empty := appendBytes(bad, nil) // a zero-length summary
	if _, err := decodeRootPayload(empty); !errors.Is(err, ErrBadRootRecord) {
		t.Fatalf("empty summary: %v", err)
	}
}

func TestSignRootRecordRefuses(t *testing.T) {
	key, id := rootKey(t, 1)
	_, other := rootKey(t, 2)
	good := RootRecord{Namespace: "ns", Root: rootCID(t, "a"), Term: 1, Index: 1, Writer: id}
	v0 := cid.NewCidV0(rootCID(t, "a").Hash())
	sha1, err := mh.Sum([]byte("a"), mh.SHA1, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		key    crypto.PrivKey
		change func(*RootRecord)
	}{
		{"another writer", key, func(r *RootRecord) { r.Writer = other }},
		{"no writer", key, func(r *RootRecord) { r.Writer = "" }},
		{"no key", nil, func(*RootRecord) {}},
		{"empty namespace", key, func(r *RootRecord) { r.Namespace = "" }},
		{"long namespace", key, func(r *RootRecord) { r.Namespace = strings.Repeat("x", MaxNamespaceLen+1) }},
		{"control character", key, func(r *RootRecord) { r.Namespace = "a\nb" }},
		{"not UTF-8", key, func(r *RootRecord) { r.Namespace = "a\xffb" }},
		{"undefined root", key, func(r *RootRecord) { r.Root = cid.Undef }},
		{"CIDv0 root", key, func(r *RootRecord) { r.Root = v0 }},
		{"dag-cbor root", key, func(r *RootRecord) { r.Root = cid.NewCidV1(cid.DagCBOR, good.Root.Hash()) }},
		{"sha1 root", key, func(r *RootRecord) { r.Root = cid.NewCidV1(cid.Raw, sha1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.change(&r)
			b, err := SignRootRecord(tc.key, r)
			if err == nil {
				t.Fatalf("signed %d bytes", len(b))
			}
			if tc.key != nil && !errors.Is(err, ErrBadRootRecord) {
				t.Fatalf("error %v is not ErrBadRootRecord", err)
			}
		})
	}
	if _, err := SignRootRecord(key, good); err != nil {
		t.Fatalf("the unchanged record: %v", err)
	}
}

func TestOpenRootRecordRejects(t *testing.T) {
	keyA, idA := rootKey(t, 1)
	_, idB := rootKey(t, 2)
	r := RootRecord{Namespace: "ns", Root: rootCID(t, "a"), Term: 3, Index: 9, Time: 42, Writer: idA}
	good := signRoot(t, keyA, r)
	payload := mustPayload(t, r)
	asB := r
	asB.Writer = idB

	// overlong rewrites the term varint 3 as the overlong 0x83 0x00.
	overlong := bytes.Clone(payload)
	i := 1 + 1 + len(r.Namespace) + 1 + r.Root.ByteLen()
	if overlong[i] != 3 {
		t.Fatalf("term at %d is %d", i, overlong[i])
	}
	overlong = append(overlong[:i:i], append([]byte{0x83, 0x00}, overlong[i+1:]...)...)
	version2 := bytes.Clone(payload)
	version2[0] = 2

	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"garbage", []byte("not a record at all")},
		{"oversize", append(bytes.Clone(good), make([]byte, MaxRootRecordSize)...)},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"unknown envelope field", append(bytes.Clone(good), 9<<3, 1)},
		{"bare payload", payload},
		{"signed by A naming B", seal(t, keyA, RootRecordDomain, rootCodec(), mustPayload(t, asB))},
		{"other domain", seal(t, keyA, "libp2p-peer-record", rootCodec(), payload)},
		{"other payload type", seal(t, keyA, RootRecordDomain, []byte{0x03, 0x01}, payload)},
		{"trailing payload byte", seal(t, keyA, RootRecordDomain, rootCodec(), append(bytes.Clone(payload), 0))},
		{"truncated payload", seal(t, keyA, RootRecordDomain, rootCodec(), payload[:len(payload)-1])},
		{"overlong varint", seal(t, keyA, RootRecordDomain, rootCodec(), overlong)},
		{"payload version 2", seal(t, keyA, RootRecordDomain, rootCodec(), version2)},
		{"empty payload", seal(t, keyA, RootRecordDomain, rootCodec(), nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := OpenRootRecord(tc.b)
			if err == nil {
				t.Fatalf("opened %+v", got)
			}
			if !errors.Is(err, ErrBadRootRecord) {
				t.Fatalf("error %v is not ErrBadRootRecord", err)
			}
		})
	}

	// Every flipped bit pattern anywhere (payload, key, signature, framing)
	// is refused.
	t.Run("every flipped byte", func(t *testing.T) {
		for i := range good {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				b := bytes.Clone(good)
				b[i] ^= mask
				if got, err := OpenRootRecord(b); !errors.Is(err, ErrBadRootRecord) {
					t.Fatalf("byte %d ^ %#x: opened %+v, error %v", i, mask, got, err)
				}
			}
		}
	})
	if _, err := OpenRootRecord(good); err != nil {
		t.Fatalf("the unchanged record: %v", err)
	}
}

func TestRootRecordKey(t *testing.T) {
	for _, ns := range []string{"home", "team/docs", "équipe"} {
		key := RootRecordKey(ns)
		gotNS, rest, err := dhtrecord.SplitKey(key)
		if err != nil || gotNS != RootRecordNamespace || rest != ns {
			t.Errorf("RootRecordKey(%q) = %q splits to %q, %q, %v", ns, key, gotNS, rest, err)
		}
	}
}

func TestRootValidatorValidate(t *testing.T) {
	keyA, idA := rootKey(t, 1)
	keyB, idB := rootKey(t, 2)
	r := RootRecord{Namespace: "ns", Root: rootCID(t, "a"), Term: 1, Index: 1, Writer: idA}
	byA := signRoot(t, keyA, r)
	rB := r
	rB.Writer = idB
	byB := signRoot(t, keyB, rB)
	rOther := r
	rOther.Namespace = "other"
	otherNS := signRoot(t, keyA, rOther)
	onlyA := func(string) []peer.ID { return []peer.ID{idA} }

	for _, tc := range []struct {
		name   string
		voters func(string) []peer.ID
		key    string
		value  []byte
		want   error // nil: valid
	}{
		{"voter", onlyA, RootRecordKey("ns"), byA, nil},
		{"voter among several", func(string) []peer.ID { return []peer.ID{idB, idA} }, RootRecordKey("ns"), byA, nil},
		{"not a voter", onlyA, RootRecordKey("ns"), byB, ErrRootWriterNotVoter},
		{"voter of another namespace", func(ns string) []peer.ID {
			if ns == "other" {
				return []peer.ID{idA}
			}
			return nil
		}, RootRecordKey("ns"), byA, ErrRootWriterNotVoter},
		{"nil Voters", nil, RootRecordKey("ns"), byA, ErrRootWriterNotVoter},
		{"no voters", func(string) []peer.ID { return nil }, RootRecordKey("ns"), byA, ErrRootWriterNotVoter},
		{"another namespace's record", onlyA, RootRecordKey("ns"), otherNS, ErrBadRootRecord},
		{"namespace prefix only", onlyA, RootRecordKey("n"), byA, ErrBadRootRecord},
		{"key of another record type", onlyA, "/pk/ns", byA, ErrBadRootRecord},
		{"key without namespace", onlyA, "ns", byA, ErrBadRootRecord},
		{"garbage", onlyA, RootRecordKey("ns"), []byte{1, 2, 3}, ErrBadRootRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := RootValidator{Voters: tc.voters}.Validate(tc.key, tc.value)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRootValidatorSelect(t *testing.T) {
	keyA, idA := rootKey(t, 1)
	keyB, idB := rootKey(t, 2)
	keyC, idC := rootKey(t, 3) // not a voter
	v := RootValidator{Voters: func(string) []peer.ID { return []peer.ID{idA, idB} }}
	key := RootRecordKey("ns")
	rec := func(k crypto.PrivKey, w peer.ID, term, index uint64, tm int64) []byte {
		return signRoot(t, k, RootRecord{Namespace: "ns", Root: rootCID(t, fmt.Sprint(term, index, tm)), Term: term, Index: index, Time: tm, Writer: w})
	}
	t2i5 := rec(keyA, idA, 2, 5, 10)
	t3i1 := rec(keyA, idA, 3, 1, 5)
	t3i1later := rec(keyB, idB, 3, 1, 6)
	t3i2 := rec(keyB, idB, 3, 2, 1)
	t2i9 := rec(keyB, idB, 2, 9, 99)
	nonVoter := rec(keyC, idC, 9, 9, 9)
	other := signRoot(t, keyA, RootRecord{Namespace: "other", Root: rootCID(t, "o"), Term: 9, Writer: idA})
	garbage := []byte("garbage")

	for _, tc := range []struct {
		name string
		vals [][]byte
		want int // -1: an error
	}{
		{"one", [][]byte{t2i5}, 0},
		{"higher term wins", [][]byte{t2i5, t3i1}, 1},
		{"lower term first never wins", [][]byte{t2i9, t3i1}, 1},
		{"higher term first", [][]byte{t3i1, t2i9}, 0},
		{"index breaks a term tie", [][]byte{t3i2, t3i1}, 0},
		{"time breaks an index tie", [][]byte{t3i1, t3i1later}, 1},
		{"equal records: the first", [][]byte{t3i1, t3i1, t3i1}, 0},
		{"non-voter's higher term ignored", [][]byte{nonVoter, t2i5}, 1},
		{"other namespace's higher term ignored", [][]byte{other, t2i5}, 1},
		{"garbage ignored", [][]byte{garbage, t2i5, garbage, t3i1, garbage}, 3},
		{"all invalid", [][]byte{garbage, nonVoter, other}, -1},
		{"none", nil, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Select(key, tc.vals)
			if tc.want < 0 {
				if !errors.Is(err, ErrNoRootRecord) {
					t.Fatalf("selected %d, error %v; want ErrNoRootRecord", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("selected %d, error %v; want %d", got, err, tc.want)
			}
		})
	}
}

// TestRootValidatorWired checks that servers and clients run the root
// validator beside the DHT's default "pk" and "ipns" ones.
func TestRootValidatorWired(t *testing.T) {
	m := newTestMesh(t, 1, nil)
	client := m.add(func(c *Config) { c.Client = true })
	for _, nd := range []*Node{m.nodes[0], client} {
		nsval, ok := nd.DHT().Validator.(dhtrecord.NamespacedValidator)
		if !ok {
			t.Fatalf("client %v: validator %T", nd.cfg.Client, nd.DHT().Validator)
		}
		for _, ns := range []string{"pk", "ipns", RootRecordNamespace} {
			if nsval[ns] == nil {
				t.Errorf("client %v: no %q validator", nd.cfg.Client, ns)
			}
		}
	}
}

// TestRootRecordMesh publishes root records among real nodes: four servers,
// two of them voters, a client reader, and a rogue server that believes it
// is a voter.
func TestRootRecordMesh(t *testing.T) {
	var voters atomic.Pointer[[]peer.ID]
	votersOf := func(ns string) []peer.ID {
		if p := voters.Load(); p != nil && ns == "home" {
			return *p
		}
		return nil
	}
	m := newTestMesh(t, 4, func(c *Config) { c.RootVoters = votersOf })
	var rogueID atomic.Pointer[peer.ID]
	rogue := m.add(func(c *Config) {
		c.RootVoters = func(ns string) []peer.ID {
			if p := rogueID.Load(); p != nil {
				return append(votersOf(ns), *p)
			}
			return votersOf(ns)
		}
	})
	rogueID.Store(new(rogue.ID()))
	m.waitConnected()
	client := m.add(func(c *Config) {
		c.Client = true
		c.RootVoters = votersOf
	})
	voters.Store(&[]peer.ID{m.nodes[0].ID(), m.nodes[1].ID()})
	honest := []*Node{m.nodes[0], m.nodes[1], m.nodes[2], m.nodes[3], client}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	publish := func(nd *Node, term, index uint64) error {
		b, err := nd.SignRoot(RootRecord{Namespace: "home", Root: rootCID(t, fmt.Sprint(term, index)), Term: term, Index: index, Time: time.Now().UnixNano()})
		if err != nil {
			t.Fatal(err)
		}
		return nd.PublishRoot(ctx, b)
	}
	// waitRoot waits until every node in nds finds term and index.
	waitRoot := func(nds []*Node, term, index uint64) {
		t.Helper()
		waitFor(t, 30*time.Second, func() error {
			for _, nd := range nds {
				r, b, err := nd.FindRoot(ctx, "home")
				if err != nil {
					return fmt.Errorf("%s: %w", nd.ID(), err)
				}
				if r.Term != term || r.Index != index || r.Writer != m.nodes[0].ID() {
					return fmt.Errorf("%s found term %d index %d by %s, want term %d index %d", nd.ID(), r.Term, r.Index, r.Writer, term, index)
				}
				if got, err := OpenRootRecord(b); err != nil || got != r {
					return fmt.Errorf("%s: bytes open to %+v, %v", nd.ID(), got, err)
				}
			}
			return nil
		})
	}

	if _, _, err := m.nodes[3].FindRoot(ctx, "home"); !errors.Is(err, ErrNoRootRecord) {
		t.Fatalf("before any publish: %v, want ErrNoRootRecord", err)
	}
	if err := publish(m.nodes[0], 2, 5); err != nil {
		t.Fatal(err)
	}
	waitRoot(m.nodes[3:4], 2, 5)
	if err := publish(m.nodes[0], 3, 1); err != nil {
		t.Fatal(err)
	}
	waitRoot(honest, 3, 1)

	// A non-voter's record fails at its own node, and a rogue's, which it
	// accepts itself, is refused by the others.
	if err := publish(m.nodes[2], 9, 9); !errors.Is(err, ErrRootWriterNotVoter) {
		t.Fatalf("non-voter publish: %v, want ErrRootWriterNotVoter", err)
	}
	if err := publish(rogue, 9, 9); err != nil {
		t.Fatalf("rogue publish: %v", err)
	}
	// A lower term published after a higher one: the writer's own node
	// refuses it, the other voter may send it out, and nobody keeps it.
	if err := publish(m.nodes[0], 2, 9); err == nil {
		t.Fatal("the writer's node published a lower term over a higher one")
	}
	_ = publish(m.nodes[1], 2, 9) // refused or not, depending on what node 1 holds
	// PutValue returns once every put was answered, so the records are
	// stored or refused by now.
	waitRoot(honest, 3, 1)

	if _, _, err := client.FindRoot(ctx, "elsewhere"); !errors.Is(err, ErrNoRootRecord) {
		t.Fatalf("unknown namespace: %v, want ErrNoRootRecord", err)
	}
	if _, _, err := client.FindRoot(ctx, ""); !errors.Is(err, ErrNoRootRecord) {
		t.Fatalf("empty namespace: %v, want ErrNoRootRecord", err)
	}
}
