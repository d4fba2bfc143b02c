package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"meshfs/bench/internal/benchkit"
	"meshfs/testnet"
)

// profileSummary is where one profiled operation spent its time.
type profileSummary struct {
	what    string // "cold read", "write"
	file    string
	bytes   int64
	ms      float64
	cpu     cpuShare
	total   time.Duration // sampled time
	funcs   []timed       // by self time
	groups  []timed       // packages, by self time
	inGroup []timed       // packages, by time with one of their functions on the stack
	kinds   []timed       // kinds of work, by time
}

type timed struct {
	name string
	d    time.Duration
}

// cpuProfile is the part of a DevTools Profiler.Profile the summary reads.
type cpuProfile struct {
	Nodes []struct {
		ID        int `json:"id"`
		CallFrame struct {
			FunctionName string `json:"functionName"`
			URL          string `json:"url"`
		} `json:"callFrame"`
		Children []int `json:"children"`
	} `json:"nodes"`
	StartTime  float64 `json:"startTime"`
	EndTime    float64 `json:"endTime"`
	Samples    []int   `json:"samples"`
	TimeDeltas []int64 `json:"timeDeltas"` // µs
}

// profileRun times one more cold read and one more write, each with
// Chrome's sampling profiler on, in a page whose wasm keeps its function
// names (built here, without -ldflags=-s, and served by a proxy in front
// of a daemon), and writes the profiles to outDir.
func profileRun(ctx context.Context, tn *testnet.Net, dir, outDir string, res *results) ([]*profileSummary, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	wasm := filepath.Join(dir, "named", "meshfs.wasm")
	if err := buildNamedWasm(ctx, wasm); err != nil {
		return nil, err
	}
	target, err := url.Parse(tn.Peer(0).API)
	if err != nil {
		return nil, err
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/meshfs.wasm" {
			w.Header().Set("Content-Type", "application/wasm")
			w.Header().Set("Cache-Control", "no-store")
			http.ServeFile(w, r, wasm)
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	const readPath, writePath = "/bench/profile-read.bin", "/bench/profile-write.bin"
	sum, _, err := apiWrite(ctx, tn.Peer(1).API, readPath, rand.NewChaCha8(seed(1000)), res.readSize)
	if err != nil {
		return nil, err
	}
	pg, _, err := openPage(ctx, filepath.Join(dir, "chrome-profile"), "http://"+ln.Addr().String()+"/", res.con)
	if err != nil {
		return nil, err
	}
	defer pg.close()
	if _, err := pg.timedStat(readPath); err != nil {
		return nil, err
	}

	read, err := pg.profiled("cold read", filepath.Join(outDir, "read.cpuprofile"), res.readSize, func() (float64, error) {
		rr, err := pg.timedRead(readPath)
		if err == nil && rr.N != res.readSize {
			err = fmt.Errorf("%d bytes, the file has %d", rr.N, res.readSize)
		}
		return rr.Ms, err
	})
	if err != nil {
		return nil, fmt.Errorf("profiled readFile: %w", err)
	}
	if got, _, err := pg.bufHash(); err != nil || got != fmt.Sprintf("%x", sum) {
		return nil, fmt.Errorf("profiled readFile: sha256 %s (%v), the file's is %x", got, err, sum)
	}

	hex, err := pg.prepareWrite(res.writeSize)
	if err != nil {
		return nil, err
	}
	write, err := pg.profiled("write", filepath.Join(outDir, "write.cpuprofile"), res.writeSize, func() (float64, error) {
		return pg.timeWrite(writePath)
	})
	if err != nil {
		return nil, fmt.Errorf("profiled writeFile: %w", err)
	}
	n, back, err := apiCatSum(ctx, tn.Peer(2).API, writePath)
	if err != nil {
		return nil, err
	}
	if n != res.writeSize || fmt.Sprintf("%x", back) != hex {
		return nil, fmt.Errorf("profiled writeFile: a daemon read %d bytes with sha256 %x; the page wrote %d with %s", n, back, res.writeSize, hex)
	}
	return []*profileSummary{read, write}, nil
}

// profiled runs op, which returns the ms it took by the page's clock, with
// Chrome's sampling profiler on, writes the profile to file (DevTools'
// Performance panel opens it) and summarizes it.
func (p *page) profiled(what, file string, size int64, op func() (float64, error)) (*profileSummary, error) {
	for _, c := range []struct {
		method string
		params any
	}{
		{"Profiler.enable", nil},
		{"Profiler.setSamplingInterval", map[string]any{"interval": 200}}, // µs
		{"Profiler.start", nil},
	} {
		if err := p.call(c.method, c.params, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", c.method, err)
		}
	}
	before := sampleCPU()
	ms, err := op()
	if err != nil {
		return nil, err
	}
	cpu := sampleCPU().since(before, msDuration(ms))
	var stopped struct {
		Profile json.RawMessage `json:"profile"`
	}
	if err := p.call("Profiler.stop", nil, &stopped); err != nil {
		return nil, fmt.Errorf("Profiler.stop: %w", err)
	}
	if err := os.WriteFile(file, stopped.Profile, 0o644); err != nil {
		return nil, err
	}
	var prof cpuProfile
	if err := json.Unmarshal(stopped.Profile, &prof); err != nil {
		return nil, fmt.Errorf("the profile: %w", err)
	}
	s := summarize(&prof)
	s.what, s.file, s.bytes, s.ms, s.cpu = what, file, size, ms, cpu
	benchkit.Logf("profiled %s: %.1f MB/s", what, benchkit.MBps(size, msDuration(ms)))
	return s, nil
}

// buildNamedWasm builds the browser node with its function names (no -s).
func buildNamedWasm(ctx context.Context, out string) error {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./wasm")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build the named wasm: %w\n%s", err, log.Bytes())
	}
	return nil
}

