//go:build unix

package testnet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"meshfs/testnet"
)

// startNet starts a mesh of n peers in a fresh folder and stops it when the
// test ends, failing the test if a daemon does not stop cleanly.
func startNet(t *testing.T, n int) *testnet.Net {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	begin := time.Now()
	net, err := testnet.Start(ctx, testnet.Config{
		Binary:     binary,
		Dir:        t.TempDir(),
		Peers:      n,
		DaemonArgs: []string{"--repair-interval", "2s"},
		Ready:      30 * time.Second,
		OnExit:     func(p testnet.Peer) { t.Errorf("peer %d exited unasked: %s; log %s", p.Index, p.Exit, p.Log) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d peers up in %v", n, time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := net.Close(); err != nil {
			t.Error(err)
		}
	})
	return net
}

// status is the part of GET /api/v0/status the tests read.
type status struct {
	ID           string `json:"id"`
	Connected    int    `json:"connected_peers"`
	RoutingTable int    `json:"routing_table"`
}

// peerEntry is one entry of GET /api/v0/peers.
type peerEntry struct {
	ID      string   `json:"id"`
	Addrs   []string `json:"addrs"`
	Blocked string   `json:"blocked"`
}

// getJSON fetches api+path into v within timeout.
func getJSON(api, path string, timeout time.Duration, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+path, nil)
	if err != nil {
		return err
	}
	// A fresh connection each time: an idle one to a killed daemon would
	// say nothing about the daemon now.
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s%s: %s", api, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func getStatus(api string, timeout time.Duration) (status, error) {
	var st status
	err := getJSON(api, "/api/v0/status", timeout, &st)
	return st, err
}

// eventually polls cond until it returns "" or timeout passes, then fails
// with cond's last reason.
func eventually(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, why)
		}
		time.Sleep(50 * time.Millisecond) // poll interval under a deadline
	}
}

