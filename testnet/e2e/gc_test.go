package e2e

import (
	"context"
	"crypto/sha256"
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
func TestCollectOverwrites(t *testing.T) {
	if testing.Short() {
		t.Skip("real daemons")
	}
	const (
		k        = 4
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
	for v := range versions {
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		a, err := fsWrite(ctx, net.Peer(v%len(net.Peers())).API, "/big.bin", data)
		if err != nil || a.Status != http.StatusOK {
			t.Fatalf("version %d: %+v %v", v, a, err)
		}
		sums[a.CID] = sha256.Sum256(data)
	}
	before := storedBytes(t, net)
	t.Logf("%d versions of %d MiB written in %v; the mesh stores %d MiB", versions, size>>20, time.Since(start).Round(time.Millisecond), before>>20)

	// Wait for collection to bring the mesh down to the bound.
	limit := int64((k+1)*size*r) + 4<<20 // plus directories and summaries
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
	// And the newest version reads through the namespace.
	got, err := fsCat(ctx, net.Peer(2).API, "/big.bin", "strong")
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
