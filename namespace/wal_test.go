package namespace

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/raft/v3"
	"google.golang.org/protobuf/proto"
)

// openSolo opens a replica on the WAL in dir, alone (a one-voter namespace), so
// its writes commit at once.
func openSolo(t *testing.T, dir string) (*Replica, *WAL) {
	t.Helper()
	w, st, err := OpenWAL(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReplica(1, []uint64{1}, st, w)
	if err != nil {
		t.Fatal(err)
	}
	return r, w
}

func soloWriter(t *testing.T, r *Replica) uint64 {
	t.Helper()
	for range 100 {
		if _, err := r.Process(); err != nil {
			t.Fatal(err)
		}
		if r.IsWriter() {
			term, _ := r.Writer()
			return term
		}
		r.Tick()
	}
	t.Fatal("no writer")
	return 0
}

func TestWALRestoresTheTree(t *testing.T) {
	dir := t.TempDir()
	r, w := openSolo(t, dir)
	term := soloWriter(t, r)
	for i, p := range []string{"/a", "/a/b", "/c"} {
		if err := r.Propose(term, uint64(i), Mkdir{Path: p, Perm: 0o755}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Process(); err != nil {
			t.Fatal(err)
		}
	}
	want := r.State().Clone()
	w.Close()

	// Reopened, it replays its log and holds the same tree.
	r2, w2 := openSolo(t, dir)
	defer w2.Close()
	soloWriter(t, r2)
	if !equalStates(r2.State(), want) {
		t.Fatal("the tree after a restart differs")
	}

	// A torn last record (a crash mid-Save) is cut off; the rest stays.
	w2.Close()
	f, err := os.OpenFile(filepath.Join(dir, "raft.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 1, 0, 0, 0, 0, 2, 9}) // says 200 bytes, has 3
	f.Close()
	r3, w3 := openSolo(t, dir)
	soloWriter(t, r3)
	if !equalStates(r3.State(), want) {
		t.Fatal("a torn tail lost or changed the tree")
	}
	w3.Close()

	// A bad byte in the middle is corruption, reported.
	b, _ := os.ReadFile(filepath.Join(dir, "raft.log"))
	b[len(b)/2] ^= 0xff
	os.WriteFile(filepath.Join(dir, "raft.log"), b, 0o600)
	if _, _, err := OpenWAL(dir); !errors.Is(err, ErrCorruptLog) {
		t.Fatalf("corrupt log opened: %v", err)
	}
}

func FuzzWALReplay(f *testing.F) {
	// A log as a lone replica writes it: an election, some operations.
	dir := f.TempDir()
	w, st, err := OpenWAL(dir)
	if err != nil {
		f.Fatal(err)
	}
	r, err := NewReplicaWith(1, []uint64{1}, st, w, ReplicaOptions{Restore: UnmarshalState})
	if err != nil {
		f.Fatal(err)
	}
	term := uint64(0)
	for range 30 {
		r.Tick()
		if _, err := r.Process(); err != nil {
			f.Fatal(err)
		}
		if r.IsWriter() && term == 0 {
			term, _ = r.Writer()
		}
	}
	if term == 0 {
		f.Fatal("no writer")
	}
	addLog := func() {
		b, err := os.ReadFile(filepath.Join(dir, walName))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	propose := func(from, to int) {
		for i := from; i < to; i++ {
			if err := r.Propose(term, uint64(i+1), testOp(i)); err != nil {
				f.Fatal(err)
			}
			if _, err := r.Process(); err != nil {
				f.Fatal(err)
			}
		}
	}
	propose(0, 5)
	addLog()
	// The same log compacted below the applied index: a snapshot (its data
	// the tree's bytes), the hard state, the entries after it.
	compact := func(keep uint64) {
		b, err := r.State().MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		if err := r.Compact(r.AppliedIndex()-2, b, keep); err != nil {
			f.Fatal(err)
		}
	}
	compact(1)
	addLog()
	propose(5, 8)
	addLog()
	w.Close()
	f.Add([]byte{3, 0, 0, 0, 0, 1, 8, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		st := raft.NewMemoryStorage()
		good, err := replay(bytes.NewReader(b), st)
		if err != nil {
			if !errors.Is(err, ErrCorruptLog) {
				t.Fatalf("error %v is not ErrCorruptLog", err)
			}
			return
		}
		if good > int64(len(b)) {
			t.Fatalf("replayed %d bytes of %d", good, len(b))
		}
		// What it kept replays whole, to the same log.
		again := raft.NewMemoryStorage()
		if n, err := replay(bytes.NewReader(b[:good]), again); err != nil || n != good {
			t.Fatalf("the %d bytes kept replay to %d bytes, %v", good, n, err)
		}
		s1, _ := st.Snapshot()
		s2, _ := again.Snapshot()
		l1, _ := st.LastIndex()
		l2, _ := again.LastIndex()
		if !proto.Equal(s1, s2) || l1 != l2 {
			t.Fatalf("the kept bytes replay to another log")
		}
		// A log after a snapshot starts right after it.
		if i := s1.GetMetadata().GetIndex(); i > 0 {
			if first, _ := st.FirstIndex(); first != i+1 {
				t.Fatalf("snapshot %d, first entry %d", i, first)
			}
		}
	})
}
