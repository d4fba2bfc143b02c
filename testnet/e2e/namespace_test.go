package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"meshfs/content"
	"meshfs/testnet"
)

// nsTest is a namespace test on a real testnet: its files as last
// acknowledged.
type nsTest struct {
	t     *testing.T
	ctx   context.Context
	net   *testnet.Net
	rng   *rand.Rand
	files map[string][]byte // every acknowledged write: path → content
}

func (s *nsTest) api(i int) string { return s.net.Peer(i).API }

// write writes size random bytes to p through peer i and records them;
// extra are more query parameters, name then value.
func (s *nsTest) write(i int, p string, size int, extra ...string) {
	s.t.Helper()
	data := make([]byte, size)
	for j := range data {
		data[j] = byte(s.rng.UintN(256))
	}
	var a fsAnswer
	// A writer just elected may still be catching up: retry while no
	// writer answers, never after an acknowledgement or a refusal.
	err := waitFor(s.ctx, 20*time.Second, func() error {
		var err error
		a, err = fsWrite(s.ctx, s.api(i), p, data, append([]string{"parents", "1"}, extra...)...)
		if err == nil && a.Status == http.StatusServiceUnavailable {
			return fmt.Errorf("%s", a.Error)
		}
		return nil
	})
	if err != nil || a.Status != http.StatusOK {
		s.t.Fatalf("write %s through peer %d: %+v %v", p, i, a, err)
	}
	s.files[p] = data
}

// check waits until every peer of peers reads every file as last written,
// at level.
func (s *nsTest) check(level string, peers ...int) {
	s.t.Helper()
	for _, i := range peers {
		for p, want := range s.files {
			err := waitFor(s.ctx, 30*time.Second, func() error {
				got, err := fsCat(s.ctx, s.api(i), p, level)
				if err != nil {
					return err
				}
				if !bytes.Equal(got, want) {
					return fmt.Errorf("peer %d, %s read of %s: %d bytes, not the %d written", i, level, p, len(got), len(want))
				}
				return nil
			})
			if err != nil {
				s.t.Fatal(err)
			}
		}
	}
}

