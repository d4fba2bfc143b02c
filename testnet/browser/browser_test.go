package browser

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"meshfs/testnet/chrome"
)

// TestBrowserNode runs the page in Chromium against 3 daemons: the wasm
// node starts, writes a 5 MiB file that a daemon reads back identically,
// reads a file a daemon wrote identically, changes the tree, and goes on
// reading from the other daemons when the one that served it is killed.
func TestBrowserNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	net := startNet(t, ctx, 3)
	tab, ready := openPage(t, ctx, net.Peer(0).API+"/")
	t.Logf("page load to ready: %v", ready)
	if _, err := chrome.Eval[any](tab, "globalThis.pattern = "+patternJS); err != nil {
		t.Fatal(err)
	}

	// A file written in the page reads back identically through a daemon.
	const size = 5<<20 + 123
	want := pattern(size, 7)
	if _, err := chrome.Eval[any](tab, fmt.Sprintf(`meshfs.writeFile("/browser/five.bin", pattern(%d, 7), () => {})`, size)); err != nil {
		t.Fatalf("writeFile in the page: %v", err)
	}
	got, err := apiCat(ctx, net.Peer(2).API, "/browser/five.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("daemon read %d bytes of the page's %d-byte file, not identical", len(got), size)
	}

	// A file a daemon wrote reads back identically in the page.
	readInPage := func(p string) string {
		t.Helper()
		sum, err := chrome.Eval[string](tab, fmt.Sprintf(`meshfs.readFile(%q).then(b => crypto.subtle.digest("SHA-256", b)).then(d =>
			[...new Uint8Array(d)].map(x => x.toString(16).padStart(2, "0")).join(""))`, p))
		if err != nil {
			t.Fatalf("readFile %s in the page: %v", p, err)
		}
		return sum
	}
	hexSum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	cli := pattern(3<<20+7, 11)
	if err := apiWrite(ctx, net.Peer(1).API, "/cli/three.bin", cli); err != nil {
		t.Fatal(err)
	}
	if got := readInPage("/cli/three.bin"); got != hexSum(cli) {
		t.Fatalf("page read sha256 %s, daemon wrote %s", got, hexSum(cli))
	}

	// mkdir, rename and rm from the page, seen by a daemon.
	if _, err := chrome.Eval[any](tab, `meshfs.mkdir("/browser/kept").then(() => meshfs.rename("/browser/five.bin", "/browser/kept/five.bin"))`); err != nil {
		t.Fatal(err)
	}
	if got, err := apiCat(ctx, net.Peer(1).API, "/browser/kept/five.bin"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("renamed file through a daemon: %d bytes, %v", len(got), err)
	}
	if _, err := chrome.Eval[any](tab, `meshfs.writeFile("/browser/gone.txt", new TextEncoder().encode("bye")).then(() => meshfs.rm("/browser/gone.txt"))`); err != nil {
		t.Fatal(err)
	}
	if _, err := apiCat(ctx, net.Peer(1).API, "/browser/gone.txt"); err == nil {
		t.Fatal("a file removed in the page still reads through a daemon")
	}
	// A refused change says why.
	kind, err := chrome.Eval[string](tab, `meshfs.mkdir("/cli/three.bin/x").then(() => "ok", e => e.kind)`)
	if err != nil || kind != "notdir" {
		t.Fatalf("mkdir under a file: kind %q, %v; want notdir", kind, err)
	}

	// The page as a person sees it, before the fault.
	readme := []byte("meshfs in a browser tab\n")
	if err := apiWrite(ctx, net.Peer(1).API, "/cli/readme.txt", readme); err != nil {
		t.Fatal(err)
	}
	if _, err := chrome.Eval[any](tab, `openDir("/cli").then(() => meshfs.stat("/cli/readme.txt")).then(preview).then(status)`); err != nil {
		t.Fatal(err)
	}
	if err := chrome.Screenshot(tab, filepath.Join(t.ArtifactDir(), "page.png")); err != nil {
		t.Fatal(err)
	}

	// Kill the daemon that served the page: the page reads a file it has
	// never seen from the others.
	after := pattern(1<<20+99, 13)
	if err := apiWrite(ctx, net.Peer(1).API, "/cli/after.bin", after); err != nil {
		t.Fatal(err)
	}
	if err := net.Kill(0); err != nil {
		t.Fatal(err)
	}
	if got := readInPage("/cli/after.bin"); got != hexSum(after) {
		t.Fatalf("after the kill, page read sha256 %s, want %s", got, hexSum(after))
	}
	if got := readInPage("/browser/kept/five.bin"); got != hexSum(want) {
		t.Fatalf("after the kill, page read its own file as sha256 %s, want %s", got, hexSum(want))
	}
}
