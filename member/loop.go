package member

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"meshfs/content"
	"meshfs/namespace"
)

// loop is the state of a voter's Raft loop, touched only by its goroutine.
type loop struct {
	m     *Member
	rep   *namespace.Replica
	peers map[uint64]string // Raft ID → peer ID, for every voter ever known

	nextID  uint64
	pending map[uint64]*proposal

	queued     []*readWait           // strong reads waiting for a ReadIndex
	inflight   map[uint64]*readBatch // ReadIndex asked, by its ctx
	nextRead   uint64
	waiting    []*readWait // reads waiting for the replica to apply an index
	wasWriter  bool
	renderAll  bool // a rendering's blocks were dropped
	compacting bool // a snapshot's state is on its way to the mesh
	tick       uint64
	published  uint64 // index of the last root handed to the publisher
	publishAt  uint64 // tick of the last publication
	publisher  chan *publication
}

// proposal is a change waiting to commit.
type proposal struct {
	term  uint64
	conf  uint64 // for a configuration change: the voter's Raft ID
	done  chan result
	index uint64
}

type result struct {
	index, term uint64
	err         error
}

// readWait is a read waiting for its index.
type readWait struct {
	ctx   context.Context // the caller's: once done, the read is dropped
	index uint64
	run   func(*namespace.State, uint64)
}

type readBatch struct {
	reads []*readWait
	asked uint64 // tick asked
}

// readRetryTicks is how long a ReadIndex may go unanswered before it is
// asked again (an election may have dropped it).
const readRetryTicks = 10

func (l *loop) run(ticks <-chan time.Time) {
	l.publisher = make(chan *publication, 4096)
	l.m.wg.Add(1)
	go l.m.publishLoop(l.publisher)
	for {
		select {
		case <-ticks:
			l.tick++
			l.rep.Tick()
			l.retryReads()
			l.maybePublish()
		case msg := <-l.m.inbox:
			_ = l.rep.Step(msg)
		case f := <-l.m.calls:
			f(l)
		case <-l.m.ctx.Done():
			l.failAll(ErrClosed)
			return
		}
		// Take whatever else is ready, so one Process (one fsync) covers it.
	drain:
		for range 512 {
			select {
			case msg := <-l.m.inbox:
				_ = l.rep.Step(msg)
			case f := <-l.m.calls:
				f(l)
			default:
				break drain
			}
		}
		l.askReads()
		if err := l.process(); err != nil {
			// The log cannot be written: stop serving rather than risk
			// acknowledging what is not durable.
			l.failAll(err)
			l.m.cancel()
			return
		}
	}
}

// process runs Raft's Ready: persist, send, apply, answer.
func (l *loop) process() error {
	out, err := l.rep.Process()
	if err != nil {
		return err
	}
	if out.Restored != nil {
		l.m.cfg.Logf("namespace: state restored from the snapshot at %d", out.Restored.GetMetadata().GetIndex())
		l.restored(out.Restored.GetData())
	}
	l.send(out.Messages)
	for _, a := range out.Applied {
		l.applied(a)
	}
	for _, rs := range out.Reads {
		b, ok := l.inflight[rs.Ctx]
		if !ok {
			continue
		}
		delete(l.inflight, rs.Ctx)
		for _, r := range b.reads {
			r.index = max(r.index, rs.Index)
			l.waiting = append(l.waiting, r)
		}
	}
	l.runReads()
	l.updateView()
	l.maybeCompact(out.NeedSnapshot)
	return nil
}

// restored follows a snapshot that replaced the state: its voters join the
// peer map, and changes still pending here are of unknown fate (the
// entries the snapshot covers are not applied one by one).
func (l *loop) restored(data []byte) {
	if _, c, err := decodeSnapshotRef(data); err == nil {
		l.m.dropStates(c)
	}
	l.m.mu.Lock()
	for id, p := range l.m.restoredPeers {
		l.peers[id] = p
	}
	l.m.mu.Unlock()
	for id, p := range l.pending {
		delete(l.pending, id)
		p.done <- result{err: ErrUnknownOutcome}
	}
}

