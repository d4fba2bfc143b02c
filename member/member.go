package member

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"meshfs/namespace"
)

// Member is one daemon's part in a namespace. Its methods are safe for
// concurrent use.
type Member struct {
	cfg    Config
	rid    uint64
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	calls chan func(*loop) // run on the Raft loop's goroutine
	inbox chan *raftpb.Message

	startMu  sync.Mutex // held by startReplica
	mu       sync.Mutex
	view     View
	seen     uint64 // the highest index this member has returned
	running  bool   // a replica loop runs
	senders  map[string]chan []byte
	wal      *namespace.WAL
	hint     int             // round-robin position over voters
	learning atomic.Bool     // learnVoters is asking
	learned  map[string]bool // voters a voter told of, not yet in the view
	// restoredPeers holds the voters named by snapshots restored, for the
	// loop's Raft ID → peer ID map.
	restoredPeers map[uint64]string
	// snapState is the state file of this replica's last snapshot, which
	// a voter far behind fetches from the mesh: the collector keeps it.
	snapState cid.Cid
}

// View is what a member knows of its namespace right now.
type View struct {
	Namespace string
	Self      string
	Voter     bool     // this peer runs a replica
	Writer    string   // the writer it knows of, "" if none
	Term      uint64   // the newest term it knows of
	Voters    []string // the voters as of its last applied configuration
	Applied   uint64   // its replica's applied index
	Published uint64   // the index of the last root record it published
	Snapshot  uint64   // the index of its replica's last snapshot
}

// New starts a member: with a replica (its log in cfg.Dir) if this peer is
// one of the voters or was one before.
func New(cfg Config) (*Member, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Member{
		cfg: cfg, rid: RaftID(cfg.Self), ctx: ctx, cancel: cancel,
		calls:         make(chan func(*loop), 1024),
		inbox:         make(chan *raftpb.Message, 4096),
		senders:       map[string]chan []byte{},
		restoredPeers: map[uint64]string{},
		learned:       map[string]bool{},
	}
	m.view = View{Namespace: cfg.Namespace, Self: cfg.Self, Voters: slices.Clone(cfg.Voters)}
	if slices.Contains(cfg.Voters, cfg.Self) || m.hasLog() {
		if err := m.startReplica(cfg.Voters); err != nil {
			cancel()
			return nil, err
		}
	}
	return m, nil
}

// hasLog reports whether this peer kept a Raft log before.
func (m *Member) hasLog() bool {
	if m.cfg.Dir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(m.cfg.Dir, "raft.log"))
	return err == nil
}

// startReplica opens the log and starts the Raft loop; voters is the
// first configuration (nil when joining a namespace that added this peer).
func (m *Member) startReplica(voters []string) error {
	// One start at a time (two would open the log twice), held across the
	// restore, which takes m.mu itself.
	m.startMu.Lock()
	defer m.startMu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running {
		return nil
	}
	var storage *raft.MemoryStorage
	var log namespace.Log
	if m.cfg.Dir != "" {
		w, st, err := namespace.OpenWAL(m.cfg.Dir)
		if err != nil {
			return fmt.Errorf("member: %w", err)
		}
		m.wal, storage, log = w, st, w
	} else {
		storage = raft.NewMemoryStorage()
	}
	ids := make([]uint64, len(voters))
	peers := map[uint64]string{}
	for i, v := range voters {
		ids[i] = RaftID(v)
		peers[ids[i]] = v
	}
	for _, v := range m.cfg.Voters {
		peers[RaftID(v)] = v
	}
	m.mu.Unlock()
	var l *loop
	rep, err := namespace.NewReplicaWith(m.rid, ids, storage, log, namespace.ReplicaOptions{
		Restore:   m.restore,
		SendEarly: func(msgs []*raftpb.Message) { l.send(msgs) },
	})
	m.mu.Lock()
	for id, p := range m.restoredPeers {
		peers[id] = p
	}
	if err != nil {
		if m.wal != nil {
			m.wal.Close()
		}
		return fmt.Errorf("member: %w", err)
	}
	m.running = true
	m.view.Voter = true
	// Read contexts start from the clock, so an answer to a read asked
	// before a restart cannot pass for one asked after it.
	l = &loop{m: m, rep: rep, nextRead: uint64(m.cfg.Now().UnixNano()), peers: peers, pending: map[uint64]*proposal{}, inflight: map[uint64]*readBatch{}}
	ticks := m.cfg.Ticks
	var ticker *time.Ticker
	if ticks == nil {
		ticker = time.NewTicker(m.cfg.TickInterval)
		ticks = ticker.C
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if ticker != nil {
			defer ticker.Stop()
		}
		l.run(ticks)
	}()
	return nil
}

