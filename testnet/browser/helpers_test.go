package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"meshfs/testnet"
	"meshfs/testnet/chrome"
)

// startNet starts a testnet of peers daemons, all voters, open to every
// peer (the browser's ID is new each run), serving the browser node built
// by TestMain, and waits for a writer.
func startNet(t *testing.T, ctx context.Context, peers int) *testnet.Net {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real daemons and a browser")
	}
	net, err := testnet.Start(ctx, testnet.Config{
		Binary: binary, Dir: t.TempDir(), Peers: peers, Open: true,
		DaemonArgs: []string{"--web", webDir},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	if _, err := net.WaitWriter(ctx); err != nil {
		t.Fatal(err)
	}
	return net
}

// openPage starts Chromium on url and waits for meshfs.ready; it returns
// the tab and how long the page took from navigation to ready.
func openPage(t *testing.T, ctx context.Context, url string) (context.Context, time.Duration) {
	t.Helper()
	tab, stop, err := chrome.Start(ctx, t.TempDir(), t.Logf)
	if errors.Is(err, chrome.ErrNoBrowser) && os.Getenv("MESHFS_REQUIRE_BROWSER") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	if err := chrome.Navigate(tab, url); err != nil {
		t.Fatal(err)
	}
	// The page's own script starts the node; wait until it has published
	// the API and its ready promise settles.
	ms, err := chrome.Eval[float64](tab, `(async () => {
		while (!globalThis.meshfs || !meshfs.ready) await new Promise(r => setTimeout(r, 20));
		await meshfs.ready;
		while (globalThis.meshfsReadyMs === undefined) await new Promise(r => setTimeout(r, 20));
		return globalThis.meshfsReadyMs;
	})()`)
	if err != nil {
		t.Fatalf("the page's node did not start: %v", err)
	}
	return tab, time.Duration(ms * float64(time.Millisecond))
}

// apiWrite writes data to p through the daemon's HTTP API.
func apiWrite(ctx context.Context, api, p string, data []byte) error {
	u := api + "/api/v0/fs/write?parents=1&arg=" + url.QueryEscape(p)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(data))
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
		return fmt.Errorf("write %s: %s: %s", p, resp.Status, b)
	}
	return nil
}

// apiCat reads file p through the daemon's HTTP API, at level (strong if
// none).
func apiCat(ctx context.Context, api, p string, level ...string) ([]byte, error) {
	u := api + "/api/v0/fs/cat?arg=" + url.QueryEscape(p)
	if len(level) > 0 {
		u += "&consistency=" + level[0]
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cat %s: %s: %s", p, resp.Status, b)
	}
	return b, nil
}

// patternJS is a JavaScript function pattern(n, seed) that returns n bytes
// of xorshift32 output; pattern is its Go twin, so the page can make large
// files without shipping their bytes through the DevTools protocol.
const patternJS = `function pattern(n, seed) {
	const out = new Uint8Array(n);
	let x = seed >>> 0 || 1;
	for (let i = 0; i < n; i++) {
		x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
		out[i] = x & 0xff;
	}
	return out;
}`

func pattern(n int, seed uint32) []byte {
	out := make([]byte, n)
	x := seed
	if x == 0 {
		x = 1
	}
	for i := range out {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		out[i] = byte(x)
	}
	return out
}

// waitFor is testnet.WaitFor.
func waitFor(ctx context.Context, d time.Duration, cond func() error) error {
	return testnet.WaitFor(ctx, d, cond)
}
