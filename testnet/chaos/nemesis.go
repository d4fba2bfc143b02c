package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"meshfs/testnet"
)

// Fault kinds the nemesis injects.
const (
	KillWriter    = "kill-writer"
	KillVoter     = "kill-voter"
	PauseWriter   = "pause-writer"
	PauseVoter    = "pause-voter"
	IsolateWriter = "isolate-writer"
	SplitHalves   = "split-halves"
)

// nemesis injects one fault at a time into the first Voters peers of a
// testnet, on a schedule drawn from its seed: never more than one voter
// down, paused or cut off at once (the budget of 3 voters), or the mesh
// split in two, which leaves 2 voters on one side.
type nemesis struct {
	net    *testnet.Net
	voters int
	rng    *rand.Rand
	logf   func(string, ...any)

	mu     sync.Mutex
	faults map[string]int
}

// run injects faults until ctx ends, then leaves every daemon running and
// the mesh whole.
func (n *nemesis) run(ctx context.Context) error {
	kinds := []string{KillWriter, KillVoter, PauseWriter, PauseVoter, IsolateWriter, SplitHalves}
	for {
		// The schedule: a quiet spell, then a fault that lasts a while.
		if !pause(ctx, time.Duration(500+n.rng.IntN(1500))*time.Millisecond) {
			return nil
		}
		kind := kinds[n.rng.IntN(len(kinds))]
		hold := time.Duration(1000+n.rng.IntN(2500)) * time.Millisecond
		if err := n.inject(ctx, kind, hold); err != nil {
			return fmt.Errorf("nemesis %s: %w", kind, err)
		}
	}
}

// inject applies one fault for hold, then undoes it.
func (n *nemesis) inject(ctx context.Context, kind string, hold time.Duration) error {
	bg := context.WithoutCancel(ctx) // undoing must finish even as the run ends
	target := n.rng.IntN(n.voters)
	if kind == KillWriter || kind == PauseWriter || kind == IsolateWriter {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		w, err := n.net.WaitWriter(wctx)
		cancel()
		if err != nil {
			return nil // no writer agreed on right now: skip this fault
		}
		target = w.Index
	}
	n.logf("nemesis: %s peer %d for %v", kind, target, hold)
	n.count(kind)
	switch kind {
	case KillWriter, KillVoter:
		if err := n.net.Kill(target); err != nil {
			return err
		}
		pause(ctx, hold)
		return n.net.Restart(bg, target)
	case PauseWriter, PauseVoter:
		if err := n.net.Pause(target); err != nil {
			return err
		}
		pause(ctx, hold)
		return n.net.Resume(target)
	case SplitHalves:
		// Random halves: of 3 voters one side always keeps 2, a quorum.
		peers := n.net.Peers()
		n.rng.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
		cut := 1 + n.rng.IntN(len(peers)-1)
		var a, b []int
		for i, p := range peers {
			if i < cut {
				a = append(a, p.Index)
			} else {
				b = append(b, p.Index)
			}
		}
		n.logf("nemesis: halves %v | %v", a, b)
		if err := n.net.Partition(ctx, a, b); err != nil {
			return err
		}
		pause(ctx, hold)
		return n.net.Heal(bg)
	case IsolateWriter:
		var rest []int
		for _, p := range n.net.Peers() {
			if p.Index != target {
				rest = append(rest, p.Index)
			}
		}
		if err := n.net.Partition(ctx, []int{target}, rest); err != nil {
			return err
		}
		pause(ctx, hold)
		return n.net.Heal(bg)
	}
	return nil
}

func (n *nemesis) count(kind string) {
	n.mu.Lock()
	n.faults[kind]++
	n.mu.Unlock()
}

// pause waits d, or less if ctx ends; it reports whether ctx is still on.
// It is the schedule's clock, not a synchronization.
func pause(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
