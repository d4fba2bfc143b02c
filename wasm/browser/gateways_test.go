package browser

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// TestGatewaysFailover: a gateway that gives no answer is skipped until
// its time is up, one that answers with an error is not, and the next
// gateway is asked meanwhile.
func TestGatewaysFailover(t *testing.T) {
	ms, root, _ := testFile(t, 5000, 1)
	tr := newHandlerTransport(map[string]http.Handler{"http://b": gatewayOver(ms)})
	g := NewGateways([]string{"http://a/", "http://b"}, tr)
	now := time.Unix(1000, 0)
	g.now = func() time.Time { return now }
	ctx := context.Background()

	want, err := ms.Get(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		b, err := g.FetchRaw(ctx, root)
		if err != nil || string(b) != string(want.Data()) {
			t.Fatalf("fetch %d: %d bytes, %v", i, len(b), err)
		}
	}
	if a, b := tr.asked("http://a"), tr.asked("http://b"); a != 1 || b != 3 {
		t.Fatalf("asked a %d times, b %d; want a once (then down), b 3 times", a, b)
	}
	now = now.Add(gatewayDownFor + time.Second)
	if _, err := g.FetchRaw(ctx, root); err != nil {
		t.Fatal(err)
	}
	if a := tr.asked("http://a"); a != 2 {
		t.Fatalf("a asked %d times once its time was up, want 2", a)
	}

	// Not found: an answer, so b stays up; a is down again.
	missing := cid.NewCidV1(content.CodecRaw, root.Hash())
	_, err = g.FetchRaw(ctx, missing)
	if se := (*StatusError)(nil); !errors.As(err, &se) || se.Code != http.StatusNotFound {
		t.Fatalf("a block no gateway has: %v, want HTTP 404", err)
	}
	if !g.isUp("http://b") || g.isUp("http://a") {
		t.Fatal("a 404 marked b down, or a is up")
	}

	// With every gateway down, none is asked.
	tr.handlers = nil
	if _, err := g.FetchRaw(ctx, root); err == nil {
		t.Fatal("fetch with no gateway answering succeeded")
	}
	before := tr.asked("http://a") + tr.asked("http://b")
	if _, err := g.StreamCAR(ctx, root, 0, -1); !errors.Is(err, ErrGatewaysDown) {
		t.Fatalf("every gateway down: %v, want ErrGatewaysDown", err)
	}
	if after := tr.asked("http://a") + tr.asked("http://b"); after != before {
		t.Fatal("a gateway that is down was asked")
	}
}

// TestGatewaysStreamCAR: the CAR of a range of a file holds the header,
// then the blocks a reader of the range asks for, in its order.
func TestGatewaysStreamCAR(t *testing.T) {
	ms, root, data := testFile(t, 20_000, 2)
	tr := newHandlerTransport(map[string]http.Handler{"http://gw": gatewayOver(ms)})
	g := NewGateways([]string{"http://gw"}, tr)
	ctx := context.Background()
	for _, r := range []struct{ off, n int64 }{{0, -1}, {3000, 5000}, {19_999, 1}} {
		to := int64(-1)
		if r.n >= 0 {
			to = r.off + r.n - 1
		}
		sr, err := g.StreamCAR(ctx, root, r.off, to)
		if err != nil {
			t.Fatal(err)
		}
		var got []cid.Cid
		for header := true; ; {
			secs, err := sr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secs {
				if header {
					header = false
					continue
				}
				n, c, err := cid.CidFromBytes(s.Data)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := content.BlockFromCID(c, s.Data[n:]); err != nil {
					t.Fatal(err)
				}
				got = append(got, c)
			}
		}
		// A reader of the range asks for the same blocks in the same order.
		want := recordGets(t, ms, root, r.off, r.n, data)
		if len(got) != len(want) {
			t.Fatalf("range %+v: the CAR holds %d blocks, a reader asks for %d", r, len(got), len(want))
		}
		for i := range got {
			if !got[i].Equals(want[i]) {
				t.Fatalf("range %+v: block %d of the CAR is %s, a reader asks for %s", r, i, got[i], want[i])
			}
		}
	}
}

// recordGets reads [off, off+n) of root from ms with no read-ahead and
// returns the blocks asked for, in order.
func recordGets(t *testing.T, ms *content.MemStore, root cid.Cid, off, n int64, data []byte) []cid.Cid {
	t.Helper()
	rec := &recordingGetter{g: ms}
	fr, err := content.NewFileReader(context.Background(), rec, root, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n < 0 {
		n = fr.Size() - off
	}
	rc, err := fr.Range(off, n)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil || string(b) != string(data[off:off+n]) {
		t.Fatalf("reading the range: %d bytes, %v", len(b), err)
	}
	return rec.cids
}

type recordingGetter struct {
	g    content.BlockGetter
	cids []cid.Cid
}

func (r *recordingGetter) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	r.cids = append(r.cids, c)
	return r.g.Get(ctx, c)
}

