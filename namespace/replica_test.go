package namespace

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// cluster is replicas joined by an in-memory network that can cut links.
// Its replicas restore snapshots from mesh, the test's stand-in for the
// daemon's content store; those of a disk cluster keep their logs in WALs.
type cluster struct {
	t        *testing.T
	replicas map[uint64]*Replica
	cut      map[uint64]bool // replicas cut off from everyone
	queue    []*raftpb.Message
	applied  map[uint64][]Applied
	writers  map[uint64]uint64 // term → writer seen

	disk        bool
	dirs        map[uint64]string // a disk cluster's WAL folders
	wals        map[uint64]*WAL
	mesh        map[string][]byte // snapshot data → the state's bytes
	restored    map[uint64]int    // snapshots each replica was sent
	needSnap    int               // times a writer wanted a newer snapshot
	autoCompact bool              // compact the writer when it wants one
}

func newCluster(t *testing.T, n int) *cluster { return startCluster(t, n, false) }

// newDiskCluster is newCluster with each replica's log in a WAL.
func newDiskCluster(t *testing.T, n int) *cluster { return startCluster(t, n, true) }

func startCluster(t *testing.T, n int, disk bool) *cluster {
	c := &cluster{
		t: t, replicas: map[uint64]*Replica{}, cut: map[uint64]bool{}, applied: map[uint64][]Applied{}, writers: map[uint64]uint64{},
		disk: disk, dirs: map[uint64]string{}, wals: map[uint64]*WAL{}, mesh: map[string][]byte{}, restored: map[uint64]int{},
	}
	t.Cleanup(c.close)
	var ids []uint64
	for i := 1; i <= n; i++ {
		ids = append(ids, uint64(i))
	}
	for _, id := range ids {
		c.add(id, ids)
	}
	return c
}

// add starts replica id: of a new namespace of voters, or (voters nil) one
// that waits to be added.
func (c *cluster) add(id uint64, voters []uint64) {
	c.t.Helper()
	st := raft.NewMemoryStorage()
	var log Log
	if c.disk {
		c.dirs[id] = c.t.TempDir()
		w, s, err := OpenWAL(c.dirs[id])
		if err != nil {
			c.t.Fatal(err)
		}
		c.wals[id], st, log = w, s, w
	}
	r, err := NewReplicaWith(id, voters, st, log, ReplicaOptions{Restore: c.restore})
	if err != nil {
		c.t.Fatal(err)
	}
	c.replicas[id] = r
}

// restart stops replica id and starts it again from its WAL, as a daemon
// that crashed would.
func (c *cluster) restart(id uint64) {
	c.t.Helper()
	if err := c.wals[id].Close(); err != nil {
		c.t.Fatal(err)
	}
	w, st, err := OpenWAL(c.dirs[id])
	if err != nil {
		c.t.Fatal(err)
	}
	r, err := NewReplicaWith(id, nil, st, w, ReplicaOptions{Restore: c.restore})
	if err != nil {
		c.t.Fatal(err)
	}
	c.wals[id], c.replicas[id] = w, r
}

func (c *cluster) close() {
	for _, w := range c.wals {
		w.Close()
	}
}

// restore is the replicas' Restore hook: it looks the state up in mesh.
func (c *cluster) restore(data []byte) (*State, error) {
	b, ok := c.mesh[string(data)]
	if !ok {
		return nil, fmt.Errorf("no state %q in the mesh", data)
	}
	return UnmarshalState(b)
}

// compact has replica id compact at its applied index, keeping keep
// entries, with its state stored in mesh as the daemon would.
func (c *cluster) compact(id, keep uint64) {
	c.t.Helper()
	r := c.replicas[id]
	b, err := r.State().MarshalBinary()
	if err != nil {
		c.t.Fatal(err)
	}
	data := fmt.Sprintf("state %x", sha256.Sum256(b))
	c.mesh[data] = b
	if err := r.Compact(r.AppliedIndex(), []byte(data), keep); err != nil {
		c.t.Fatalf("replica %d: %v", id, err)
	}
}

// ids returns the replicas' IDs in order, so that runs repeat.
func (c *cluster) ids() []uint64 { return slices.Sorted(maps.Keys(c.replicas)) }

