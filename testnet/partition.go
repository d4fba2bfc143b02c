package testnet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// cutTarget is a running peer and the peer IDs it must block.
type cutTarget struct {
	index int
	api   string
	block []string
}

// Partition cuts the mesh into groups of peer indexes: each running peer
// blocks, in its connection gater, every peer of the other groups and drops
// its connections with them. Peers named in no group form one more group
// together. Partition returns once no running peer holds a connection across
// the cut. Peers that are down are cut off again when they restart; no
// peer may be paused. Heal undoes it; a partitioned mesh must be healed
// before it is cut anew.
func (n *Net) Partition(ctx context.Context, groups ...[]int) error {
	return n.cut(ctx, groups, -1)
}

// Bridge cuts the mesh in two sides that cannot reach each other, and one
// peer, the bridge, that reaches both (Jepsen's bridge: two majorities of
// the voters that overlap in the bridge). side lists the peers of one side;
// every peer but the bridge and those is on the other. Otherwise it is a
// Partition: it returns once no running peer holds a connection across the
// cut, a peer that restarts is cut off again, and Heal undoes it.
func (n *Net) Bridge(ctx context.Context, bridge int, side []int) error {
	if slices.Contains(side, bridge) {
		return fmt.Errorf("testnet: bridge: %w: peer %d is the bridge and on a side", ErrInvalidConfig, bridge)
	}
	return n.cut(ctx, [][]int{side}, bridge)
}

// cut blocks, on every running peer, the peers it must not reach: those of
// the other groups, unless one of the two is the bridge (-1 for none).
func (n *Net) cut(ctx context.Context, groups [][]int, bridge int) error {
	n.mu.Lock()
	err := n.assignGroups(groups, bridge)
	if err != nil {
		n.mu.Unlock()
		return err
	}
	var targets []cutTarget
	for i, m := range n.members {
		if m.state == Running && m.alive() {
			targets = append(targets, cutTarget{index: i, api: m.info.API, block: n.outsiders(i)})
		}
	}
	n.mu.Unlock()

	ctx, cancel := n.readyCtx(ctx)
	defer cancel()
	if err := n.each(targets, func(t cutTarget) error { return n.api.partition(ctx, t.api, t.block) }); err != nil {
		return errors.Join(err, n.writeDescription())
	}
	// A connection whose handshake passed the gater just before the block
	// may still come up: look, and cut again where one did.
	err = poll(ctx, meshPoll, func(ctx context.Context) (string, error) {
		var mu sync.Mutex
		var why []string
		err := n.each(targets, func(t cutTarget) error {
			ps, err := n.api.peers(ctx, t.api)
			if err != nil {
				return err
			}
			for _, p := range ps {
				if len(p.Addrs) > 0 && slices.Contains(t.block, p.ID) {
					mu.Lock()
					why = append(why, fmt.Sprintf("peer %d is still connected to %s", t.index, p.ID))
					mu.Unlock()
					return n.api.partition(ctx, t.api, t.block)
				}
			}
			return nil
		})
		if len(why) > 0 {
			return fmt.Sprint(why), err
		}
		return "", err
	})
	if err != nil {
		err = fmt.Errorf("testnet: partition: %w", err)
	}
	return errors.Join(err, n.writeDescription())
}

// assignGroups checks groups and the bridge (-1 for none) and records
// every member's group. Call with the lock held.
func (n *Net) assignGroups(groups [][]int, bridge int) error {
	if n.closed {
		return ErrClosed
	}
	if n.partitioned {
		return fmt.Errorf("%w: heal it before cutting it anew", ErrPartitioned)
	}
	if len(groups) == 0 {
		return fmt.Errorf("testnet: partition: %w: no groups", ErrInvalidConfig)
	}
	if bridge >= 0 {
		if _, err := n.member(bridge); err != nil {
			return fmt.Errorf("testnet: bridge: %w", err)
		}
	}
	group := make([]int, len(n.members))
	for i := range group {
		group[i] = len(groups) // the peers named nowhere
	}
	named := map[int]bool{}
	for g, ids := range groups {
		for _, i := range ids {
			if _, err := n.member(i); err != nil {
				return fmt.Errorf("testnet: partition: %w", err)
			}
			if named[i] {
				return fmt.Errorf("testnet: partition: %w: peer %d is in two groups", ErrInvalidConfig, i)
			}
			named[i] = true
			group[i] = g
		}
	}
	for i, m := range n.members {
		if m.state == Paused && m.alive() {
			return fmt.Errorf("%w: peer %d is paused: resume it before a partition", ErrState, i)
		}
		if m.state == Starting {
			return fmt.Errorf("%w: peer %d is starting", ErrState, i)
		}
	}
	for i, m := range n.members {
		m.group = group[i]
		m.bridge = i == bridge
	}
	n.partitioned = true
	return nil
}

// separated reports whether a partition keeps members a and b apart: they
// are in different groups and neither is the bridge.
func separated(a, b *member) bool {
	return a.group != b.group && !a.bridge && !b.bridge
}

// outsiders returns the IDs of the peers the partition keeps peer i from.
// Call with the lock held.
func (n *Net) outsiders(i int) []string {
	var ids []string
	for _, m := range n.members {
		if separated(m, n.members[i]) && m.info.ID != "" {
			ids = append(ids, m.info.ID)
		}
	}
	return ids
}

// reapplyPartition cuts a restarted peer i off from the other groups (they
// still block it: their gaters remember).
func (n *Net) reapplyPartition(ctx context.Context, i int) error {
	n.mu.Lock()
	if !n.partitioned {
		n.mu.Unlock()
		return nil
	}
	api, ids := n.members[i].info.API, n.outsiders(i)
	n.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	return n.api.partition(ctx, api, ids)
}

// Heal has every running peer unblock the peers it blocked for a partition
// and waits until the mesh is whole again (WaitMesh). No peer may be paused.
func (n *Net) Heal(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	var targets []cutTarget
	for i, m := range n.members {
		switch {
		case m.state == Paused && m.alive():
			n.mu.Unlock()
			return fmt.Errorf("%w: peer %d is paused: resume it before healing", ErrState, i)
		case m.state == Running && m.alive():
			targets = append(targets, cutTarget{index: i, api: m.info.API})
		}
	}
	n.partitioned = false
	n.mu.Unlock()

	ctx, cancel := n.readyCtx(ctx)
	defer cancel()
	err := n.each(targets, func(t cutTarget) error { return n.api.heal(ctx, t.api) })
	if err == nil {
		err = n.WaitMesh(ctx)
	}
	return errors.Join(err, n.writeDescription())
}

// each calls f for every target at once and joins the errors.
func (n *Net) each(targets []cutTarget, f func(cutTarget) error) error {
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for k, t := range targets {
		wg.Go(func() {
			if err := f(t); err != nil {
				errs[k] = fmt.Errorf("peer %d: %w", t.index, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
