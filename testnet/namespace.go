package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The namespace parts of the daemon's HTTP API the testnet uses.
const (
	pathWriter = "/api/v0/fs/writer"
	pathAllow  = "/api/v0/fs/allow"
	writerPoll = 50 * time.Millisecond
)

// Writer is the namespace's writer as the voters see it.
type Writer struct {
	Index int    // the writer's peer index
	ID    string // its peer ID
	Term  uint64
}

// writerView is GET /api/v0/fs/writer.
type writerView struct {
	Writer string   `json:"writer"`
	Term   uint64   `json:"term"`
	Voters []string `json:"voters"`
	Voter  bool     `json:"voter"`
}

// initVoters creates the repos of the first Config.voters() peers, so
// their peer IDs are known before any daemon starts, and returns the IDs.
func (n *Net) initVoters(ctx context.Context) ([]string, error) {
	var ids []string
	for i := range n.cfg.voters() {
		repo := filepath.Join(n.dir, fmt.Sprintf("peer-%02d", i))
		cmd := exec.CommandContext(ctx, n.cfg.Binary, "init", "--repo", repo, "--json")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("testnet: peer %d: meshfs init: %w: %s", i, err, strings.TrimSpace(stderr.String()))
		}
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(out, &v); err != nil || v.ID == "" {
			return nil, fmt.Errorf("testnet: peer %d: meshfs init printed %q", i, out)
		}
		ids = append(ids, v.ID)
	}
	return ids, nil
}

// Voters returns the peer IDs of the namespace's first voters (peers 0 to
// Config.Voters-1).
func (n *Net) Voters() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.voters...)
}

// WaitWriter waits until every running voter knows the same writer in the
// same term, and returns it. Paused and dead peers are not asked.
func (n *Net) WaitWriter(ctx context.Context) (Writer, error) {
	ctx, cancel := n.readyCtx(ctx)
	defer cancel()
	var w Writer
	err := poll(ctx, writerPoll, func(ctx context.Context) (string, error) {
		var why string
		w, why = n.agreedWriter(ctx)
		return why, nil
	})
	if err != nil {
		return Writer{}, fmt.Errorf("testnet: writer: %w", err)
	}
	return w, nil
}

// agreedWriter asks the running voters for the writer; why says what is
// missing when they do not agree on one.
func (n *Net) agreedWriter(ctx context.Context) (Writer, string) {
	var w Writer
	asked := 0
	for _, p := range n.Peers() {
		if p.State != Running || !n.isVoter(p.ID) {
			continue
		}
		var v writerView
		if err := n.api.call(ctx, requestTimeout, http.MethodGet, p.API, pathWriter, nil, &v); err != nil {
			return Writer{}, fmt.Sprintf("peer %d: %v", p.Index, err)
		}
		switch {
		case v.Writer == "":
			return Writer{}, fmt.Sprintf("peer %d knows no writer (term %d)", p.Index, v.Term)
		case asked > 0 && (v.Writer != w.ID || v.Term != w.Term):
			return Writer{}, fmt.Sprintf("peer %d says writer %s term %d, others %s term %d", p.Index, v.Writer, v.Term, w.ID, w.Term)
		}
		w.ID, w.Term = v.Writer, v.Term
		asked++
	}
	if asked == 0 {
		return Writer{}, "no voter runs"
	}
	w.Index = -1
	for _, p := range n.Peers() {
		if p.ID == w.ID {
			w.Index = p.Index
		}
	}
	return w, ""
}

func (n *Net) isVoter(id string) bool { return slices.Contains(n.Voters(), id) }

// open lets any peer change the namespace (the testnet's --open).
func (n *Net) open(ctx context.Context) error {
	q := url.Values{"arg": {"*"}}
	return poll(ctx, writerPoll, func(ctx context.Context) (string, error) {
		err := n.api.call(ctx, 10*time.Second, http.MethodPost, n.Peer(0).API, pathAllow+"?"+q.Encode(), nil, nil)
		if err != nil {
			return strings.TrimPrefix(err.Error(), "testnet: "), nil
		}
		return "", nil
	})
}
