package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"

	"meshfs/gc"
	"meshfs/member"
	meshpeer "meshfs/peer"
)

const apiGC = "/api/v0/gc"

func runGC(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("gc", "[options]",
		"Runs a garbage-collection pass on the daemon now: every block it holds\n"+
			"is judged against the collection summary in the namespace's newest\n"+
			"signed root record (the blocks of the last K roots and the pins),\n"+
			"the leases of writes in flight and the grace period; dead blocks\n"+
			"whose grace period is over are deleted. --dry-run deletes nothing and\n"+
			"lists what would go, or wait, and why.", std.errout)
	apiURL := apiFlag(fs)
	dry := fs.Bool("dry-run", false, "judge every block but delete nothing; list the dead ones")
	asJSON := fs.Bool("json", false, "print the pass as JSON")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	cl, err := newClient(*apiURL)
	if err != nil {
		return usageErr(fs, "%v", err)
	}
	q := url.Values{}
	if *dry {
		q.Set("dry-run", "1")
	}
	var rep meshpeer.GCReport
	if err := cl.callJSON(ctx, http.MethodPost, apiGC, q, nil, &rep); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(std.out, 0, 0, 2, ' ', 0)
	if rep.Idle != "" {
		fmt.Fprintf(tw, "nothing judged\t%s\n", rep.Idle)
	}
	if rep.Summary != "" {
		fmt.Fprintf(tw, "summary\t%s (as of index %d)\n", rep.Summary, rep.Index)
	}
	line := func(label string, t gc.Tally) {
		fmt.Fprintf(tw, "%s\t%d blocks, %s\n", label, t.Blocks, human(t.Bytes))
	}
	line("held", rep.Held)
	line("live", rep.Live)
	line("pinned", rep.Pinned)
	line("leased (writes in flight)", rep.Leased)
	line("dead, in grace period", rep.Waiting)
	if rep.DryRun {
		line("would delete", rep.Deletion)
	} else {
		line("deleted", rep.Deleted)
	}
	fmt.Fprintf(tw, "took\t%v\n", rep.Duration.Round(time.Millisecond))
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.DryRun {
		for _, d := range rep.Dead {
			fmt.Fprintf(std.out, "%s %s %d bytes: %s\n", d.Verdict, d.CID, d.Size, d.Reason)
		}
	}
	return nil
}

// gcPass serves POST /api/v0/gc[?dry-run=1].
func (a *api) gcPass(w http.ResponseWriter, r *http.Request) {
	rep, err := a.node.CollectGarbage(r.Context(), boolArg(r, "dry-run"))
	if err != nil {
		apiError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// summaryHook is the writer's side of collection for a member: before each
// root record goes out, it marks the last K roots and the pins and stores
// the summary that the record then names. When this peer becomes the writer
// in a new term, it first takes the window from the newest summary in the
// DHT (its predecessor's), so the roots that one kept live stay live.
func summaryHook(ns string, cfg gc.Config, node *meshpeer.Node) func(context.Context, member.RootRecord, []cid.Cid) (cid.Cid, error) {
	var mu sync.Mutex
	var sz *gc.Summarizer
	var term uint64
	return func(ctx context.Context, rec member.RootRecord, pins []cid.Cid) (cid.Cid, error) {
		mu.Lock()
		defer mu.Unlock()
		if sz == nil || rec.Term != term {
			fresh, err := gc.NewSummarizer(ns, cfg, node, node)
			if err != nil {
				return cid.Undef, err
			}
			if prev, _, err := node.FindRoot(ctx, ns); err == nil && prev.Summary.Defined() {
				if s, err := gc.LoadSummary(ctx, node, prev.Summary); err == nil {
					fresh.Resume(s)
				}
			}
			sz, term = fresh, rec.Term
		}
		c, _, err := sz.Summarize(ctx, gc.Root{Term: rec.Term, Index: rec.Index, CID: rec.Root}, pins)
		return c, err
	}
}

// registerGCMetrics exports the last collection pass to Prometheus.
func registerGCMetrics(reg prometheus.Registerer, node *meshpeer.Node) {
	tally := func(name, help string, f func(meshpeer.GCReport) gc.Tally) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "meshfs", Subsystem: "gc", Name: name + "_bytes", Help: help},
			func() float64 { r, _ := node.LastGC(); return float64(f(r).Bytes) }))
	}
	tally("live", "Bytes of held blocks the trusted summary keeps live (last pass).", func(r meshpeer.GCReport) gc.Tally { return r.Live })
	tally("pinned", "Bytes of held blocks kept as pinned (last pass).", func(r meshpeer.GCReport) gc.Tally { return r.Pinned })
	tally("leased", "Bytes of held blocks leased to writes in flight (last pass).", func(r meshpeer.GCReport) gc.Tally { return r.Leased })
	tally("dead", "Bytes of dead blocks awaiting collection in their grace period (last pass).", func(r meshpeer.GCReport) gc.Tally { return r.Waiting })
	tally("deleted", "Bytes the last pass deleted.", func(r meshpeer.GCReport) gc.Tally { return r.Deleted })
}