// writerOtherThan waits for the running voters to agree on a writer other
// than old.
func (s *nsTest) writerOtherThan(old string) testnet.Writer {
	s.t.Helper()
	var w testnet.Writer
	err := waitFor(s.ctx, 30*time.Second, func() error {
		var err error
		if w, err = s.net.WaitWriter(s.ctx); err != nil {
			return err
		}
		if w.ID == old {
			return fmt.Errorf("the voters still follow %s", old)
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return w
}

// TestNamespaceOnRealDaemons runs the namespace on 5 daemons (3 voters):
// reads at every level on every peer, the access list, forged and stale
// root records, the writer killed, the writer paused past an election,
// and every voter restarted.
func TestNamespaceOnRealDaemons(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 5 daemons")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	net, err := testnet.Start(ctx, testnet.Config{Binary: binary, Dir: t.TempDir(), Peers: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	s := &nsTest{t: t, ctx: ctx, net: net, rng: rand.New(rand.NewPCG(4, 4)), files: map[string][]byte{}}
	all := []int{0, 1, 2, 3, 4}

	t.Log("writes through voters are forwarded to the writer; every peer reads them at every level")
	s.write(0, "/docs/a.bin", 300<<10)
	s.write(1, "/docs/deep/b.txt", 1000)
	s.write(2, "/c", 0)
	for _, level := range []string{"strong", "sequential", "eventual"} {
		s.check(level, all...)
	}

	t.Log("a peer off the access list changes nothing, until it is allowed")
	a, err := fsWrite(ctx, s.api(4), "/intruder", []byte("x"))
	if err != nil || a.Status != http.StatusForbidden || a.Kind != "notallowed" {
		t.Fatalf("write from a peer off the access list: %+v %v", a, err)
	}
	if a, err := fsStat(ctx, s.api(0), "/intruder", "strong"); err != nil || a.Kind != "notexist" {
		t.Fatalf("after a refused write: %+v %v", a, err)
	}
	if a, err := fsCall(ctx, s.api(1), "allow", url.Values{"arg": {net.Peer(4).ID}}, []byte{}); err != nil || a.Status != http.StatusOK {
		t.Fatalf("allow peer 4: %+v %v", a, err)
	}
	s.write(4, "/from-4", 5000)

	t.Log("a root path resolves on a non-voter")
	root, err := fsCall(ctx, s.api(1), "root", nil, nil)
	if err != nil || root.CID == "" {
		t.Fatalf("root: %+v %v", root, err)
	}
	got, err := cat(ctx, s.api(3), "/ipfs/"+root.CID+"/docs/deep/b.txt")
	if err != nil || !bytes.Equal(got, s.files["/docs/deep/b.txt"]) {
		t.Fatalf("cat /ipfs/ROOT/docs/deep/b.txt on a non-voter: %d bytes, %v", len(got), err)
	}
	// The root is a plain UnixFS directory, as any IPFS tool walks it.
	raw, err := gatewayRaw(ctx, s.api(3), root.CID)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := content.DecodePBNode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := content.DecodeFSData(pb.Data); err != nil || d.Type != content.TypeDirectory {
		t.Fatalf("the root is not a UnixFS directory: %v %v", d.Type, err)
	}
	var names []string
	for _, l := range pb.Links {
		names = append(names, l.Name)
	}
	if strings.Join(names, ",") != "c,docs,from-4" {
		t.Fatalf("the root lists %v", names)
	}

	t.Log("forged and stale root records are rejected by every peer")
	w, err := net.WaitWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := add(ctx, s.api(3), []byte("not the tree"), 1024)
	if err != nil {
		t.Fatal(err)
	}
	forge := func(i int, term, index uint64, trustSelf bool) {
		q := url.Values{"arg": {forged}, "term": {fmt.Sprint(term)}, "index": {fmt.Sprint(index)}}
		if trustSelf {
			q.Set("forge", "1")
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.api(i)+"/debug/root-record?"+q.Encode(), nil)
		var out map[string]any
		_ = call(req, &out) // refused locally or not: what matters is what the others keep
	}
	forge(3, w.Term+100, 1<<40, true) // a non-voter that trusts itself
	voter := (w.Index + 1) % 3
	forge(voter, w.Term-1, 1<<40, false)  // a voter, in a past term
	s.write(0, "/after-forgery", 10)      // a new record from the writer
	for _, i := range []int{0, 1, 2, 4} { // every honest peer
		err := waitFor(ctx, 30*time.Second, func() error {
			r, err := fsCall(ctx, s.api(i), "root", url.Values{"consistency": {"eventual"}}, nil)
			switch {
			case err != nil:
				return err
			case r.CID == forged:
				return fmt.Errorf("peer %d: eventual root is the forged one (term %d)", i, r.Term)
			case r.Term != w.Term || r.Writer != w.ID:
				return fmt.Errorf("peer %d: eventual root of term %d by %s, want term %d by %s", i, r.Term, r.Writer, w.Term, w.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Log("SIGKILL the writer: a new one is elected, writes succeed, nothing is lost")
	if err := net.Kill(w.Index); err != nil {
		t.Fatal(err)
	}
	survivor := (w.Index + 1) % 3
	s.write(survivor, "/after-kill", 2000)
	w2 := s.writerOtherThan(w.ID)
	s.check("strong", survivor, 3, 4)
	if err := net.Restart(ctx, w.Index); err != nil {
		t.Fatal(err)
	}
	s.check("strong", w.Index)

	t.Log("SIGSTOP the writer past an election; its pending change is never applied")
	if err := net.Pause(w2.Index); err != nil {
		t.Fatal(err)
	}
	pending := make(chan fsAnswer, 1)
	go func() {
		a, err := fsWrite(ctx, s.api(w2.Index), "/fence", []byte("from the deposed writer"), "exclusive", "1")
		if err != nil {
			a.Error = err.Error()
		}
		pending <- a
	}()
	w3 := s.writerOtherThan(w2.ID)
	s.write(w3.Index, "/fence", 64, "exclusive", "1")
	if err := net.Resume(w2.Index); err != nil {
		t.Fatal(err)
	}
	a = <-pending
	if a.Status == http.StatusOK {
		t.Fatalf("the deposed writer's exclusive create succeeded after another writer's: %+v", a)
	}
	t.Logf("the deposed writer's pending create: %d %s", a.Status, a.Error)
	if w := s.writerOtherThan(w2.ID); w.Term < w3.Term {
		t.Fatalf("term went back from %d to %d", w3.Term, w.Term)
	}
	s.check("strong", all...)
	logb, err := os.ReadFile(net.Peer(w2.Index).Log)
	if err != nil || !strings.Contains(string(logb), "no longer the writer") {
		t.Fatalf("the deposed writer's log does not say it stepped down (%v)", err)
	}

	t.Log("restart every voter: the tree is intact")
	for i := range 3 {
		if err := net.Kill(i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := net.Restart(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := net.WaitWriter(ctx); err != nil {
		t.Fatal(err)
	}
	s.check("strong", all...)
	s.check("sequential", all...)

	t.Log("a voter joins through a configuration change and counts in the quorum")
	if a, err := fsCall(ctx, s.api(1), "voters", url.Values{"arg": {net.Peer(3).ID}}, []byte{}); err != nil || a.Status != http.StatusOK {
		t.Fatalf("add peer 3 as a voter: %+v %v", a, err)
	}
	err = waitFor(ctx, 30*time.Second, func() error {
		var v struct {
			Voter  bool     `json:"voter"`
			Voters []string `json:"voters"`
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.api(3)+"/api/v0/fs/writer", nil)
		if err := call(req, &v); err != nil {
			return err
		}
		if !v.Voter || len(v.Voters) != 4 {
			return fmt.Errorf("peer 3: voter %v, voters %v", v.Voter, v.Voters)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 4 voters: with one of the first three down, 3 still make a quorum.
	w4, err := net.WaitWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	down := (w4.Index + 1) % 3
	if err := net.Kill(down); err != nil {
		t.Fatal(err)
	}
	s.write(3, "/after-join", 3000)
	s.check("strong", 3, 4, w4.Index)
}
