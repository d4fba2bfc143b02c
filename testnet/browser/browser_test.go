package browser

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

	// Upload through the page's file picker, as a person would: the file
	// lands in the folder shown, and the page says so.
	up := pattern(2<<20+5, 17)
	upFile := filepath.Join(t.TempDir(), "upload.bin")
	if err := os.WriteFile(upFile, up, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chrome.Upload(tab, "#pick", upFile); err != nil {
		t.Fatal(err)
	}
	err = waitFor(ctx, time.Minute, func() error {
		got, err := apiCat(ctx, net.Peer(2).API, "/cli/upload.bin")
		if err == nil && !bytes.Equal(got, up) {
			return fmt.Errorf("uploaded file differs: %d bytes", len(got))
		}
		return err
	})
	if err != nil {
		t.Fatalf("upload through the picker: %v", err)
	}
	if err := waitText(ctx, tab, "msg", "Uploaded upload.bin"); err != nil {
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

	// With every daemon gone the page says it is offline.
	for _, i := range []int{1, 2} {
		if err := net.Kill(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := waitText(ctx, tab, "state", "offline"); err != nil {
		t.Fatal(err)
	}
}

// waitText waits until the element with id shows text.
func waitText(ctx context.Context, tab context.Context, id, text string) error {
	return waitFor(ctx, 30*time.Second, func() error {
		got, err := chrome.Eval[string](tab, fmt.Sprintf(`document.getElementById(%q).textContent`, id))
		if err != nil {
			return err
		}
		if !strings.Contains(got, text) {
			return fmt.Errorf("#%s shows %q, want %q", id, got, text)
		}
		return nil
	})
}

// TestBrowserEventualWithoutQuorum: with two of three voters dead no read
// can be confirmed, so the page falls back to the last signed root and
// still lists and reads the tree, saying that its reads are eventual; a
// write is refused with a reason.
func TestBrowserEventualWithoutQuorum(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	net := startNet(t, ctx, 3)
	data := pattern(700_001, 5)
	if err := apiWrite(ctx, net.Peer(1).API, "/docs/kept.bin", data); err != nil {
		t.Fatal(err)
	}
	// Wait until the signed root record in the DHT covers the write.
	err := waitFor(ctx, 30*time.Second, func() error {
		b, err := apiCat(ctx, net.Peer(0).API, "/docs/kept.bin", "eventual")
		if err == nil && !bytes.Equal(b, data) {
			return fmt.Errorf("eventual read of %d bytes differs", len(b))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tab, _ := openPage(t, ctx, net.Peer(0).API+"/")
	for _, i := range []int{1, 2} {
		if err := net.Kill(i); err != nil {
			t.Fatal(err)
		}
	}
	type entry struct {
		Name, Level string
		Size        int
	}
	list, err := chrome.Eval[[]entry](tab, `meshfs.ls("/docs")`)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "kept.bin" || list[0].Size != len(data) || list[0].Level != "eventual" {
		t.Fatalf("ls /docs without a quorum: %+v; want kept.bin, %d bytes, read eventual", list, len(data))
	}
	sum, err := chrome.Eval[string](tab, `meshfs.readFile("/docs/kept.bin").then(b => crypto.subtle.digest("SHA-256", b)).then(d =>
		[...new Uint8Array(d)].map(x => x.toString(16).padStart(2, "0")).join(""))`)
	if s := sha256.Sum256(data); err != nil || sum != hex.EncodeToString(s[:]) {
		t.Fatalf("readFile without a quorum: %s, %v", sum, err)
	}
	kind, err := chrome.Eval[string](tab, `meshfs.mkdir("/docs/new").then(() => "ok", e => e.kind)`)
	if err != nil || kind != "nowriter" {
		t.Fatalf("mkdir without a quorum: %q, %v; want nowriter", kind, err)
	}
}
