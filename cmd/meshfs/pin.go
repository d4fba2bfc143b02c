package main

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"text/tabwriter"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/gc"
	"meshfs/member"
	"meshfs/namespace"
	meshpeer "meshfs/peer"
	"meshfs/peer/nslink"
)

const apiPin = "/api/v0/pin/"

// pinResult answers pin add and rm.
type pinResult struct {
	Label string `json:"label,omitempty"`
	CID   string `json:"cid,omitempty"`
	Index uint64 `json:"index,omitempty"`
	// Removed lists the labels pin rm removed.
	Removed []string `json:"removed,omitempty"`
}

func (a *api) routePins(mux *http.ServeMux) {
	mux.HandleFunc("POST "+apiPin+"add", a.needNS(a.pinAdd))
	mux.HandleFunc("POST "+apiPin+"rm", a.needNS(a.pinRemove))
	mux.HandleFunc("GET "+apiPin+"ls", a.needNS(a.pinList))
}

// pin pins c under label through the writer, once every block of its DAG
// is found (a pin of a DAG with holes would stop collection), and returns
// the commit. Its blocks are leased until the pin is done: by l, the
// leaser of the write that pushed them, which the caller ends; or, when l
// is nil, by a leaser of the pin's own (lease requests, no bytes).
func (a *api) pin(ctx context.Context, label string, c cid.Cid, l *meshpeer.Leaser) (member.Commit, error) {
	live, err := gc.Mark(ctx, a.node, []cid.Cid{c}, nil, gc.MarkOptions{})
	if err != nil {
		return member.Commit{}, err
	}
	if !live.Complete() {
		return member.Commit{}, fmt.Errorf("%w: pin %s: %d of its blocks cannot be found", content.ErrNotFound, c, len(live.Missing()))
	}
	if label == "" {
		label = c.String()
	}
	op := namespace.Pin{Label: label, CID: c}
	if l != nil {
		return a.ns.Do(ctx, op)
	}
	var blocks []cid.Cid
	for b := range live.All() {
		blocks = append(blocks, b)
	}
	l = a.node.NewLeaser()
	if err := l.Keep(ctx, blocks); err != nil {
		l.Done()
		return member.Commit{}, fmt.Errorf("pin %s: %w", c, err)
	}
	commit, err := a.ns.Do(ctx, op)
	return commit, nslink.EndWrite(ctx, l, commit, err, "pin "+c.String())
}

// pinAdd serves POST /api/v0/pin/add?arg=CID[&name=LABEL].
func (a *api) pinAdd(w http.ResponseWriter, r *http.Request) {
	c, err := cidArg(r)
	if err != nil {
		fsError(w, err)
		return
	}
	label := r.URL.Query().Get("name")
	commit, err := a.pin(r.Context(), label, c, nil)
	if err != nil {
		fsError(w, err)
		return
	}
	if label == "" {
		label = c.String()
	}
	writeJSON(w, http.StatusOK, pinResult{Label: label, CID: c.String(), Index: commit.Index})
}

// pinRemove serves POST /api/v0/pin/rm?arg=LABEL|CID: the pin of that
// label, or every pin of that CID.
func (a *api) pinRemove(w http.ResponseWriter, r *http.Request) {
	arg := r.URL.Query().Get("arg")
	if arg == "" {
		fsError(w, badRequest("missing ?arg=LABEL or CID"))
		return
	}
	ctx := r.Context()
	pins, err := a.ns.Pins(ctx, member.Strong)
	if err != nil {
		fsError(w, err)
		return
	}
	var res pinResult
	for _, p := range pins {
		if p.Label != arg && p.CID != arg {
			continue
		}
		if _, err := a.ns.Do(ctx, namespace.Unpin{Label: p.Label}); err != nil {
			fsError(w, err)
			return
		}
		res.Removed = append(res.Removed, p.Label)
	}
	if len(res.Removed) == 0 {
		fsError(w, fmt.Errorf("unpin %s: %w", arg, fs.ErrNotExist))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// pinList serves GET /api/v0/pin/ls.
func (a *api) pinList(w http.ResponseWriter, r *http.Request) {
	level, err := levelArg(r)
	if err != nil {
		fsError(w, err)
		return
	}
	pins, err := a.ns.Pins(r.Context(), level)
	if err != nil {
		fsError(w, err)
		return
	}
	if pins == nil {
		pins = []member.PinInfo{}
	}
	writeJSON(w, http.StatusOK, pins)
}

func runPin(ctx context.Context, args []string, std stdio) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(std.errout, "Usage: meshfs pin add [--name LABEL] CID | pin rm LABEL|CID | pin ls\n\n"+
			"Pins keep a DAG in the mesh whatever the namespace holds: the garbage\n"+
			"collector never frees a block a pin reaches. Pins are part of the\n"+
			"namespace (changed through its writer, so every peer agrees). A pin\n"+
			"is named by a label, the CID itself unless --name gives one; pinning\n"+
			"a label again moves it. 'meshfs add' pins what it adds.\n")
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	flags := newFlags("pin "+sub, "[options] ARG", "", std.errout)
	apiURL := apiFlag(flags)
	name := flags.String("name", "", "pin add: the pin's label (default: the CID)")
	pos, err := parseFlags(flags, rest)
	if err != nil {
		return err
	}
	cl, err := newClient(*apiURL)
	if err != nil {
		return usageErr(flags, "%v", err)
	}
	switch sub {
	case "add", "rm":
		if len(pos) != 1 {
			return usageErr(flags, "give one CID (add) or label or CID (rm)")
		}
		q := url.Values{"arg": {pos[0]}}
		if *name != "" {
			q.Set("name", *name)
		}
		var res pinResult
		if err := cl.callJSON(ctx, http.MethodPost, apiPin+sub, q, nil, &res); err != nil {
			return err
		}
		if sub == "add" {
			fmt.Fprintf(std.out, "pinned %s as %s\n", res.CID, res.Label)
		} else {
			for _, l := range res.Removed {
				fmt.Fprintf(std.out, "unpinned %s\n", l)
			}
		}
		return nil
	case "ls":
		var pins []member.PinInfo
		if err := cl.callJSON(ctx, http.MethodGet, apiPin+"ls", nil, nil, &pins); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(std.out, 0, 0, 2, ' ', 0)
		for _, p := range pins {
			fmt.Fprintf(tw, "%s\t%s\n", p.CID, p.Label)
		}
		return tw.Flush()
	}
	return usageErr(flags, "unknown pin command %q: add, rm or ls", sub)
}
