// Command namespace measures meshfs's namespace on this machine, through
// the HTTP API of a testnet of real daemons (3 voters, R=3, W=2), with
// references measured in the same run:
//
//	go run ./bench/namespace --bin bin/meshfs
//
// (`make bench` runs it after bench/mesh.) It reports:
//
//   - API round trips/s: 16 clients asking GET /api/v0/fs/writer of the
//     writer's daemon (the reference: the HTTP cost with no namespace work);
//   - mkdirs: 16 clients making directories through the writer's API (a
//     Raft operation with no content: what the log alone sustains);
//   - small-file creates: 16 clients each writing new 1 KiB files (the
//     block pushed to its homes with W acknowledgements, then one Raft
//     operation), through the writer's API and spread over the 3 voters;
//     ops/s, p50 and p99 latency, and the ratio to the API round trips;
//   - stat ops/s, strong (a Raft ReadIndex, batched) and sequential;
//   - failover: the time from SIGKILL of the writer to the next successful
//     write through another voter, p50 and max over --kills kills;
//   - a --file-size file written and read through the namespace, in MB/s
//     and as ratios to a plain add and cat of the same bytes.
//
// Targets (informational; the exit status is 0 whether or not they are
// met, 1 if a check or a command fails): creates >= 2,000/s; strong stat
// >= 10,000/s; failover p50 <= 2 s.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
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
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"meshfs/bench/internal/benchkit"
	"meshfs/testnet"
)

func main() { benchkit.Main("bench/namespace", run) }

// rate is one measured load: operations, their time, and their latencies.
type rate struct {
	ops       int
	took      time.Duration
	latencies []float64 // ms
}

func (r rate) perSecond() float64 { return float64(r.ops) / r.took.Seconds() }

type results struct {
	noop, mkdirs, createsW, createsAll, statStrong, statSeq rate
	failovers                                               []float64 // s
	fileSize                                                int64
	nsWrite, nsRead, add, cat                               float64 // MB/s
}

var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Minute}

func run(ctx context.Context) error {
	bin := flag.String("bin", "bin/meshfs", "the meshfs binary to measure")
	clients := flag.Int("clients", 16, "concurrent API clients")
	window := flag.Duration("time", 5*time.Second, "how long each load runs")
	kills := flag.Int("kills", 10, "writer kills to time")
	fileSize := flag.Int64("file-size", 100<<20, "bytes of the file written and read through the namespace")
	parent := flag.String("dir", "", "folder for the temporary folder (default: the system's temp folder)")
	flag.Parse()
	if flag.NArg() != 0 || *clients < 1 || *kills < 0 || *fileSize < 1 {
		flag.Usage()
		return errors.New("bad arguments")
	}
	abs, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(*parent, "meshfs-bench-ns-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	net, err := testnet.Start(ctx, testnet.Config{
		Binary: abs, Dir: filepath.Join(dir, "net"), Peers: 3,
		DaemonArgs: []string{"--replication", "3", "--write-quorum", "2"},
	})
	if err != nil {
		return err
	}
	defer net.Close()
	w, err := net.WaitWriter(ctx)
	if err != nil {
		return err
	}
	writerAPI := net.Peer(w.Index).API
	voters := []string{net.Peer(0).API, net.Peer(1).API, net.Peer(2).API}
	res := results{fileSize: *fileSize}

	res.noop, err = load(ctx, *clients, *window, func(ctx context.Context, c, i int) error {
		return call(ctx, http.MethodGet, writerAPI+"/api/v0/fs/writer", nil)
	})
	if err != nil {
		return fmt.Errorf("api round trips: %w", err)
	}
	benchkit.Logf("api round trips: %.0f/s", res.noop.perSecond())
	for c := range *clients {
		if err := call(ctx, http.MethodPost, writerAPI+"/api/v0/fs/mkdir?parents=1&arg="+url.QueryEscape(fmt.Sprintf("/bench/w%d", c)), nil); err != nil {
			return err
		}
		if err := call(ctx, http.MethodPost, writerAPI+"/api/v0/fs/mkdir?parents=1&arg="+url.QueryEscape(fmt.Sprintf("/bench/a%d", c)), nil); err != nil {
			return err
		}
	}
	res.mkdirs, err = load(ctx, *clients, *window, func(ctx context.Context, c, i int) error {
		return call(ctx, http.MethodPost, writerAPI+"/api/v0/fs/mkdir?arg="+url.QueryEscape(fmt.Sprintf("/bench/w%d/d%d", c, i)), nil)
	})
	if err != nil {
		return fmt.Errorf("mkdirs: %w", err)
	}
	benchkit.Logf("mkdirs through the writer: %.0f/s", res.mkdirs.perSecond())
	createLoad := func(prefix string, apis []string) (rate, error) {
		return load(ctx, *clients, *window, func(ctx context.Context, c, i int) error {
			body := make([]byte, 1024)
			binary := rand.New(rand.NewPCG(uint64(c), uint64(i)))
			for j := range body {
				body[j] = byte(binary.UintN(256))
			}
			p := fmt.Sprintf("/bench/%s%d/f%d", prefix, c, i)
			return call(ctx, http.MethodPost, apis[c%len(apis)]+"/api/v0/fs/write?exclusive=1&arg="+url.QueryEscape(p), body)
		})
	}
	if res.createsW, err = createLoad("w", []string{writerAPI}); err != nil {
		return fmt.Errorf("creates: %w", err)
	}
	benchkit.Logf("creates through the writer: %.0f/s", res.createsW.perSecond())
	if res.createsAll, err = createLoad("a", voters); err != nil {
		return fmt.Errorf("creates: %w", err)
	}
	benchkit.Logf("creates through 3 voters: %.0f/s", res.createsAll.perSecond())
	statLoad := func(level string) (rate, error) {
		return load(ctx, *clients, *window, func(ctx context.Context, c, i int) error {
			p := fmt.Sprintf("/bench/w%d/f%d", c, i%10)
			return call(ctx, http.MethodGet, voters[c%len(voters)]+"/api/v0/fs/stat?consistency="+level+"&arg="+url.QueryEscape(p), nil)
		})
	}
	if res.statStrong, err = statLoad("strong"); err != nil {
		return fmt.Errorf("strong stats: %w", err)
	}
	benchkit.Logf("strong stats: %.0f/s", res.statStrong.perSecond())
	if res.statSeq, err = statLoad("sequential"); err != nil {
		return fmt.Errorf("sequential stats: %w", err)
	}
	benchkit.Logf("sequential stats: %.0f/s", res.statSeq.perSecond())

	if err := measureFile(ctx, net, writerAPI, voters, dir, &res); err != nil {
		return err
	}
	for k := range *kills {
		d, err := measureFailover(ctx, net, k)
		if err != nil {
			return fmt.Errorf("failover %d: %w", k+1, err)
		}
		res.failovers = append(res.failovers, d.Seconds())
		benchkit.Logf("failover %d: %v", k+1, d.Round(time.Millisecond))
	}
	report(os.Stdout, *clients, &res)
	return nil
}

