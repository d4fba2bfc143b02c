package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"

	"meshfs/testnet/chrome"
)

// page is one headless Chromium, with a profile of its own, on the meshfs
// page.
type page struct {
	tab  context.Context
	stop context.CancelFunc
}

// console keeps what the pages wrote to their consoles.
type console struct {
	mu            sync.Mutex
	lines, errors int
	notable       []string // errors, warnings and exceptions, first ones
}

func (c *console) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines++
	msg := strings.TrimPrefix(line, "page: ")
	for _, kind := range []string{"error:", "exception:", "warning:"} {
		if strings.HasPrefix(msg, kind) {
			if kind != "warning:" {
				c.errors++
			}
			if len(c.notable) < 20 {
				c.notable = append(c.notable, msg)
			}
			break
		}
	}
}

// summary returns how many lines and errors the pages wrote, and the
// first notable ones.
func (c *console) summary() (lines, errors int, notable []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines, c.errors, slices.Clone(c.notable)
}

// instrumentJS runs before the page's own scripts: it notes when the wasm
// is compiled and instantiated, which the page does not say.
const instrumentJS = `(() => {
	const orig = WebAssembly.instantiateStreaming;
	WebAssembly.instantiateStreaming = async (...args) => {
		const r = await orig.apply(WebAssembly, args);
		globalThis.benchInstantiatedMs = performance.now();
		return r;
	};
})();`

// helpersJS are the page-side helpers the bench evaluates.
const helpersJS = `globalThis.benchHex = async (b) =>
	[...new Uint8Array(await crypto.subtle.digest("SHA-256", b))].map(x => x.toString(16).padStart(2, "0")).join("");
globalThis.benchRandom = (n) => {
	const out = new Uint8Array(n);
	for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
	return out;
};
true`

// loadTimes are the milestones of one page load, in ms from navigation.
type loadTimes struct {
	WasmFetched  float64 `json:"fetched"`      // the wasm's last byte arrived
	Instantiated float64 `json:"instantiated"` // compiled and instantiated
	Ready        float64 `json:"ready"`        // meshfs.ready settled
	WasmBytes    float64 `json:"bytes"`        // bytes of the wasm on the wire
}

// openPage starts a Chromium with a new profile in profileDir, opens url
// and waits for meshfs.ready.
func openPage(ctx context.Context, profileDir, url string, con *console) (*page, loadTimes, error) {
	tab, stop, err := chrome.Start(ctx, profileDir, con.logf)
	if err != nil {
		return nil, loadTimes{}, err
	}
	p := &page{tab: tab, stop: stop}
	if err := p.call("Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": instrumentJS}, nil); err != nil {
		p.close()
		return nil, loadTimes{}, err
	}
	if err := chrome.Navigate(tab, url); err != nil {
		p.close()
		return nil, loadTimes{}, err
	}
	// As testnet/browser does: wait until the page's own script has
	// published the API and its ready promise settles.
	lt, err := evalTimeout[loadTimes](tab, time.Minute, `(async () => {
		while (!globalThis.meshfs || !meshfs.ready) await new Promise(r => setTimeout(r, 20));
		await meshfs.ready;
		while (globalThis.meshfsReadyMs === undefined) await new Promise(r => setTimeout(r, 20));
		const w = performance.getEntriesByType("resource").find(e => e.name.endsWith("/meshfs.wasm"));
		return {fetched: w ? w.responseEnd : -1, instantiated: globalThis.benchInstantiatedMs ?? -1,
			ready: globalThis.meshfsReadyMs, bytes: w ? w.encodedBodySize : -1};
	})()`)
	if err != nil {
		p.close()
		return nil, loadTimes{}, fmt.Errorf("the page's node did not start: %w", err)
	}
	if _, err := evalTimeout[bool](tab, 10*time.Second, helpersJS); err != nil {
		p.close()
		return nil, loadTimes{}, err
	}
	return p, lt, nil
}

func (p *page) close() { p.stop() }

// call sends one DevTools protocol command to the tab.
func (p *page) call(method string, params, res any) error {
	c := chromedp.FromContext(p.tab)
	if c == nil || c.Target == nil {
		return errors.New("no DevTools target")
	}
	return c.Target.Call(p.tab, method, params, res)
}

// evalTimeout evaluates expr in the tab (awaiting a promise) within d.
func evalTimeout[T any](tab context.Context, d time.Duration, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(tab, d)
	defer cancel()
	return chrome.Eval[T](ctx, expr)
}

