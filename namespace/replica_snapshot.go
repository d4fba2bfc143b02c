package namespace

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// ErrNoRestore reports a snapshot (in the log at start, or sent by the
// writer) on a replica that was given no [ReplicaOptions.Restore] hook to
// rebuild the tree from it.
var ErrNoRestore = errors.New("namespace: snapshot but no restore hook")

// ErrCompactIndex reports a Compact at an index the replica has not
// applied yet, or at or below its last snapshot.
var ErrCompactIndex = errors.New("namespace: compaction index out of range")

// ReplicaOptions are a replica's optional settings; the zero value is what
// NewReplica uses.
type ReplicaOptions struct {
	// Restore rebuilds the tree from a snapshot's data: the bytes a
	// Compact was given, on this replica (found in its log at start) or on
	// the writer (sent to a replica too far behind for the log). The
	// daemon puts there what names the state's MarshalBinary bytes in the
	// mesh and implements Restore with a fetch and UnmarshalState. If nil,
	// such a snapshot is ErrNoRestore.
	Restore func(data []byte) (*State, error)
	// SendEarly, if set, gets the writer's appends and heartbeats before
	// Process makes its own log durable, so followers write theirs at the
	// same time (Raft allows it of the leader: it counts its own copy only
	// once durable). Every other message still comes in Output.Messages,
	// after.
	SendEarly func([]*raftpb.Message)
}

// confPoint is the configuration in force from index on.
type confPoint struct {
	index uint64
	cs    *raftpb.ConfState
}

// snapReport is what to tell Raft about a snapshot message it produced.
type snapReport struct {
	to     uint64
	status raft.SnapshotStatus
}

// Compact records a snapshot of the tree as of index, whose data (opaque
// to Raft, handed to [ReplicaOptions.Restore] where it is restored) the
// caller made from State at that index, and drops the log before it: the
// Log is rewritten to start with the snapshot (then the hard state and the
// entries after index), and the memory keeps only the keep entries before
// index, so that a replica a little behind still gets entries rather than
// the snapshot (after a restart the log starts right after the snapshot).
// Index must lie after the last snapshot and at most at AppliedIndex, else
// ErrCompactIndex; the snapshot carries the configuration in force at
// index, even if a configuration change was applied since. If the Log
// fails, nothing changed.
//
// A voter added after the snapshot's index cannot be sent it (Raft would
// refuse it): Process then sets Output.NeedSnapshot, and a new Compact at
// AppliedIndex serves it.
func (r *Replica) Compact(index uint64, data []byte, keep uint64) error {
	if index <= r.snapIndex || index > r.applied {
		return fmt.Errorf("%w: %d (last snapshot %d, applied %d)", ErrCompactIndex, index, r.snapIndex, r.applied)
	}
	term, err := r.storage.Term(index)
	if err != nil {
		return fmt.Errorf("namespace: compact at %d: %w", index, err)
	}
	cs := r.confAt(index)
	data = bytes.Clone(data)
	if r.log != nil {
		snap := &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{
			Index: proto.Uint64(index), Term: proto.Uint64(term), ConfState: cs,
		}}
		var entries []*raftpb.Entry
		if last, _ := r.storage.LastIndex(); last > index {
			if entries, err = r.storage.Entries(index+1, last+1, math.MaxUint64); err != nil {
				return fmt.Errorf("namespace: compact at %d: %w", index, err)
			}
		}
		hs, _, _ := r.storage.InitialState()
		if err := r.log.SaveSnapshot(snap, hs, entries); err != nil {
			return fmt.Errorf("namespace: raft log: %w", err)
		}
	}
	if _, err := r.storage.CreateSnapshot(index, cs, data); err != nil {
		return fmt.Errorf("namespace: compact at %d: %w", index, err)
	}
	if first, _ := r.storage.FirstIndex(); index > keep && index-keep >= first {
		if err := r.storage.Compact(index - keep); err != nil {
			return fmt.Errorf("namespace: compact at %d: %w", index-keep, err)
		}
	}
	r.snapIndex = index
	r.pruneConfs()
	return nil
}

// SnapshotIndex returns the index of the last snapshot, taken with Compact
// or received from the writer; 0 if none.
func (r *Replica) SnapshotIndex() uint64 { return r.snapIndex }

// LogLength returns how many entries the log holds after the last
// snapshot: what the Log holds and a restart replays. The daemon compacts
// when it grows past a bound.
func (r *Replica) LogLength() uint64 {
	last, _ := r.storage.LastIndex()
	if last < r.snapIndex {
		return 0
	}
	return last - r.snapIndex
}

