package gc

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// importFile stores n seeded random bytes (small chunks, so a file is a
// DAG) and returns its root.
func importFile(t *testing.T, s content.BlockPutter, n int, seed uint64) content.FileRoot {
	t.Helper()
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	root, err := content.Import(context.Background(), bytes.NewReader(b), s, content.ImportOptions{ChunkSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestSummarizerWindow(t *testing.T) {
	ctx := context.Background()
	store := content.NewMemStore()
	cfg := DefaultConfig()
	cfg.Roots = 3
	s, err := NewSummarizer("home", cfg, store, store)
	if err != nil {
		t.Fatal(err)
	}
	var roots []content.FileRoot
	var last cid.Cid
	for i := range 5 {
		f := importFile(t, store, 5000+i, uint64(i))
		roots = append(roots, f)
		c, sum, err := s.Summarize(ctx, Root{Term: 1, Index: uint64(10 + i), CID: f.CID}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The stored file decodes to the summary returned.
		got, err := LoadSummary(ctx, store, c)
		if err != nil || !bytes.Equal(got.Encode(), sum.Encode()) {
			t.Fatalf("round %d: summary file does not load back: %v", i, err)
		}
		last = c
		// The last 3 roots are live, older ones are not (up to the
		// filter's false positives, negligible at this size).
		for j, r := range roots {
			live := got.MayBeLiveCID(r.CID)
			if want := j >= i-2; live != want && want {
				t.Fatalf("round %d: root %d live=%v, want %v", i, j, live, want)
			}
		}
		if n := len(s.Window()); n != min(i+1, 3) {
			t.Fatalf("round %d: window of %d", i, n)
		}
	}
	// Publishing the same root again gives the same file.
	again, _, err := s.Summarize(ctx, Root{Term: 1, Index: 14, CID: roots[4].CID}, nil)
	if err != nil || again != last {
		t.Fatalf("same root again: %s, %v; want %s", again, err, last)
	}

	// A new writer resumes the window from the last summary.
	prev, err := LoadSummary(ctx, store, last)
	if err != nil {
		t.Fatal(err)
	}
	next, err := NewSummarizer("home", cfg, store, store)
	if err != nil {
		t.Fatal(err)
	}
	next.Resume(prev)
	f := importFile(t, store, 7000, 99)
	_, sum, err := next.Summarize(ctx, Root{Term: 2, Index: 15, CID: f.CID}, []cid.Cid{roots[0].CID})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []cid.Cid{roots[3].CID, roots[4].CID, f.CID, roots[0].CID} {
		if !sum.MayBeLiveCID(c) {
			t.Fatalf("%s is not live after the new writer's first summary", c)
		}
	}
	if cover := sum.Cover(); len(cover.Roots) != 3 || cover.Roots[0].Index != 13 {
		t.Fatalf("resumed window: %v", cover.Roots)
	}
}

func TestSummarizerIncompleteMark(t *testing.T) {
	ctx := context.Background()
	store := content.NewMemStore()
	s, err := NewSummarizer("home", DefaultConfig(), store, store)
	if err != nil {
		t.Fatal(err)
	}
	f := importFile(t, store, 9000, 3)
	if err := store.Delete(ctx, f.CID); err != nil { // the file's root node
		t.Fatal(err)
	}
	if _, _, err := s.Summarize(ctx, Root{Term: 1, Index: 1, CID: f.CID}, nil); !errors.Is(err, ErrIncompleteMark) {
		t.Fatalf("mark over a missing node: %v, want ErrIncompleteMark", err)
	}
	if len(s.Window()) != 0 {
		t.Fatal("a failed summary moved the window")
	}
}
