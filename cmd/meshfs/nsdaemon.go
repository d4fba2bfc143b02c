package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"

	"meshfs/member"
	meshpeer "meshfs/peer"
)

// The namespace's protocols: Raft messages, and requests (changes sent to
// the writer, reads sent to a voter).
const (
	nsRaftProtocol    = protocol.ID("/meshfs/ns/raft/1.0.0")
	nsRequestProtocol = protocol.ID("/meshfs/ns/req/1.0.0")
	namespaceDir      = "namespace" // the Raft log, in the repo
)

// memberRef lets the node's root-record validator ask the member, which is
// made after the node, for the namespace's voters.
type memberRef struct {
	p atomic.Pointer[member.Member]
	// forger, set only through --test-control, is a peer this node trusts
	// as a voter though it is none: itself, to forge root records.
	forger atomic.Pointer[peer.ID]
}

func (r *memberRef) voters(ns string) []peer.ID {
	m := r.p.Load()
	if m == nil || m.View().Namespace != ns {
		return nil
	}
	var out []peer.ID
	if f := r.forger.Load(); f != nil {
		out = append(out, *f)
	}
	for _, s := range m.Voters() {
		if id, err := peer.Decode(s); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// startMember joins the namespace named ns whose first voters are voters,
// and makes it the one ref names.
func startMember(repo, ns string, voters []string, node *meshpeer.Node, ref *memberRef, logw io.Writer) (*member.Member, error) {
	for _, v := range voters {
		if _, err := peer.Decode(v); err != nil {
			return nil, fmt.Errorf("voter %q: %w", v, err)
		}
	}
	ch := node.Channel(nsRaftProtocol, func(from peer.ID, msg []byte) {
		if m := ref.p.Load(); m != nil {
			m.HandleRaft(from.String(), msg)
		}
	})
	m, err := member.New(member.Config{
		Namespace: ns,
		Self:      node.ID().String(),
		Voters:    voters,
		Dir:       filepath.Join(repo, namespaceDir),
		Transport: nodeTransport{n: node, ch: ch},
		Records:   nodeRecords{node},
		Blocks:    node,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(logw, "%s %s\n", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
		},
	})
	if err != nil {
		return nil, err
	}
	ref.p.Store(m)
	node.Serve(nsRequestProtocol, func(ctx context.Context, from peer.ID, req []byte) []byte {
		return m.HandleRequest(ctx, from.String(), req)
	})
	return m, nil
}

// nodeTransport carries a member's traffic over libp2p.
type nodeTransport struct {
	n  *meshpeer.Node
	ch *meshpeer.Channel
}

func (t nodeTransport) Send(ctx context.Context, to string, msgs [][]byte) error {
	id, err := peer.Decode(to)
	if err != nil {
		return err
	}
	return t.ch.Send(ctx, id, msgs...)
}

func (t nodeTransport) Request(ctx context.Context, to string, req []byte) ([]byte, error) {
	id, err := peer.Decode(to)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", member.ErrNotSent, err)
	}
	b, err := t.n.Request(ctx, id, nsRequestProtocol, req)
	if errors.Is(err, meshpeer.ErrNoStream) {
		return nil, fmt.Errorf("%w: %w", member.ErrNotSent, err)
	}
	return b, err
}

// nodeRecords signs and publishes root records in the node's DHT.
type nodeRecords struct{ n *meshpeer.Node }

func (r nodeRecords) Publish(ctx context.Context, rec member.RootRecord) error {
	w, err := peer.Decode(rec.Writer)
	if err != nil {
		return err
	}
	signed, err := r.n.SignRoot(meshpeer.RootRecord{
		Namespace: rec.Namespace, Root: rec.Root, Term: rec.Term, Index: rec.Index, Time: rec.Time, Writer: w,
	})
	if err != nil {
		return err
	}
	return r.n.PublishRoot(ctx, signed)
}

func (r nodeRecords) Find(ctx context.Context, ns string) (member.RootRecord, error) {
	rec, _, err := r.n.FindRoot(ctx, ns)
	if err != nil {
		return member.RootRecord{}, err
	}
	return member.RootRecord{
		Namespace: rec.Namespace, Root: rec.Root, Term: rec.Term, Index: rec.Index, Time: rec.Time, Writer: rec.Writer.String(),
	}, nil
}

// registerMemberMetrics exports the member's view to Prometheus.
func registerMemberMetrics(reg prometheus.Registerer, m *member.Member) {
	gauge := func(name, help string, f func(member.View) float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "meshfs", Subsystem: "namespace", Name: name, Help: help},
			func() float64 { return f(m.View()) }))
	}
	gauge("term", "The newest Raft term this peer knows.", func(v member.View) float64 { return float64(v.Term) })
	gauge("applied_index", "The index of the last log entry this peer's replica applied.", func(v member.View) float64 { return float64(v.Applied) })
	gauge("snapshot_index", "The index of this peer's replica's last snapshot.", func(v member.View) float64 { return float64(v.Snapshot) })
	gauge("published_index", "The index of the last root record this peer published as the writer.", func(v member.View) float64 { return float64(v.Published) })
	gauge("is_writer", "1 if this peer is the namespace's writer now.", func(v member.View) float64 {
		if v.Writer == v.Self {
			return 1
		}
		return 0
	})
	gauge("is_voter", "1 if this peer runs a replica (a voter).", func(v member.View) float64 {
		if v.Voter {
			return 1
		}
		return 0
	})
}
