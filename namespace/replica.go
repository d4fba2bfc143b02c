package namespace

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// ErrStaleTerm reports an operation created in a term that is over: the
// writer that took it has been deposed, so it is refused (fenced).
var ErrStaleTerm = errors.New("namespace: stale term")

// NotWriterError says that this replica is not the writer for the term
// asked, and who it believes the writer is (0 if it knows none).
type NotWriterError struct {
	Term   uint64 // this replica's current term
	Writer uint64 // the replica it believes is the writer, 0 if none
}

func (e *NotWriterError) Error() string {
	return fmt.Sprintf("namespace: not the writer (term %d, writer %d)", e.Term, e.Writer)
}

func (e *NotWriterError) Unwrap() error { return ErrStaleTerm }

// Applied is the outcome of one committed log entry: an operation, or
// (with ID 0 and no error) a new writer's empty entry or a configuration
// change.
type Applied struct {
	ID        uint64 // the proposal's ID, 0 for entries that carry none
	Index     uint64 // its log index
	Term      uint64 // the term it was proposed in
	EntryTerm uint64 // the term of the leader that appended it
	Err       error  // the operation's error, ErrStaleTerm if fenced
	// Conf is the configuration change applied, if the entry was one.
	Conf *raftpb.ConfChange
}

// ReadState says that a read asked for with ReadIndex(Ctx) is linearizable
// once the replica has applied Index.
type ReadState struct {
	Ctx   uint64
	Index uint64
}

// Output is what one Process hands back: messages to send (only now that
// what they depend on is durable), entries applied, reads confirmed.
type Output struct {
	Messages []*raftpb.Message
	Applied  []Applied
	Reads    []ReadState
	// Restored is the snapshot that replaced State during this Process
	// (this replica was too far behind for the log), nil if none: the
	// entries up to its index were not applied one by one here, so they
	// have no Applied.
	Restored *raftpb.Snapshot
	// NeedSnapshot says that the writer had to drop a snapshot for a
	// voter that the snapshot's configuration does not include (a voter
	// added after the last Compact): it waits until Compact records a newer
	// snapshot, at an index where it is a voter.
	NeedSnapshot bool
}

// entry is what a log entry carries.
type entry struct {
	Term uint64          `json:"term"`
	ID   uint64          `json:"id"`
	Op   json.RawMessage `json:"op"`
}

// Replica is one voter's copy of the tree and its Raft node: the Raft
// leader is the writer and its term the fencing token. It is stepped by the
// caller (Tick, Step, Propose) and hands back what to send and what was
// applied from Process, so it has no goroutines, clocks or I/O; the driver
// persists and sends. Messages returned by Process are to be sent only
// after the entries and hard state it stored are durable.
type Replica struct {
	id      uint64
	rn      *raft.RawNode
	storage *raft.MemoryStorage
	log     Log
	restore func(data []byte) (*State, error)
	state   *State
	applied uint64
	// appliedTerm is the term of the entry at applied.
	appliedTerm uint64
	// snapIndex is the index of the last snapshot, taken or received.
	snapIndex uint64
	// confs is the configuration in force from each index on, oldest
	// first; the first is the one in force at snapIndex.
	confs []confPoint
	// sendEarly, if set, takes the writer's appends before they are durable
	// here (ReplicaOptions.SendEarly).
	sendEarly func([]*raftpb.Message)
}

// Log makes a replica's hard state, entries and snapshots durable; WAL is
// the one on disk. A nil Log keeps them in memory only (tests).
type Log interface {
	// Save appends entries and the hard state (either may be empty) and
	// returns once the entries, term and vote are durable (a newer commit
	// index alone need not be).
	Save(hs *raftpb.HardState, entries []*raftpb.Entry) error
	// SaveSnapshot replaces the whole log with snap followed by hs and
	// entries (which start right after snap's index, or are empty), as one
	// atomic step: after a crash the log is either the old one or the new
	// one, whole. Replica.Compact calls it with its own snapshot and the
	// entries it keeps; Process with a snapshot the writer sent and the
	// rest of the same Ready.
	SaveSnapshot(snap *raftpb.Snapshot, hs *raftpb.HardState, entries []*raftpb.Entry) error
}

// NewReplica starts the replica id of a namespace whose voters are voters,
// with storage holding what log had persisted (what OpenWAL returns, or a
// new MemoryStorage and a nil log for a replica kept in memory). A new
// replica with no voters joins a namespace that has added it: it waits
// for the writer to send it the log. It is NewReplicaWith with no options,
// so it cannot restore a snapshot: see [ReplicaOptions.Restore].
func NewReplica(id uint64, voters []uint64, storage *raft.MemoryStorage, log Log) (*Replica, error) {
	return NewReplicaWith(id, voters, storage, log, ReplicaOptions{})
}

