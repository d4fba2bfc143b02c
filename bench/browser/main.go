// Command browser measures meshfs's browser node (the wasm build of
// package wasm, served by every daemon at /) in a real headless Chromium,
// with a native reference measured in the same run:
//
//	go run ./bench/browser --bin bin/meshfs
//
// (`make bench` runs it after bench/mount.) It builds the browser node as
// the daemons serve it (GOOS=js GOARCH=wasm, -trimpath -ldflags=-s, gzip -9;
// or takes a built one with --web), starts a testnet of 3 daemons (R=3,
// W=2, the defaults) serving it, and reports:
//
//   - the wasm's size, raw and compressed as the daemon serves it;
//   - page load: from navigation to meshfs.ready settling, in a new
//     Chromium with a new profile each time so nothing is cached (--loads
//     times), with the wasm's download and instantiation as milestones;
//   - browser read: a --read-size file (random bytes, 64 MiB by default)
//     written through a daemon's HTTP API, then meshfs.readFile in a new
//     profile (so the page's IndexedDB cache is cold), as MB/s and as a
//     ratio to `meshfs fs cat` of the same file through a daemon that
//     holds it, timed in the same round (the median of 3 there); the
//     page's bytes are checked by their SHA-256 (crypto.subtle, untimed);
//   - browser write: --write-size random bytes made in the page before
//     the timer starts, then meshfs.writeFile, as MB/s; a daemon must read
//     them back identically (untimed).
//
// Beside the measures it prints what a slow read spends its time on: the
// namespace stat, a second (warm, IndexedDB) read, a fetch() of the same
// file through the daemon's HTTP API (the browser's own network path, no
// wasm), and the CPU the page's renderer, the rest of Chromium, the
// daemons and the rest of the machine used during the cold read.
//
// When the read is below its target (or with --profile DIR) it also records
// Chrome CPU profiles of one more cold read and one more write, with a wasm
// build that keeps its function names, and prints where the time went, by
// kind of work (sha256, Noise encryption, IndexedDB, WebSocket I/O, copies
// to JavaScript, idle...), by package and by function; --profile keeps the
// profiles in DIR (read.cpuprofile, write.cpuprofile: open them in Chrome
// DevTools' Performance panel).
//
// Targets (informational; the exit status is 0 whether or not they are
// met, 1 if a check or a command fails): compressed wasm <= 8 MB (8e6
// bytes); browser read >= 0.25 of native fs cat.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	"time"

	"meshfs/bench/internal/benchkit"
	"meshfs/testnet"
)

func main() { benchkit.Main("bench/browser", run) }

// Targets.
const (
	targetGzipBytes = 8e6
	targetReadRatio = 0.25
)

const peers = 3

type results struct {
	readSize, writeSize int64
	rawBytes, gzipBytes int64
	browser             string // Chromium's version

	loads                    []float64 // ms, navigation to ready
	fetched, instantiated    []float64 // ms from navigation
	nativeCat, read, write   []float64 // MB/s
	statMs, warmRead, hashMB []float64
	fetch                    []float64  // MB/s, fetch() of the file over HTTP in the page
	fetch4                   []float64  // MB/s, 4 fetch()es of its quarters at once
	cpu                      []cpuShare // during the cold reads
	con                      *console
	profs                    []*profileSummary
}

