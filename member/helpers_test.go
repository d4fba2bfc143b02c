package member

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// memNet is an in-memory network of members, with cuts.
type memNet struct {
	mu      sync.Mutex
	members map[string]*Member
	down    map[string]bool // peers cut off from everyone
}

func newMemNet() *memNet {
	return &memNet{members: map[string]*Member{}, down: map[string]bool{}}
}

type memTransport struct {
	net  *memNet
	self string
}

func (n *memNet) transport(self string) Transport { return &memTransport{net: n, self: self} }

func (n *memNet) reach(from, to string) (*Member, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	m, ok := n.members[to]
	return m, ok && !n.down[from] && !n.down[to]
}

func (t *memTransport) Send(ctx context.Context, to string, msgs [][]byte) error {
	m, ok := t.net.reach(t.self, to)
	if !ok {
		return fmt.Errorf("%s unreachable: %w", to, ErrNotSent)
	}
	for _, b := range msgs {
		m.HandleRaft(t.self, b)
	}
	return nil
}

func (t *memTransport) Request(ctx context.Context, to string, req []byte) ([]byte, error) {
	m, ok := t.net.reach(t.self, to)
	if !ok {
		return nil, fmt.Errorf("%s unreachable: %w", to, ErrNotSent)
	}
	return m.HandleRequest(ctx, t.self, req), nil
}

func (n *memNet) cut(p string, down bool) {
	n.mu.Lock()
	n.down[p] = down
	n.mu.Unlock()
}

// startMember starts the member id of a namespace whose first voters are
// ids, on n, with its log in dir; tweak, if set, adjusts its config. It is
// closed at the end of the test (closing it before is fine).
func startMember(t *testing.T, n *memNet, id string, ids []string, dir string, tweak func(*Config)) *Member {
	t.Helper()
	cfg := Config{Namespace: "test", Self: id, Voters: ids, Dir: dir, Transport: n.transport(id), TickInterval: 5 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	n.members[id] = m
	n.mu.Unlock()
	t.Cleanup(func() { m.Close() })
	return m
}

// startMembers starts voters v0..v(nv-1) and others o0.. with logs in
// temporary folders.
func startMembers(t *testing.T, n *memNet, nv, no int) (voters, others []*Member) {
	t.Helper()
	var ids []string
	for i := range nv {
		ids = append(ids, fmt.Sprintf("v%d", i))
	}
	for _, id := range ids {
		voters = append(voters, startMember(t, n, id, ids, t.TempDir(), nil))
	}
	for i := range no {
		others = append(others, startMember(t, n, fmt.Sprintf("o%d", i), ids, t.TempDir(), nil))
	}
	return voters, others
}

// waitWriter waits until every member of ms agrees on one writer.
func waitWriter(t *testing.T, ms ...*Member) (string, uint64) {
	t.Helper()
	return waitWriterNot(t, "", ms...)
}

// waitWriterNot waits until every member of ms agrees on one writer other
// than not.
func waitWriterNot(t *testing.T, not string, ms ...*Member) (w string, term uint64) {
	t.Helper()
	poll(t, func() error {
		w, term = "", 0
		for _, m := range ms {
			v := m.View()
			if v.Writer == "" || (w != "" && v.Writer != w) {
				return fmt.Errorf("no agreed writer: %s sees %q", m.cfg.Self, v.Writer)
			}
			w, term = v.Writer, v.Term
		}
		if w == not {
			return fmt.Errorf("the writer is still %s", not)
		}
		return nil
	})
	return w, term
}

// poll calls cond until it returns nil, failing the test after 20 s.
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
		time.Sleep(2 * time.Millisecond) // poll interval, under the deadline
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
