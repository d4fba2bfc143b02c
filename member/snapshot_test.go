package member

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"meshfs/content"
	"meshfs/namespace"
)

// TestSnapshotsCompactTheLogAndCatchUpNewVoters: voters snapshot their
// state into the (here in-memory) mesh, a restarted voter comes back from
// its snapshot, and a voter added after compaction catches up from it.
func TestSnapshotsCompactTheLogAndCatchUpNewVoters(t *testing.T) {
	n := newMemNet()
	mesh := content.NewMemStore()
	ids := []string{"v0", "v1", "v2"}
	dirs := map[string]string{}
	start := func(id string) *Member {
		if dirs[id] == "" {
			dirs[id] = t.TempDir()
		}
		return startMember(t, n, id, ids, dirs[id], func(c *Config) {
			c.Blocks, c.SnapshotEvery, c.SnapshotKeep, c.Logf = mesh, 40, 5, t.Logf
		})
	}
	var ms []*Member
	for _, id := range ids {
		ms = append(ms, start(id))
	}
	waitWriter(t, ms...)
	ctx := ctxT(t, 60*time.Second)
	for i := range 150 {
		if _, err := ms[i%3].Do(ctx, namespace.Mkdir{Path: fmt.Sprintf("/d%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	poll(t, func() error {
		for _, m := range ms {
			if v := m.View(); v.Snapshot == 0 {
				return fmt.Errorf("%s took no snapshot (applied %d)", m.cfg.Self, v.Applied)
			}
		}
		return nil
	})
	// The log file holds what followed the snapshot only.
	fi, err := os.Stat(filepath.Join(dirs["v1"], "raft.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("v1's log after 150 changes with snapshots every 40: %d bytes", fi.Size())
	// One kept state beside the log: the one its snapshot names.
	poll(t, func() error {
		if kept, _ := filepath.Glob(filepath.Join(dirs["v1"], stateFilePrefix+"*")); len(kept) != 1 {
			return fmt.Errorf("v1 keeps %d states: %v", len(kept), kept)
		}
		return nil
	})

	// A restarted voter comes back from its snapshot and log.
	ms[1].Close()
	ms[1] = start("v1")
	if list, err := ms[1].List(ctx, Strong, "/"); err != nil || len(list) != 150 {
		t.Fatalf("restarted v1: %d entries, %v", len(list), err)
	}

	// A new voter, added after the log was compacted, gets the snapshot.
	o := start("o0")
	if _, err := ms[0].SetVoter(ctx, "o0", false); err != nil {
		t.Fatal(err)
	}
	poll(t, func() error {
		if v := o.View(); !v.Voter || v.Applied < 150 || v.Snapshot == 0 {
			return fmt.Errorf("o0 has not caught up from a snapshot: %+v", v)
		}
		return nil
	})
	if list, err := o.List(ctx, Strong, "/"); err != nil || len(list) != 150 {
		t.Fatalf("new voter: %d entries, %v", len(list), err)
	}
	if _, err := o.Do(ctx, namespace.Mkdir{Path: "/from-o0"}); err != nil {
		t.Fatal(err)
	}
}
