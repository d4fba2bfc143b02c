package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
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
	Bridge        = "bridge"
)

// nemesis injects one fault at a time into a testnet whose first voters
// peers are the namespace's voters, on a schedule drawn from its seed, and
// keeps to a budget: a minority of the voters faulty (see withinBudget).
// The faults: kill or pause one voter (the writer or any), cut the writer
// off, split the mesh in two halves, or bridge it (two sides that cannot
// talk, one voter that talks to both).
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
	kinds := []string{KillWriter, KillVoter, PauseWriter, PauseVoter, IsolateWriter, SplitHalves, Bridge}
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

// fault is one fault as planned: peers down (killed or paused) and, for a
// cut, who cannot reach whom.
type fault struct {
	down    []int
	cut     bool
	sides   [2][]int // for a cut: the two sides (peers on neither reach both)
	bridged int      // the bridge of a Bridge cut, else -1
}

// apart reports whether the fault keeps peers i and j from talking.
func (f fault) apart(i, j int) bool {
	if !f.cut {
		return false
	}
	return slices.Contains(f.sides[0], i) && slices.Contains(f.sides[1], j) ||
		slices.Contains(f.sides[1], i) && slices.Contains(f.sides[0], j)
}

// withinBudget checks that a fault leaves a majority of the voters (peers
// 0 to voters-1) up and all talking to each other: the voters outside the
// largest such group are the faulty ones, and they must be a minority. A
// bridge passes with a voter as the bridge: the two sides' voters cannot
// talk, but each forms a majority with the bridge, so one voter is faulty.
func withinBudget(voters int, f fault) error {
	best := 0
	for set := uint(1); set < 1<<voters; set++ {
		ok := true
		for i := 0; i < voters && ok; i++ {
			if set&(1<<i) == 0 {
				continue
			}
			if slices.Contains(f.down, i) {
				ok = false
			}
			for j := i + 1; j < voters && ok; j++ {
				ok = set&(1<<j) == 0 || !f.apart(i, j)
			}
		}
		if ok {
			best = max(best, bits.OnesCount(set))
		}
	}
	if faulty := voters - best; 2*faulty >= voters {
		return fmt.Errorf("%d of %d voters faulty: over the budget of a minority", faulty, voters)
	}
	return nil
}

// plan draws the peers a fault of kind hits, writer being the writer's
// index.
func (n *nemesis) plan(kind string, writer int) fault {
	f := fault{bridged: -1}
	peers := n.net.Peers()
	switch kind {
	case KillWriter, PauseWriter:
		f.down = []int{writer}
	case KillVoter, PauseVoter:
		f.down = []int{n.rng.IntN(n.voters)}
	case IsolateWriter:
		f.cut, f.sides[0] = true, []int{writer}
		for _, p := range peers {
			if p.Index != writer {
				f.sides[1] = append(f.sides[1], p.Index)
			}
		}
	case SplitHalves:
		// Random halves: of 3 voters one side always keeps 2, a quorum.
		n.rng.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
		cut := 1 + n.rng.IntN(len(peers)-1)
		f.cut = true
		for i, p := range peers {
			side := 0
			if i >= cut {
				side = 1
			}
			f.sides[side] = append(f.sides[side], p.Index)
		}
	case Bridge:
		// A voter is the bridge, two others are on opposite sides, and
		// the other peers on either.
		vs := n.rng.Perm(n.voters)
		f.cut, f.bridged = true, vs[0]
		for k, v := range vs[1:] {
			f.sides[k%2] = append(f.sides[k%2], v)
		}
		for _, p := range peers[n.voters:] {
			side := n.rng.IntN(2)
			f.sides[side] = append(f.sides[side], p.Index)
		}
	}
	return f
}

// inject applies one fault for hold, then undoes it.
func (n *nemesis) inject(ctx context.Context, kind string, hold time.Duration) error {
	bg := context.WithoutCancel(ctx) // undoing must finish even as the run ends
	writer := -1
	if kind == KillWriter || kind == PauseWriter || kind == IsolateWriter {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		w, err := n.net.WaitWriter(wctx)
		cancel()
		if err != nil {
			return nil // no writer agreed on right now: skip this fault
		}
		writer = w.Index
	}
	f := n.plan(kind, writer)
	if err := withinBudget(n.voters, f); err != nil {
		return fmt.Errorf("planned %+v: %w", f, err)
	}
	n.count(kind)
	switch {
	case len(f.down) > 0:
		target := f.down[0]
		n.logf("nemesis: %s peer %d for %v", kind, target, hold)
		if kind == KillWriter || kind == KillVoter {
			if err := n.net.Kill(target); err != nil {
				return err
			}
			pause(ctx, hold)
			return n.net.Restart(bg, target)
		}
		if err := n.net.Pause(target); err != nil {
			return err
		}
		pause(ctx, hold)
		return n.net.Resume(target)
	case f.bridged >= 0:
		n.logf("nemesis: %s for %v: %v | bridge %d | %v", kind, hold, f.sides[0], f.bridged, f.sides[1])
		if err := n.net.Bridge(ctx, f.bridged, f.sides[0]); err != nil {
			return errors.Join(err, n.net.Heal(bg))
		}
		pause(ctx, hold)
		return n.net.Heal(bg)
	default:
		n.logf("nemesis: %s for %v: %v | %v", kind, hold, f.sides[0], f.sides[1])
		if err := n.net.Partition(ctx, f.sides[0], f.sides[1]); err != nil {
			return errors.Join(err, n.net.Heal(bg))
		}
		pause(ctx, hold)
		return n.net.Heal(bg)
	}
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
