package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
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
	"slices"
	"strings"
	"time"

	"meshfs/bench/internal/benchkit"
	"meshfs/testnet"
)

// profileSummary is where one profiled cold read spent its time.
type profileSummary struct {
	file    string
	readMs  float64
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

// profileRead times one more cold read with Chrome's sampling profiler on,
// in a page whose wasm keeps its function names (built here, without
// -ldflags=-s, and served by a proxy in front of a daemon), and writes the
// profile to out.
func profileRead(ctx context.Context, tn *testnet.Net, dir, out string, res *results) (*profileSummary, error) {
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

	const p = "/bench/profile.bin"
	sum, _, err := apiWrite(ctx, tn.Peer(1).API, p, rand.NewChaCha8(seed(1000)), res.readSize)
	if err != nil {
		return nil, err
	}
	pg, _, err := openPage(ctx, filepath.Join(dir, "chrome-profile"), "http://"+ln.Addr().String()+"/", res.con)
	if err != nil {
		return nil, err
	}
	defer pg.close()
	if _, err := pg.timedStat(p); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		method string
		params any
	}{
		{"Profiler.enable", nil},
		{"Profiler.setSamplingInterval", map[string]any{"interval": 200}}, // µs
		{"Profiler.start", nil},
	} {
		if err := pg.call(c.method, c.params, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", c.method, err)
		}
	}
	before := sampleCPU()
	rr, err := pg.timedRead(p)
	if err != nil {
		return nil, fmt.Errorf("profiled readFile: %w", err)
	}
	cpu := sampleCPU().since(before, msDuration(rr.Ms))
	var stopped struct {
		Profile json.RawMessage `json:"profile"`
	}
	if err := pg.call("Profiler.stop", nil, &stopped); err != nil {
		return nil, fmt.Errorf("Profiler.stop: %w", err)
	}
	got, _, err := pg.bufHash()
	if err != nil {
		return nil, err
	}
	if rr.N != res.readSize || got != hex.EncodeToString(sum) {
		return nil, fmt.Errorf("profiled readFile: %d bytes with sha256 %s; the file has %d with %x", rr.N, got, res.readSize, sum)
	}
	if err := os.WriteFile(out, stopped.Profile, 0o644); err != nil {
		return nil, err
	}
	var prof cpuProfile
	if err := json.Unmarshal(stopped.Profile, &prof); err != nil {
		return nil, fmt.Errorf("the profile: %w", err)
	}
	names, err := wasmNames(wasm)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", wasm, err)
	}
	s := summarize(&prof, names)
	s.file, s.readMs, s.cpu = out, rr.Ms, cpu
	benchkit.Logf("profiled read: %.1f MB/s; profile in %s", benchkit.MBps(res.readSize, msDuration(rr.Ms)), out)
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
func summarize(p *cpuProfile, names map[string]string) *profileSummary {
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
		if real, ok := names[v8Key(strings.TrimPrefix(fn, "$"))]; ok && wasm {
			fn = real
		}
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
// function on the stack contains names the sample.
var kinds = []struct{ name, pattern string }{
	{"sha256 (block verification)", "sha256"},
	{"noise transport crypto (chacha20-poly1305)", "chacha20"},
	{"noise transport crypto (chacha20-poly1305)", "poly1305"},
	{"noise transport crypto (chacha20-poly1305)", "flynn/noise"},
	{"copy to JS (main.bytesToJS)", "main.bytesToJS"},
	{"IndexedDB cache (wasm/blockstore)", "meshfs/wasm/blockstore"},
	{"Go GC", "runtime.gcDrain"},
	{"Go GC", "runtime.gcBgMarkWorker"},
	{"Go GC", "runtime.bgsweep"},
	{"Go GC", "runtime.bgscavenge"},
	{"Go GC", "runtime.markroot"},
	{"WebSocket I/O (coder/websocket, copy from JS)", "coder/websocket"},
	{"WebSocket I/O (coder/websocket, copy from JS)", "syscall/js.copyBytesToGo"},
	{"yamux", "go-yamux"},
	{"libp2p (streams, multistream, resource manager)", "go-libp2p"},
	{"libp2p (streams, multistream, resource manager)", "go-multistream"},
	{"block fetching (meshfs/peer)", "meshfs/peer"},
	{"file reader (meshfs/content)", "meshfs/content"},
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
	// A Go symbol: the package is up to the first dot after the last
	// slash before any receiver or type argument.
	head := fn
	if i := strings.IndexAny(head, "(["); i >= 0 {
		head = head[:i]
	}
	slash := strings.LastIndexByte(head, '/')
	if dot := strings.IndexByte(fn[slash+1:], '.'); dot >= 0 {
		return fn[:slash+1+dot]
	}
	return fn
}

func sorted(m map[string]time.Duration) []timed {
	out := make([]timed, 0, len(m))
	for k, v := range m {
		out = append(out, timed{k, v})
	}
	slices.SortFunc(out, func(a, b timed) int { return cmp.Or(cmp.Compare(b.d, a.d), strings.Compare(a.name, b.name)) })
	return out
}
