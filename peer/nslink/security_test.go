package nslink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"meshfs/content"
	"meshfs/member"
	"meshfs/namespace"
	meshpeer "meshfs/peer"
)

// testNamespace starts three mesh nodes on loopback, each a voter of one
// namespace over the real protocols, and waits for a writer.
func testNamespace(t *testing.T) ([]*meshpeer.Node, []*member.Member) {
	t.Helper()
	var nodes []*meshpeer.Node
	var refs []*Ref
	for i := range 3 {
		ref := &Ref{}
		cfg := meshpeer.DefaultConfig()
		cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
		cfg.RepairInterval = time.Hour
		cfg.RequestTimeout = 10 * time.Second
		cfg.RootVoters = ref.Voters
		if i > 0 {
			cfg.Bootstrap = []peer.AddrInfo{{ID: nodes[0].ID(), Addrs: nodes[0].Host().Addrs()}}
		}
		key, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		nd, err := meshpeer.New(context.Background(), cfg, key, content.NewMemStore(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		nodes = append(nodes, nd)
		refs = append(refs, ref)
	}
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				if err := a.Host().Connect(context.Background(), peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var ids []string
	for _, nd := range nodes {
		ids = append(ids, nd.ID().String())
	}
	var ms []*member.Member
	for i, nd := range nodes {
		m, err := Join(nd, member.Config{Namespace: "sec", Voters: ids, Dir: t.TempDir(), TickInterval: 10 * time.Millisecond}, refs[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		ms = append(ms, m)
	}
	waitAgreed(t, ms)
	return nodes, ms
}

// waitAgreed waits until every member knows one writer, and returns it.
func waitAgreed(t *testing.T, ms []*member.Member) member.View {
	t.Helper()
	var v member.View
	poll(t, func() error {
		v = ms[0].View()
		for _, m := range ms {
			if w := m.View(); w.Writer == "" || w.Writer != v.Writer || w.Term != v.Term {
				return fmt.Errorf("no agreed writer: %+v vs %+v", w, v)
			}
		}
		return nil
	})
	return v
}

func poll(t *testing.T, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, under the deadline
	}
}

func frame(b []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }

// send writes raw on a new stream of proto to p, closes its write side,
// and returns the answer frame's body; an error means the stream ended
// without one (reset, or closed with nothing).
func send(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, raw []byte) ([]byte, error) {
	s, err := h.NewStream(ctx, p, proto)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()
	if _, err := s.Write(raw); err != nil {
		s.Reset()
		return nil, err
	}
	_ = s.CloseWrite()
	r := bufio.NewReader(s)
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, fmt.Errorf("no answer: %w", err)
	}
	if n > meshpeer.MaxMessage {
		return nil, fmt.Errorf("answer of %d bytes", n)
	}
	ans := make([]byte, n)
	if _, err := io.ReadFull(r, ans); err != nil {
		return nil, err
	}
	return ans, nil
}

// TestMalformedNamespaceMessages sends malformed, forged and oversized
// messages on the namespace's Raft and request protocols to every voter of
// a running namespace: bad frames reset the stream, bad requests get a
// "bad request" answer, forged Raft messages change nothing; the writer,
// its term and the tree stay as they were, and the namespace goes on
// serving its members.
func TestMalformedNamespaceMessages(t *testing.T) {
	nodes, ms := testNamespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := ms[0].Do(ctx, namespace.Mkdir{Path: "/before", Perm: 0o755, Mtime: 1}); err != nil {
		t.Fatal(err)
	}
	before := waitAgreed(t, ms)

	attacker, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { attacker.Close() })
	raftMsg := func(from, to string, typ raftpb.MessageType, term uint64) []byte {
		b, err := proto.Marshal(&raftpb.Message{Type: typ.Enum(), From: proto.Uint64(member.RaftID(from)), To: proto.Uint64(member.RaftID(to)), Term: proto.Uint64(term), LogTerm: proto.Uint64(term), Index: proto.Uint64(1 << 40)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i, nd := range nodes {
		if err := attacker.Connect(ctx, peer.AddrInfo{ID: nd.ID(), Addrs: nd.Host().Addrs()}); err != nil {
			t.Fatal(err)
		}
		self := nd.ID().String()
		other := nodes[(i+1)%len(nodes)].ID().String()
		// Raft: the stream carries messages one way; garbage, forged and
		// stray messages are dropped, bad frames reset it.
		for _, tc := range []struct {
			name  string
			raw   []byte
			reset bool
		}{
			{"not a protobuf", frame([]byte{0xff, 0xff, 0xff}), false},
			{"a voter's vote forged by another peer", frame(raftMsg(other, self, raftpb.MessageType_MsgVote, before.Term+100)), false},
			{"a voter's append forged by another peer", frame(raftMsg(other, self, raftpb.MessageType_MsgApp, before.Term+100)), false},
			{"a stranger's vote at a higher term", frame(raftMsg(attacker.ID().String(), self, raftpb.MessageType_MsgVote, before.Term+100)), false},
			{"a message for someone else", frame(raftMsg(attacker.ID().String(), other, raftpb.MessageType_MsgHeartbeat, before.Term+100)), false},
			{"an empty message", frame(nil), false},
			{"over the message limit", append(binary.AppendUvarint(nil, meshpeer.MaxMessage+1), make([]byte, 4096)...), true},
			{"shorter than its length", append(binary.AppendUvarint(nil, 1000), make([]byte, 10)...), true},
			{"length not a varint", bytes.Repeat([]byte{0xff}, 11), true},
		} {
			t.Run(fmt.Sprintf("raft/%d/%s", i, tc.name), func(t *testing.T) {
				_, err := send(ctx, attacker, nd.ID(), RaftProtocol, tc.raw)
				switch {
				case err == nil:
					t.Fatal("the Raft channel answered")
				case tc.reset && errors.Is(err, io.EOF):
					t.Fatal("the stream was closed, not reset")
				case !tc.reset && !errors.Is(err, io.EOF):
					t.Fatalf("the stream ended with %v, want a clean close", err)
				}
			})
		}
		// Requests: one per stream, a JSON answer; bad requests are told
		// so, bad frames reset the stream.
		for _, tc := range []struct {
			name  string
			raw   []byte
			reset bool
		}{
			{"not JSON", frame([]byte("{{{")), false},
			{"unknown kind", frame([]byte(`{"kind":"format-disk"}`)), false},
			{"unknown field", frame([]byte(`{"kind":"stat","path":"/","sudo":true}`)), false},
			{"trailing data", frame([]byte(`{"kind":"stat","path":"/"} {}`)), false},
			{"bad level", frame([]byte(`{"kind":"stat","path":"/","level":"psychic"}`)), false},
			{"unknown operation", frame([]byte(`{"kind":"apply","op":{"op":"teleport","path":"/x"}}`)), false},
			{"a stranger's well-formed change", frame([]byte(`{"kind":"apply","op":{"op":"mkdir","path":"/evil","perm":493}}`)), false},
			{"over the request limit, under the frame limit", frame(append([]byte(`{"kind":"stat","path":"`), bytes.Repeat([]byte("a"), member.MaxRequest)...)), false},
			{"over the frame limit", append(binary.AppendUvarint(nil, meshpeer.MaxMessage+1), make([]byte, 4096)...), true},
			{"shorter than its length", append(binary.AppendUvarint(nil, 1000), make([]byte, 10)...), true},
			{"empty", nil, true},
		} {
			t.Run(fmt.Sprintf("request/%d/%s", i, tc.name), func(t *testing.T) {
				ans, err := send(ctx, attacker, nd.ID(), RequestProtocol, tc.raw)
				if tc.reset {
					if err == nil {
						t.Fatalf("answered %q", ans)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				var a struct {
					Err *struct{ Kind string } `json:"err"`
				}
				// A well-formed change from a stranger is refused by the
				// writer (not allowed) or sent there (not the writer).
				want := map[string]bool{"badrequest": true, "badop": true, "invalid": true, "notallowed": strings.HasPrefix(tc.name, "a stranger"), "notwriter": strings.HasPrefix(tc.name, "a stranger")}
				if err := json.Unmarshal(ans, &a); err != nil || a.Err == nil || !want[a.Err.Kind] {
					t.Fatalf("answer %.200q, want a refusal", ans)
				}
			})
		}
	}

	// Nothing changed: same writer, same term, the tree as it was; and the
	// namespace still serves its members.
	after := waitAgreed(t, ms)
	if after.Writer != before.Writer || after.Term != before.Term {
		t.Fatalf("writer %s term %d after the attack, was %s term %d", after.Writer, after.Term, before.Writer, before.Term)
	}
	for _, m := range ms {
		list, err := m.List(ctx, member.Strong, "/")
		if err != nil || len(list) != 1 || list[0].Name != "before" {
			t.Fatalf("%s lists %+v, %v; want /before alone", m.View().Self, list, err)
		}
	}
	if _, err := ms[2].Do(ctx, namespace.Mkdir{Path: "/after", Perm: 0o755, Mtime: 2}); err != nil {
		t.Fatalf("a member's change after the attack: %v", err)
	}
	for _, m := range ms {
		if _, err := m.Stat(ctx, member.Strong, "/after"); err != nil {
			t.Fatalf("%s: %v", m.View().Self, err)
		}
	}
}