// NewReplicaWith is NewReplica with options. If storage starts with a
// snapshot (the log was compacted), the tree is restored from its data
// with opts.Restore, the replica's applied index is the snapshot's, and
// only the entries after it are applied again.
func NewReplicaWith(id uint64, voters []uint64, storage *raft.MemoryStorage, log Log, opts ReplicaOptions) (*Replica, error) {
	r := &Replica{id: id, storage: storage, log: log, restore: opts.Restore, sendEarly: opts.SendEarly, state: New()}
	snap, err := storage.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("namespace: raft storage: %w", err)
	}
	r.confs = []confPoint{{index: 0, cs: &raftpb.ConfState{}}}
	if !raft.IsEmptySnap(snap) {
		md := snap.GetMetadata()
		if r.state, err = r.restoreState(snap); err != nil {
			return nil, err
		}
		r.applied, r.snapIndex, r.appliedTerm = md.GetIndex(), md.GetIndex(), md.GetTerm()
		r.confs = []confPoint{{index: md.GetIndex(), cs: md.GetConfState()}}
	}
	cfg := &raft.Config{
		ID:              id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         storage,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		CheckQuorum:     true, // a leader that loses its quorum steps down
		// A writer removed from the voters steps down at once.
		StepDownOnRemoval: true,
		PreVote:           true, // a partitioned replica does not disrupt the term
		Logger:            &raft.DefaultLogger{Logger: discardLogger()},
		Applied:           r.applied, // entries up to a snapshot are in State already
	}
	rn, err := raft.NewRawNode(cfg)
	if err != nil {
		return nil, fmt.Errorf("namespace: raft: %w", err)
	}
	if hs, cs, err := storage.InitialState(); err == nil && len(voters) > 0 && raft.IsEmptyHardState(hs) && len(cs.GetVoters()) == 0 {
		peers := make([]raft.Peer, len(voters))
		for i, v := range voters {
			peers[i] = raft.Peer{ID: v}
		}
		if err := rn.Bootstrap(peers); err != nil {
			return nil, fmt.Errorf("namespace: raft bootstrap: %w", err)
		}
	}
	r.rn = rn
	return r, nil
}

// Tick advances the replica's logical clock by one tick.
func (r *Replica) Tick() { r.rn.Tick() }

// Step hands the replica a message from another replica.
func (r *Replica) Step(m *raftpb.Message) error { return r.rn.Step(m) }

// Writer returns the current term and the writer this replica knows of.
func (r *Replica) Writer() (term, writer uint64) {
	st := r.rn.BasicStatus()
	return st.GetTerm(), st.Lead
}

// IsWriter reports whether this replica is the writer now.
func (r *Replica) IsWriter() bool { return r.rn.BasicStatus().RaftState == raft.StateLeader }

// Propose submits op, created in term, under proposal id. It is refused
// unless this replica is the writer of that very term.
func (r *Replica) Propose(term, id uint64, op Op) error {
	st := r.rn.BasicStatus()
	if st.RaftState != raft.StateLeader || st.GetTerm() != term {
		return &NotWriterError{Term: st.GetTerm(), Writer: st.Lead}
	}
	b, err := EncodeOp(op)
	if err != nil {
		return err
	}
	data, err := json.Marshal(entry{Term: term, ID: id, Op: b})
	if err != nil {
		return err
	}
	return r.rn.Propose(data)
}

// State returns the replica's applied tree (do not change it).
func (r *Replica) State() *State { return r.state }

// ReadIndex asks for a linearizable read point; it arrives in a later
// Output's Reads with the same ctx (or never, if no writer answers: ask
// again after a while).
func (r *Replica) ReadIndex(ctx uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ctx)
	r.rn.ReadIndex(b[:])
}

// AppliedTerm returns the term of the last entry applied to State (of the
// snapshot's, if none since): it never decreases along the log.
func (r *Replica) AppliedTerm() uint64 { return r.appliedTerm }

// AppliedIndex returns the index of the last entry applied to State.
func (r *Replica) AppliedIndex() uint64 { return r.applied }

// Voters returns the Raft IDs of the namespace's voters, as of the last
// applied configuration.
func (r *Replica) Voters() []uint64 {
	// The configuration history's last entry is the applied one (Raft's
	// Status would copy every follower's progress to say the same).
	return slices.Sorted(slices.Values(r.confs[len(r.confs)-1].cs.GetVoters()))
}

// ProposeConfChange proposes adding (or removing) the voter id, created in
// term; context travels with it (the daemon puts the voter's peer ID there).
func (r *Replica) ProposeConfChange(term uint64, typ raftpb.ConfChangeType, id uint64, context []byte) error {
	st := r.rn.BasicStatus()
	if st.RaftState != raft.StateLeader || st.GetTerm() != term {
		return &NotWriterError{Term: st.GetTerm(), Writer: st.Lead}
	}
	return r.rn.ProposeConfChange(&raftpb.ConfChange{Type: typ.Enum(), NodeId: proto.Uint64(id), Context: context})
}

