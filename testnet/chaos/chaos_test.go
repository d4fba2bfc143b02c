package chaos

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"meshfs/testnet"
)

var (
	duration = flag.Duration("chaos.duration", 25*time.Second, "how long each seed's workload runs under the nemesis")
	seeds    = flag.String("chaos.seeds", "1,2", "the nemesis and workload seeds, comma-separated")
	keepDir  = flag.String("chaos.dir", "", "keep each seed's testnet (daemon logs) and visualization in this folder (default: a temporary one)")
)

// binary is the meshfs binary built once for the package's tests.
var binary string

func TestMain(m *testing.M) { os.Exit(testnet.RunWithBinary(m, &binary)) }

// TestChaos runs the namespace workload under the nemesis on 5 daemons (3
// voters) for each seed and checks linearizability, lost writes (the
// final reads) and one writer per term.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 5 daemons and kills them")
	}
	for _, s := range strings.Split(*seeds, ",") {
		seed, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			t.Fatalf("-chaos.seeds: %v", err)
		}
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), *duration+5*time.Minute)
			defer cancel()
			// Collection runs throughout, with short grace periods, so a
			// block it frees too early shows as a lost write or file.
			dir := t.TempDir()
			if *keepDir != "" {
				dir = filepath.Join(*keepDir, fmt.Sprintf("seed-%d", seed))
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
			}
			net, err := testnet.Start(ctx, testnet.Config{
				Binary: binary, Dir: filepath.Join(dir, "testnet"), Peers: 5, Open: true,
				DaemonArgs: []string{"--gc-roots", "4", "--gc-grace", "2s", "--gc-lease", "5s", "--gc-interval", "1s"},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer net.Close()
			sum, err := Run(ctx, Config{
				Net: net, Voters: 3, Seed: seed, Duration: *duration, Clients: 6, Dirs: 3, Names: 3, Replication: 3,
				Dir: dir, Logf: t.Logf,
			})
			t.Log(sum)
			t.Logf("garbage collected during the run: %s", collected(ctx, net))
			if err != nil {
				t.Fatal(err)
			}
			if sum.OK == 0 || sum.Result != "Ok" || sum.Files == 0 || !sum.FilesChecked {
				t.Fatalf("nothing acknowledged or not linearizable: %v", sum)
			}
		})
	}
}

// collected sums what the daemons' collectors deleted since they started.
func collected(ctx context.Context, net *testnet.Net) string {
	var blocks, bytes int64
	for _, p := range net.Peers() {
		if !p.Up() {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.API+"/api/v0/status", nil)
		if err != nil {
			continue
		}
		var st struct {
			GC *struct {
				Total struct {
					Blocks int64 `json:"blocks"`
					Bytes  int64 `json:"bytes"`
				} `json:"deleted_since_start"`
			} `json:"gc"`
		}
		if status, body, _, err := do(http.DefaultClient, req); err == nil && status == http.StatusOK && json.Unmarshal(body, &st) == nil && st.GC != nil {
			blocks += st.GC.Total.Blocks
			bytes += st.GC.Total.Bytes
		}
	}
	return fmt.Sprintf("%d blocks, %d bytes (daemons up at the end)", blocks, bytes)
}
