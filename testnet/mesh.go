package testnet

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// meshPoll is how often WaitMesh asks the daemons for their peers.
	meshPoll = 100 * time.Millisecond
	// bucketSize caps how many peers WaitMesh expects in a routing table:
	// a Kademlia bucket holds 20.
	bucketSize = 20
)

// WaitMesh waits until every running peer is connected to every other
// running peer and holds it in its DHT routing table (at least 20 of them
// when there are more; while partitioned, only the peers it may reach
// count). Paused and dead peers are neither asked nor expected. The wait is
// bounded by ctx and Config.Ready; a daemon that dies meanwhile ends it with
// an error.
func (n *Net) WaitMesh(ctx context.Context) error {
	ctx, cancel := n.readyCtx(ctx)
	defer cancel()
	if err := poll(ctx, meshPoll, n.meshMissing); err != nil {
		return fmt.Errorf("testnet: mesh: %w", err)
	}
	return nil
}

// meshView is one running peer as WaitMesh sees it.
type meshView struct {
	index  int
	id     string
	api    string
	group  int
	bridge bool
	client bool
}

// reaches reports whether the partition, if any, lets v and o connect.
func (v meshView) reaches(o meshView) bool { return v.group == o.group || v.bridge || o.bridge }

// meshMissing asks every running peer for its peers and says which ones it
// lacks ("" when none lacks any).
func (n *Net) meshMissing(ctx context.Context) (string, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return "", ErrClosed
	}
	var views []meshView
	for i, m := range n.members {
		if m.proc != nil && m.proc.exited() && (m.state == Running || m.state == Paused) {
			p := m.proc
			n.mu.Unlock()
			return "", fmt.Errorf("%w: peer %d (pid %d) ended with %s; its log %s ends:\n%s",
				ErrDaemonExited, i, p.pid(), p.exitStatus(), p.log, logTail(p.log))
		}
		if m.state == Running {
			g, bridge := 0, false
			if n.partitioned {
				g, bridge = m.group, m.bridge
			}
			views = append(views, meshView{index: i, id: m.info.ID, api: m.info.API, group: g, bridge: bridge, client: m.client})
		}
	}
	n.mu.Unlock()

	missing := make([]string, len(views))
	var wg sync.WaitGroup
	for k, v := range views {
		wg.Go(func() { missing[k] = n.peerMissing(ctx, v, views) })
	}
	wg.Wait()
	missing = slices.DeleteFunc(missing, func(s string) bool { return s == "" })
	return strings.Join(missing, "; "), nil
}

// peerMissing says which of the peers in views that v should see it lacks.
func (n *Net) peerMissing(ctx context.Context, v meshView, views []meshView) string {
	ps, err := n.api.peers(ctx, v.api)
	if err != nil {
		return fmt.Sprintf("peer %d: %v", v.index, err)
	}
	seen := map[string]bool{}
	for _, p := range ps {
		if p.InTable && len(p.Addrs) > 0 && p.Blocked == "" {
			seen[p.ID] = true
		}
	}
	var want, lack []int
	for _, o := range views {
		if o.index == v.index || !v.reaches(o) || o.client {
			continue
		}
		want = append(want, o.index)
		if !seen[o.id] {
			lack = append(lack, o.index)
		}
	}
	if len(want)-len(lack) >= min(len(want), bucketSize) {
		return ""
	}
	return fmt.Sprintf("peer %d sees %d of %d peers (not %v)", v.index, len(want)-len(lack), len(want), lack)
}
