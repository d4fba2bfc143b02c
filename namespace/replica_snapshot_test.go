package namespace

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// testOp returns the i-th of a deterministic mix of operations, some of
// which fail (a failed operation changes nothing, on every replica alike).
func testOp(i int) Op {
	d := fmt.Sprintf("/d%d", i/5%10)
	switch i % 5 {
	case 0:
		return Mkdir{Path: d, Perm: 0o755, Mtime: int64(i), Parents: true}
	case 1:
		return Touch{Path: fmt.Sprintf("%s/f%d", d, i), Mtime: int64(i)}
	case 2:
		return Symlink{Path: fmt.Sprintf("%s/l%d", d, i), Target: fmt.Sprintf("f%d", i-1), Mtime: int64(i)}
	case 3:
		return Rename{From: fmt.Sprintf("%s/f%d", d, i-2), To: fmt.Sprintf("%s/g%d", d, i), Mtime: int64(i)}
	default:
		return Unlink{Path: fmt.Sprintf("%s/l%d", d, i-2), Mtime: int64(i)}
	}
}

// propose has the writer propose ops [from, to) in batches, settling
// after each, and returns the writer.
func (c *cluster) propose(from, to int) uint64 {
	c.t.Helper()
	w, term := c.writer()
	for i := from; i < to; i++ {
		if err := c.replicas[w].Propose(term, uint64(i+1), testOp(i)); err != nil {
			c.t.Fatal(err)
		}
		if i%50 == 49 {
			c.settle()
		}
	}
	c.settle()
	c.tick(2) // the followers learn the last commit index
	return w
}

