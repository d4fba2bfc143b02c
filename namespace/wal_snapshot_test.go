package namespace

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// record is one record of a hand-made log.
type record struct {
	typ     byte
	payload []byte
}

func snapRecord(t testing.TB, index, term uint64) record {
	t.Helper()
	b, err := proto.Marshal(&raftpb.Snapshot{Data: []byte("data"), Metadata: &raftpb.SnapshotMetadata{
		Index: proto.Uint64(index), Term: proto.Uint64(term), ConfState: &raftpb.ConfState{Voters: []uint64{1}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return record{recSnapshot, b}
}

func hsRecord(t testing.TB, term, commit uint64) record {
	t.Helper()
	b, err := proto.Marshal(&raftpb.HardState{Term: proto.Uint64(term), Vote: proto.Uint64(1), Commit: proto.Uint64(commit)})
	if err != nil {
		t.Fatal(err)
	}
	return record{recHardState, b}
}

// entriesRecord holds entries [from, to] of the given term.
func entriesRecord(t testing.TB, from, to, term uint64) record {
	t.Helper()
	var es entryBatch
	for i := from; i <= to; i++ {
		es = append(es, &raftpb.Entry{Index: proto.Uint64(i), Term: proto.Uint64(term), Data: []byte("op")})
	}
	b, err := es.marshal()
	if err != nil {
		t.Fatal(err)
	}
	return record{recEntries, b}
}

func logBytes(t testing.TB, recs ...record) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	for _, r := range recs {
		if err := writeRecord(bw, r.typ, r.payload); err != nil {
			t.Fatal(err)
		}
	}
	bw.Flush()
	return buf.Bytes()
}

func TestWALReplaysSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name        string
		recs        []record
		tail        []byte // bytes after the records (a torn write)
		snap        uint64 // the storage's snapshot index
		first, last uint64
		corrupt     bool
	}{
		{name: "snapshot, hard state, entries", recs: []record{snapRecord(t, 10, 2), hsRecord(t, 3, 12), entriesRecord(t, 11, 12, 3)}, snap: 10, first: 11, last: 12},
		{name: "snapshot alone", recs: []record{snapRecord(t, 10, 2)}, snap: 10, first: 11, last: 10},
		{name: "entries replace the end", recs: []record{snapRecord(t, 10, 2), entriesRecord(t, 11, 14, 2), entriesRecord(t, 13, 13, 3), hsRecord(t, 3, 12)}, snap: 10, first: 11, last: 13},
		{name: "torn tail", recs: []record{snapRecord(t, 10, 2), hsRecord(t, 2, 10)}, tail: []byte{9, 0, 0}, snap: 10, first: 11, last: 10},
		{name: "gap after the snapshot", recs: []record{snapRecord(t, 10, 2), entriesRecord(t, 12, 13, 2)}, corrupt: true},
		{name: "entries before the snapshot", recs: []record{snapRecord(t, 10, 2), entriesRecord(t, 5, 11, 2)}, corrupt: true},
		{name: "entries then snapshot", recs: []record{entriesRecord(t, 1, 3, 1), snapRecord(t, 10, 2)}, corrupt: true},
		{name: "two snapshots", recs: []record{snapRecord(t, 10, 2), snapRecord(t, 20, 2)}, corrupt: true},
		{name: "empty snapshot", recs: []record{snapRecord(t, 0, 0), hsRecord(t, 1, 0)}, corrupt: true},
		{name: "commit before the snapshot", recs: []record{snapRecord(t, 10, 2), hsRecord(t, 2, 5)}, corrupt: true},
		{name: "commit past the log", recs: []record{snapRecord(t, 10, 2), entriesRecord(t, 11, 11, 2), hsRecord(t, 2, 12)}, corrupt: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b := append(logBytes(t, tc.recs...), tc.tail...)
			if err := os.WriteFile(filepath.Join(dir, walName), b, 0o600); err != nil {
				t.Fatal(err)
			}
			w, st, err := OpenWAL(dir)
			if tc.corrupt {
				if !errors.Is(err, ErrCorruptLog) {
					t.Fatalf("opened: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			snap, _ := st.Snapshot()
			first, _ := st.FirstIndex()
			last, _ := st.LastIndex()
			if snap.GetMetadata().GetIndex() != tc.snap || first != tc.first || last != tc.last {
				t.Errorf("snapshot %d, log [%d, %d]; want %d, [%d, %d]", snap.GetMetadata().GetIndex(), first, last, tc.snap, tc.first, tc.last)
			}
			if got := fileSize(t, filepath.Join(dir, walName)); got != int64(len(b)-len(tc.tail)) {
				t.Errorf("the file has %d bytes after open, want %d", got, len(b)-len(tc.tail))
			}
		})
	}
}

func TestWALSaveSnapshotRefuses(t *testing.T) {
	w, _, err := OpenWAL(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	snap := func(index, term uint64) *raftpb.Snapshot {
		return &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: proto.Uint64(index), Term: proto.Uint64(term)}}
	}
	entry := func(i uint64) *raftpb.Entry { return &raftpb.Entry{Index: proto.Uint64(i), Term: proto.Uint64(1)} }
	for _, tc := range []struct {
		name    string
		snap    *raftpb.Snapshot
		entries []*raftpb.Entry
	}{
		{"empty snapshot", snap(0, 0), nil},
		{"gap", snap(5, 1), []*raftpb.Entry{entry(7)}},
		{"overlap", snap(5, 1), []*raftpb.Entry{entry(5), entry(6)}},
		{"out of order", snap(5, 1), []*raftpb.Entry{entry(6), entry(8)}},
	} {
		if err := w.SaveSnapshot(tc.snap, nil, tc.entries); err == nil {
			t.Errorf("%s: saved", tc.name)
		}
	}
}

// TestCompactCrashBeforeRename stops a rewrite where a crash could: the
// new log complete in its temporary file, not yet renamed over the old.
func TestCompactCrashBeforeRename(t *testing.T) {
	dir := t.TempDir()
	r, w := openSolo(t, dir)
	term := soloWriter(t, r)
	for i := range 30 {
		if err := r.Propose(term, uint64(i+1), testOp(i)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Process(); err != nil {
			t.Fatal(err)
		}
	}
	want := stateBytes(t, r)
	log := filepath.Join(dir, walName)
	old, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	errCrash := errors.New("crash")
	var stray []byte
	w.beforeRename = func(tmp string) error {
		stray, err = os.ReadFile(tmp)
		if err != nil {
			t.Fatal(err)
		}
		return errCrash
	}
	if err := r.Compact(r.AppliedIndex(), want, 5); !errors.Is(err, errCrash) {
		t.Fatalf("Compact: %v", err)
	}
	// The replica and its log are as they were.
	if now, _ := os.ReadFile(log); !bytes.Equal(now, old) {
		t.Fatal("a failed rewrite changed the log")
	}
	if _, err := os.Stat(filepath.Join(dir, walTemp)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed rewrite left its temporary file: %v", err)
	}
	if r.SnapshotIndex() != 0 {
		t.Errorf("a failed Compact set the snapshot index to %d", r.SnapshotIndex())
	}
	w.Close()
	if _, _, err := replayBytes(stray); err != nil || len(stray) == 0 {
		t.Fatalf("the rewrite's temporary file was not a complete log: %v", err)
	}
	// Whatever a crash left in the temporary file, the old log opens.
	for _, tc := range []struct {
		name  string
		stray []byte
	}{
		{"complete", stray},
		{"torn", stray[:len(stray)/2]},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, walTemp), tc.stray, 0o600); err != nil {
				t.Fatal(err)
			}
			r, w := openSolo(t, dir)
			defer w.Close()
			soloWriter(t, r)
			if !bytes.Equal(stateBytes(t, r), want) || r.SnapshotIndex() != 0 {
				t.Error("the old log did not come back whole")
			}
			if _, err := os.Stat(filepath.Join(dir, walTemp)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the stray temporary file is still there: %v", err)
			}
		})
	}
}

// replayBytes replays a log held in memory.
func replayBytes(b []byte) (int64, uint64, error) {
	st := raft.NewMemoryStorage()
	good, err := replay(bytes.NewReader(b), st)
	last, _ := st.LastIndex()
	return good, last, err
}