// Close stops the member; requests in flight fail with ErrClosed.
func (m *Member) Close() error {
	m.cancel()
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.wal != nil {
		return m.wal.Close()
	}
	return nil
}

// View returns what the member knows of its namespace now.
func (m *Member) View() View {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.view
	v.Voters = slices.Clone(v.Voters)
	return v
}

// Voters returns the namespace's voters as this member knows them (what
// root records must be signed by): those of its last applied
// configuration, and those a voter told it of since.
func (m *Member) Voters() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.view.Voters)
	for p := range m.learned {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// saw records that this member returned a result as of index.
func (m *Member) saw(index uint64) {
	m.mu.Lock()
	m.seen = max(m.seen, index)
	m.mu.Unlock()
}

func (m *Member) seenIndex() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen
}

// call runs f on the Raft loop, or fails with ErrClosed.
func (m *Member) call(ctx context.Context, f func(*loop)) error {
	select {
	case m.calls <- f:
		return nil
	case <-m.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isRunning reports whether a replica loop runs here.
func (m *Member) isRunning() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running
}

// isVoter reports whether a replica runs here and this peer is among the
// voters of its last applied configuration: a removed voter's replica
// gets no more entries, so it must not answer reads or take changes.
func (m *Member) isVoter() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running && slices.Contains(m.view.Voters, m.cfg.Self)
}

// HandleRaft takes a Raft message that peer from sent. Messages that do not
// come from a voter of this namespace, or claim another sender, are
// dropped; a message to a peer that is not yet a voter here makes it join
// (the writer added it).
func (m *Member) HandleRaft(from string, data []byte) {
	var msg raftpb.Message
	if err := proto.Unmarshal(data, &msg); err != nil {
		return
	}
	if msg.GetFrom() != RaftID(from) || msg.GetTo() != m.rid {
		return
	}
	if !m.knownVoter(from) {
		// A voter added while this replica was away (and maybe the writer
		// now): ask the voters this member knows whether it is one.
		m.learnVoters(from)
		return
	}
	if !m.isRunning() {
		// Only the writer's traffic makes a peer join, never a stray
		// message from a voter.
		switch msg.GetType() {
		case raftpb.MessageType_MsgApp, raftpb.MessageType_MsgSnap, raftpb.MessageType_MsgHeartbeat:
		default:
			return
		}
		if err := m.startReplica(nil); err != nil {
			return
		}
	}
	select {
	case m.inbox <- &msg:
	default: // Raft copes with lost messages
	}
}

// send queues Raft messages for peer to, in order; a full queue drops them.
func (m *Member) send(to string, data []byte) {
	m.mu.Lock()
	q, ok := m.senders[to]
	if !ok {
		q = make(chan []byte, 4096)
		m.senders[to] = q
		m.wg.Add(1)
		go m.sendLoop(to, q)
	}
	m.mu.Unlock()
	select {
	case q <- data:
	default:
	}
}

// sendLoop sends the messages queued for one peer, in batches.
func (m *Member) sendLoop(to string, q chan []byte) {
	defer m.wg.Done()
	for {
		var batch [][]byte
		select {
		case b := <-q:
			batch = append(batch, b)
		case <-m.ctx.Done():
			return
		}
	more:
		for len(batch) < 256 {
			select {
			case b := <-q:
				batch = append(batch, b)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
		err := m.cfg.Transport.Send(ctx, to, batch)
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			id := RaftID(to)
			select {
			case m.calls <- func(l *loop) { l.rep.ReportUnreachable(id) }:
			default:
			}
		}
	}
}

// knownVoter reports whether peer is a voter this member knows of (what
// Voters lists), without copying the list: it runs for every Raft message.
func (m *Member) knownVoter(peer string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.learned[peer] || slices.Contains(m.view.Voters, peer)
}

// learnVoters asks a known voter for the current voters, at most one
// question at a time, because peer sent Raft traffic though it is not a
// voter here. If it is one now, it joins the view and the loop's peers.
func (m *Member) learnVoters(peer string) {
	if !m.learning.CompareAndSwap(false, true) {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer m.learning.Store(false)
		ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
		defer cancel()
		for _, v := range m.Voters() {
			if v == m.cfg.Self || v == peer {
				continue
			}
			a, err := m.ask(ctx, v, request{Kind: kindWriter})
			if err != nil || !slices.Contains(a.Voters, peer) {
				continue
			}
			m.mu.Lock()
			m.learned[peer] = true
			m.mu.Unlock()
			id := RaftID(peer)
			_ = m.call(ctx, func(l *loop) { l.peers[id] = peer })
			return
		}
	}()
}
