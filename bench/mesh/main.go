// Command mesh measures meshfs's mesh on this machine, with references
// measured in the same run:
//
//	go run ./bench/mesh --bin bin/meshfs
//
// (`make bench` runs it after bench/content.) It starts a testnet of real
// daemons on 127.0.0.1 (R=3, W=2) and reports, for files of --size bytes
// (1 GiB by default; random bytes, new for every run so no run finds its
// blocks already stored):
//
//   - local add: `meshfs add --repo` into a new repo (the reference);
//   - replicated add: `meshfs add --api` through one of 5 peers, which
//     returns once W home peers hold every block; as MB/s and as a ratio to
//     local add;
//   - local cat: `meshfs cat --repo` (the reference);
//   - remote cat: `meshfs cat --api` on a sixth, client peer that is home to
//     no block, so every block crosses the network; as MB/s and as a ratio
//     to local cat;
//   - repair: the time from SIGKILL of the peer holding the most bytes until
//     every live peer has finished a repair pass, begun after the kill, that
//     found no copy missing;
//   - home-set lookup: p50 and p99 of a DHT lookup of the home set of random
//     keys, in a separate testnet of 20 peers.
//
// Targets (informational; the exit status is 0 whether or not they are
// met, 1 if a check or a command fails): replicated add >= 0.35 of local
// add; remote cat >= 0.30 of local cat.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"text/tabwriter"
	"time"

	"meshfs/bench/internal/benchkit"
	"meshfs/content"
	"meshfs/testnet"
)

func main() { benchkit.Main("bench/mesh", run) }

type results struct {
	size                     int64
	localAdd, meshAdd        []float64 // MB/s
	localCat, remoteCat      []float64
	repair                   time.Duration
	repairBytes              int64
	lookups                  []float64 // ms
	lookupPeers, lookupWrong int
}

