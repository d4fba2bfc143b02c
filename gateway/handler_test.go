package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
	"meshfs/gateway"
)

const (
	ctRaw = "application/vnd.ipld.raw"
	ctCAR = "application/vnd.ipld.car; version=1; order=dfs; dups=n"
)

// testContent is what the tests serve.
type testContent struct {
	store *content.MemStore

	file     []byte // random; 1 KiB chunks, 4 links a node: a DAG four levels deep
	fileRoot content.FileRoot
	fileOpts content.ImportOptions

	zeros     []byte // all zero: every leaf, and most nodes, the same block
	zerosRoot content.FileRoot

	tree      cid.Cid           // a basic directory tree, see treeFS
	treeFiles map[string][]byte // path below tree -> bytes

	hamt      cid.Cid           // default sharding: over 256 KiB of names
	hamtFiles map[string][]byte // name -> bytes
	hamtSize  int               // blocks of the HAMT's own nodes
	deep      cid.Cid           // a fanout-8 HAMT several levels deep
	deepFiles map[string][]byte
	wrap      cid.Cid // a basic directory holding hamt as "h" and deep as "d"
}

func newFixture(t *testing.T) *testContent {
	t.Helper()
	r := testRand(t)
	fx := &testContent{store: content.NewMemStore(), fileOpts: content.ImportOptions{ChunkSize: 1024, LinksPerNode: 4}}
	fx.file = randomBytes(r, 50_000+r.IntN(1000))
	fx.fileRoot = importBytes(t, fx.store, fx.file, fx.fileOpts)
	fx.zeros = make([]byte, 20_000)
	fx.zerosRoot = importBytes(t, fx.store, fx.zeros, content.ImportOptions{ChunkSize: 1024, LinksPerNode: 3})

	fx.treeFiles = map[string][]byte{
		"a.txt":                   []byte("hello from a.txt\n"),
		"empty":                   {},
		"sub/page.html":           []byte("<!DOCTYPE html><title>x</title><p>page"),
		"sub/big.bin":             fx.file,
		"sub/deeper/n.json":       []byte(`{"n": 1}`),
		"odd <name> & ?#%20.txt":  []byte("odd"),
		"sub/deeper/no-extension": []byte("\x89PNG\r\n\x1a\n not really"),
	}
	mfs := fstest.MapFS{"link": {Data: []byte("a.txt"), Mode: fs.ModeSymlink | 0o777}}
	for name, data := range fx.treeFiles {
		mfs[name] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	var err error
	fx.tree, _, err = content.ImportTree(context.Background(), mfs, ".", fx.store, content.TreeOptions{File: fx.fileOpts})
	if err != nil {
		t.Fatal(err)
	}

	fx.hamtFiles = map[string][]byte{}
	var entries []content.DirEntry
	for i := range 2200 { // 2200 * (about 100 bytes of name + 36 of CID) > 256 KiB
		name := fmt.Sprintf("entry-%04d-%s", i, strings.Repeat("n", 90))
		data := []byte(fmt.Sprintf("file %d of the HAMT\n", i))
		b, _ := content.NewRawBlock(data)
		putAll(t, fx.store, []content.Block{b})
		fx.hamtFiles[name] = data
		entries = append(entries, content.DirEntry{Name: name, CID: b.CID(), Tsize: uint64(len(data))})
	}
	hroot, hblocks, err := content.BuildDirectory(entries, content.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !hroot.Sharded || len(hblocks) < 2 {
		t.Fatalf("test HAMT: sharded %v, %d blocks; want a HAMT with sub-shards", hroot.Sharded, len(hblocks))
	}
	putAll(t, fx.store, hblocks)
	fx.hamt, fx.hamtSize = hroot.CID, len(hblocks)

	fx.deepFiles = map[string][]byte{}
	entries = entries[:0]
	for i := range 300 {
		name := fmt.Sprintf("d%d", i)
		data := []byte(name + " in the deep HAMT")
		b, _ := content.NewRawBlock(data)
		putAll(t, fx.store, []content.Block{b})
		fx.deepFiles[name] = data
		entries = append(entries, content.DirEntry{Name: name, CID: b.CID(), Tsize: uint64(len(data))})
	}
	droot, dblocks, err := content.BuildDirectory(entries, content.DirOptions{ShardingThreshold: 1, Fanout: 8})
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, fx.store, dblocks)
	fx.deep = droot.CID

	wroot, wblocks, err := content.BuildDirectory([]content.DirEntry{{Name: "h", CID: fx.hamt, Tsize: hroot.Tsize}, {Name: "d", CID: fx.deep, Tsize: droot.Tsize}}, content.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, fx.store, wblocks)
	fx.wrap = wroot.CID
	return fx
}

// allBlocks returns every block below root.
func (fx *testContent) allBlocks(t *testing.T, root cid.Cid) []content.Block {
	t.Helper()
	var out []content.Block
	for _, c := range dfsOrder(t, fx.store, root, false) {
		b, err := fx.store.Get(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func checkHeaders(t *testing.T, resp *http.Response, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}

func TestRawBlocks(t *testing.T) {
	fx := newFixture(t)
	srv := serve(t, fx.store, gateway.Options{})
	for _, b := range fx.allBlocks(t, fx.fileRoot.CID)[:6] { // the root, nodes and leaves
		for _, how := range []struct{ query, accept string }{{"?format=raw", ""}, {"", ctRaw}, {"?format=raw", "application/vnd.ipld.car"}} {
			u := srv.URL + "/ipfs/" + b.CID().String() + how.query
			resp, body := get(t, u, "Accept", how.accept)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s", u, resp.Status)
			}
			if !bytes.Equal(body, b.Data()) {
				t.Fatalf("%s: body is not the block", u)
			}
			if d := sha256.Sum256(body); !bytes.Equal(d[:], b.CID().Hash()[2:]) {
				t.Fatalf("%s: body does not hash to the CID", u)
			}
			checkHeaders(t, resp, map[string]string{
				"Content-Type":           ctRaw,
				"X-Content-Type-Options": "nosniff",
				"Etag":                   `"` + b.CID().String() + `.raw"`,
				"Cache-Control":          "public, max-age=29030400, immutable",
				"Content-Disposition":    `attachment; filename="` + b.CID().String() + `.bin"`,
				"Content-Length":         fmt.Sprint(b.Size()),
			})
		}
	}
	root := fx.fileRoot.CID.String()
	// HEAD: the headers, no body.
	resp, body, err := fetch(t, http.MethodHead, srv.URL+"/ipfs/"+root+"?format=raw")
	if err != nil || resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Content-Type") != ctRaw {
		t.Errorf("HEAD raw: %v %s, %d bytes, %q", err, resp.Status, len(body), resp.Header.Get("Content-Type"))
	}
	// A cached copy is still good.
	resp, _ = get(t, srv.URL+"/ipfs/"+root+"?format=raw", "If-None-Match", `"`+root+`.raw"`)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %s, want 304", resp.Status)
	}
	// A block request takes no path.
	resp, _ = get(t, srv.URL+"/ipfs/"+fx.tree.String()+"/a.txt?format=raw")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("raw block with a path: %s, want 400", resp.Status)
	}
	// A CIDv0 names the same dag-pb block.
	v0 := cid.NewCidV0(fx.fileRoot.CID.Hash())
	_, body = get(t, srv.URL+"/ipfs/"+v0.String(), "Accept", ctRaw)
	if b, _ := fx.store.Get(context.Background(), fx.fileRoot.CID); !bytes.Equal(body, b.Data()) {
		t.Errorf("CIDv0 %s: not the block", v0)
	}
}