func run(ctx context.Context) error {
	bin := flag.String("bin", "bin/meshfs", "the meshfs binary to run the daemons")
	web := flag.String("web", "", "folder with meshfs.wasm.gz and wasm_exec.js to serve (default: build ./wasm into the temporary folder)")
	loads := flag.Int("loads", 7, "page loads to time")
	rounds := flag.Int("rounds", 5, "timed rounds of the read and of the write")
	readSize := flag.Int64("read-size", 64<<20, "bytes of the file read in the browser")
	writeSize := flag.Int64("write-size", 16<<20, "bytes of the file written from the browser")
	profile := flag.String("profile", "", "profile one more cold read and write even if the read meets its target, and keep the Chrome CPU profiles in this folder (read.cpuprofile, write.cpuprofile)")
	parent := flag.String("dir", "", "folder for the temporary folder (default: the system's temp folder)")
	flag.Parse()
	if flag.NArg() != 0 || *loads < 1 || *rounds < 1 || *readSize < 1 || *writeSize < 1 {
		flag.Usage()
		return errors.New("bad arguments")
	}
	abs, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	mf := benchkit.Meshfs{Ctx: ctx, Bin: abs}
	dir, err := os.MkdirTemp(*parent, "meshfs-bench-browser-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res := results{readSize: *readSize, writeSize: *writeSize, con: &console{}}

	webDir := *web
	if webDir == "" {
		webDir = filepath.Join(dir, "web")
		start := time.Now()
		if err := testnet.BuildWeb(ctx, webDir); err != nil {
			return err
		}
		benchkit.Logf("built the browser node in %v", time.Since(start).Round(time.Millisecond))
	}
	if res.rawBytes, res.gzipBytes, err = wasmSizes(webDir); err != nil {
		return err
	}

	net, err := testnet.Start(ctx, testnet.Config{
		Binary: abs, Dir: filepath.Join(dir, "net"), Peers: peers, Open: true,
		DaemonArgs: []string{"--web", webDir},
	})
	if err != nil {
		return err
	}
	defer net.Close()
	if _, err := net.WaitWriter(ctx); err != nil {
		return err
	}
	served, err := servedSize(ctx, net.Peer(0).API)
	if err != nil {
		return err
	}
	if served != res.gzipBytes {
		return fmt.Errorf("the daemon serves %d bytes of gzipped wasm, the file has %d", served, res.gzipBytes)
	}

	for i := range max(*loads, *rounds) {
		if err := round(ctx, mf, net, dir, i, i < *rounds, &res); err != nil {
			return err
		}
	}
	// Say what limits a read below its target, or profile when asked.
	if *profile != "" || benchkit.Median(res.read)/benchkit.Median(res.nativeCat) < targetReadRatio {
		out := *profile
		if out == "" {
			out = filepath.Join(dir, "profiles")
		}
		if res.profs, err = profileRun(ctx, net, dir, out, &res); err != nil {
			return err
		}
		if *profile == "" {
			for _, p := range res.profs {
				p.file = "profile not kept: --profile DIR keeps it"
			}
		}
	}
	report(os.Stdout, *loads, *rounds, &res)
	return nil
}

// round loads the page in a new Chromium and, if transfers, times a read
// and a write in it.
func round(ctx context.Context, mf benchkit.Meshfs, net *testnet.Net, dir string, i int, transfers bool, res *results) error {
	readPath := fmt.Sprintf("/bench/read-%d.bin", i)
	var sum []byte
	var native float64
	if transfers {
		// The file to read, and the native reference, in this round.
		writer := net.Peer(i % peers)
		var c string
		var err error
		sum, c, err = apiWrite(ctx, writer.API, readPath, rand.NewChaCha8(seed(i)), res.readSize)
		if err != nil {
			return err
		}
		api, err := holder(ctx, net, i%peers, c)
		if err != nil {
			return err
		}
		// The median of 3: one takes a tenth of a second.
		var cats []float64
		for range 3 {
			d, err := fsCatToDevNull(mf, api, readPath)
			if err != nil {
				return err
			}
			cats = append(cats, benchkit.MBps(res.readSize, d))
		}
		native = benchkit.Median(cats)
		if err := mf.CheckCat(res.readSize, sum, "--api", api, c); err != nil {
			return err
		}
		res.nativeCat = append(res.nativeCat, native)
	}

	pageAPI := net.Peer((i + 1) % peers).API
	p, lt, err := openPage(ctx, filepath.Join(dir, fmt.Sprintf("chrome-%d", i)), pageAPI+"/", res.con)
	if err != nil {
		return err
	}
	defer p.close()
	if res.browser == "" {
		var v struct {
			Product string `json:"product"`
		}
		if err := p.call("Browser.getVersion", nil, &v); err == nil {
			res.browser = v.Product
		}
	}
	res.loads = append(res.loads, lt.Ready)
	res.fetched = append(res.fetched, lt.WasmFetched)
	res.instantiated = append(res.instantiated, lt.Instantiated)
	if lt.WasmBytes >= 0 && int64(lt.WasmBytes) != res.gzipBytes {
		return fmt.Errorf("the page fetched %v bytes of wasm, the daemon serves %d", lt.WasmBytes, res.gzipBytes)
	}
	if !transfers {
		benchkit.Logf("round %d: page ready in %.0f ms", i+1, lt.Ready)
		return nil
	}

	read, err := measureRead(p, readPath, sum, res)
	if err != nil {
		return err
	}
	write, err := measureWrite(ctx, p, net.Peer((i+2)%peers).API, fmt.Sprintf("/bench/write-%d.bin", i), res)
	if err != nil {
		return err
	}
	benchkit.Logf("round %d: page ready in %.0f ms; read %.1f MB/s (native fs cat %.0f MB/s, ratio %.3f; warm %.1f MB/s); write %.1f MB/s",
		i+1, lt.Ready, read, native, read/native, res.warmRead[len(res.warmRead)-1], write)
	return nil
}

// measureRead times a cold readFile of path (sum is its SHA-256) in the
// page and, untimed, the phases beside it: a namespace stat, fetch() of
// the file over HTTP, and a warm readFile.
func measureRead(p *page, readPath string, sum []byte, res *results) (float64, error) {
	statMs, err := p.timedStat(readPath)
	if err != nil {
		return 0, fmt.Errorf("stat %s in the page: %w", readPath, err)
	}
	before := sampleCPU()
	rr, err := p.timedRead(readPath)
	if err != nil {
		return 0, fmt.Errorf("readFile %s in the page: %w", readPath, err)
	}
	res.cpu = append(res.cpu, sampleCPU().since(before, msDuration(rr.Ms)))
	if rr.N != res.readSize {
		return 0, fmt.Errorf("readFile %s in the page returned %d bytes, the file has %d", readPath, rr.N, res.readSize)
	}
	got, hashMs, err := p.bufHash()
	if err != nil {
		return 0, err
	}
	if want := hex.EncodeToString(sum); got != want {
		return 0, fmt.Errorf("readFile %s in the page: sha256 %s, the file's is %s", readPath, got, want)
	}
	read := benchkit.MBps(res.readSize, msDuration(rr.Ms))
	res.read = append(res.read, read)
	res.statMs = append(res.statMs, statMs)
	res.hashMB = append(res.hashMB, benchkit.MBps(res.readSize, msDuration(hashMs)))

	// The same file through the browser's own HTTP stack, for comparison.
	if fr, err := p.timedFetch(readPath); err != nil {
		benchkit.Logf("fetch() of %s in the page: %v", readPath, err)
	} else {
		got, _, err := p.bufHash()
		if err != nil {
			return 0, err
		}
		if fr.N != res.readSize || got != hex.EncodeToString(sum) {
			return 0, fmt.Errorf("fetch() of %s in the page: %d bytes with sha256 %s; the file has %d with %x", readPath, fr.N, got, res.readSize, sum)
		}
		res.fetch = append(res.fetch, benchkit.MBps(res.readSize, msDuration(fr.Ms)))
	}
	if fr, err := p.timedFetchRanges(readPath, res.readSize, 4); err != nil {
		benchkit.Logf("4 range fetch()es of %s in the page: %v", readPath, err)
	} else if fr.N != res.readSize {
		return 0, fmt.Errorf("4 range fetch()es of %s in the page: %d bytes, the file has %d", readPath, fr.N, res.readSize)
	} else {
		res.fetch4 = append(res.fetch4, benchkit.MBps(res.readSize, msDuration(fr.Ms)))
	}

	// The same file again, now from the page's IndexedDB cache.
	wr, err := p.timedRead(readPath)
	if err != nil {
		return 0, fmt.Errorf("second readFile %s in the page: %w", readPath, err)
	}
	if got, _, err := p.bufHash(); err != nil || got != hex.EncodeToString(sum) {
		return 0, fmt.Errorf("second readFile %s in the page: sha256 %s (%v), the file's is %x", readPath, got, err, sum)
	}
	res.warmRead = append(res.warmRead, benchkit.MBps(res.readSize, msDuration(wr.Ms)))

	return read, nil
}

// measureWrite times writeFile of random bytes made in the page to
// writePath, and checks that the daemon at checker reads them back.
func measureWrite(ctx context.Context, p *page, checker, writePath string, res *results) (float64, error) {
	wantHex, err := p.prepareWrite(res.writeSize)
	if err != nil {
		return 0, err
	}
	ms, err := p.timeWrite(writePath)
	if err != nil {
		return 0, fmt.Errorf("writeFile %s in the page: %w", writePath, err)
	}
	write := benchkit.MBps(res.writeSize, msDuration(ms))
	res.write = append(res.write, write)
	n, back, err := apiCatSum(ctx, checker, writePath)
	if err != nil {
		return 0, err
	}
	if n != res.writeSize || hex.EncodeToString(back) != wantHex {
		return 0, fmt.Errorf("a daemon read %s as %d bytes with sha256 %x; the page wrote %d bytes with sha256 %s",
			writePath, n, back, res.writeSize, wantHex)
	}
	return write, nil
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func seed(i int) [32]byte {
	var s [32]byte
	s[0], s[1], s[2] = byte(i), byte(i>>8), 'b'
	return s
}

// apiWrite writes size bytes of r to file p through the daemon's HTTP API
// and returns their SHA-256 and the content CID the daemon reports.
func apiWrite(ctx context.Context, api, p string, r io.Reader, size int64) ([]byte, string, error) {
	h := sha256.New()
	body := io.TeeReader(io.LimitReader(r, size), h)
	u := api + "/api/v0/fs/write?parents=1&arg=" + url.QueryEscape(p)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return nil, "", err
	}
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("write %s: %s: %s", p, resp.Status, b)
	}
	var out struct {
		CID  string `json:"cid"`
		Size int64  `json:"size"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, "", fmt.Errorf("write %s: %w: %s", p, err, b)
	}
	if out.Size != size || out.CID == "" {
		return nil, "", fmt.Errorf("write %s: the daemon answered %s for %d bytes", p, b, size)
	}
	return h.Sum(nil), out.CID, nil
}

// apiCatSum reads file p through the daemon's HTTP API and returns its
// length and SHA-256.
func apiCatSum(ctx context.Context, api, p string) (int64, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v0/fs/cat?arg="+url.QueryEscape(p), nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return 0, nil, fmt.Errorf("cat %s: %s: %s", p, resp.Status, b)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	return n, h.Sum(nil), err
}

// holder returns the API of a daemon, trying first from, that holds the
// root block of c.
func holder(ctx context.Context, net *testnet.Net, first int, c string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		net.Peer(first).API+"/api/v0/block/where?arg="+url.QueryEscape(c), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Holders []string `json:"holders"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("where %s: %w", c, err)
	}
	for k := range peers {
		p := net.Peer((first + k) % peers)
		for _, h := range out.Holders {
			if h == p.ID {
				return p.API, nil
			}
		}
	}
	return "", fmt.Errorf("no daemon holds %s (holders %v)", c, out.Holders)
}

