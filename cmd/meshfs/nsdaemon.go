package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"

	"meshfs/member"
	meshpeer "meshfs/peer"
	"meshfs/peer/nslink"
)

const namespaceDir = "namespace" // the Raft log, in the repo

// startMember joins the namespace named ns whose first voters are voters,
// and makes it the one ref names.
func startMember(repo, ns string, voters []string, node *meshpeer.Node, ref *nslink.Ref, logw io.Writer) (*member.Member, error) {
	var summarize func(context.Context, member.RootRecord, []cid.Cid) (cid.Cid, error)
	if g := node.Config().GC; g != nil {
		summarize = summaryHook(ns, *g, node)
	}
	return nslink.Join(node, member.Config{
		Namespace: ns,
		Voters:    voters,
		Dir:       filepath.Join(repo, namespaceDir),
		Summarize: summarize,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(logw, "%s %s\n", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
		},
	}, ref)
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