// installSnapshot replaces the tree with a snapshot the writer sent: it
// restores the state from the snapshot's data first (so a snapshot that
// cannot be restored leaves the log as it was), then makes the snapshot,
// the hard state and the entries of its Ready durable as one rewrite of
// the log, then hands them to the storage Raft reads.
func (r *Replica) installSnapshot(snap *raftpb.Snapshot, hs *raftpb.HardState, entries []*raftpb.Entry) error {
	md := snap.GetMetadata()
	st, err := r.restoreState(snap)
	if err != nil {
		return err
	}
	if raft.IsEmptyHardState(hs) {
		hs, _, _ = r.storage.InitialState()
	}
	if hs.GetCommit() < md.GetIndex() {
		// A snapshot is committed; a log whose commit index lies below
		// its snapshot would not restart.
		hs = &raftpb.HardState{Term: proto.Uint64(hs.GetTerm()), Vote: proto.Uint64(hs.GetVote()), Commit: proto.Uint64(md.GetIndex())}
	}
	if r.log != nil {
		if err := r.log.SaveSnapshot(snap, hs, entries); err != nil {
			return fmt.Errorf("namespace: raft log: %w", err)
		}
	}
	if err := r.storage.ApplySnapshot(snap); err != nil {
		return fmt.Errorf("namespace: snapshot %d: %w", md.GetIndex(), err)
	}
	if err := r.storage.Append(entries); err != nil {
		return err
	}
	if err := r.storage.SetHardState(hs); err != nil {
		return err
	}
	r.state = st
	r.applied, r.snapIndex, r.appliedTerm = md.GetIndex(), md.GetIndex(), md.GetTerm()
	r.confs = []confPoint{{index: md.GetIndex(), cs: md.GetConfState()}}
	return nil
}

// restoreState rebuilds the tree from snap's data with the Restore hook.
func (r *Replica) restoreState(snap *raftpb.Snapshot) (*State, error) {
	idx := snap.GetMetadata().GetIndex()
	if r.restore == nil {
		return nil, fmt.Errorf("%w: snapshot at %d", ErrNoRestore, idx)
	}
	st, err := r.restore(snap.GetData())
	if err != nil {
		return nil, fmt.Errorf("namespace: restore snapshot at %d: %w", idx, err)
	}
	if st == nil {
		return nil, fmt.Errorf("namespace: restore snapshot at %d: no state", idx)
	}
	return st, nil
}

// sendable appends to out the messages to send. A snapshot message is
// small (its data names the state, which the receiver fetches), so it is
// reported sent at once: if it is lost, the writer probes the voter again
// and sends it anew, rather than wait for it forever. A snapshot whose
// configuration does not include its receiver would be refused: it is
// dropped, reported failed (the writer tries again a heartbeat later) and
// flagged in out.NeedSnapshot.
func (r *Replica) sendable(out *Output, msgs []*raftpb.Message) []snapReport {
	var reports []snapReport
	for _, m := range msgs {
		if m.GetType() == raftpb.MessageType_MsgSnap {
			if !inConf(m.GetSnapshot().GetMetadata().GetConfState(), m.GetTo()) {
				out.NeedSnapshot = true
				reports = append(reports, snapReport{to: m.GetTo(), status: raft.SnapshotFailure})
				continue
			}
			reports = append(reports, snapReport{to: m.GetTo(), status: raft.SnapshotFinish})
		}
		out.Messages = append(out.Messages, m)
	}
	return reports
}

// inConf reports whether cs includes id as Raft's restore wants it: a
// voter (incoming or outgoing) or a learner.
func inConf(cs *raftpb.ConfState, id uint64) bool {
	return slices.Contains(cs.GetVoters(), id) || slices.Contains(cs.GetLearners(), id) || slices.Contains(cs.GetVotersOutgoing(), id)
}

// confChanged records the configuration in force from index on.
func (r *Replica) confChanged(index uint64, cs *raftpb.ConfState) {
	r.confs = append(r.confs, confPoint{index: index, cs: cs})
}

// confAt returns a copy of the configuration in force at index, which
// must not lie before the last snapshot.
func (r *Replica) confAt(index uint64) *raftpb.ConfState {
	cs := r.confs[0].cs
	for _, p := range r.confs[1:] {
		if p.index > index {
			break
		}
		cs = p.cs
	}
	return raftpb.EnsureConfState(proto.Clone(cs).(*raftpb.ConfState))
}

// pruneConfs forgets the configurations replaced before the last
// snapshot: Compact never asks for an index before it.
func (r *Replica) pruneConfs() {
	i := 0
	for i+1 < len(r.confs) && r.confs[i+1].index <= r.snapIndex {
		i++
	}
	r.confs = slices.Delete(r.confs, 0, i)
}