// getCAR fetches a CAR, checks its headers and reads it, verifying every
// block.
func getCAR(t *testing.T, u string, header ...string) ([]cid.Cid, []content.Block) {
	t.Helper()
	resp, body := get(t, u, header...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s: %s", u, resp.Status, body)
	}
	want := ctCAR
	if strings.Contains(u, "dups=y") || slices.ContainsFunc(header, func(h string) bool { return strings.Contains(h, "dups=y") }) {
		want = strings.Replace(ctCAR, "dups=n", "dups=y", 1)
	}
	checkHeaders(t, resp, map[string]string{
		"Content-Type":           want,
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "public, max-age=29030400, immutable",
	})
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="`) || !strings.HasSuffix(cd, `.car"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	return readCAR(t, body)
}

func TestCARWholeDAG(t *testing.T) {
	fx := newFixture(t)
	srv := serve(t, fx.store, gateway.Options{Concurrency: 5})
	for _, tc := range []struct {
		name   string
		root   cid.Cid
		header []string
	}{
		{"file", fx.fileRoot.CID, nil},
		{"file by Accept", fx.fileRoot.CID, []string{"Accept", "application/vnd.ipld.car; version=1; order=dfs; dups=n"}},
		{"file, any order", fx.fileRoot.CID, []string{"Accept", "text/html;q=0.5, application/vnd.ipld.car;order=unk"}},
		{"repeated blocks", fx.zerosRoot.CID, nil},
		{"tree", fx.tree, nil},
		{"HAMT", fx.hamt, nil},
		{"HAMTs in a directory", fx.wrap, nil},
		{"one raw block", fx.allBlocks(t, fx.fileRoot.CID)[4].CID(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := srv.URL + "/ipfs/" + tc.root.String()
			if tc.header == nil {
				u += "?format=car"
			}
			roots, blocks := getCAR(t, u, tc.header...)
			if len(roots) != 1 || !roots[0].Equals(tc.root) {
				t.Errorf("roots %v, want [%s]", roots, tc.root)
			}
			got, want := cids(blocks), dfsOrder(t, fx.store, tc.root, false)
			if !equalCIDs(got, want) {
				t.Fatalf("%d blocks, want %d in depth-first order", len(got), len(want))
			}
		})
	}
	// The repeated blocks, each time the walk meets them.
	for _, u := range []string{"?format=car&car-dups=y", ""} {
		var header []string
		if u == "" {
			header = []string{"Accept", "application/vnd.ipld.car; dups=y"}
		}
		_, blocks := getCAR(t, srv.URL+"/ipfs/"+fx.zerosRoot.CID.String()+u, header...)
		if got, want := cids(blocks), dfsOrder(t, fx.store, fx.zerosRoot.CID, true); !equalCIDs(got, want) {
			t.Errorf("dups=y: %d blocks, want %d", len(got), len(want))
		}
	}
}