// Process stores what Raft produced, applies what committed, and returns
// the messages to send, the entries applied and the reads confirmed. A
// snapshot sent by the writer replaces State (see [ReplicaOptions.Restore])
// and is durable, with the rest of its Ready, before anything of that Ready
// is applied or sent.
func (r *Replica) Process() (Output, error) {
	var out Output
	for r.rn.HasReady() {
		rd := r.rn.Ready()
		if r.sendEarly != nil && r.IsWriter() {
			rd.Messages = r.sendEarlyOnes(rd.Messages)
		}
		if !raft.IsEmptySnap(rd.Snapshot) {
			if err := r.installSnapshot(rd.Snapshot, rd.HardState, rd.Entries); err != nil {
				return Output{}, err
			}
			out.Restored = rd.Snapshot
		} else if err := r.persist(rd.HardState, rd.Entries); err != nil {
			return Output{}, err
		}
		reports := r.sendable(&out, rd.Messages)
		for _, rs := range rd.ReadStates {
			if len(rs.RequestCtx) == 8 {
				out.Reads = append(out.Reads, ReadState{Ctx: binary.BigEndian.Uint64(rs.RequestCtx), Index: rs.Index})
			}
		}
		for _, e := range rd.CommittedEntries {
			a := Applied{Index: e.GetIndex(), Term: e.GetTerm(), EntryTerm: e.GetTerm()}
			switch e.GetType() {
			case raftpb.EntryType_EntryNormal:
				if len(e.GetData()) > 0 {
					a = r.apply(e)
				}
			case raftpb.EntryType_EntryConfChange:
				var c raftpb.ConfChange
				if err := proto.Unmarshal(e.GetData(), &c); err != nil {
					return Output{}, fmt.Errorf("namespace: conf change at %d: %w", e.GetIndex(), err)
				}
				r.confChanged(e.GetIndex(), r.rn.ApplyConfChange(&c))
				a.Conf = &c
			case raftpb.EntryType_EntryConfChangeV2:
				var c raftpb.ConfChangeV2
				if err := proto.Unmarshal(e.GetData(), &c); err != nil {
					return Output{}, fmt.Errorf("namespace: conf change at %d: %w", e.GetIndex(), err)
				}
				r.confChanged(e.GetIndex(), r.rn.ApplyConfChange(&c))
			}
			r.applied, r.appliedTerm = e.GetIndex(), e.GetTerm()
			out.Applied = append(out.Applied, a)
		}
		r.rn.Advance(rd)
		for _, s := range reports {
			r.rn.ReportSnapshot(s.to, s.status)
		}
	}
	return out, nil
}

// persist makes a Ready's hard state and entries durable, then hands them
// to the storage Raft reads.
func (r *Replica) persist(hs *raftpb.HardState, entries []*raftpb.Entry) error {
	// Durable first: the messages of this Ready go out only after.
	if r.log != nil {
		if err := r.log.Save(hs, entries); err != nil {
			return fmt.Errorf("namespace: raft log: %w", err)
		}
	}
	if err := r.storage.Append(entries); err != nil {
		return err
	}
	if hs != nil && !raft.IsEmptyHardState(hs) {
		if err := r.storage.SetHardState(hs); err != nil {
			return err
		}
	}
	return nil
}

// apply applies one committed operation, unless it was created in another
// term than the one its entry was appended in.
func (r *Replica) apply(e *raftpb.Entry) Applied {
	var d entry
	if err := json.Unmarshal(e.GetData(), &d); err != nil {
		return Applied{Index: e.GetIndex(), Term: e.GetTerm(), EntryTerm: e.GetTerm(), Err: fmt.Errorf("%w: entry %d: %v", ErrBadOp, e.GetIndex(), err)}
	}
	a := Applied{ID: d.ID, Index: e.GetIndex(), Term: d.Term, EntryTerm: e.GetTerm()}
	if d.Term != e.GetTerm() {
		a.Err = ErrStaleTerm
		return a
	}
	op, err := DecodeOp(d.Op)
	if err != nil {
		a.Err = err
		return a
	}
	a.Err = r.state.Apply(op)
	return a
}

// ReportUnreachable tells Raft that a message to id could not be sent, so
// the writer probes id instead of streaming to it.
func (r *Replica) ReportUnreachable(id uint64) { r.rn.ReportUnreachable(id) }

// sendEarlyOnes hands the writer's appends and heartbeats to SendEarly and
// returns the other messages.
func (r *Replica) sendEarlyOnes(msgs []*raftpb.Message) []*raftpb.Message {
	var early, rest []*raftpb.Message
	for _, m := range msgs {
		switch m.GetType() {
		case raftpb.MessageType_MsgApp, raftpb.MessageType_MsgHeartbeat:
			early = append(early, m)
		default:
			rest = append(rest, m)
		}
	}
	if len(early) > 0 {
		r.sendEarly(early)
	}
	return rest
}