// summarize attributes each sample's interval to its function (self
// time), its package, every package with a function on its stack, and one
// kind of work (see kind).
func summarize(p *cpuProfile) *profileSummary {
	type node struct {
		fn, group string
		parent    int
	}
	nodes := map[int]*node{}
	for _, n := range p.Nodes {
		fn, u := n.CallFrame.FunctionName, n.CallFrame.URL
		if fn == "" {
			fn = "(anonymous)"
		}
		wasm := strings.HasSuffix(u, ".wasm") || strings.HasPrefix(u, "wasm://")
		g := group(fn, u, wasm)
		if u != "" && !wasm {
			fn += " (" + filepath.Base(u) + ")"
		}
		nodes[n.ID] = &node{fn: fn, group: g, parent: -1}
	}
	for _, n := range p.Nodes {
		for _, c := range n.Children {
			if cn := nodes[c]; cn != nil {
				cn.parent = n.ID
			}
		}
	}
	self, gself, gin, kinds := map[string]time.Duration{}, map[string]time.Duration{}, map[string]time.Duration{}, map[string]time.Duration{}
	var total time.Duration
	var stack []string
	for i, id := range p.Samples {
		// A sample stands for the time until the next one.
		var us int64
		if i+1 < len(p.TimeDeltas) {
			us = p.TimeDeltas[i+1]
		} else if len(p.Samples) > 1 {
			us = int64(p.EndTime-p.StartTime) / int64(len(p.Samples))
		}
		d := time.Duration(us) * time.Microsecond
		n := nodes[id]
		if n == nil {
			continue
		}
		total += d
		self[n.fn] += d
		gself[n.group] += d
		seen := map[string]bool{}
		stack = stack[:0]
		for m := n; m != nil; m = nodes[m.parent] {
			stack = append(stack, m.fn)
			if !seen[m.group] {
				seen[m.group] = true
				gin[m.group] += d
			}
		}
		kinds[kind(stack)] += d
	}
	return &profileSummary{total: total, funcs: sorted(self), groups: sorted(gself), inGroup: sorted(gin), kinds: sorted(kinds)}
}

