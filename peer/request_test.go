package peer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

const testRequestProto = protocol.ID("/meshfs/test-request/1.0.0")

// TestRequestAnswersAndRefusesOversize: a request gets its answer with the
// sender's authenticated ID; an oversized request is refused before it is
// sent; a frame that claims more than MaxMessage never reaches the
// handler; a peer that cannot be reached is ErrNoStream.
func TestRequestAnswersAndRefusesOversize(t *testing.T) {
	m := newTestMesh(t, 2, nil)
	a, b := m.nodes[0], m.nodes[1]
	var calls atomic.Int32
	b.Serve(testRequestProto, func(_ context.Context, from peer.ID, req []byte) []byte {
		calls.Add(1)
		if from != a.ID() {
			t.Errorf("request from %s, want %s", from, a.ID())
		}
		return append([]byte("re: "), req...)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	ans, err := a.Request(ctx, b.ID(), testRequestProto, []byte("hello"))
	if err != nil || string(ans) != "re: hello" {
		t.Fatalf("answer %q, %v", ans, err)
	}
	if _, err := a.Request(ctx, b.ID(), testRequestProto, make([]byte, MaxMessage+1)); !errors.Is(err, ErrProtocol) {
		t.Fatalf("oversized request: %v, want ErrProtocol", err)
	}

	// A raw stream whose frame claims MaxMessage+1 bytes: reset, unheard.
	before := calls.Load()
	s, err := a.Host().NewStream(ctx, b.ID(), testRequestProto)
	if err != nil {
		t.Fatal(err)
	}
	var hdr [binary.MaxVarintLen64]byte
	w := bufio.NewWriter(s)
	w.Write(hdr[:binary.PutUvarint(hdr[:], MaxMessage+1)])
	w.Write(bytes.Repeat([]byte{1}, 1024))
	w.Flush()
	s.CloseWrite()
	// The server resets the stream (or ends it): either way, no answer.
	if got, _ := io.ReadAll(s); len(got) != 0 {
		t.Fatalf("an oversized frame got an answer of %d bytes", len(got))
	}
	s.Close()
	if got := calls.Load(); got != before {
		t.Fatalf("the handler ran for an oversized frame")
	}

	// A peer nobody can reach: no stream, so certainly not sent.
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	nobody, _ := peer.IDFromPrivateKey(key)
	sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
	defer scancel()
	if _, err := a.Request(sctx, nobody, testRequestProto, []byte("x")); !errors.Is(err, ErrNoStream) {
		t.Fatalf("request to an unknown peer: %v, want ErrNoStream", err)
	}
}
