package nslink

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"meshfs/member"
	meshpeer "meshfs/peer"
)

// The namespace's protocols: Raft messages, and requests (changes sent to
// the writer, reads sent to a voter).
const (
	RaftProtocol    = protocol.ID("/meshfs/ns/raft/1.0.0")
	RequestProtocol = protocol.ID("/meshfs/ns/req/1.0.0")
)

// Ref names the member a node serves, made after the node: the node's
// root-record validator asks it for the namespace's voters.
type Ref struct {
	p atomic.Pointer[member.Member]
	// Extra, if set, is a peer trusted as a voter though it is none (a
	// daemon under test control, to forge root records).
	Extra atomic.Pointer[peer.ID]
}

// Member returns the member, or nil before Join.
func (r *Ref) Member() *member.Member { return r.p.Load() }

// Voters returns the peers that may sign namespace ns's root records;
// give it to peer.Config.RootVoters.
func (r *Ref) Voters(ns string) []peer.ID {
	m := r.p.Load()
	if m == nil || m.View().Namespace != ns {
		return nil
	}
	var out []peer.ID
	if f := r.Extra.Load(); f != nil {
		out = append(out, *f)
	}
	for _, s := range m.Voters() {
		if id, err := peer.Decode(s); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// Join starts the member cfg describes over node (cfg's Self, Transport,
// Records and Blocks are filled in here), serves its protocols, and makes
// it the one ref names.
func Join(node *meshpeer.Node, cfg member.Config, ref *Ref) (*member.Member, error) {
	for _, v := range cfg.Voters {
		if _, err := peer.Decode(v); err != nil {
			return nil, fmt.Errorf("voter %q: %w", v, err)
		}
	}
	ch := node.Channel(RaftProtocol, func(from peer.ID, msg []byte) {
		if m := ref.p.Load(); m != nil {
			m.HandleRaft(from.String(), msg)
		}
	})
	cfg.Self = node.ID().String()
	cfg.Transport = Transport{n: node, ch: ch}
	cfg.Records = Records{node}
	cfg.Blocks = node
	m, err := member.New(cfg)
	if err != nil {
		return nil, err
	}
	ref.p.Store(m)
	node.Serve(RequestProtocol, func(ctx context.Context, from peer.ID, req []byte) []byte {
		return m.HandleRequest(ctx, from.String(), req)
	})
	return m, nil
}

// Transport carries a member's traffic over libp2p.
type Transport struct {
	n  *meshpeer.Node
	ch *meshpeer.Channel
}

// Send queues Raft messages to a peer.
func (t Transport) Send(ctx context.Context, to string, msgs [][]byte) error {
	id, err := peer.Decode(to)
	if err != nil {
		return err
	}
	return t.ch.Send(ctx, id, msgs...)
}

// Request sends one request and returns its answer; a request that surely
// never reached the peer fails with member.ErrNotSent.
func (t Transport) Request(ctx context.Context, to string, req []byte) ([]byte, error) {
	id, err := peer.Decode(to)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", member.ErrNotSent, err)
	}
	b, err := t.n.Request(ctx, id, RequestProtocol, req)
	if errors.Is(err, meshpeer.ErrNoStream) {
		return nil, fmt.Errorf("%w: %w", member.ErrNotSent, err)
	}
	return b, err
}

// Records signs and publishes root records in the node's DHT.
type Records struct{ n *meshpeer.Node }

// Publish signs rec with the node's key and puts it in the DHT.
func (r Records) Publish(ctx context.Context, rec member.RootRecord) error {
	w, err := peer.Decode(rec.Writer)
	if err != nil {
		return err
	}
	signed, err := r.n.SignRoot(meshpeer.RootRecord{
		Namespace: rec.Namespace, Root: rec.Root, Term: rec.Term, Index: rec.Index, Time: rec.Time, Writer: w,
		Summary: rec.Summary,
	})
	if err != nil {
		return err
	}
	return r.n.PublishRoot(ctx, signed)
}

// findWait bounds the DHT lookup of a root record for an eventual read
// (and so does half the time left before ctx's deadline): with peers down
// or hung, the lookup waits for their dials or requests to time out, and
// the read would end without an answer while records were at hand.
const findWait = 2 * time.Second

// Find returns the newest valid root record of namespace ns in the DHT, or
// the newest found within findWait.
func (r Records) Find(ctx context.Context, ns string) (member.RootRecord, error) {
	wait := findWait
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d)/2)
	}
	rec, _, err := r.n.FindRootWithin(ctx, ns, wait)
	if err != nil {
		return member.RootRecord{}, err
	}
	return member.RootRecord{
		Namespace: rec.Namespace, Root: rec.Root, Term: rec.Term, Index: rec.Index, Time: rec.Time, Writer: rec.Writer.String(),
		Summary: rec.Summary,
	}, nil
}
