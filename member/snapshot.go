package member

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/internal/atomicfile"
	"meshfs/namespace"
)

// DefaultSnapshotEvery is how many log entries a voter keeps after its last
// snapshot before it takes a new one.
const DefaultSnapshotEvery = 10000

// DefaultSnapshotKeep is how many entries stay in memory after a snapshot,
// so a follower a little behind gets entries, not the snapshot.
const DefaultSnapshotKeep = 1000

// State files keep, beside the Raft log, the state bytes of snapshots, named
// by their CID (state-CID), so a restart does not need the mesh; all but
// the one the log names are removed once a newer snapshot is in the log.
const stateFilePrefix = "state-"

// snapshotRef is a Raft snapshot's data: the tree's root and the CID of
// its full state (State.MarshalBinary, a file in the mesh), and the peer
// IDs of the voters' Raft IDs (configuration changes before the snapshot
// are not replayed).
type snapshotRef struct {
	Root  string            `json:"root"`
	State string            `json:"state"`
	Peers map[string]string `json:"peers"`
}

func decodeSnapshotRef(b []byte) (snapshotRef, cid.Cid, error) {
	var r snapshotRef
	if err := decodeStrict(b, &r); err != nil {
		return r, cid.Undef, fmt.Errorf("snapshot: %w", err)
	}
	c, err := content.ParseCID(r.State)
	if err != nil {
		return r, cid.Undef, fmt.Errorf("snapshot: state: %w", err)
	}
	return r, c, nil
}

// peersOf returns the Raft ID → peer ID map of a snapshot reference.
func (r snapshotRef) peersOf() map[uint64]string {
	out := map[uint64]string{}
	for k, v := range r.Peers {
		if id, err := strconv.ParseUint(k, 10, 64); err == nil && RaftID(v) == id {
			out[id] = v
		}
	}
	return out
}

// restore rebuilds the state a snapshot names: from the local copy when it
// is that state, else from the mesh. It runs on the Raft loop (or before
// it starts), so it is bounded in time.
func (m *Member) restore(data []byte) (*namespace.State, error) {
	ref, stateCID, err := decodeSnapshotRef(data)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	for id, p := range ref.peersOf() {
		m.restoredPeers[id] = p
	}
	m.snapState = stateCID
	m.mu.Unlock()
	b, err := m.localState(stateCID)
	if err != nil {
		if m.cfg.Blocks == nil {
			return nil, fmt.Errorf("member: snapshot state %s: not here and no mesh to fetch it from", stateCID)
		}
		ctx, cancel := context.WithTimeout(m.ctx, time.Minute)
		defer cancel()
		fr, err := content.NewFileReader(ctx, m.cfg.Blocks, stateCID, 8)
		if err != nil {
			return nil, fmt.Errorf("member: snapshot state %s: %w", stateCID, err)
		}
		defer fr.Close()
		if b, err = io.ReadAll(fr); err != nil {
			return nil, fmt.Errorf("member: snapshot state %s: %w", stateCID, err)
		}
		m.keepState(stateCID, b)
	}
	return namespace.UnmarshalState(b)
}

// localState returns the kept state bytes of the state want, checked.
func (m *Member) localState(want cid.Cid) ([]byte, error) {
	if m.cfg.Dir == "" {
		return nil, errors.New("no local copy")
	}
	b, err := os.ReadFile(filepath.Join(m.cfg.Dir, stateFilePrefix+want.String()))
	if err != nil {
		return nil, err
	}
	root, err := content.Import(context.Background(), bytes.NewReader(b), discardBlocks{}, content.ImportOptions{})
	if err != nil || !root.CID.Equals(want) {
		return nil, errors.New("local copy is another state")
	}
	return b, nil
}

// keepState writes the state bytes of the state c beside the log (best
// effort: the mesh has them too).
func (m *Member) keepState(c cid.Cid, b []byte) {
	if m.cfg.Dir == "" {
		return
	}
	_ = atomicfile.WriteFile(filepath.Join(m.cfg.Dir, stateFilePrefix+c.String()), b, 0o600)
}

// dropStates removes the kept states but keep's.
func (m *Member) dropStates(keep cid.Cid) {
	if m.cfg.Dir == "" {
		return
	}
	old, _ := filepath.Glob(filepath.Join(m.cfg.Dir, stateFilePrefix+"*"))
	for _, p := range old {
		if filepath.Base(p) != stateFilePrefix+keep.String() {
			os.Remove(p)
		}
	}
}

type discardBlocks struct{}

func (discardBlocks) Put(context.Context, content.Block) error { return nil }

// maybeCompact starts a snapshot when the log has grown past SnapshotEvery
// entries, or when the writer needs one for a voter that joined.
func (l *loop) maybeCompact(need bool) {
	if l.compacting || l.m.cfg.Blocks == nil {
		return
	}
	applied := l.rep.AppliedIndex()
	if applied <= l.rep.SnapshotIndex() || !need && l.rep.LogLength() < uint64(l.m.cfg.SnapshotEvery) {
		return
	}
	state, err := l.rep.State().MarshalBinary()
	if err != nil {
		l.m.cfg.Logf("namespace: snapshot: %v", err)
		return
	}
	pub, err := l.render(false)
	if err != nil {
		l.m.cfg.Logf("namespace: snapshot: %v", err)
		return
	}
	peers := map[string]string{}
	for id, p := range l.peers {
		peers[strconv.FormatUint(id, 10)] = p
	}
	l.compacting = true
	m := l.m
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		// The state goes into the mesh (other voters fetch it from there)
		// and beside the log before the snapshot names it.
		ctx, cancel := context.WithTimeout(m.ctx, time.Minute)
		defer cancel()
		root, err := content.Import(ctx, bytes.NewReader(state), m.cfg.Blocks, content.ImportOptions{})
		if err == nil {
			select {
			case <-pub.done:
				err = pub.err
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		var data []byte
		if err == nil {
			m.keepState(root.CID, state)
			data, err = json.Marshal(snapshotRef{Root: pub.record.Root.String(), State: root.CID.String(), Peers: peers})
		}
		_ = m.call(m.ctx, func(l *loop) {
			l.compacting = false
			if err == nil {
				err = l.rep.Compact(applied, data, uint64(l.m.cfg.SnapshotKeep))
			}
			if err != nil {
				l.m.cfg.Logf("namespace: snapshot at %d: %v", applied, err)
				return
			}
			l.m.dropStates(root.CID)
			l.m.mu.Lock()
			l.m.snapState = root.CID
			l.m.mu.Unlock()
			l.m.cfg.Logf("namespace: snapshot at %d (state %s, %d bytes)", applied, root.CID, len(state))
		})
	}()
}
