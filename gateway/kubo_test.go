package gateway_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/gateway"
	"meshfs/internal/fixture"
)

// kubo runs an ipfs binary on its own repo.
type kubo struct {
	t    *testing.T
	bin  string
	repo string
}

// newKubo makes a fresh Kubo repo, or skips the test when MESHFS_KUBO does
// not name an ipfs binary.
func newKubo(t *testing.T) *kubo {
	t.Helper()
	bin := os.Getenv("MESHFS_KUBO")
	if bin == "" {
		t.Skip("set MESHFS_KUBO to an ipfs binary (Kubo 0.43.1) to run the interop test")
	}
	k := &kubo{t: t, bin: bin, repo: t.TempDir()}
	k.run("init", "--profile", "test")
	return k
}

func (k *kubo) run(args ...string) []byte {
	k.t.Helper()
	out, err := k.try(args...)
	if err != nil {
		k.t.Fatalf("ipfs %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (k *kubo) try(args ...string) ([]byte, error) {
	cmd := exec.Command(k.bin, args...)
	cmd.Env = append(os.Environ(), "IPFS_PATH="+k.repo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.Bytes()...), err
	}
	return out, nil
}

// TestKuboInterop checks the gateway's CARs against a real IPFS node:
// `ipfs dag import` takes them, `ipfs cat` gives the bytes back (offline,
// so only from the CAR's blocks), and `ipfs dag export` of the same DAG is
// the same CAR byte for byte (same header, same depth-first order), which
// the strict CARReader also reads. It is not part of `make test`:
//
//	MESHFS_KUBO=/path/to/ipfs go test -run TestKuboInterop -v ./gateway/
func TestKuboInterop(t *testing.T) {
	k := newKubo(t)
	dir := t.TempDir()
	store := content.NewMemStore()
	srv := serve(t, store, gateway.Options{})

	getTo := func(name, u string) string {
		t.Helper()
		resp, body := get(t, srv.URL+u)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s %s", u, resp.Status, body)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	type file struct {
		name string
		data []byte
		opts content.ImportOptions
	}
	files := []file{
		{"empty", nil, content.ImportOptions{}},
		{"one-block", fixture.Bytes(1000), content.ImportOptions{}},
		{"5MiB", fixture.Bytes(5<<20 + 7), content.ImportOptions{}},
		{"two-levels", fixture.Bytes(174<<18 + 300_001), content.ImportOptions{}},
		{"1KiB-chunks", fixture.Bytes(300_000), content.ImportOptions{ChunkSize: 1024}},
	}
	for _, f := range files {
		root := importBytes(t, store, f.data, f.opts)
		src := filepath.Join(dir, f.name)
		if err := os.WriteFile(src, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		chunker := []string{}
		if f.opts.ChunkSize != 0 {
			chunker = []string{fmt.Sprintf("--chunker=size-%d", f.opts.ChunkSize)}
		}
		kuboCID := strings.TrimSpace(string(k.run(append([]string{"add", "-Q", "--only-hash", "--cid-version=1"}, append(chunker, src)...)...)))
		if kuboCID != root.CID.String() {
			t.Fatalf("%s: Kubo's CID %s, ours %s", f.name, kuboCID, root.CID)
		}
		car := getTo(f.name+".car", "/ipfs/"+root.CID.String()+"?format=car")
		out := k.run("dag", "import", "--stats", car)
		t.Logf("%s: ipfs dag import: %s", f.name, bytes.TrimSpace(out))
		if !bytes.Contains(out, []byte("Pinned root")) {
			t.Errorf("%s: Kubo did not pin the root: %s", f.name, out)
		}
		if got := k.run("cat", root.CID.String()); !bytes.Equal(got, f.data) {
			t.Errorf("%s: ipfs cat gives %d bytes, want %d", f.name, len(got), len(f.data))
		}
		compareExport(t, k, root.CID, car)
	}

	// A tree with a HAMT inside a basic directory.
	var entries []content.DirEntry
	names := map[string][]byte{}
	for i := range 2200 {
		name := fmt.Sprintf("entry-%04d-%s", i, strings.Repeat("n", 90))
		data := fmt.Appendf(nil, "file %d of the HAMT\n", i)
		r := importBytes(t, store, data, content.ImportOptions{})
		names[name] = data
		entries = append(entries, content.DirEntry{Name: name, CID: r.CID, Tsize: r.Tsize})
	}
	hroot, hblocks, err := content.BuildDirectory(entries, content.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, store, hblocks)
	big := importBytes(t, store, files[3].data, content.ImportOptions{})
	wroot, wblocks, err := content.BuildDirectory([]content.DirEntry{{Name: "h", CID: hroot.CID, Tsize: hroot.Tsize}, {Name: "big", CID: big.CID, Tsize: big.Tsize}}, content.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, store, wblocks)
	tree := wroot.CID
	car := getTo("tree.car", "/ipfs/"+tree.String()+"?format=car")
	k.run("dag", "import", car)
	name := "entry-1234-" + strings.Repeat("n", 90)
	if got := k.run("cat", tree.String()+"/h/"+name); !bytes.Equal(got, names[name]) {
		t.Errorf("ipfs cat of a name in the HAMT: %q", got)
	}
	compareExport(t, k, tree, car)

	// Partial CARs, each into a fresh repo: what Kubo needs to read the
	// path or the range offline must all be in them.
	for _, tc := range []struct {
		url     string
		cat     []string
		want    []byte
		timeout bool
	}{
		{"/ipfs/" + tree.String() + "/h/" + name + "?format=car&dag-scope=entity", []string{tree.String() + "/h/" + name}, names[name], false},
		{"/ipfs/" + tree.String() + "/big?format=car&entity-bytes=1000000:3000000", []string{"-o", "1000000", "-l", "2000001", tree.String() + "/big"}, files[3].data[1000000:3000001], false},
		{"/ipfs/" + big.CID.String() + "?format=car&entity-bytes=-300000:*", []string{"-o", fmt.Sprint(len(files[3].data) - 300000), big.CID.String()}, files[3].data[len(files[3].data)-300000:], false},
	} {
		fresh := newKubo(t)
		car := getTo("part.car", tc.url)
		fresh.run("dag", "import", "--pin-roots=false", car)
		got, err := fresh.try(append([]string{"cat", "--offline"}, tc.cat...)...)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: ipfs cat %v from the CAR alone: %v, %d bytes, want %d", tc.url, tc.cat, err, len(got), len(tc.want))
		}
		// And nothing more than that: the whole file is not there.
		if strings.Contains(tc.url, "entity-bytes") {
			if _, err := fresh.try("cat", "--offline", tc.cat[len(tc.cat)-1]); err == nil {
				t.Errorf("%s: the whole file could be read from a range's CAR", tc.url)
			}
		}
	}
}

// compareExport checks that `ipfs dag export root` is the CAR we wrote
// and that CARReader reads Kubo's CAR.
func compareExport(t *testing.T, k *kubo, root cid.Cid, ourCAR string) {
	t.Helper()
	exported := k.run("dag", "export", root.String())
	ours, err := os.ReadFile(ourCAR)
	if err != nil {
		t.Fatal(err)
	}
	roots, theirs := readCAR(t, exported)
	if len(roots) != 1 || !roots[0].Equals(root) {
		t.Errorf("Kubo's export of %s names roots %v", root, roots)
	}
	_, mine := readCAR(t, ours)
	if !equalCIDs(cids(mine), cids(theirs)) {
		t.Errorf("%s: our CAR has %d blocks, Kubo's export %d, or their order differs", root, len(mine), len(theirs))
	}
	if !bytes.Equal(exported, ours) {
		t.Errorf("%s: our CAR (%d bytes) differs from Kubo's export (%d bytes)", root, len(ours), len(exported))
	} else {
		t.Logf("%s: our CAR is byte for byte Kubo's export (%d blocks, %d bytes)", root, len(mine), len(ours))
	}
}
