package namespace

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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
	state   *State
	applied uint64
}

// Log makes a replica's hard state and entries durable; WAL is the one on
// disk. A nil Log keeps them in memory only (tests).
type Log interface {
	Save(hs *raftpb.HardState, entries []*raftpb.Entry) error
}

// NewReplica starts the replica id of a namespace whose voters are voters,
// with storage holding what log had persisted (what OpenWAL returns, or a
// new MemoryStorage and a nil log for a replica kept in memory). A new
// replica with no voters joins a namespace that has added it: it waits
// for the writer to send it the log.
func NewReplica(id uint64, voters []uint64, storage *raft.MemoryStorage, log Log) (*Replica, error) {
	cfg := &raft.Config{
		ID:              id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         storage,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		CheckQuorum:     true, // a leader that loses its quorum steps down
		PreVote:         true, // a partitioned replica does not disrupt the term
		Logger:          &raft.DefaultLogger{Logger: discardLogger()},
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
	return &Replica{id: id, rn: rn, storage: storage, log: log, state: New()}, nil
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

// AppliedIndex returns the index of the last entry applied to State.
func (r *Replica) AppliedIndex() uint64 { return r.applied }

// Voters returns the Raft IDs of the namespace's voters, as of the last
// applied configuration.
func (r *Replica) Voters() []uint64 {
	return slices.Sorted(maps.Keys(r.rn.Status().Config.Voters.IDs()))
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
// the messages to send, the entries applied and the reads confirmed.
func (r *Replica) Process() (Output, error) {
	var out Output
	for r.rn.HasReady() {
		rd := r.rn.Ready()
		if rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot) {
			if err := r.storage.ApplySnapshot(rd.Snapshot); err != nil {
				return Output{}, err
			}
		}
		// Durable first: the messages of this Ready go out only after.
		if r.log != nil {
			if err := r.log.Save(rd.HardState, rd.Entries); err != nil {
				return Output{}, fmt.Errorf("namespace: raft log: %w", err)
			}
		}
		if err := r.storage.Append(rd.Entries); err != nil {
			return Output{}, err
		}
		if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
			if err := r.storage.SetHardState(rd.HardState); err != nil {
				return Output{}, err
			}
		}
		out.Messages = append(out.Messages, rd.Messages...)
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
				r.rn.ApplyConfChange(&c)
				a.Conf = &c
			case raftpb.EntryType_EntryConfChangeV2:
				var c raftpb.ConfChangeV2
				if err := proto.Unmarshal(e.GetData(), &c); err != nil {
					return Output{}, fmt.Errorf("namespace: conf change at %d: %w", e.GetIndex(), err)
				}
				r.rn.ApplyConfChange(&c)
			}
			r.applied = e.GetIndex()
			out.Applied = append(out.Applied, a)
		}
		r.rn.Advance(rd)
	}
	return out, nil
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