// TestCARPaths checks that a CAR for a path proves it: the blocks read on
// the way come first, and a gateway holding only the CAR's blocks
// resolves the path to the same bytes.
func TestCARPaths(t *testing.T) {
	fx := newFixture(t)
	srv := serve(t, fx.store, gateway.Options{})
	hamtName := "entry-1234-" + strings.Repeat("n", 90)
	for _, tc := range []struct {
		root  cid.Cid
		path  string
		want  []byte
		scope string
	}{
		{fx.tree, "sub/big.bin", fx.file, "all"},
		{fx.tree, "sub/big.bin", fx.file, "entity"},
		{fx.tree, "sub/deeper/n.json", fx.treeFiles["sub/deeper/n.json"], "entity"},
		{fx.hamt, hamtName, fx.hamtFiles[hamtName], "all"},
		{fx.wrap, "h/" + hamtName, fx.hamtFiles[hamtName], "block"},
		{fx.wrap, "d/d77", fx.deepFiles["d77"], "entity"},
		{fx.deep, "d299", fx.deepFiles["d299"], "all"},
	} {
		t.Run(tc.path+"/"+tc.scope, func(t *testing.T) {
			roots, blocks := getCAR(t, srv.URL+"/ipfs/"+tc.root.String()+"/"+tc.path+"?format=car&dag-scope="+tc.scope)
			if len(roots) != 1 || !roots[0].Equals(tc.root) {
				t.Errorf("roots %v, want [%s]", roots, tc.root)
			}
			if !blocks[0].CID().Equals(tc.root) {
				t.Errorf("the CAR starts with %s, not the root", blocks[0].CID())
			}
			seen := map[cid.Cid]bool{}
			for _, b := range blocks {
				if seen[b.CID()] {
					t.Fatalf("%s twice", b.CID())
				}
				seen[b.CID()] = true
			}
			if strings.Contains(tc.path, hamtName) && len(blocks) >= fx.hamtSize {
				t.Errorf("%d blocks: the path through the HAMT should take a few of its %d shards", len(blocks), fx.hamtSize)
			}
			only := serve(t, storeOf(t, blocks), gateway.Options{})
			resp, body := get(t, only.URL+"/ipfs/"+tc.root.String()+"/"+tc.path)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, tc.want) {
				t.Errorf("the path from the CAR's blocks alone: %s, %d bytes, want %d", resp.Status, len(body), len(tc.want))
			}
		})
	}
}

func TestCARScopes(t *testing.T) {
	fx := newFixture(t)
	srv := serve(t, fx.store, gateway.Options{})
	dirNode := func(c cid.Cid) []cid.Cid { return []cid.Cid{c} }
	// A HAMT's entity is its shards: the blocks BuildDirectory made, in
	// depth-first order.
	var hamtShards []cid.Cid
	for _, c := range dfsOrder(t, fx.store, fx.hamt, false) {
		if c.Prefix().Codec == content.CodecDagPB {
			hamtShards = append(hamtShards, c)
		}
	}
	if len(hamtShards) != fx.hamtSize {
		t.Fatalf("the HAMT has %d dag-pb blocks, BuildDirectory made %d", len(hamtShards), fx.hamtSize)
	}
	for _, tc := range []struct {
		name  string
		url   string
		want  []cid.Cid
		extra []cid.Cid // blocks before want: the path
	}{
		{"dir entity", fx.tree.String() + "?dag-scope=entity", dirNode(fx.tree), nil},
		{"dir block", fx.tree.String() + "?dag-scope=block", dirNode(fx.tree), nil},
		{"HAMT entity", fx.hamt.String() + "?dag-scope=entity", hamtShards, nil},
		{"HAMT block", fx.hamt.String() + "?dag-scope=block", dirNode(fx.hamt), nil},
		{"file entity", fx.fileRoot.CID.String() + "?dag-scope=entity", dfsOrder(t, fx.store, fx.fileRoot.CID, false), nil},
		{"file block", fx.fileRoot.CID.String() + "?dag-scope=block", dirNode(fx.fileRoot.CID), nil},
		{"HAMT entity under a path", fx.wrap.String() + "/h?dag-scope=entity", hamtShards, dirNode(fx.wrap)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, blocks := getCAR(t, srv.URL+"/ipfs/"+tc.url+"&format=car")
			if want := append(slices.Clone(tc.extra), tc.want...); !equalCIDs(cids(blocks), want) {
				t.Errorf("%d blocks %v, want %d %v", len(blocks), cids(blocks), len(want), want)
			}
		})
	}
}