// kinds of work, in the order kind tries them: the first whose pattern a
// function on the stack contains names the sample. Go's linker writes a
// wasm function's name with every character but letters, digits, dots and
// underscores replaced by an underscore (meshfs/peer.(*Node).Get is
// meshfs_peer.__Node_.Get), and the patterns match that form.
var kinds = []struct{ name, pattern string }{
	{"sha256 (block CIDs: verifying, hashing)", "sha256"},
	{"noise transport crypto (chacha20-poly1305)", "chacha20"},
	{"noise transport crypto (chacha20-poly1305)", "poly1305"},
	{"noise transport crypto (chacha20-poly1305)", "flynn_noise"},
	{"copy to JS (main.bytesToJS)", "main.bytesToJS"},
	{"IndexedDB cache (wasm/blockstore)", "meshfs_wasm_blockstore"},
	{"Go GC", "runtime.gcDrain"},
	{"Go GC", "runtime.gcBgMarkWorker"},
	{"Go GC", "runtime.bgsweep"},
	{"Go GC", "runtime.bgscavenge"},
	{"Go GC", "runtime.markroot"},
	{"WebSocket I/O (coder/websocket, copy from JS)", "coder_websocket"},
	{"WebSocket I/O (coder/websocket, copy from JS)", "copyBytesToGo"},
	{"yamux", "go_yamux"},
	{"libp2p (streams, multistream, resource manager)", "go_libp2p"},
	{"libp2p (streams, multistream, resource manager)", "go_multistream"},
	{"copy from JS (main.bytesReader)", "main.__bytesReader_"},
	{"meshfs/peer (fetching and pushing blocks)", "meshfs_peer"},
	{"meshfs/content (chunking, file reader)", "meshfs_content"},
	{"JS calls into Go (syscall/js.handleEvent: callbacks, timers)", "syscall_js.handleEvent"},
}

// kind says what a sample's stack (leaf first) was doing.
func kind(stack []string) string {
	switch leaf := stack[0]; leaf {
	case "(idle)":
		return "(idle): waiting for the network, IndexedDB or a timer"
	case "(program)":
		return "(program): browser native code outside JS and wasm"
	case "(garbage collector)":
		return "(garbage collector): V8's"
	}
	for _, k := range kinds {
		for _, f := range stack {
			if strings.Contains(f, k.pattern) {
				return k.name
			}
		}
	}
	if strings.HasPrefix(stack[0], "runtime.") {
		return "Go runtime (scheduler, allocation, copies)"
	}
	return "other"
}

// group names what a function belongs to: a Go package, a script, a
// browser built-in, or one of V8's pseudo-functions such as (idle).
func group(fn, url string, wasm bool) string {
	switch {
	case strings.HasPrefix(fn, "("):
		return fn
	case url == "":
		return "browser built-ins (IndexedDB, WebSocket, ...)"
	case !wasm:
		return "js: " + filepath.Base(url)
	}
	// A Go symbol: the package is up to the first dot after the domain,
	// if the path has one (golang.org_x_crypto_chacha20.__Cipher_.XORKeyStream).
	from := 0
	if m := domain.FindStringIndex(fn); m != nil {
		from = m[1]
	}
	if dot := strings.IndexByte(fn[from:], '.'); dot >= 0 {
		return fn[:from+dot]
	}
	return fn
}

// domain matches the host at the start of a Go package path.
var domain = regexp.MustCompile(`^[a-z0-9]+(\.[a-z0-9]+)*\.(com|org|io|net|dev|in)_`)

func sorted(m map[string]time.Duration) []timed {
	out := make([]timed, 0, len(m))
	for k, v := range m {
		out = append(out, timed{k, v})
	}
	slices.SortFunc(out, func(a, b timed) int { return cmp.Or(cmp.Compare(b.d, a.d), strings.Compare(a.name, b.name)) })
	return out
}