func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestStartDescribesTheMesh(t *testing.T) {
	net := startNet(t, 3)
	peers := net.Peers()
	if len(peers) != 3 {
		t.Fatalf("%d peers, want 3", len(peers))
	}

	// testnet.json has the agreed names and says what Peers says.
	b, err := os.ReadFile(filepath.Join(net.Dir(), "testnet.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Peers []map[string]json.RawMessage `json:"peers"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("testnet.json: %v", err)
	}
	for _, p := range raw.Peers {
		for _, k := range []string{"id", "api", "addrs", "repo", "pid"} {
			if _, ok := p[k]; !ok {
				t.Errorf("testnet.json: a peer lacks %q: %s", k, b)
			}
		}
	}
	var desc testnet.Description
	if err := json.Unmarshal(b, &desc); err != nil {
		t.Fatal(err)
	}
	if len(desc.Peers) != 3 {
		t.Fatalf("testnet.json has %d peers", len(desc.Peers))
	}
	ids := map[string]bool{}
	for i, p := range peers {
		d := desc.Peers[i]
		if d.ID != p.ID || d.API != p.API || d.PID != p.PID || d.Repo != p.Repo || !slices.Equal(d.Addrs, p.Addrs) {
			t.Errorf("testnet.json peer %d = %+v, Peers says %+v", i, d, p)
		}
		if p.Index != i || p.State != testnet.Running || ids[p.ID] {
			t.Errorf("peer %d: %+v", i, p)
		}
		ids[p.ID] = true
		if p.Repo != filepath.Join(net.Dir(), fmt.Sprintf("peer-%02d", i)) {
			t.Errorf("peer %d repo %s", i, p.Repo)
		}
		if _, err := os.Stat(p.Log); err != nil {
			t.Errorf("peer %d log: %v", i, err)
		}
		for _, a := range p.Addrs {
			if !strings.HasPrefix(a, "/ip4/127.0.0.1/") || !strings.HasSuffix(a, "/p2p/"+p.ID) {
				t.Errorf("peer %d addr %s", i, a)
			}
		}
		st, err := getStatus(p.API, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if st.ID != p.ID || st.RoutingTable < 2 || st.Connected < 2 {
			t.Errorf("peer %d status %+v", i, st)
		}
	}

	// A running testnet's folder is neither removed nor started again, and
	// the running daemons keep their daemon.json.
	if err := testnet.Remove(net.Dir()); !errors.Is(err, testnet.ErrInUse) {
		t.Errorf("Remove of a running testnet: %v, want ErrInUse", err)
	}
	if _, err := testnet.Start(t.Context(), testnet.Config{Binary: binary, Dir: net.Dir(), Peers: 1}); !errors.Is(err, testnet.ErrInUse) {
		t.Errorf("Start in a running testnet's folder: %v, want ErrInUse", err)
	}
	if b2, err := os.ReadFile(net.DescriptionPath()); err != nil || string(b2) != string(b) {
		t.Errorf("testnet.json after a second Start in its folder: %v\n%s", err, b2)
	}
	if _, err := os.Stat(filepath.Join(peers[0].Repo, "daemon.json")); err != nil {
		t.Errorf("peer 0's daemon.json: %v", err)
	}

	// Close stops every daemon cleanly and leaves no process behind.
	if err := net.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Peers() {
		if p.State != testnet.Stopped || p.Exit != "exit status 0" {
			t.Errorf("peer %d after Close: %s, %s", p.Index, p.State, p.Exit)
		}
		if !processGone(p.PID) {
			t.Errorf("peer %d: pid %d still exists", p.Index, p.PID)
		}
		if _, err := os.Stat(filepath.Join(p.Repo, "daemon.json")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("peer %d: daemon.json after a clean stop: %v", p.Index, err)
		}
	}
	if err := testnet.Remove(net.Dir()); err != nil {
		t.Errorf("Remove after Close: %v", err)
	}
}

func TestKillThenRestart(t *testing.T) {
	net := startNet(t, 3)
	ctx := t.Context()
	before := net.Peers()
	connected := func() (int, string) {
		sum := 0
		for _, p := range before[:2] {
			st, err := getStatus(p.API, 2*time.Second)
			if err != nil {
				return 0, fmt.Sprintf("peer %d: %v", p.Index, err)
			}
			sum += st.Connected
		}
		return sum, ""
	}
	was, why := connected()
	if why != "" {
		t.Fatal(why)
	}

	if err := net.Kill(2); err != nil {
		t.Fatal(err)
	}
	if p := net.Peer(2); p.State != testnet.Killed || !processGone(p.PID) {
		t.Fatalf("after Kill: %+v", p)
	}
	if _, err := getStatus(before[2].API, 2*time.Second); err == nil {
		t.Fatal("a killed daemon answers")
	}
	// The survivors answer and lose their connection to it (over TCP at
	// once; over QUIC only when the connection idles out, so the sum).
	eventually(t, 15*time.Second, func() string {
		now, why := connected()
		if why != "" {
			return why
		}
		if now >= was {
			return fmt.Sprintf("survivors hold %d connections, as before the kill", now)
		}
		return ""
	})
	var desc testnet.Description
	if b, err := os.ReadFile(net.DescriptionPath()); err != nil || json.Unmarshal(b, &desc) != nil || desc.Peers[2].State != testnet.Killed {
		t.Errorf("testnet.json after Kill: %v %+v", err, desc)
	}

	if err := net.Restart(ctx, 2); err != nil {
		t.Fatal(err)
	}
	after := net.Peer(2)
	if after.ID != before[2].ID || after.PID == before[2].PID || after.State != testnet.Running {
		t.Fatalf("restarted peer %+v, was %+v", after, before[2])
	}
	st, err := getStatus(after.API, 5*time.Second)
	if err != nil || st.ID != before[2].ID || st.Connected < 2 || st.RoutingTable < 2 {
		t.Fatalf("restarted peer's status %+v, %v", st, err)
	}

	// Stop is clean: the daemon removes its daemon.json.
	if err := net.Stop(1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(before[1].Repo, "daemon.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("daemon.json after Stop: %v", err)
	}
	if err := net.Restart(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := net.Restart(ctx, 1); !errors.Is(err, testnet.ErrState) {
		t.Errorf("Restart of a running peer: %v, want ErrState", err)
	}
}

func TestPauseResume(t *testing.T) {
	net := startNet(t, 3)
	p := net.Peer(1)
	if err := net.Pause(1); err != nil {
		t.Fatal(err)
	}
	if got := net.Peer(1).State; got != testnet.Paused {
		t.Errorf("state %s while paused", got)
	}
	if _, err := getStatus(p.API, 300*time.Millisecond); err == nil {
		t.Fatal("a paused daemon answers")
	}
	if err := net.Pause(1); !errors.Is(err, testnet.ErrState) {
		t.Errorf("Pause of a paused peer: %v, want ErrState", err)
	}
	if err := net.Resume(1); err != nil {
		t.Fatal(err)
	}
	if st, err := getStatus(p.API, 5*time.Second); err != nil || st.ID != p.ID {
		t.Fatalf("after Resume: %+v, %v", st, err)
	}
	if err := net.WaitMesh(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Close stops a paused daemon cleanly too (the cleanup checks).
	if err := net.Pause(2); err != nil {
		t.Fatal(err)
	}
}

func TestPartitionHeal(t *testing.T) {
	net := startNet(t, 3)
	ctx := t.Context()
	peers := net.Peers()
	if err := net.Partition(ctx, []int{0}, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	var entries []peerEntry
	if err := getJSON(peers[0].API, "/api/v0/peers", 5*time.Second, &entries); err != nil {
		t.Fatal(err)
	}
	for _, other := range peers[1:] {
		i := slices.IndexFunc(entries, func(e peerEntry) bool { return e.ID == other.ID })
		if i < 0 || entries[i].Blocked == "" || len(entries[i].Addrs) > 0 {
			t.Errorf("peer 0's view of peer %d: %+v", other.Index, entries)
		}
	}
	eventually(t, 10*time.Second, func() string {
		st, err := getStatus(peers[0].API, 2*time.Second)
		if err != nil {
			return err.Error()
		}
		if st.Connected != 0 {
			return fmt.Sprintf("peer 0 has %d connected peers", st.Connected)
		}
		return ""
	})
	// The other side still forms a mesh of its own.
	if err := net.WaitMesh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := net.Partition(ctx, []int{0, 1}); !errors.Is(err, testnet.ErrPartitioned) {
		t.Errorf("Partition of a partitioned mesh: %v", err)
	}
	if _, err := net.AddPeer(ctx); !errors.Is(err, testnet.ErrPartitioned) {
		t.Errorf("AddPeer while partitioned: %v", err)
	}

	// A peer that restarts during the partition is cut off again.
	if err := net.Kill(0); err != nil {
		t.Fatal(err)
	}
	if err := net.Restart(ctx, 0); err != nil {
		t.Fatal(err)
	}
	restarted := net.Peer(0)
	entries = nil
	if err := getJSON(restarted.API, "/api/v0/peers", 5*time.Second, &entries); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Blocked == "" || len(e.Addrs) > 0 {
			t.Errorf("restarted peer 0 during the partition: %+v", entries)
		}
	}

	if err := net.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() string {
		st, err := getStatus(restarted.API, 2*time.Second)
		if err != nil {
			return err.Error()
		}
		if st.Connected != 2 {
			return fmt.Sprintf("peer 0 has %d connected peers", st.Connected)
		}
		return ""
	})
}

func TestAddPeer(t *testing.T) {
	net := startNet(t, 3)
	i, err := net.AddPeer(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if i != 3 || len(net.Peers()) != 4 {
		t.Fatalf("AddPeer gave index %d; %d peers", i, len(net.Peers()))
	}
	p := net.Peer(3)
	for _, q := range net.Peers()[:3] {
		var entries []peerEntry
		if err := getJSON(q.API, "/api/v0/peers", 5*time.Second, &entries); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(entries, func(e peerEntry) bool { return e.ID == p.ID && len(e.Addrs) > 0 }) {
			t.Errorf("peer %d is not connected to the new peer", q.Index)
		}
	}
	st, err := getStatus(p.API, 5*time.Second)
	if err != nil || st.RoutingTable < 3 {
		t.Fatalf("new peer's status %+v, %v", st, err)
	}
	var desc testnet.Description
	if b, err := os.ReadFile(net.DescriptionPath()); err != nil || json.Unmarshal(b, &desc) != nil || len(desc.Peers) != 4 {
		t.Errorf("testnet.json after AddPeer: %v, %d peers", err, len(desc.Peers))
	}
}

func TestDaemonCrashAtStartShowsItsLog(t *testing.T) {
	// Peer 1's repo has a config the daemon refuses.
	dir := t.TempDir()
	repo := filepath.Join(dir, "peer-01")
	if err := os.MkdirAll(repo, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "config.toml"), []byte("no_such_setting = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// No namespace: its voters' repos would be made (and this one refused)
	// before any daemon starts.
	_, err := testnet.Start(t.Context(), testnet.Config{Binary: binary, Dir: dir, Peers: 3, Voters: -1})
	if !errors.Is(err, testnet.ErrDaemonExited) || !strings.Contains(err.Error(), "no_such_setting") {
		t.Fatalf("Start with a broken repo: %v", err)
	}
	t.Log(err)
	// Peer 0, started before, was stopped; peer 2 never started.
	b, rerr := os.ReadFile(filepath.Join(dir, "peer-00", "daemon.log"))
	if rerr != nil || !strings.Contains(string(b), "meshfs daemon ready") {
		t.Errorf("peer 0's log: %v\n%s", rerr, b)
	}
	if _, err := os.Stat(filepath.Join(dir, "peer-00", "daemon.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("peer 0 is not stopped: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "peer-02")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("peer 2 was started: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := testnet.Config{Binary: "meshfs", Dir: "d", Peers: 1}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]testnet.Config{
		"no peers":  {Binary: "meshfs", Dir: "d"},
		"no dir":    {Binary: "meshfs", Peers: 1},
		"no binary": {Dir: "d", Peers: 1},
		"--api":     {Binary: "meshfs", Dir: "d", Peers: 1, DaemonArgs: []string{"--api", "x"}},
		"-repo=":    {Binary: "meshfs", Dir: "d", Peers: 1, DaemonArgs: []string{"-repo=x"}},
		"bootstrap": {Binary: "meshfs", Dir: "d", Peers: 1, DaemonArgs: []string{"--bootstrap=x"}},
	} {
		if err := c.Validate(); !errors.Is(err, testnet.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}