func TestCAREntityBytes(t *testing.T) {
	fx := newFixture(t)
	srv := serve(t, fx.store, gateway.Options{})
	size := int64(len(fx.file))
	chunk := int64(fx.fileOpts.ChunkSize)
	order := dfsOrder(t, fx.store, fx.fileRoot.CID, false)
	for _, tc := range []struct {
		spec     string
		from, to int64 // the bytes it names, [from, to); from == to: none
	}{
		{"0:*", 0, size},
		{"0:0", 0, 1},
		{"1000:5000", 1000, 5001},
		{"1024:2047", 1024, 2048},
		{"-1024:*", size - 1024, size},
		{"-1:*", size - 1, size},
		{"499:-1000", 499, size - 1000 + 1},
		{"-99999999:10", 0, 11},
		{fmt.Sprintf("%d:%d", size-10, size+1000), size - 10, size},
		{"5000:-99999999", 0, 0},
		{"-10:-20", 0, 0},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, blocks := getCAR(t, srv.URL+"/ipfs/"+fx.fileRoot.CID.String()+"?format=car&entity-bytes="+tc.spec)
			got := cids(blocks)
			// In depth-first order: a subsequence of the whole DAG's order.
			rest := order
			for _, c := range got {
				i := slices.IndexFunc(rest, c.Equals)
				if i < 0 {
					t.Fatalf("%s out of depth-first order or repeated", c)
				}
				rest = rest[i+1:]
			}
			if tc.from == tc.to {
				if len(got) != 1 || !got[0].Equals(fx.fileRoot.CID) {
					t.Fatalf("an empty range: %d blocks, want the root alone", len(got))
				}
				return
			}
			// Only the leaves under the range.
			leaves := 0
			for _, c := range got {
				if c.Prefix().Codec == content.CodecRaw {
					leaves++
				}
			}
			if want := (tc.to-1)/chunk - tc.from/chunk + 1; int64(leaves) != want {
				t.Errorf("%d leaves, want %d", leaves, want)
			}
			// And enough to read the range.
			fr, err := content.NewFileReader(context.Background(), storeOf(t, blocks), fx.fileRoot.CID, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer fr.Close()
			buf := make([]byte, tc.to-tc.from)
			if _, err := fr.ReadAt(buf, tc.from); err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("reading the range from the CAR's blocks: %v", err)
			}
			if !bytes.Equal(buf, fx.file[tc.from:tc.to]) {
				t.Fatal("the range read from the CAR's blocks differs")
			}
		})
	}
	// Entity bytes of a directory are ignored: its entity.
	_, blocks := getCAR(t, srv.URL+"/ipfs/"+fx.tree.String()+"?format=car&entity-bytes=0:10")
	if len(blocks) != 1 {
		t.Errorf("entity-bytes of a directory: %d blocks, want its node", len(blocks))
	}
	for _, spec := range []string{fmt.Sprint(size) + ":*", "x:1", "1", "10:5", "1:y", "1:2&dag-scope=all"} {
		resp, _ := get(t, srv.URL+"/ipfs/"+fx.fileRoot.CID.String()+"?format=car&entity-bytes="+spec)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("entity-bytes=%s: %s, want 400", spec, resp.Status)
		}
	}
}