func run(ctx context.Context) error {
	bin := flag.String("bin", "bin/meshfs", "the meshfs binary to measure")
	size := flag.Int64("size", 1<<30, "bytes in each file")
	runs := flag.Int("runs", 2, "timed runs of each transfer")
	lookups := flag.Int("lookups", 200, "home-set lookups to time")
	parent := flag.String("dir", "", "folder for the temporary folder (default: the system's temp folder)")
	flag.Parse()
	if flag.NArg() != 0 || *runs < 1 || *size < 1 {
		flag.Usage()
		return errors.New("bad arguments")
	}
	abs, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	mf := benchkit.Meshfs{Ctx: ctx, Bin: abs}
	dir, err := os.MkdirTemp(*parent, "meshfs-bench-mesh-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res := results{size: *size}

	// Local references, on the same kind of file.
	file := filepath.Join(dir, "in.bin")
	for i := range *runs {
		sum, err := benchkit.WriteFile(file, rand.NewChaCha8(seed(1000+i)), *size)
		if err != nil {
			return err
		}
		repo := filepath.Join(dir, fmt.Sprintf("local-%d", i))
		syscall.Sync()
		c, d, err := mf.Add("-q", "--repo", repo, file)
		if err != nil {
			return err
		}
		res.localAdd = append(res.localAdd, benchkit.MBps(*size, d))
		d, err = mf.CatToDevNull("--repo", repo, c)
		if err != nil {
			return err
		}
		res.localCat = append(res.localCat, benchkit.MBps(*size, d))
		if err := mf.CheckCat(*size, sum, "--repo", repo, c); err != nil {
			return err
		}
		os.RemoveAll(repo)
		benchkit.Logf("local run %d: add %.0f MB/s, cat %.0f MB/s", i+1, res.localAdd[i], res.localCat[i])
	}

	net, err := testnet.Start(ctx, testnet.Config{
		Binary: abs, Dir: filepath.Join(dir, "net"), Peers: 5,
		DaemonArgs: []string{"--replication", "3", "--write-quorum", "2", "--repair-interval", "5s"},
	})
	if err != nil {
		return err
	}
	defer net.Close()
	reader, err := net.AddPeer(ctx, "--client")
	if err != nil {
		return err
	}
	for i := range *runs {
		sum, err := benchkit.WriteFile(file, rand.NewChaCha8(seed(i)), *size)
		if err != nil {
			return err
		}
		syscall.Sync()
		c, d, err := mf.Add("-q", "--api", net.Peer(0).API, file)
		if err != nil {
			return err
		}
		res.meshAdd = append(res.meshAdd, benchkit.MBps(*size, d))
		d, err = mf.CatToDevNull("--api", net.Peer(reader).API, c)
		if err != nil {
			return err
		}
		res.remoteCat = append(res.remoteCat, benchkit.MBps(*size, d))
		if err := mf.CheckCat(*size, sum, "--api", net.Peer(reader).API, c); err != nil {
			return err
		}
		benchkit.Logf("mesh run %d: replicated add %.0f MB/s, remote cat %.0f MB/s", i+1, res.meshAdd[i], res.remoteCat[i])
	}
	if err := measureRepair(ctx, net, reader, &res); err != nil {
		return err
	}
	// Lookups are timed in a mesh of their own: grown from this one, the
	// new peers would be busy taking over gigabytes of blocks.
	if err := net.Close(); err != nil {
		return err
	}
	lnet, err := testnet.Start(ctx, testnet.Config{Binary: abs, Dir: filepath.Join(dir, "lookup"), Peers: 20})
	if err != nil {
		return err
	}
	defer lnet.Close()
	if err := measureLookups(ctx, lnet, *lookups, &res); err != nil {
		return err
	}
	report(os.Stdout, *runs, &res)
	return nil
}

func seed(i int) [32]byte {
	var s [32]byte
	s[0], s[1] = byte(i), byte(i>>8)
	return s
}

// status is the part of /api/v0/status the bench reads.
type status struct {
	Bytes      int64 `json:"bytes"`
	LastReport struct {
		Started time.Time `json:"started"`
		Missing int       `json:"missing"`
		Failed  int       `json:"failed"`
	} `json:"last_repair_report"`
}

func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// measureRepair kills the server peer holding the most bytes and times
// until every live server has finished a repair pass, begun after the
// kill, that found nothing missing and nothing failing.
func measureRepair(ctx context.Context, net *testnet.Net, reader int, res *results) error {
	victim, most := -1, int64(-1)
	for _, p := range net.Peers() {
		if p.Index == reader || p.State != testnet.Running {
			continue
		}
		var st status
		if err := getJSON(ctx, p.API+"/api/v0/status", &st); err != nil {
			return err
		}
		if st.Bytes > most {
			victim, most = p.Index, st.Bytes
		}
	}
	killed := time.Now()
	if err := net.Kill(victim); err != nil {
		return err
	}
	res.repairBytes = most
	deadline := time.Now().Add(30 * time.Minute)
	for {
		done := true
		for _, p := range net.Peers() {
			if p.Index == reader || p.State != testnet.Running {
				continue
			}
			var st status
			if err := getJSON(ctx, p.API+"/api/v0/status", &st); err != nil {
				return err
			}
			r := st.LastReport
			if r.Started.Before(killed) || r.Missing > 0 || r.Failed > 0 {
				done = false
				break
			}
		}
		if done {
			res.repair = time.Since(killed)
			benchkit.Logf("repair after killing peer %d (%s): %v", victim, benchkit.HumanSize(most), res.repair.Round(time.Millisecond))
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("repair did not converge in 30 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// measureLookups times DHT lookups of the home set of random keys, asked
// of random peers of net.
func measureLookups(ctx context.Context, net *testnet.Net, n int, res *results) error {
	servers := 0
	for _, p := range net.Peers() {
		if p.State == testnet.Running {
			servers++
		}
	}
	var apis []string
	for _, p := range net.Peers() {
		if p.State == testnet.Running {
			apis = append(apis, p.API)
		}
	}
	res.lookupPeers = servers
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range n {
		b, err := content.NewRawBlock(fmt.Appendf(nil, "lookup key %d %d", i, rng.Uint64()))
		if err != nil {
			return err
		}
		api := apis[rng.IntN(len(apis))]
		var lookup, local struct {
			Homes []string `json:"homes"`
			Took  int64    `json:"took_ns"`
		}
		q := url.Values{"arg": {b.CID().String()}}
		if err := getJSON(ctx, api+"/api/v0/block/homes?"+q.Encode()+"&lookup=1", &lookup); err != nil {
			return err
		}
		if err := getJSON(ctx, api+"/api/v0/block/homes?"+q.Encode(), &local); err != nil {
			return err
		}
		res.lookups = append(res.lookups, float64(lookup.Took)/1e6)
		if fmt.Sprint(lookup.Homes) != fmt.Sprint(local.Homes) {
			res.lookupWrong++
		}
	}
	return nil
}

func report(w io.Writer, runs int, r *results) {
	fmt.Fprintf(w, "\nmeshfs mesh bench: %s files, %d runs each, 5 server peers (R=3, W=2) + 1 client peer, GOMAXPROCS=%d, %s\n",
		benchkit.HumanSize(r.size), runs, runtime.GOMAXPROCS(0), runtime.Version())
	if cpu := benchkit.CPUModel(); cpu != "" {
		fmt.Fprintf(w, "cpu: %s\n", cpu)
	}
	fmt.Fprintln(w)
	la, ma, lc, rc := benchkit.Median(r.localAdd), benchkit.Median(r.meshAdd), benchkit.Median(r.localCat), benchkit.Median(r.remoteCat)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "measure\tmedian\tratio\ttarget\tstatus")
	fmt.Fprintf(tw, "local add (reference)\t%.1f MB/s\t\t\t\n", la)
	fmt.Fprintf(tw, "replicated add\t%.1f MB/s\t%.2f of local add\t>= 0.35\t%s\n", ma, ma/la, benchkit.MetOrBelow(ma/la, 0.35))
	fmt.Fprintf(tw, "local cat (reference)\t%.1f MB/s\t\t\t\n", lc)
	fmt.Fprintf(tw, "remote cat\t%.1f MB/s\t%.2f of local cat\t>= 0.30\t%s\n", rc, rc/lc, benchkit.MetOrBelow(rc/lc, 0.30))
	fmt.Fprintf(tw, "repair after a kill\t%.1f s\t%s re-replicated\t\t\n", r.repair.Seconds(), benchkit.HumanSize(r.repairBytes))
	fmt.Fprintf(tw, "home-set lookup, %d peers\tp50 %.2f ms, p99 %.2f ms\t%d of %d differ from the local view\t\t\n",
		r.lookupPeers, benchkit.Percentile(r.lookups, 50), benchkit.Percentile(r.lookups, 99), r.lookupWrong, len(r.lookups))
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintf(w, "BENCH mesh_add_mbps=%.1f local_add_mbps=%.1f ratio=%.3f target=0.35 status=%s\n", ma, la, ma/la, benchkit.MetOrBelow(ma/la, 0.35))
	fmt.Fprintf(w, "BENCH remote_cat_mbps=%.1f local_cat_mbps=%.1f ratio=%.3f target=0.30 status=%s\n", rc, lc, rc/lc, benchkit.MetOrBelow(rc/lc, 0.30))
	fmt.Fprintf(w, "BENCH repair_seconds=%.2f repair_bytes=%d\n", r.repair.Seconds(), r.repairBytes)
	fmt.Fprintf(w, "BENCH lookup_p50_ms=%.3f lookup_p99_ms=%.3f peers=%d lookups=%d differ=%d\n",
		benchkit.Percentile(r.lookups, 50), benchkit.Percentile(r.lookups, 99), r.lookupPeers, len(r.lookups), r.lookupWrong)
}
