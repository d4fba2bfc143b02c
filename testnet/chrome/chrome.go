// Package chrome drives a real headless Chromium (Debian's /usr/bin/chromium)
// through chromedp for the browser tests and benchmarks: it starts one with a
// fresh profile and the flags this kind of machine needs, evaluates
// JavaScript that may return a promise, and takes screenshots.
package chrome

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/chromedp/chromedp"
)

// ErrNoBrowser reports that no Chromium is installed.
var ErrNoBrowser = errors.New("chrome: no chromium found (Debian: apt-get install chromium; `make test` installs it)")

// Path returns the Chromium to run: $MESHFS_CHROMIUM, or chromium or
// chromium-browser on PATH.
func Path() (string, error) {
	if p := os.Getenv("MESHFS_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// Start launches a headless Chromium with a new, empty profile in
// profileDir and returns a context for its first tab; cancel closes it.
// Logf, if set, gets the page's console output.
func Start(ctx context.Context, profileDir string, logf func(format string, args ...any)) (context.Context, context.CancelFunc, error) {
	exe, err := Path()
	if err != nil {
		return nil, nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profileDir),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// This kind of machine has no outside network: no background
		// connections, updates, sync or QUIC probing.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tctx, cancelTab := chromedp.NewContext(actx)
	if err := chromedp.Do(tctx); err != nil {
		cancelTab()
		cancelAlloc()
		return nil, nil, fmt.Errorf("chrome: start %s: %w", exe, err)
	}
	if logf != nil {
		go func() {
			for m, err := range chromedp.Console(tctx) {
				if err != nil {
					return
				}
				logf("page: %s", m)
			}
		}()
	}
	return tctx, func() { cancelTab(); cancelAlloc() }, nil
}

// Eval evaluates expr in the page, awaiting it if it is a promise, and
// returns its JSON value decoded as a T.
func Eval[T any](ctx context.Context, expr string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// Navigate opens url in the tab.
func Navigate(ctx context.Context, url string) error {
	return chromedp.Do(ctx, chromedp.Navigate(url))
}

// Screenshot saves a PNG of the whole page to path.
func Screenshot(ctx context.Context, path string) error {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

// Upload sets the files of the file input that the CSS selector names, as a
// person picking them would (the input fires its change event).
func Upload(ctx context.Context, selector string, files ...string) error {
	return chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS(selector), files))
}