func TestFileBytes(t *testing.T) {
	fx := newFixture(t)
	g := &countGetter{BlockGetter: fx.store}
	srv := serve(t, g, gateway.Options{})
	base := srv.URL + "/ipfs/" + fx.fileRoot.CID.String()
	resp, body := get(t, base)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, fx.file) {
		t.Fatalf("file: %s, %d bytes, want %d", resp.Status, len(body), len(fx.file))
	}
	checkHeaders(t, resp, map[string]string{
		"Etag":                    `"` + fx.fileRoot.CID.String() + `"`,
		"Content-Type":            "application/octet-stream",
		"Cache-Control":           "public, max-age=29030400, immutable",
		"Content-Security-Policy": "sandbox",
		"Accept-Ranges":           "bytes",
	})
	size := len(fx.file)
	for _, tc := range []struct {
		rng      string
		from, to int // [from, to)
	}{
		{"bytes=0-99", 0, 100},
		{"bytes=1000-", 1000, size},
		{"bytes=-500", size - 500, size},
		{fmt.Sprintf("bytes=%d-%d", size-1, size-1), size - 1, size},
		{"bytes=1023-1024", 1023, 1025},
		{fmt.Sprintf("bytes=40000-%d", size+100), 40000, size},
	} {
		g.mu.Lock()
		g.calls = 0
		g.mu.Unlock()
		resp, body := get(t, base, "Range", tc.rng)
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, fx.file[tc.from:tc.to]) {
			t.Errorf("%s: %s, %d bytes, want %d", tc.rng, resp.Status, len(body), tc.to-tc.from)
		}
		if want := fmt.Sprintf("bytes %d-%d/%d", tc.from, tc.to-1, size); resp.Header.Get("Content-Range") != want {
			t.Errorf("%s: Content-Range %q, want %q", tc.rng, resp.Header.Get("Content-Range"), want)
		}
		g.mu.Lock()
		calls := g.calls
		g.mu.Unlock()
		// The root, the nodes down to the range, its leaves and the first
		// leaf (for the content type): not the whole file.
		if tc.to-tc.from < 5000 && calls > 12 {
			t.Errorf("%s: %d blocks fetched for %d bytes", tc.rng, calls, tc.to-tc.from)
		}
	}
	// Two ranges: multipart.
	resp, body = get(t, base, "Range", "bytes=0-9,2000-2009")
	_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for _, off := range []int{0, 2000} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		if got, _ := io.ReadAll(p); !bytes.Equal(got, fx.file[off:off+10]) {
			t.Errorf("multipart part at %d differs", off)
		}
	}
	resp, _ = get(t, base, "Range", fmt.Sprintf("bytes=%d-", size))
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("range past the end: %s, want 416", resp.Status)
	}
	resp, body, err := fetch(t, http.MethodHead, base)
	if err != nil || resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength != int64(size) {
		t.Errorf("HEAD: %v %s, %d bytes, length %d", err, resp.Status, len(body), resp.ContentLength)
	}
	resp, _ = get(t, base, "If-None-Match", `"`+fx.fileRoot.CID.String()+`"`)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %s, want 304", resp.Status)
	}
}

func TestPaths(t *testing.T) {
	fx := newFixture(t)
	srv := serve(t, fx.store, gateway.Options{})
	type want struct {
		body  []byte
		ctype string
	}
	cases := map[string]want{
		fx.tree.String() + "/a.txt":                                       {fx.treeFiles["a.txt"], "text/plain; charset=utf-8"},
		fx.tree.String() + "/empty":                                       {[]byte{}, "text/plain; charset=utf-8"},
		fx.tree.String() + "/sub/page.html":                               {fx.treeFiles["sub/page.html"], "text/html; charset=utf-8"},
		fx.tree.String() + "/sub/big.bin":                                 {fx.file, "application/octet-stream"},
		fx.tree.String() + "/sub/deeper/no-extension":                     {fx.treeFiles["sub/deeper/no-extension"], "image/png"},
		fx.tree.String() + "//sub//deeper/n.json/":                        {fx.treeFiles["sub/deeper/n.json"], "application/json"},
		fx.tree.String() + "/" + url.PathEscape("odd <name> & ?#%20.txt"): {fx.treeFiles["odd <name> & ?#%20.txt"], "text/plain; charset=utf-8"},
		fx.tree.String() + "/link":                                        {[]byte("a.txt"), "text/plain; charset=utf-8"},
	}
	for name, data := range fx.hamtFiles {
		if len(cases) < 40 {
			cases[fx.hamt.String()+"/"+name] = want{data, "text/plain; charset=utf-8"}
			cases[fx.wrap.String()+"/h/"+name] = want{data, "text/plain; charset=utf-8"}
		}
	}
	for name, data := range fx.deepFiles {
		cases[fx.deep.String()+"/"+name] = want{data, "text/plain; charset=utf-8"}
	}
	for p, w := range cases {
		resp, body := get(t, srv.URL+"/ipfs/"+p)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, w.body) || resp.Header.Get("Content-Type") != w.ctype {
			t.Errorf("%s: %s, %q (%s), want %q (%s)", p, resp.Status, body[:min(len(body), 40)], resp.Header.Get("Content-Type"), w.body[:min(len(w.body), 40)], w.ctype)
		}
	}
	for _, p := range []string{
		fx.tree.String() + "/nope",
		fx.tree.String() + "/a.txt/below-a-file",
		fx.tree.String() + "/sub/nope/deeper",
		fx.hamt.String() + "/entry-0001",
		fx.deep.String() + "/d300",
		fx.wrap.String() + "/h/nope",
	} {
		for _, q := range []string{"", "?format=car"} {
			resp, body := get(t, srv.URL+"/ipfs/"+p+q)
			if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("%s%s: %s %q, want 404", p, q, resp.Status, body)
			}
		}
	}
}