// readStream reads all of root through a streamBlocks over tr's gateway
// "http://gw" and mesh, and checks the bytes.
func readStream(t *testing.T, tr *handlerTransport, mesh meshBlocks, root cid.Cid, data []byte) *cachingBlocks {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := testBlocks(t, NewGateways([]string{"http://gw"}, tr), mesh)
	sr, err := b.gateways.StreamCAR(ctx, root, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	car := newCARStream(ctx, sr, carWindow)
	defer car.stop()
	fr, err := content.NewFileReader(ctx, streamBlocks{b, car}, root, 4)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(fr)
	if err != nil || string(got) != string(data) {
		t.Fatalf("read %d of %d bytes: %v", len(got), len(data), err)
	}
	return b
}

// TestStreamBlocksRead: a file read through a CAR stream takes every block
// from it, verified, and caches them once the read is over.
func TestStreamBlocksRead(t *testing.T) {
	ms, root, data := testFile(t, 50_000, 3)
	mesh := &countingStore{MemStore: ms}
	tr := newHandlerTransport(map[string]http.Handler{"http://gw": gatewayOver(ms)})
	// As the browser's transport does: bodies, hashed.
	tr.sections = func(secs []Section) []Section {
		for i := 1; i < len(secs); i++ {
			n, _, err := cid.CidFromBytes(secs[i].Data)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(secs[i].Data[n:])
			secs[i] = Section{Data: secs[i].Data[:n], Body: bytesBody(secs[i].Data[n:]), Sum: &sum, SumFrom: n}
		}
		return secs
	}
	b := readStream(t, tr, mesh, root, data)
	if n := mesh.count(); n != 0 {
		t.Fatalf("the mesh was asked for %d blocks", n)
	}
	if n := tr.asked("http://gw"); n != 1 {
		t.Fatalf("%d requests, want the one CAR", n)
	}
	waitCached(t, b, ms)
}

// waitCached waits until b's store holds every block of ms.
func waitCached(t *testing.T, b *cachingBlocks, ms *content.MemStore) {
	t.Helper()
	ctx := context.Background()
	for c, err := range ms.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if ok, _ := b.store.Has(ctx, c); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not cached", c)
			}
		}
		if _, err := b.store.Get(ctx, c); err != nil {
			t.Fatalf("cached %s: %v", c, err)
		}
	}
}

// bytesBody is a blockstore.Body over a slice.
type bytesBody []byte

func (b bytesBody) Len() int              { return len(b) }
func (b bytesBody) CopyTo(dst []byte) int { return copy(dst, b) }

// TestStreamBlocksFallback: a block the stream gives wrong, or does not
// give, comes from the gateway one by one or from the mesh; the read goes
// on, and nothing wrong is cached.
func TestStreamBlocksFallback(t *testing.T) {
	ms, root, data := testFile(t, 30_000, 4)
	wrongBytes := func(s []Section) []Section {
		b := s[5].Data
		b[len(b)-1] ^= 1
		return s
	}
	wrongDigest := func(s []Section) []Section {
		n, _, _ := cid.CidFromBytes(s[5].Data)
		wrong := sha256.Sum256([]byte("other bytes"))
		s[5] = Section{Data: s[5].Data[:n], Body: bytesBody(s[5].Data[n:]), Sum: &wrong, SumFrom: n}
		return s
	}
	cutShort := func(s []Section) []Section { return s[:len(s)/2] }
	cases := []struct {
		name     string
		sections func([]Section) []Section
		noRaw    bool // the gateway answers no single block
		raw      bool // some blocks must come from the gateway one by one
		mesh     bool // some blocks must come from the mesh
	}{
		{name: "wrong bytes", sections: wrongBytes, raw: true},
		{name: "wrong bytes, no raw blocks", sections: wrongBytes, noRaw: true, mesh: true},
		{name: "wrong digest", sections: wrongDigest, raw: true},
		{name: "wrong digest, no raw blocks", sections: wrongDigest, noRaw: true, mesh: true},
		{name: "digest from the wrong place", sections: func(s []Section) []Section {
			n, _, _ := cid.CidFromBytes(s[5].Data)
			sum := sha256.Sum256(s[5].Data[n+1:])
			s[5].Sum, s[5].SumFrom = &sum, n+1 // not used: hashed here
			return s
		}},
		{name: "cut short", sections: cutShort, raw: true},
		{name: "cut short, no raw blocks", sections: cutShort, noRaw: true, mesh: true},
		{name: "empty", sections: func([]Section) []Section { return nil }, raw: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secs := tc.sections
			mesh := &countingStore{MemStore: ms}
			gw := gatewayOver(ms)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.noRaw && r.URL.Query().Get("format") == "raw" {
					http.Error(w, "no", http.StatusServiceUnavailable)
					return
				}
				gw.ServeHTTP(w, r)
			})
			tr := newHandlerTransport(map[string]http.Handler{"http://gw": h})
			// Each case changes a copy of the sections.
			tr.sections = func(s []Section) []Section {
				cp := make([]Section, len(s))
				for i := range s {
					cp[i] = Section{Data: append([]byte(nil), s[i].Data...)}
				}
				return secs(cp)
			}
			b := readStream(t, tr, mesh, root, data)
			if got := mesh.count() > 0; got != tc.mesh {
				t.Errorf("mesh asked for %d blocks", mesh.count())
			}
			if got := tr.asked("http://gw") > 1; got != tc.raw && !tc.noRaw {
				t.Errorf("%d requests to the gateway", tr.asked("http://gw"))
			}
			waitCached(t, b, ms)
		})
	}
}

