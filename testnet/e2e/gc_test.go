package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"meshfs/testnet"
)

// gcReport is the part of a collection pass the test reads.
type gcReport struct {
	Time time.Time `json:"time"`
	Dead []struct {
		CID string `json:"cid"`
	} `json:"dead"`
	Idle    string   `json:"idle"`
	Summary string   `json:"summary"`
	Roots   []string `json:"roots"`
	Deleted struct {
		Bytes int64 `json:"bytes"`
	} `json:"deleted"`
	Duration time.Duration `json:"duration"`
	Held     struct {
		Blocks int64 `json:"blocks"`
	} `json:"held"`
}

// postJSON POSTs to u with no body and decodes the answer into v.
func postJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	return call(req, v)
}

// addQuery adds data through api with extra query parameters.
func addQuery(ctx context.Context, api string, data []byte, query string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/api/v0/add?"+query, bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	var res struct {
		CID string `json:"cid"`
	}
	return res.CID, call(req, &res)
}

func gcPass(ctx context.Context, api string, dry bool) (gcReport, error) {
	u := api + "/api/v0/gc"
	if dry {
		u += "?dry-run=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return gcReport{}, err
	}
	var r gcReport
	return r, call(req, &r)
}

// storedBytes sums the block bytes every live daemon stores.
func storedBytes(t *testing.T, n *testnet.Net) int64 {
	t.Helper()
	var sum int64
	for _, p := range n.Peers() {
		if !p.Up() {
			continue
		}
		var st struct {
			Bytes int64 `json:"bytes"`
		}
		req, _ := http.NewRequest(http.MethodGet, p.API+"/api/v0/status", nil)
		if err := call(req, &st); err != nil {
			t.Fatal(err)
		}
		sum += st.Bytes
	}
	return sum
}

// TestCollectOverwrites overwrites one 10 MiB file 50 times: once the
// grace period has passed, the mesh holds at most (K + 1) versions' blocks
// R times, not 50, and every version the last K roots hold still reads
// back through the gateway.
// gcRoots is K of TestCollectOverwrites: 4 keeps the test short; the
// daemons' default, 16, is a run with -gc.roots 16.
var gcRoots = flag.Int("gc.roots", 4, "K, the last namespace roots collection keeps, in TestCollectOverwrites")