// fsCatToDevNull times `meshfs fs cat --api API PATH > /dev/null`.
func fsCatToDevNull(mf benchkit.Meshfs, api, p string) (time.Duration, error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer null.Close()
	cmd := mf.Command("fs", "cat", "--api", api, p)
	cmd.Stdout = null
	start := time.Now()
	err = cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("meshfs fs cat %s: %w", p, err)
	}
	return d, nil
}

// servedSize returns the bytes a daemon sends for /meshfs.wasm to a
// browser that takes gzip.
func servedSize(ctx context.Context, api string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/meshfs.wasm", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept-Encoding", "gzip") // set by hand: the client keeps the body compressed
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
		return 0, fmt.Errorf("GET /meshfs.wasm: %s, Content-Encoding %q", resp.Status, resp.Header.Get("Content-Encoding"))
	}
	return io.Copy(io.Discard, resp.Body)
}

// wasmSizes returns the raw and the gzipped size of the wasm in dir.
func wasmSizes(dir string) (raw, gz int64, err error) {
	b, err := os.ReadFile(filepath.Join(dir, "meshfs.wasm.gz"))
	if err != nil {
		return 0, 0, err
	}
	raw, err = gunzipLen(bytes.NewReader(b))
	return raw, int64(len(b)), err
}
