package e2e

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"meshfs/content"
	"meshfs/internal/testrand"
	"meshfs/peer"
	"meshfs/testnet"
)

// file is one file added in a test, with the CIDs of all its blocks.
type file struct {
	cid    string
	data   []byte
	blocks []string
}

// makeFiles returns random files whose blocks (leaves and DAG nodes, at
// the given chunk size) number at least minBlocks in all.
func makeFiles(t *testing.T, minBlocks, chunk int) []file {
	rng := testrand.New(t)
	var files []file
	total := 0
	for total < minBlocks {
		size := rng.IntN(40 * chunk)
		if rng.IntN(5) == 0 {
			size = rng.IntN(chunk) // small files are one block
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		st := content.NewMemStore()
		root, err := content.Import(context.Background(), bytes.NewReader(data), st, content.ImportOptions{ChunkSize: chunk})
		if err != nil {
			t.Fatal(err)
		}
		f := file{cid: root.CID.String(), data: data}
		for c, err := range st.All(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			f.blocks = append(f.blocks, c.String())
		}
		files = append(files, f)
		total += len(f.blocks)
	}
	return files
}

// liveIDs returns the peer IDs of the live peers of n.
func liveIDs(n *testnet.Net) []string {
	var ids []string
	for _, p := range n.Peers() {
		if p.State == testnet.Running {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// holdersOK checks, for every block, that the live peers holding it (asked
// through api) pass check.
func holdersOK(ctx context.Context, api string, blocks []string, check func(block string, holders []string) error) error {
	for _, b := range blocks {
		hs, err := where(ctx, api, b)
		if err != nil {
			return err
		}
		if err := check(b, hs); err != nil {
			return err
		}
	}
	return nil
}

func TestMeshSurvivesKilledHomePeersAndMigrates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 11 daemons")
	}
	ctx := context.Background()
	const peers, r, chunk = 10, 3, 64 << 10
	net, err := testnet.Start(ctx, testnet.Config{
		Binary:     binary,
		Dir:        t.TempDir(),
		Peers:      peers,
		DaemonArgs: []string{"--repair-interval", "2s", "--replication", "3", "--write-quorum", "2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })

	// 300 blocks' worth of random files, added through peer 0.
	files := makeFiles(t, 300, chunk)
	blockSet := map[string]bool{}
	for i := range files {
		c, err := add(ctx, net.Peer(0).API, files[i].data, chunk)
		if err != nil {
			t.Fatalf("add file %d: %v", i, err)
		}
		if c != files[i].cid {
			t.Fatalf("add file %d: CID %s, computed locally %s", i, c, files[i].cid)
		}
		for _, b := range files[i].blocks {
			blockSet[b] = true
		}
	}
	blocks := slices.Sorted(maps.Keys(blockSet))
	t.Logf("%d files, %d distinct blocks", len(files), len(blocks))

	// The two peers (not the adder) that are home to the most blocks die.
	ids := liveIDs(net)
	homeCount := map[string]int{}
	for _, b := range blocks {
		c, _ := content.ParseCID(b)
		home, err := peer.HomeOf(c, ids, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range home {
			homeCount[p]++
		}
	}
	var victims []int
	for _, p := range slices.SortedFunc(maps.Keys(homeCount), func(a, b string) int { return homeCount[b] - homeCount[a] }) {
		if i := indexOf(net, p); i != 0 && len(victims) < 2 {
			victims = append(victims, i)
		}
	}
	for _, v := range victims {
		t.Logf("killing peer %d, home to %d blocks", v, homeCount[net.Peer(v).ID])
		if err := net.Kill(v); err != nil {
			t.Fatal(err)
		}
	}
	reader := firstLiveExcept(net, append([]int{0}, victims...)...)

	// Every file reads back byte-identical from a third peer at once.
	for i, f := range files {
		got, err := cat(ctx, net.Peer(reader).API, f.cid)
		if err != nil {
			t.Fatalf("file %d after the kills: %v", i, err)
		}
		if !bytes.Equal(got, f.data) {
			t.Fatalf("file %d after the kills: different bytes", i)
		}
	}

	// After the repair interval every block has R live holders again.
	err = waitFor(ctx, 60*time.Second, func() error {
		live := liveIDs(net)
		return holdersOK(ctx, net.Peer(reader).API, blocks, func(b string, hs []string) error {
			n := 0
			for _, h := range hs {
				if slices.Contains(live, h) {
					n++
				}
			}
			if n < r {
				return fmt.Errorf("block %s has %d live holders", b, n)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	// The command line tells the same.
	out, err := exec.CommandContext(ctx, binary, "block", "where", "--api", net.Peer(reader).API, blocks[0]).Output()
	if err != nil {
		t.Fatalf("meshfs block where: %v", err)
	}
	if lines := strings.Fields(string(out)); len(lines) < r {
		t.Fatalf("meshfs block where printed %q", out)
	}

	// The killed peers come back and a new one joins: blocks migrate until
	// each is held by exactly its home set over the eleven peers.
	for _, v := range victims {
		if err := net.Restart(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	newcomer, err := net.AddPeer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := net.WaitMesh(ctx); err != nil {
		t.Fatal(err)
	}
	err = waitFor(ctx, 90*time.Second, func() error {
		live := liveIDs(net)
		return holdersOK(ctx, net.Peer(reader).API, blocks, func(b string, hs []string) error {
			c, _ := content.ParseCID(b)
			home, err := peer.HomeOf(c, live, r)
			if err != nil {
				return err
			}
			slices.Sort(home)
			if !slices.Equal(hs, home) {
				return fmt.Errorf("block %s held by %d peers %v, home is %v", b, len(hs), hs, home)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	st := status(t, net.Peer(newcomer).API)
	if st.Blocks == 0 {
		t.Error("the new peer holds no block")
	}
	t.Logf("the new peer holds %d blocks", st.Blocks)
	for i, f := range files {
		got, err := cat(ctx, net.Peer(newcomer).API, f.cid)
		if err != nil || !bytes.Equal(got, f.data) {
			t.Fatalf("file %d from the new peer: %v", i, err)
		}
	}
}

func indexOf(n *testnet.Net, id string) int {
	for _, p := range n.Peers() {
		if p.ID == id {
			return p.Index
		}
	}
	return -1
}

func firstLiveExcept(n *testnet.Net, not ...int) int {
	for _, p := range n.Peers() {
		if p.State == testnet.Running && !slices.Contains(not, p.Index) {
			return p.Index
		}
	}
	return -1
}

type nodeStatus struct {
	Blocks    int64 `json:"blocks"`
	Connected int   `json:"connected_peers"`
}

func status(t *testing.T, api string) nodeStatus {
	t.Helper()
	var st nodeStatus
	req, _ := http.NewRequest(http.MethodGet, api+"/api/v0/status", nil)
	if err := call(req, &st); err != nil {
		t.Fatal(err)
	}
	return st
}