func TestCollectOverwrites(t *testing.T) {
	if testing.Short() {
		t.Skip("real daemons")
	}
	k := *gcRoots
	const (
		size     = 10 << 20
		versions = 50
		r        = 3
	)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	net, err := testnet.Start(ctx, testnet.Config{
		Binary: binary, Dir: t.TempDir(), Peers: 4, Open: true,
		DaemonArgs: []string{"--gc-roots", fmt.Sprint(k), "--gc-grace", "2s", "--gc-lease", "3s", "--gc-interval", "1s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if _, err := net.WaitWriter(ctx); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 8))
	sums := map[string][32]byte{} // content CID → sha256 of the version
	data := make([]byte, size)
	start := time.Now()
	var pinnedRoot string
	var pinnedSum [32]byte
	for v := range versions {
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		a, err := fsWrite(ctx, net.Peer(v%len(net.Peers())).API, "/big.bin", data)
		if err != nil || a.Status != http.StatusOK {
			t.Fatalf("version %d: %+v %v", v, a, err)
		}
		sums[a.CID] = sha256.Sum256(data)
		if v == 5 {
			// Pin the whole tree as it is now: it must outlive the window.
			root, err := fsCall(ctx, net.Peer(0).API, "root", nil, nil)
			if err != nil || root.Status != http.StatusOK {
				t.Fatalf("root: %+v %v", root, err)
			}
			var rootAns struct {
				CID string `json:"cid"`
			}
			if err := postJSON(ctx, net.Peer(1).API+"/api/v0/pin/add?name=v5&arg="+root.CID, &rootAns); err != nil {
				t.Fatal(err)
			}
			pinnedRoot, pinnedSum = root.CID, sha256.Sum256(data)
		}
	}
	// A file added outside the namespace is pinned by the add and kept;
	// one added with ?pin=0 is garbage.
	kept, dropped := make([]byte, 700_000), make([]byte, 600_000)
	for i := range kept {
		kept[i] = byte(rng.Uint32())
	}
	for i := range dropped {
		dropped[i] = byte(rng.Uint32())
	}
	keptCID, err := add(ctx, net.Peer(3).API, kept, 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	droppedCID, err := addQuery(ctx, net.Peer(3).API, dropped, "pin=0")
	if err != nil {
		t.Fatal(err)
	}
	before := storedBytes(t, net)
	t.Logf("%d versions of %d MiB written in %v; the mesh stores %d MiB", versions, size>>20, time.Since(start).Round(time.Millisecond), before>>20)

	// Wait for collection to bring the mesh down to the bound.
	// (K + 1) versions, one more for the pinned root, the pinned add, and
	// directories and summaries.
	limit := int64((k+2)*size*r) + int64(len(kept)*r) + 4<<20
	collectStart := time.Now()
	err = waitFor(ctx, 3*time.Minute, func() error {
		if got := storedBytes(t, net); got > limit {
			return fmt.Errorf("the mesh stores %d MiB, want at most %d MiB", got>>20, limit>>20)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	after := storedBytes(t, net)
	t.Logf("after collection (%v): %d MiB (bound %d MiB)", time.Since(collectStart).Round(time.Millisecond), after>>20, limit>>20)

	// What a pass costs: its wall time over the blocks each daemon holds.
	for _, p := range net.Peers() {
		rep, err := gcPass(ctx, p.API, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("peer %d: a collection pass over %d blocks took %v", p.Index, rep.Held.Blocks, rep.Duration)
	}

	// Every root the trusted summary keeps reads back, byte for byte.
	rep, err := gcPass(ctx, net.Peer(0).API, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Roots) == 0 || len(rep.Roots) > k {
		t.Fatalf("the trusted summary keeps %d roots, want 1 to %d (%+v)", len(rep.Roots), k, rep)
	}
	for _, root := range rep.Roots {
		got, err := getBody(ctx, net.Peer(1).API+"/ipfs/"+root+"/big.bin", "")
		if err != nil {
			t.Fatalf("root %s: %v", root, err)
		}
		sum := sha256.Sum256(got)
		found := false
		for _, s := range sums {
			found = found || s == sum
		}
		if !found {
			t.Fatalf("root %s reads back %d bytes matching no version written", root, len(got))
		}
	}
	// The pinned old root reads back, long out of the window; so does the
	// pinned add; the unpinned add is gone from every holder.
	got, err := getBody(ctx, net.Peer(2).API+"/ipfs/"+pinnedRoot+"/big.bin", "")
	if err != nil || sha256.Sum256(got) != pinnedSum {
		t.Fatalf("pinned root %s: %d bytes, %v", pinnedRoot, len(got), err)
	}
	if got, err := cat(ctx, net.Peer(1).API, keptCID); err != nil || sha256.Sum256(got) != sha256.Sum256(kept) {
		t.Fatalf("pinned add: %d bytes, %v", len(got), err)
	}
	err = waitFor(ctx, time.Minute, func() error {
		holders, err := where(ctx, net.Peer(0).API, droppedCID)
		if err != nil {
			return err
		}
		if len(holders) > 0 {
			return fmt.Errorf("the unpinned add is still on %d peers", len(holders))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// And the newest version reads through the namespace.
	got, err = fsCat(ctx, net.Peer(2).API, "/big.bin", "strong")
	if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("newest version: %d bytes, %v", len(got), err)
	}
}

// TestCollectRacesRepush writes a file's old content again while its
// blocks are dead and due to be collected on their home peers, at a range
// of moments around the end of their grace period: the push's leases win
// every race, and the content reads back everywhere afterwards.
func TestCollectRacesRepush(t *testing.T) {
	if testing.Short() {
		t.Skip("real daemons")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	net, err := testnet.Start(ctx, testnet.Config{
		Binary: binary, Dir: t.TempDir(), Peers: 3, Open: true,
		DaemonArgs: []string{"--gc-roots", "1", "--gc-grace", "1s", "--gc-lease", "1s", "--gc-interval", "200ms"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if _, err := net.WaitWriter(ctx); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for round := range 8 {
		a, b := random(1<<20+round), random(3000)
		wa, err := fsWrite(ctx, net.Peer(0).API, "/f", a)
		if err != nil || wa.Status != http.StatusOK {
			t.Fatalf("round %d: write a: %+v %v", round, wa, err)
		}
		if w, err := fsWrite(ctx, net.Peer(1).API, "/f", b); err != nil || w.Status != http.StatusOK {
			t.Fatalf("round %d: write b: %+v %v", round, w, err)
		}
		// Wait until a holder finds a's root dead, then a while more: from
		// at once to past the grace period, by round.
		var seen time.Time
		err = waitFor(ctx, time.Minute, func() error {
			for _, p := range net.Peers() {
				rep, err := gcPass(ctx, p.API, true)
				if err != nil {
					return err
				}
				for _, d := range rep.Dead {
					if d.CID == wa.CID {
						seen = time.Now()
						return nil
					}
				}
			}
			return fmt.Errorf("%s not found dead yet", wa.CID)
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		delay := time.Duration(round) * 200 * time.Millisecond
		<-time.After(time.Until(seen.Add(delay))) // the race's moment, not a synchronization
		if w, err := fsWrite(ctx, net.Peer(2).API, "/f", a); err != nil || w.Status != http.StatusOK || w.CID != wa.CID {
			t.Fatalf("round %d: write a again: %+v %v", round, w, err)
		}
		// Let every holder run passes past the lease and the grace period,
		// then read a back through every peer.
		until := time.Now().Add(3 * time.Second)
		err = waitFor(ctx, time.Minute, func() error {
			for _, p := range net.Peers() {
				rep, err := gcPass(ctx, p.API, false)
				if err != nil {
					return err
				}
				if rep.Time.Before(until) {
					return fmt.Errorf("peer %d's last pass at %v", p.Index, rep.Time)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range net.Peers() {
			got, err := fsCat(ctx, p.API, "/f", "strong")
			if err != nil || sha256.Sum256(got) != sha256.Sum256(a) {
				t.Fatalf("round %d (re-push %v after a was found dead): peer %d reads %d bytes, %v", round, delay, p.Index, len(got), err)
			}
		}
	}
}