// send queues Raft messages for their peers.
func (l *loop) send(msgs []*raftpb.Message) {
	for _, msg := range msgs {
		to, ok := l.peers[msg.GetTo()]
		if !ok {
			continue
		}
		b, err := proto.Marshal(msg)
		if err != nil {
			continue
		}
		l.m.send(to, b)
	}
}

// applied settles the proposals an applied entry decides.
func (l *loop) applied(a namespace.Applied) {
	if a.Conf != nil {
		id := a.Conf.GetNodeId()
		if p := string(a.Conf.GetContext()); p != "" && RaftID(p) == id {
			l.peers[id] = p
		}
	}
	if p, ok := l.pending[a.ID]; ok && a.ID != 0 && p.term == a.Term {
		delete(l.pending, a.ID)
		p.done <- result{index: a.Index, term: a.Term, err: a.Err}
	}
	for id, p := range l.pending {
		switch {
		case p.conf != 0 && a.Conf != nil && a.Conf.GetNodeId() == p.conf && a.EntryTerm == p.term:
			delete(l.pending, id)
			p.done <- result{index: a.Index, term: a.Term}
		case a.EntryTerm > p.term:
			// Entries of a later term follow every entry of p's term in
			// the log: p was never committed and never will be.
			l.m.cfg.Logf("namespace: change %d of term %d fenced: term %d has committed", id, p.term, a.EntryTerm)
			delete(l.pending, id)
			p.done <- result{err: &namespace.NotWriterError{Term: a.EntryTerm}}
		}
	}
}

// failAll ends every waiting request with err.
func (l *loop) failAll(err error) {
	for id, p := range l.pending {
		delete(l.pending, id)
		// Proposed, maybe replicated: the others may still commit it.
		p.done <- result{err: fmt.Errorf("%w: %w", ErrUnknownOutcome, err)}
	}
	fail := func(r *readWait) { r.run(nil, 0) }
	for _, r := range l.queued {
		fail(r)
	}
	for _, b := range l.inflight {
		for _, r := range b.reads {
			fail(r)
		}
	}
	for _, r := range l.waiting {
		fail(r)
	}
	l.queued, l.inflight, l.waiting = nil, nil, nil
}

// askReads asks one ReadIndex for every strong read queued since the last.
func (l *loop) askReads() {
	live := l.queued[:0]
	for _, r := range l.queued {
		if r.ctx.Err() == nil {
			live = append(live, r)
		}
	}
	clear(l.queued[len(live):])
	l.queued = live
	if len(l.queued) == 0 {
		return
	}
	l.nextRead++
	l.inflight[l.nextRead] = &readBatch{reads: l.queued, asked: l.tick}
	l.rep.ReadIndex(l.nextRead)
	l.queued = nil
}

// retryReads asks again for reads whose ReadIndex went unanswered.
func (l *loop) retryReads() {
	for ctx, b := range l.inflight {
		if l.tick-b.asked >= readRetryTicks {
			delete(l.inflight, ctx)
			for _, r := range b.reads {
				if r.ctx.Err() == nil { // the caller still waits
					l.queued = append(l.queued, r)
				}
			}
		}
	}
}

// runReads runs the reads whose index the replica has applied.
func (l *loop) runReads() {
	applied := l.rep.AppliedIndex()
	keep := l.waiting[:0]
	for _, r := range l.waiting {
		switch {
		case r.ctx.Err() != nil: // the caller gave up
		case r.index <= applied:
			r.run(l.rep.State(), applied)
		default:
			keep = append(keep, r)
		}
	}
	clear(l.waiting[len(keep):])
	l.waiting = keep
}

