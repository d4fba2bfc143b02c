package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestChannelDeliversInOrder(t *testing.T) {
	m := newTestMesh(t, 2, nil)
	a, b := m.nodes[0], m.nodes[1]
	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	const n = 500
	b.Channel("/meshfs/test-channel/1.0.0", func(from peer.ID, msg []byte) {
		if from != a.ID() {
			t.Errorf("message from %s", from)
		}
		mu.Lock()
		got = append(got, string(msg))
		if len(got) == n {
			close(done)
		}
		mu.Unlock()
	})
	ca := a.Channel("/meshfs/test-channel/1.0.0", func(peer.ID, []byte) {})
	ctx := context.Background()
	for i := 0; i < n; i += 5 {
		var batch [][]byte
		for j := i; j < i+5; j++ {
			batch = append(batch, fmt.Appendf(nil, "msg %d", j))
		}
		if err := ca.Send(ctx, b.ID(), batch...); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("messages did not arrive")
	}
	for i, s := range got {
		if s != fmt.Sprintf("msg %d", i) {
			t.Fatalf("message %d is %q", i, s)
		}
	}
	// Too big a message is refused before anything is sent.
	if err := ca.Send(ctx, b.ID(), bytes.Repeat([]byte{1}, MaxMessage+1)); !errors.Is(err, ErrProtocol) {
		t.Fatalf("oversized message: %v", err)
	}
	// After the connection breaks, the next Send opens a new stream.
	_ = a.Host().Network().ClosePeer(b.ID())
	mu.Lock()
	got, done = nil, make(chan struct{})
	mu.Unlock()
	// Both sides may redial at once; TLS then fails one of the two dials.
	waitFor(t, 10*time.Second, func() error {
		return a.Host().Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()})
	})
	for i := range n {
		if err := ca.Send(ctx, b.ID(), fmt.Appendf(nil, "msg %d", i)); err != nil {
			t.Fatalf("send %d after reconnect: %v", i, err)
		}
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("messages after reconnect did not arrive")
	}
}