// load runs op from n clients for d and counts what succeeded; any failure
// ends it with an error.
func load(ctx context.Context, n int, d time.Duration, op func(ctx context.Context, client, i int) error) (rate, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		lat   []float64
		first error
		stop  atomic.Bool
	)
	start := time.Now()
	time.AfterFunc(d, func() { stop.Store(true) })
	for c := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []float64
			for i := 0; !stop.Load(); i++ {
				t := time.Now()
				if err := op(ctx, c, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					stop.Store(true)
					cancel()
					break
				}
				mine = append(mine, float64(time.Since(t).Microseconds())/1000)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if first != nil {
		return rate{}, first
	}
	return rate{ops: len(lat), took: time.Since(start), latencies: lat}, nil
}

// call sends one request and fails on any status but 200.
func call(ctx context.Context, method, u string, body []byte) error {
	resp, err := do(ctx, method, u, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// do sends one request and returns the response if its status is 200.
func do(ctx context.Context, method, u string, body []byte) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, bytes.TrimSpace(b))
	}
	return resp, nil
}

// measureFile writes and reads a file through the namespace and through
// plain add and cat.
func measureFile(ctx context.Context, net *testnet.Net, writerAPI string, voters []string, dir string, res *results) error {
	data := make([]byte, res.fileSize)
	var s [32]byte
	s[0] = 7
	if _, err := io.ReadFull(rand.NewChaCha8(s), data); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	reader := voters[0]
	if reader == writerAPI {
		reader = voters[1]
	}
	t := time.Now()
	if err := call(ctx, http.MethodPost, writerAPI+"/api/v0/fs/write?arg=/bench/big", data); err != nil {
		return err
	}
	res.nsWrite = benchkit.MBps(res.fileSize, time.Since(t))
	t = time.Now()
	if err := readSum(ctx, reader+"/api/v0/fs/cat?arg=/bench/big", sum); err != nil {
		return err
	}
	res.nsRead = benchkit.MBps(res.fileSize, time.Since(t))
	// The same size again, other bytes, as a plain file.
	s[0] = 8
	if _, err := io.ReadFull(rand.NewChaCha8(s), data); err != nil {
		return err
	}
	sum = sha256.Sum256(data)
	t = time.Now()
	resp, err := do(ctx, http.MethodPost, writerAPI+"/api/v0/add", data)
	if err != nil {
		return err
	}
	var added struct {
		CID string `json:"cid"`
	}
	err = json.NewDecoder(resp.Body).Decode(&added)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("add: %w", err)
	}
	res.add = benchkit.MBps(res.fileSize, time.Since(t))
	t = time.Now()
	if err := readSum(ctx, reader+"/api/v0/cat?arg="+added.CID, sum); err != nil {
		return err
	}
	res.cat = benchkit.MBps(res.fileSize, time.Since(t))
	benchkit.Logf("%s file: namespace write %.0f MB/s, read %.0f MB/s; add %.0f MB/s, cat %.0f MB/s",
		benchkit.HumanSize(res.fileSize), res.nsWrite, res.nsRead, res.add, res.cat)
	return nil
}