// stateBytes returns the replica's tree as snapshot bytes, to compare.
func stateBytes(t *testing.T, r *Replica) []byte {
	t.Helper()
	b, err := r.State().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// converged checks that every replica applied as far as want and holds
// its tree.
func (c *cluster) converged(want uint64) {
	c.t.Helper()
	wr := c.replicas[want]
	for _, id := range c.ids() {
		r := c.replicas[id]
		if r.AppliedIndex() != wr.AppliedIndex() {
			c.t.Errorf("replica %d applied %d, replica %d applied %d", id, r.AppliedIndex(), want, wr.AppliedIndex())
		}
		if !bytes.Equal(stateBytes(c.t, r), stateBytes(c.t, wr)) {
			c.t.Errorf("replica %d's tree differs from replica %d's", id, want)
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestCompactShrinksTheLogAndRestarts(t *testing.T) {
	c := newDiskCluster(t, 3)
	w := c.propose(0, 500)
	c.converged(w)
	const keep = 10
	for _, id := range c.ids() {
		r := c.replicas[id]
		log := filepath.Join(c.dirs[id], walName)
		before := fileSize(t, log)
		index := r.AppliedIndex()
		c.compact(id, keep)
		t.Logf("replica %d: %d -> %d bytes", id, before, fileSize(t, log))
		if after := fileSize(t, log); after*10 > before {
			t.Errorf("replica %d: the log went from %d to %d bytes", id, before, after)
		}
		if r.SnapshotIndex() != index {
			t.Errorf("replica %d: snapshot index %d, want %d", id, r.SnapshotIndex(), index)
		}
		if first, _ := r.storage.FirstIndex(); first != index-keep+1 {
			t.Errorf("replica %d: first index in memory %d, want %d", id, first, index-keep+1)
		}
		if n, _ := r.storage.LastIndex(); r.LogLength() != n-index {
			t.Errorf("replica %d: log length %d, want %d", id, r.LogLength(), n-index)
		}
	}
	// A follower restarts from its compacted log: the tree comes from the
	// snapshot, the log from the entries after it.
	f := c.ids()[0]
	if f == w {
		f = c.ids()[1]
	}
	c.restart(f)
	if first, _ := c.replicas[f].storage.FirstIndex(); first != c.replicas[f].SnapshotIndex()+1 {
		t.Errorf("restarted replica's log starts at %d, after snapshot %d", first, c.replicas[f].SnapshotIndex())
	}
	c.settle()
	c.converged(w)
	// It keeps committing.
	w = c.propose(500, 520)
	c.converged(w)
	if _, err := c.replicas[f].State().Stat("/d3"); err != nil {
		t.Errorf("restarted replica: %v", err)
	}
	// So does the whole namespace restarted at once.
	for _, id := range c.ids() {
		c.restart(id)
	}
	w = c.propose(520, 540)
	c.converged(w)
}

func TestLaggingReplicaGetsSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writer bool // cut the writer off, rather than a follower
	}{
		{"follower", false},
		{"deposed writer", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newDiskCluster(t, 3)
			w, oldTerm := c.writer()
			lag := w
			if !tc.writer {
				lag = c.ids()[(slices.Index(c.ids(), w)+1)%3]
			}
			c.cut[lag] = true
			if tc.writer {
				// What the deposed writer takes never commits.
				_ = c.replicas[lag].Propose(oldTerm, 1000, Mkdir{Path: "/from-old"})
			}
			w = c.propose(0, 200)
			if w == lag {
				t.Fatal("the cut-off replica is the writer")
			}
			for _, id := range c.ids() {
				if id != lag {
					c.compact(id, 10)
				}
			}
			if first, _ := c.replicas[w].storage.FirstIndex(); first <= c.replicas[lag].AppliedIndex()+1 {
				t.Fatalf("the writer's log (from %d) still reaches the lagging replica (at %d)", first, c.replicas[lag].AppliedIndex())
			}
			delete(c.cut, lag)
			c.tick(5)
			if c.restored[lag] == 0 {
				t.Fatal("the lagging replica got no snapshot")
			}
			if got, want := c.replicas[lag].SnapshotIndex(), c.replicas[w].SnapshotIndex(); got != want {
				t.Errorf("snapshot index %d, want the writer's %d", got, want)
			}
			c.converged(w)
			for _, id := range c.ids() {
				if _, err := c.replicas[id].State().Stat("/from-old"); err == nil {
					t.Errorf("replica %d applied the deposed writer's operation", id)
				}
			}
			// The snapshot it received is in its WAL: it restarts from it.
			c.restart(lag)
			w = c.propose(200, 210)
			c.converged(w)
			if c.restored[lag] != 1 {
				t.Errorf("the lagging replica restored %d snapshots, want 1", c.restored[lag])
			}
		})
	}
}

func TestNewVoterCatchesUpBySnapshot(t *testing.T) {
	c := newDiskCluster(t, 3)
	c.autoCompact = true // as the daemon would, when the writer needs one
	w := c.propose(0, 100)
	for _, id := range c.ids() {
		c.compact(id, 10)
	}
	before := c.replicas[w].SnapshotIndex()
	// Add voter 4 as member's proposeVoter does.
	c.add(4, nil)
	term, _ := c.replicas[w].Writer()
	if err := c.replicas[w].ProposeConfChange(term, raftpb.ConfChangeType_ConfChangeAddNode, 4, []byte("peer4")); err != nil {
		t.Fatal(err)
	}
	c.tick(5)
	// The snapshot taken before it was added could not serve it: the
	// writer asked for a newer one, and sent that.
	if c.needSnap == 0 || c.replicas[w].SnapshotIndex() <= before {
		t.Errorf("the writer needed %d snapshots, its last at %d (before: %d)", c.needSnap, c.replicas[w].SnapshotIndex(), before)
	}
	if c.restored[4] != 1 {
		t.Errorf("the new voter restored %d snapshots, want 1", c.restored[4])
	}
	if got := c.replicas[4].Voters(); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Errorf("the new voter sees voters %v", got)
	}
	w = c.propose(100, 120)
	c.converged(w)
	// Four voters need three: with an old one cut off, nothing commits
	// unless the new voter takes part.
	for _, id := range []uint64{1, 2, 3} {
		if id != w {
			c.cut[id] = true
			break
		}
	}
	before = c.replicas[w].AppliedIndex()
	w = c.propose(120, 125)
	if got := c.replicas[w].AppliedIndex(); got < before+5 || c.replicas[4].AppliedIndex() != got {
		t.Errorf("with an old voter cut off: writer applied %d (from %d), new voter %d", got, before, c.replicas[4].AppliedIndex())
	}
}