// settle processes every replica and delivers messages until nothing moves;
// it checks that no term ever has two writers.
func (c *cluster) settle() {
	for range 10000 {
		moved := false
		for _, id := range c.ids() {
			r := c.replicas[id]
			out, err := r.Process()
			if err != nil {
				c.t.Fatalf("replica %d: %v", id, err)
			}
			for _, a := range out.Applied {
				if a.ID != 0 || a.Conf != nil {
					c.applied[id] = append(c.applied[id], a)
				}
			}
			if out.Restored != nil {
				c.restored[id]++
			}
			c.queue = append(c.queue, out.Messages...)
			if r.IsWriter() {
				term, _ := r.Writer()
				if w, ok := c.writers[term]; ok && w != id {
					c.t.Fatalf("term %d has two writers: %d and %d", term, w, id)
				}
				c.writers[term] = id
			}
			if out.NeedSnapshot {
				c.needSnap++
				if c.autoCompact {
					c.compact(id, 10)
				}
			}
		}
		q := c.queue
		c.queue = nil
		for _, m := range q {
			moved = true
			if c.cut[m.GetFrom()] || c.cut[m.GetTo()] {
				continue
			}
			if err := c.replicas[m.GetTo()].Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
				c.t.Fatal(err)
			}
		}
		if !moved {
			return
		}
	}
	c.t.Fatal("the network never settled")
}

// tick advances every replica's clock by n ticks, settling after each.
func (c *cluster) tick(n int) {
	for range n {
		for _, id := range c.ids() {
			c.replicas[id].Tick()
		}
		c.settle()
	}
}

// writer ticks until exactly one uncut replica is the writer, and returns it.
func (c *cluster) writer() (uint64, uint64) {
	for range 200 {
		for _, id := range c.ids() {
			if r := c.replicas[id]; !c.cut[id] && r.IsWriter() {
				term, _ := r.Writer()
				return id, term
			}
		}
		c.tick(1)
	}
	c.t.Fatal("no writer elected")
	return 0, 0
}

func TestReplicasElectOneWriterAndAgree(t *testing.T) {
	c := newCluster(t, 3)
	w, term := c.writer()
	for i := range 20 {
		if err := c.replicas[w].Propose(term, uint64(i), Mkdir{Path: fmt.Sprintf("/d%d", i), Perm: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	c.settle()
	c.tick(2)
	for id, r := range c.replicas {
		if r.State().Len() != 21 {
			t.Errorf("replica %d has %d inodes, want 21", id, r.State().Len())
		}
		if !equalStates(r.State(), c.replicas[w].State()) {
			t.Errorf("replica %d differs from the writer", id)
		}
	}
	// A follower refuses proposals and names the writer.
	for id, r := range c.replicas {
		if id == w {
			continue
		}
		err := r.Propose(term, 99, Mkdir{Path: "/x"})
		var nw *NotWriterError
		if !errors.As(err, &nw) || nw.Writer != w || !errors.Is(err, ErrStaleTerm) {
			t.Errorf("replica %d: %v", id, err)
		}
	}
	// The writer refuses an operation created in another term.
	if err := c.replicas[w].Propose(term-1, 100, Mkdir{Path: "/old"}); !errors.Is(err, ErrStaleTerm) {
		t.Errorf("stale term accepted: %v", err)
	}
}

func TestDeposedWriterIsFenced(t *testing.T) {
	c := newCluster(t, 3)
	old, oldTerm := c.writer()
	// Cut the writer off; the others elect a new one in a later term.
	c.cut[old] = true
	var w, term uint64
	for range 300 {
		c.tick(1)
		for id, r := range c.replicas {
			if id != old && r.IsWriter() {
				w, term = id, func() uint64 { t, _ := r.Writer(); return t }()
			}
		}
		if w != 0 {
			break
		}
	}
	if w == 0 || term <= oldTerm {
		t.Fatalf("no new writer (old %d term %d)", old, oldTerm)
	}
	// The deposed writer may still think it writes; what it takes never
	// commits. The new writer's operations do.
	_ = c.replicas[old].Propose(oldTerm, 1, Mkdir{Path: "/from-old"})
	if err := c.replicas[w].Propose(term, 2, Mkdir{Path: "/from-new"}); err != nil {
		t.Fatal(err)
	}
	c.tick(3)
	delete(c.cut, old)
	c.tick(30)
	for id, r := range c.replicas {
		if _, err := r.State().Stat("/from-old"); err == nil {
			t.Errorf("replica %d applied the deposed writer's operation", id)
		}
		if _, err := r.State().Stat("/from-new"); err != nil {
			t.Errorf("replica %d lacks the new writer's operation: %v", id, err)
		}
	}
	if _, newTerm := c.writer(); newTerm < term {
		t.Errorf("term went back to %d", newTerm)
	}
}