// TestCARStream: a Get waits only for a block the stream may still
// deliver; a stream whose window fills with blocks no Get takes gives up
// rather than keep a Get waiting.
func TestCARStream(t *testing.T) {
	ms, root, _ := testFile(t, 10_000, 5)
	tr := newHandlerTransport(map[string]http.Handler{"http://gw": gatewayOver(ms)})
	g := NewGateways([]string{"http://gw"}, tr)
	ctx := context.Background()
	sr, err := g.StreamCAR(ctx, root, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	car := newCARStream(ctx, sr, carWindow)
	defer car.stop()
	rootBlock, ok := car.take(ctx, root)
	if !ok {
		t.Fatal("the root is not in the stream")
	}
	if _, err := content.BlockFromCID(root, rootBlock.data); err != nil {
		t.Fatal(err)
	}
	// Taken once: a second take does not wait for it.
	if _, ok := car.take(ctx, root); ok {
		t.Fatal("the root was given twice")
	}
	// A block not in the DAG: the stream ends without it.
	stranger, _ := content.NewRawBlock([]byte("not in the file"))
	if _, ok := car.take(ctx, stranger.CID()); ok {
		t.Fatal("a block not in the file came from its stream")
	}
	if err := car.failure(); err != nil {
		t.Fatalf("a complete stream reports %v", err)
	}

	// A window of 2 KiB, full of blocks no Get takes.
	sr, err = g.StreamCAR(ctx, root, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	car = newCARStream(ctx, sr, 2<<10)
	defer car.stop()
	done := make(chan bool)
	go func() { _, ok := car.take(ctx, stranger.CID()); done <- ok }()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("a stranger block came from the stream")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a Get waits on a stalled stream")
	}
	if err := car.failure(); !errors.Is(err, errStalled) && err != nil {
		t.Fatalf("stalled stream: %v", err)
	}
}

// TestHashed: a digest computed already stands only for bytes of its
// length, and never for bytes that do not hash to the CID.
func TestHashed(t *testing.T) {
	b, _ := content.NewRawBlock([]byte("hello"))
	sum := sha256.Sum256([]byte("hello"))
	if _, err := content.BlockFromCIDHasher(b.CID(), []byte("hello"), hashed(&sum, 5)); err != nil {
		t.Fatal(err)
	}
	if _, err := content.BlockFromCIDHasher(b.CID(), []byte("hello!"), hashed(&sum, 5)); err == nil {
		t.Fatal("a digest stood for bytes of another length")
	}
	other := sha256.Sum256([]byte("world"))
	if _, err := content.BlockFromCIDHasher(b.CID(), []byte("world"), hashed(&other, 5)); !errors.Is(err, content.ErrHashMismatch) {
		t.Fatalf("bytes of another block: %v", err)
	}
}

// TestReadSection: sections are read whole; an empty one, one longer than
// MaxSectionSize or one cut short is refused.
func TestReadSection(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"\x03abc", nil},
		{"", io.EOF},
		{"\x03ab", io.ErrUnexpectedEOF},
		{"\x80", io.ErrUnexpectedEOF},
		{"\x00", errors.New("empty")},
		{"\xff\xff\xff\x7f", errors.New("long")},
	} {
		b, err := readSection(bufio.NewReader(strings.NewReader(tc.in)))
		switch {
		case tc.want == nil && (err != nil || string(b) != tc.in[1:]):
			t.Errorf("%q: %q, %v", tc.in, b, err)
		case tc.want != nil && err == nil:
			t.Errorf("%q: no error", tc.in)
		case errors.Is(tc.want, io.EOF) || errors.Is(tc.want, io.ErrUnexpectedEOF):
			if !errors.Is(err, tc.want) {
				t.Errorf("%q: %v, want %v", tc.in, err, tc.want)
			}
		}
	}
}
