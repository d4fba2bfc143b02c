package member

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// Transport carries a member's traffic to other peers, named by their
// peer IDs. Send is for Raft messages: ordered per peer, may be lost.
// Request is one request and its answer.
type Transport interface {
	Send(ctx context.Context, to string, msgs [][]byte) error
	Request(ctx context.Context, to string, req []byte) ([]byte, error)
}

// RootRecord says that Root is the namespace's tree as of Raft Index, in
// Term, signed by Writer.
type RootRecord struct {
	Namespace string
	Root      cid.Cid
	Term      uint64
	Index     uint64
	Time      int64 // Unix nanoseconds
	Writer    string
	// Summary is the CID of the garbage collector's summary of the live
	// set as of this record (cid.Undef when none).
	Summary cid.Cid
}

// Records signs, publishes and finds root records (the daemon's DHT).
type Records interface {
	// Publish signs r with this peer's key and publishes it.
	Publish(ctx context.Context, r RootRecord) error
	// Find returns the newest valid record of namespace ns.
	Find(ctx context.Context, ns string) (RootRecord, error)
}

// Blocks is where rendered trees go and where eventual reads come from:
// the mesh.
type Blocks interface {
	content.BlockGetter
	content.BlockPutter
}

// Config describes a member.
type Config struct {
	Namespace string   // the namespace's name
	Self      string   // this peer's ID
	Voters    []string // the namespace's first voters (peer IDs), 1 to 7
	// Dir keeps the Raft log of a voter; "" keeps it in memory (tests).
	Dir       string
	Transport Transport
	Records   Records // nil: no root records (tests)
	Blocks    Blocks  // nil: no rendering to the mesh (tests)

	// TickInterval is Raft's clock: a heartbeat each tick, an election
	// after 10 to 20 ticks without one. Ticks, if set, replaces it.
	TickInterval time.Duration
	Ticks        <-chan time.Time
	// PublishEvery is how many ticks apart the writer publishes a new root
	// record while the tree changes.
	PublishEvery int
	// SnapshotEvery is how many log entries a voter keeps after its last
	// snapshot before it takes another (DefaultSnapshotEvery if 0).
	SnapshotEvery int
	// SnapshotKeep is how many entries before a snapshot stay in memory
	// for followers a little behind (DefaultSnapshotKeep if 0).
	SnapshotKeep int
	Now          func() time.Time
	// Summarize, if set, is called by the writer before it publishes each
	// root record, with the CIDs pinned in the state the record is as of;
	// it returns the CID of the collector's summary of the live set as of
	// the record (cid.Undef to publish the record without one).
	Summarize func(ctx context.Context, r RootRecord, pins []cid.Cid) (cid.Cid, error)
	// Logf, if set, gets one line per event worth a log: this peer became
	// or stopped being the writer, a change fenced by a newer term.
	Logf func(format string, args ...any)
}

// DefaultTickInterval gives an election 0.5 to 1 s after the writer
// falls silent.
const DefaultTickInterval = 50 * time.Millisecond

func (c Config) withDefaults() (Config, error) {
	if c.Namespace == "" {
		return c, errors.New("member: no namespace name")
	}
	if c.Self == "" {
		return c, errors.New("member: no peer ID")
	}
	if len(c.Voters) == 0 || len(c.Voters) > 7 {
		return c, fmt.Errorf("member: %d voters, need 1 to 7", len(c.Voters))
	}
	seen := map[uint64]bool{}
	for _, v := range c.Voters {
		if seen[RaftID(v)] {
			return c, fmt.Errorf("member: voter %s listed twice", v)
		}
		seen[RaftID(v)] = true
	}
	if c.Transport == nil {
		return c, errors.New("member: no transport")
	}
	if c.TickInterval == 0 {
		c.TickInterval = DefaultTickInterval
	}
	if c.PublishEvery == 0 {
		c.PublishEvery = 20
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = DefaultSnapshotEvery
	}
	if c.SnapshotKeep == 0 {
		c.SnapshotKeep = DefaultSnapshotKeep
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c, nil
}