// updateView publishes the loop's knowledge to other goroutines.
func (l *loop) updateView() {
	term, lead := l.rep.Writer()
	var voters []string
	for _, id := range l.rep.Voters() {
		if p, ok := l.peers[id]; ok {
			voters = append(voters, p)
		}
	}
	slices.Sort(voters)
	if w := l.rep.IsWriter(); w != l.wasWriter {
		l.wasWriter = w
		if w {
			l.m.cfg.Logf("namespace: writer for term %d", term)
		} else {
			l.m.cfg.Logf("namespace: no longer the writer (term %d, writer %s)", term, l.peers[lead])
		}
	}
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	l.m.view.Term = term
	l.m.view.Writer = l.peers[lead]
	if len(voters) > 0 {
		l.m.view.Voters = voters
	}
	l.m.view.Applied = l.rep.AppliedIndex()
	l.m.view.Snapshot = l.rep.SnapshotIndex()
}

// propose submits op for peer from, if this replica is the writer and from
// may change the tree.
func (l *loop) propose(from string, op namespace.Op, done chan result) {
	term, _ := l.rep.Writer()
	if !l.rep.IsWriter() {
		done <- result{err: l.notWriter()}
		return
	}
	if !l.mayWrite(from) {
		done <- result{err: notAllowed(from)}
		return
	}
	l.nextID++
	id := l.nextID<<8 | l.m.rid&0xff
	if err := l.rep.Propose(term, id, op); err != nil {
		done <- result{err: err}
		return
	}
	l.pending[id] = &proposal{term: term, done: done}
}

// proposeVoter adds or removes a voter.
func (l *loop) proposeVoter(from, peer string, remove bool, done chan result) {
	term, _ := l.rep.Writer()
	if !l.rep.IsWriter() {
		done <- result{err: l.notWriter()}
		return
	}
	if !l.isVoter(from) && from != l.m.cfg.Self {
		done <- result{err: notAllowed(from)}
		return
	}
	for _, p := range l.pending {
		if p.conf != 0 {
			// Raft turns a second change into an empty entry while one is
			// unapplied: refuse it here (certainly not applied: retryable).
			done <- result{err: ErrConfChangePending}
			return
		}
	}
	typ := raftpb.ConfChangeType_ConfChangeAddNode
	if remove {
		typ = raftpb.ConfChangeType_ConfChangeRemoveNode
	}
	id := RaftID(peer)
	if err := l.rep.ProposeConfChange(term, typ, id, []byte(peer)); err != nil {
		done <- result{err: err}
		return
	}
	l.nextID++
	l.pending[l.nextID<<8|0xff] = &proposal{term: term, conf: id, done: done}
}

// mayWrite reports whether from may change the tree: a voter, or a peer
// on the access list.
func (l *loop) mayWrite(from string) bool {
	return from == l.m.cfg.Self || l.isVoter(from) || l.rep.State().Allowed(from)
}

// isVoter reports whether peer is a voter of the applied configuration.
func (l *loop) isVoter(peer string) bool {
	for _, id := range l.rep.Voters() {
		if l.peers[id] == peer {
			return true
		}
	}
	return false
}

// ErrConfChangePending reports a voter change asked for while another is
// not yet applied; it was not made (ask again).
var ErrConfChangePending = errors.New("another voter change is under way")

func (l *loop) notWriter() error {
	term, lead := l.rep.Writer()
	return &notWriterError{term: term, writer: l.peers[lead]}
}

// notWriterError is NotWriterError with the writer's peer ID.
type notWriterError struct {
	term   uint64
	writer string
}

func (e *notWriterError) Error() string {
	if e.writer == "" {
		return "not the writer, and no writer known (an election may be running)"
	}
	return "not the writer; the writer is " + e.writer
}

func (e *notWriterError) Unwrap() error { return ErrNotWriter }

// ErrNotWriter reports a change sent to a peer that is not the writer.
var ErrNotWriter = errors.New("not the writer")

// collect gathers rendered blocks.
type collect []content.Block

func (c *collect) put(b content.Block) error { *c = append(*c, b); return nil }
