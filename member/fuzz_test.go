package member

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// FuzzDecodeRequest: any request a peer sends decodes or is refused, and
// what decodes encodes back to an equal request.
func FuzzDecodeRequest(f *testing.F) {
	for _, r := range []request{
		{Kind: kindApply, Op: json.RawMessage(`{"op":"mkdir","path":"/a"}`)},
		{Kind: kindStat, Path: "/a/b", Level: Strong, MinIndex: 7},
		{Kind: kindList, Path: "/", Level: Sequential},
		{Kind: kindRoot}, {Kind: kindWriter}, {Kind: kindVoter, Path: "peer", Remove: true},
	} {
		b, _ := json.Marshal(r)
		f.Add(b)
	}
	f.Add([]byte(`{"kind":"stat","extra":1}`))
	f.Add([]byte(`{"kind":"stat"} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := decodeRequest(again)
		if err != nil || !reflect.DeepEqual(normalize(r), normalize(r2)) {
			t.Fatalf("%q decoded to %+v, re-encoded to %q: %+v %v", b, r, again, r2, err)
		}
	})
}

// normalize compacts a request's raw operation for comparison.
func normalize(r request) request {
	if len(r.Op) > 0 {
		var v any
		if json.Unmarshal(r.Op, &v) == nil {
			r.Op, _ = json.Marshal(v)
		}
	}
	return r
}

// FuzzDecodeAnswer: any answer decodes or is refused; an accepted one has
// valid CIDs and kinds.
func FuzzDecodeAnswer(f *testing.F) {
	for _, a := range []answer{
		{Index: 3, Term: 2, Writer: "w", Voters: []string{"a", "b"}},
		{Info: &Info{Path: "/a", Name: "a", Kind: "file", Size: 3, Uid: 1000, Gid: 100, CID: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}},
		{Entries: []Info{{Path: "/d", Name: "d", Kind: "dir"}}},
		{Err: &wireError{Kind: "notexist", Op: "stat", Path: "/x", Msg: "stat /x: file does not exist"}},
		{Root: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
	} {
		b, _ := json.Marshal(a)
		f.Add(b)
	}
	f.Add([]byte(`{"info":{"kind":"socket"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAnswer(b)
		if err != nil {
			return
		}
		if a.Info != nil && a.Info.check() != nil {
			t.Fatalf("accepted a bad inode: %+v", a.Info)
		}
		_ = a.Err.decode() // never panics, whatever the kind
	})
}

// FuzzHandleRaft: bytes on the Raft channel, from a voter or not, never
// crash a running member.
func FuzzHandleRaft(f *testing.F) {
	m, err := New(Config{Namespace: "fuzz", Self: "v0", Voters: []string{"v0", "v1"}, Transport: newMemNet().transport("v0"), Ticks: make(chan time.Time)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { m.Close() })
	good, _ := proto.Marshal(&raftpb.Message{Type: raftpb.MessageType_MsgHeartbeat.Enum(), From: proto.Uint64(RaftID("v1")), To: proto.Uint64(RaftID("v0")), Term: proto.Uint64(1)})
	f.Add(good, true)
	f.Add([]byte{0xff, 0x01}, false)
	f.Fuzz(func(t *testing.T, b []byte, fromVoter bool) {
		from := "stranger"
		if fromVoter {
			from = "v1"
		}
		m.HandleRaft(from, b)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = m.call(ctx, func(*loop) {}) // the loop still turns
	})
}

// FuzzDecodeSnapshotRef: a snapshot's data, which a writer sends, decodes
// or is refused; its peer map keeps only IDs that match their peer.
func FuzzDecodeSnapshotRef(f *testing.F) {
	good, _ := json.Marshal(snapshotRef{Root: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", State: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", Peers: map[string]string{"1": "v1"}})
	f.Add(good)
	f.Add([]byte(`{"root":"","state":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ref, c, err := decodeSnapshotRef(b)
		if err != nil {
			return
		}
		if !c.Defined() {
			t.Fatal("accepted a snapshot without a state CID")
		}
		for id, p := range ref.peersOf() {
			if RaftID(p) != id {
				t.Fatalf("peer %s kept under id %d", p, id)
			}
		}
	})
}
