package namespace

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/raft/v3"
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
	dir := f.TempDir()
	w, _, err := OpenWAL(dir)
	if err != nil {
		f.Fatal(err)
	}
	r, _ := NewReplica(1, []uint64{1}, raft.NewMemoryStorage(), w)
	for range 30 {
		r.Tick()
		r.Process()
	}
	w.Close()
	seed, _ := os.ReadFile(filepath.Join(dir, "raft.log"))
	f.Add(seed)
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
	})
}