// readSum reads u and checks the bytes' SHA-256.
func readSum(ctx context.Context, u string, want [32]byte) error {
	resp, err := do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return err
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		return fmt.Errorf("GET %s: the bytes read differ from those written", u)
	}
	return nil
}

// measureFailover kills the writer and times until a write through
// another voter succeeds; then it restarts the killed daemon and waits
// for the voters to agree on a writer.
func measureFailover(ctx context.Context, net *testnet.Net, k int) (time.Duration, error) {
	w, err := net.WaitWriter(ctx)
	if err != nil {
		return 0, err
	}
	other := net.Peer((w.Index + 1) % 3).API
	killed := time.Now()
	if err := net.Kill(w.Index); err != nil {
		return 0, err
	}
	var took time.Duration
	for i := 0; ; i++ {
		if time.Since(killed) > time.Minute {
			return 0, errors.New("no write succeeded within a minute of the kill")
		}
		tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := call(tctx, http.MethodPost, other+"/api/v0/fs/mkdir?arg="+url.QueryEscape(fmt.Sprintf("/failover-%d-%d", k, i)), nil)
		cancel()
		if err == nil {
			took = time.Since(killed)
			break
		}
	}
	if err := net.Restart(ctx, w.Index); err != nil {
		return 0, err
	}
	if _, err := net.WaitWriter(ctx); err != nil {
		return 0, err
	}
	return took, nil
}

func report(out io.Writer, clients int, r *results) {
	fmt.Fprintf(out, "\nmeshfs namespace benchmark: %s, %d CPUs, %d clients, 3 voters, R=3 W=2\n\n",
		benchkit.CPUModel(), runtime.NumCPU(), clients)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "measure\tops/s\tp50 ms\tp99 ms\tratio to API round trips\ttarget\tstatus\n")
	line := func(name string, x rate, target float64) {
		status, tgt := "", ""
		if target > 0 {
			status, tgt = benchkit.MetOrBelow(x.perSecond(), target), fmt.Sprintf(">= %.0f/s", target)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.2f\t%s\t%s\n", name, x.perSecond(),
			benchkit.Median(x.latencies), benchkit.Percentile(x.latencies, 99), x.perSecond()/r.noop.perSecond(), tgt, status)
	}
	line("API round trip (reference)", r.noop, 0)
	line("mkdir (no content), at the writer", r.mkdirs, 0)
	line("1 KiB create+write, at the writer", r.createsW, 2000)
	line("1 KiB create+write, over 3 voters", r.createsAll, 2000)
	line("stat, strong", r.statStrong, 10000)
	line("stat, sequential", r.statSeq, 0)
	tw.Flush()
	fmt.Fprintln(out)
	if len(r.failovers) > 0 {
		p50 := benchkit.Median(r.failovers)
		fmt.Fprintf(out, "failover (SIGKILL of the writer to the next write), %d kills: p50 %.2f s, max %.2f s (target p50 <= 2 s: %s)\n",
			len(r.failovers), p50, benchkit.Percentile(r.failovers, 100), map[bool]string{true: "MET", false: "BELOW"}[p50 <= 2])
	}
	fmt.Fprintf(out, "%s file: namespace write %.0f MB/s = %.2f of add (%.0f MB/s); namespace read %.0f MB/s = %.2f of cat (%.0f MB/s)\n",
		benchkit.HumanSize(r.fileSize), r.nsWrite, r.nsWrite/r.add, r.add, r.nsRead, r.nsRead/r.cat, r.cat)
}