func TestListing(t *testing.T) {
	fx := newFixture(t)
	srv := serve(t, fx.store, gateway.Options{})
	resp, _ := get(t, srv.URL+"/ipfs/"+fx.tree.String()+"/sub?x=1")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "sub/?x=1" {
		t.Errorf("directory without a slash: %s to %q, want 301 to sub/?x=1", resp.Status, resp.Header.Get("Location"))
	}
	for _, dir := range []cid.Cid{fx.tree, fx.deep} {
		u := srv.URL + "/ipfs/" + dir.String() + "/"
		resp, body := get(t, u)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("listing: %s %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		entries, err := content.ReadDirectory(context.Background(), fx.store, dir)
		if err != nil {
			t.Fatal(err)
		}
		hrefs := regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(string(body), -1)
		if len(hrefs) != len(entries) {
			t.Fatalf("%d links for %d entries", len(hrefs), len(entries))
		}
		base, _ := url.Parse(u)
		for i, e := range entries {
			if !strings.Contains(string(body), e.CID.String()) {
				t.Errorf("no CID for %q", e.Name)
			}
			// Each link leads to its entry.
			ref, err := url.Parse(html.UnescapeString(hrefs[i][1]))
			if err != nil {
				t.Fatal(err)
			}
			target := base.ResolveReference(ref)
			if want := "/ipfs/" + dir.String() + "/" + e.Name; target.Path != want {
				t.Errorf("link %q leads to %q, want %q", hrefs[i][1], target.Path, want)
			}
		}
		if strings.Contains(string(body), "<name>") {
			t.Error("a name is not escaped in the listing")
		}
	}
}

func TestErrors(t *testing.T) {
	fx := newFixture(t)
	srv := serve(t, fx.store, gateway.Options{})
	missing, _ := content.NewRawBlock([]byte("not stored"))
	sha512, _ := mh.Sum([]byte("x"), mh.SHA2_512, -1)
	root := fx.fileRoot.CID.String()
	for _, tc := range []struct {
		method, path string
		header       []string
		status       int
	}{
		{"GET", "/ipfs/not-a-cid", nil, 400},
		{"GET", "/ipfs/", nil, 400},
		{"GET", "/ipns/example.com", nil, 400},
		{"GET", "/ipfs/" + cid.NewCidV1(cid.Raw, sha512).String(), nil, 400},
		{"GET", "/ipfs/" + root + "/../x", nil, 400},
		{"GET", "/ipfs/" + root + "?format=tar", nil, 400},
		{"GET", "/ipfs/" + root + "?format=car&dag-scope=most", nil, 400},
		{"GET", "/ipfs/" + root + "?format=car&car-version=2", nil, 400},
		{"GET", "/ipfs/" + root + "?format=car&car-order=bfs", nil, 400},
		{"GET", "/ipfs/" + root, []string{"Accept", "application/vnd.ipld.car; version=2"}, 406},
		{"GET", "/ipfs/" + root, []string{"Accept", "application/vnd.ipld.dag-json"}, 406},
		{"GET", "/ipfs/" + root, []string{"Accept", "application/vnd.ipld.car; order=bfs, text/html;q=0.1"}, 200},
		{"POST", "/ipfs/" + root, nil, 405},
		{"GET", "/ipfs/" + missing.CID().String(), nil, 404},
		{"GET", "/ipfs/" + missing.CID().String() + "?format=raw", nil, 404},
		{"GET", "/ipfs/" + missing.CID().String() + "?format=car", nil, 404},
		{"HEAD", "/ipfs/" + missing.CID().String() + "?format=car", nil, 404},
		{"HEAD", "/ipfs/" + missing.CID().String() + "?format=raw", nil, 404},
		{"HEAD", "/ipfs/" + missing.CID().String(), nil, 404},
	} {
		resp, body, err := fetch(t, tc.method, srv.URL+tc.path, tc.header...)
		if err != nil || resp.StatusCode != tc.status {
			t.Errorf("%s %s %v: %v %s %q, want %d", tc.method, tc.path, tc.header, err, resp.Status, body, tc.status)
		}
		if tc.status >= 400 && tc.method == "GET" && (resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || len(body) == 0) {
			t.Errorf("%s: error body %q of type %q", tc.path, body, resp.Header.Get("Content-Type"))
		}
	}

	// Failures of the getter.
	other, _ := content.NewRawBlock([]byte("another block"))
	wrongBlock := content.BlockGetter(getterFunc(func(ctx context.Context, c cid.Cid) (content.Block, error) { return other, nil }))
	for _, tc := range []struct {
		name   string
		g      content.BlockGetter
		status int
	}{
		{"hash mismatch", getterFunc(func(ctx context.Context, c cid.Cid) (content.Block, error) {
			return content.Block{}, fmt.Errorf("from a peer: %w", content.ErrHashMismatch)
		}), 502},
		{"corrupt", getterFunc(func(ctx context.Context, c cid.Cid) (content.Block, error) {
			return content.Block{}, &content.CorruptBlockError{CID: c, Quarantined: "/secret/path", Reason: content.ErrHashMismatch}
		}), 502},
		{"wrong block", wrongBlock, 502},
		{"closed", getterFunc(func(ctx context.Context, c cid.Cid) (content.Block, error) {
			return content.Block{}, content.ErrStoreClosed
		}), 503},
		{"other", getterFunc(func(ctx context.Context, c cid.Cid) (content.Block, error) {
			return content.Block{}, errors.New("boom")
		}), 500},
		{"timeout", getterFunc(func(ctx context.Context, c cid.Cid) (content.Block, error) {
			<-ctx.Done() // a peer that never answers
			return content.Block{}, ctx.Err()
		}), 504},
	} {
		var (
			mu       sync.Mutex
			reported []int
		)
		srv := serve(t, tc.g, gateway.Options{BlockTimeout: 20 * time.Millisecond, OnError: func(r *http.Request, status int, err error) {
			mu.Lock()
			reported = append(reported, status)
			mu.Unlock()
		}})
		for _, q := range []string{"", "?format=raw", "?format=car"} {
			resp, body := get(t, srv.URL+"/ipfs/"+root+q)
			if resp.StatusCode != tc.status {
				t.Errorf("%s%s: %s %q, want %d", tc.name, q, resp.Status, body, tc.status)
			}
			if strings.Contains(string(body), "/secret/path") {
				t.Errorf("%s: the error shows a store path: %q", tc.name, body)
			}
		}
		mu.Lock()
		if len(reported) != 3 || reported[0] != tc.status {
			t.Errorf("%s: OnError saw %v", tc.name, reported)
		}
		mu.Unlock()
	}
}

type getterFunc func(ctx context.Context, c cid.Cid) (content.Block, error)

func (f getterFunc) Get(ctx context.Context, c cid.Cid) (content.Block, error) { return f(ctx, c) }

// TestAbortMidStream checks that a block failing after the response has
// started breaks the transfer: the client must not see a complete-looking
// body.
func TestAbortMidStream(t *testing.T) {
	fx := newFixture(t)
	order := dfsOrder(t, fx.store, fx.fileRoot.CID, false)
	bad := order[len(order)*2/3]
	g := hookGetter{BlockGetter: fx.store, hook: func(ctx context.Context, c cid.Cid) error {
		if c.Equals(bad) {
			return fmt.Errorf("peer gone: %w", content.ErrNotFound)
		}
		return nil
	}}
	aborted := make(chan error, 10)
	srv := serve(t, g, gateway.Options{OnError: func(r *http.Request, status int, err error) {
		if status == 0 {
			aborted <- err
		}
	}})
	for _, q := range []string{"?format=car", "?format=car&car-dups=y", "", "?format=car&entity-bytes=0:*"} {
		resp, body, err := fetch(t, http.MethodGet, srv.URL+"/ipfs/"+fx.fileRoot.CID.String()+q)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", q, resp.Status)
		}
		if err == nil {
			t.Errorf("%s: the body ended cleanly after %d bytes; want a broken transfer", q, len(body))
		}
		if q != "" {
			// What did arrive is valid up to the break.
			cr, err := gateway.NewCARReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for ; ; n++ {
				if _, err = cr.NextBlock(); err != nil {
					break
				}
			}
			if n >= len(order) {
				t.Errorf("%s: %d blocks arrived, the whole DAG, though one failed", q, n)
			}
		}
		select {
		case err := <-aborted:
			if !errors.Is(err, content.ErrNotFound) {
				t.Errorf("%s: OnError got %v", q, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: OnError not called for the abort", q)
		}
	}
}

// TestCARStreams checks that a CAR is written as its blocks arrive, with
// several fetched at once: the client reads the first blocks while a later
// one has not been fetched.
func TestCARStreams(t *testing.T) {
	fx := newFixture(t)
	order := dfsOrder(t, fx.store, fx.fileRoot.CID, false)
	// Hold a leaf (a node would stop the walk until its children are
	// known): the blocks after it are fetched while it is held, so at
	// least two fetches are in flight at once, however fast each is.
	at := 40
	for at < len(order) && order[at].Prefix().Codec != cid.Raw {
		at++
	}
	if at == len(order) {
		t.Fatal("no leaf after the 40th block")
	}
	held := order[at]
	release := make(chan struct{})
	g := &countGetter{BlockGetter: hookGetter{BlockGetter: fx.store, hook: func(ctx context.Context, c cid.Cid) error {
		if c.Equals(held) {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}}}
	srv := serve(t, g, gateway.Options{Concurrency: 8})
	resp, err := http.Get(srv.URL + "/ipfs/" + fx.fileRoot.CID.String() + "?format=car")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan int, 1)
	go func() {
		cr, err := gateway.NewCARReader(resp.Body)
		n := 0
		for err == nil && n < at {
			if _, err = cr.NextBlock(); err == nil {
				n++
			}
		}
		got <- n
	}()
	select {
	case n := <-got:
		if n != at {
			t.Fatalf("read %d blocks before the held one, want %d", n, at)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the blocks before a held one did not arrive: the CAR is not streamed")
	}
	close(release)
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("after the release: %v (%d bytes)", err, len(rest))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.maxOnce < 2 {
		t.Errorf("at most %d fetch at once", g.maxOnce)
	}
	if g.maxOnce > 8 {
		t.Errorf("%d fetches at once, over Concurrency 8", g.maxOnce)
	}
}

func TestProbe(t *testing.T) {
	srv := serve(t, content.NewMemStore(), gateway.Options{})
	resp, body := get(t, srv.URL+"/ipfs/bafkqaaa?format=raw")
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Content-Type") != ctRaw {
		t.Errorf("raw probe: %s, %d bytes, %q", resp.Status, len(body), resp.Header.Get("Content-Type"))
	}
	roots, blocks := getCAR(t, srv.URL+"/ipfs/bafkqaaa", "Accept", "application/vnd.ipld.car")
	if len(roots) != 1 || roots[0].String() != "bafkqaaa" || len(blocks) != 0 {
		t.Errorf("CAR probe: roots %v, %d blocks", roots, len(blocks))
	}
	resp, _, err := fetch(t, http.MethodHead, srv.URL+"/ipfs/bafkqaaa?format=car")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD probe: %v %s", err, resp.Status)
	}
}

// TestNonUnixFS serves a dag-pb node that is not UnixFS: raw and CAR
// responses work, a plain one is 501.
func TestNonUnixFS(t *testing.T) {
	store := content.NewMemStore()
	leaf, _ := content.NewRawBlock([]byte("a leaf"))
	node, _ := content.NewBlock(content.CodecDagPB, content.PBNode{Links: []content.Link{{CID: leaf.CID(), Name: "x"}}, Data: []byte{0xff, 0xff}}.Encode())
	putAll(t, store, []content.Block{leaf, node})
	srv := serve(t, store, gateway.Options{})
	u := srv.URL + "/ipfs/" + node.CID().String()
	if _, body := get(t, u+"?format=raw"); !bytes.Equal(body, node.Data()) {
		t.Error("raw: not the block")
	}
	if _, blocks := getCAR(t, u+"?format=car"); !equalCIDs(cids(blocks), []cid.Cid{node.CID(), leaf.CID()}) {
		t.Errorf("CAR: %v", cids(blocks))
	}
	if _, blocks := getCAR(t, u+"?format=car&dag-scope=entity"); len(blocks) != 1 {
		t.Errorf("CAR of the entity: %d blocks, want the node", len(blocks))
	}
	if resp, body := get(t, u); resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("plain: %s %q, want 501", resp.Status, body)
	}
}

// bufferGetter is a store that can fill the reader's buffers, as
// content.DiskStore does.
type bufferGetter struct {
	*content.MemStore
	mu    sync.Mutex
	calls int
}

func (g *bufferGetter) GetBuffer(ctx context.Context, c cid.Cid, buf []byte) (content.Block, error) {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	b, err := g.Get(ctx, c)
	if err != nil || cap(buf) < b.Size() {
		return b, err
	}
	return content.BlockFromCID(c, append(buf[:0], b.Data()...))
}

func TestFileBytesIntoBuffers(t *testing.T) {
	fx := newFixture(t)
	g := &bufferGetter{MemStore: fx.store}
	srv := serve(t, g, gateway.Options{})
	resp, body := get(t, srv.URL+"/ipfs/"+fx.tree.String()+"/sub/big.bin")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, fx.file) {
		t.Fatalf("%s, %d bytes, want %d", resp.Status, len(body), len(fx.file))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.calls == 0 {
		t.Error("the file reader did not use the store's buffers")
	}
}