func TestCompactTakesTheConfigurationAtItsIndex(t *testing.T) {
	c := newCluster(t, 3)
	w := c.propose(0, 20)
	c.add(4, nil)
	term, _ := c.replicas[w].Writer()
	if err := c.replicas[w].ProposeConfChange(term, raftpb.ConfChangeType_ConfChangeAddNode, 4, nil); err != nil {
		t.Fatal(err)
	}
	w = c.propose(20, 30)
	var conf uint64
	for _, a := range c.applied[w] {
		if a.Conf != nil && a.Conf.GetNodeId() == 4 {
			conf = a.Index
		}
	}
	if conf == 0 {
		t.Fatal("voter 4 was not added")
	}
	r := c.replicas[w]
	applied := r.AppliedIndex()
	// One after the other, on the same replica.
	for _, tc := range []struct {
		index  uint64
		voters []uint64
		err    error
	}{
		{applied + 1, nil, ErrCompactIndex},
		{conf - 1, []uint64{1, 2, 3}, nil},
		{conf - 1, nil, ErrCompactIndex}, // not after the last snapshot
		{conf, []uint64{1, 2, 3, 4}, nil},
		{applied, []uint64{1, 2, 3, 4}, nil},
	} {
		err := r.Compact(tc.index, []byte("x"), 0)
		if !errors.Is(err, tc.err) {
			t.Fatalf("Compact(%d) = %v, want %v", tc.index, err, tc.err)
		}
		if err != nil {
			continue
		}
		snap, _ := r.storage.Snapshot()
		if got := slices.Sorted(slices.Values(snap.GetMetadata().GetConfState().GetVoters())); !slices.Equal(got, tc.voters) {
			t.Errorf("Compact(%d): voters %v, want %v", tc.index, got, tc.voters)
		}
		if r.SnapshotIndex() != tc.index {
			t.Errorf("Compact(%d): snapshot index %d", tc.index, r.SnapshotIndex())
		}
	}
}

func TestSnapshotNeedsRestore(t *testing.T) {
	good := New()
	if err := good.Apply(Mkdir{Path: "/a", Perm: 0o755}); err != nil {
		t.Fatal(err)
	}
	errFetch := errors.New("not in the mesh")
	for _, tc := range []struct {
		name    string
		restore func([]byte) (*State, error)
		err     error
	}{
		{"no hook", nil, ErrNoRestore},
		{"hook fails", func([]byte) (*State, error) { return nil, errFetch }, errFetch},
		{"hook restores", func(d []byte) (*State, error) {
			if string(d) != "root" {
				return nil, fmt.Errorf("data %q", d)
			}
			return good.Clone(), nil
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := raft.NewMemoryStorage()
			snap := &raftpb.Snapshot{Data: []byte("root"), Metadata: &raftpb.SnapshotMetadata{
				Index: proto.Uint64(7), Term: proto.Uint64(2), ConfState: &raftpb.ConfState{Voters: []uint64{1}},
			}}
			if err := st.ApplySnapshot(snap); err != nil {
				t.Fatal(err)
			}
			st.SetHardState(&raftpb.HardState{Term: proto.Uint64(2), Commit: proto.Uint64(7)})
			r, err := NewReplicaWith(1, nil, st, nil, ReplicaOptions{Restore: tc.restore})
			if !errors.Is(err, tc.err) {
				t.Fatalf("NewReplicaWith: %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if r.AppliedIndex() != 7 || r.SnapshotIndex() != 7 || r.LogLength() != 0 {
				t.Errorf("applied %d, snapshot %d, log %d", r.AppliedIndex(), r.SnapshotIndex(), r.LogLength())
			}
			if !equalStates(r.State(), good) {
				t.Error("the tree is not the snapshot's")
			}
			// Alone, it elects itself and commits after the snapshot.
			term := soloWriter(t, r)
			if err := r.Propose(term, 1, Mkdir{Path: "/b"}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Process(); err != nil {
				t.Fatal(err)
			}
			if _, err := r.State().Stat("/b"); err != nil || r.AppliedIndex() <= 7 {
				t.Errorf("after the snapshot: applied %d, %v", r.AppliedIndex(), err)
			}
		})
	}
}

func TestFollowerWithoutRestoreFailsOnSnapshot(t *testing.T) {
	c := newCluster(t, 3)
	w, _ := c.writer()
	lag := c.ids()[(slices.Index(c.ids(), w)+1)%3]
	c.replicas[lag].restore = nil
	c.cut[lag] = true
	w = c.propose(0, 50)
	c.compact(w, 0)
	delete(c.cut, lag)
	var err error
	for range 20 {
		for _, id := range c.ids() {
			c.replicas[id].Tick()
		}
		for _, id := range c.ids() {
			out, perr := c.replicas[id].Process()
			if id == lag && perr != nil {
				err = perr
				break
			}
			for _, m := range out.Messages {
				if !c.cut[m.GetTo()] {
					c.replicas[m.GetTo()].Step(m)
				}
			}
		}
		if err != nil {
			break
		}
	}
	if !errors.Is(err, ErrNoRestore) {
		t.Fatalf("Process: %v, want ErrNoRestore", err)
	}
}