// readResult is a timed read in the page.
type readResult struct {
	Ms float64 `json:"ms"`
	N  int64   `json:"n"`
}

// timedRead times meshfs.readFile(path) in the page and keeps the bytes
// in globalThis.benchBuf, for check to hash outside the timing.
func (p *page) timedRead(path string) (readResult, error) {
	return evalTimeout[readResult](p.tab, 3*time.Minute, fmt.Sprintf(`(async () => {
		globalThis.benchBuf = undefined;
		const t0 = performance.now();
		const b = await meshfs.readFile(%q);
		const t1 = performance.now();
		globalThis.benchBuf = b;
		return {ms: t1 - t0, n: b.length};
	})()`, path))
}

// bufHash hashes (and drops) the bytes timedRead kept, and returns the
// SHA-256 in hex and the ms crypto.subtle took.
func (p *page) bufHash() (string, float64, error) {
	type hashResult struct {
		Hex string  `json:"hex"`
		Ms  float64 `json:"ms"`
	}
	r, err := evalTimeout[hashResult](p.tab, time.Minute, `(async () => {
		const t0 = performance.now();
		const hex = await benchHex(globalThis.benchBuf);
		const ms = performance.now() - t0;
		globalThis.benchBuf = undefined;
		return {hex, ms};
	})()`)
	return r.Hex, r.Ms, err
}

// timedStat times meshfs.stat(path) (a strong read of the namespace).
func (p *page) timedStat(path string) (float64, error) {
	return evalTimeout[float64](p.tab, time.Minute, fmt.Sprintf(`(async () => {
		const t0 = performance.now();
		await meshfs.stat(%q);
		return performance.now() - t0;
	})()`, path))
}

// prepareWrite makes n random bytes in the page for timeWrite and returns
// their SHA-256 in hex.
func (p *page) prepareWrite(n int64) (string, error) {
	return evalTimeout[string](p.tab, time.Minute, fmt.Sprintf(`(async () => {
		globalThis.benchData = benchRandom(%d);
		return await benchHex(globalThis.benchData);
	})()`, n))
}

// timeWrite times meshfs.writeFile(path, the bytes prepareWrite made) and
// returns the ms it took.
func (p *page) timeWrite(path string) (float64, error) {
	return evalTimeout[float64](p.tab, 3*time.Minute, fmt.Sprintf(`(async () => {
		const data = globalThis.benchData;
		globalThis.benchData = undefined;
		const t0 = performance.now();
		await meshfs.writeFile(%q, data, () => {});
		return performance.now() - t0;
	})()`, path))
}

// timedFetchRanges times k fetch()es at once of the k ranges of the same
// file (size bytes) through /api/v0/fs/cat?offset=&length=, with no wasm:
// whether the browser moves more bytes with several requests in flight
// than with one. The bytes are not kept; n is their total.
func (p *page) timedFetchRanges(path string, size int64, k int) (readResult, error) {
	return evalTimeout[readResult](p.tab, 3*time.Minute, fmt.Sprintf(`(async () => {
		const size = %d, k = %d, part = Math.ceil(size / k);
		const t0 = performance.now();
		const lens = await Promise.all(Array.from({length: k}, async (_, i) => {
			const off = i * part, len = Math.max(0, Math.min(part, size - off));
			const r = await fetch("/api/v0/fs/cat?arg=" + encodeURIComponent(%q) + "&offset=" + off + "&length=" + len, {cache: "no-store"});
			if (!r.ok) throw new Error("fetch: HTTP " + r.status);
			return (await r.arrayBuffer()).byteLength;
		}));
		return {ms: performance.now() - t0, n: lens.reduce((a, b) => a + b, 0)};
	})()`, size, k, path))
}

// timedFetch times fetch() of the same file from the daemon that served
// the page, through its HTTP API (/api/v0/fs/cat): the browser's own
// network path with no wasm in it, for comparison. It keeps the bytes for
// bufHash like timedRead; an HTTP error is returned as it is.
func (p *page) timedFetch(path string) (readResult, error) {
	return evalTimeout[readResult](p.tab, 3*time.Minute, fmt.Sprintf(`(async () => {
		globalThis.benchBuf = undefined;
		const t0 = performance.now();
		const r = await fetch("/api/v0/fs/cat?arg=" + encodeURIComponent(%q), {cache: "no-store"});
		if (!r.ok) throw new Error("fetch: HTTP " + r.status);
		const b = new Uint8Array(await r.arrayBuffer());
		const t1 = performance.now();
		globalThis.benchBuf = b;
		return {ms: t1 - t0, n: b.length};
	})()`, path))
}
