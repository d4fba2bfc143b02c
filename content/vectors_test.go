package content_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/internal/fixture"
)

// cidVectors are the CIDs that `ipfs add --cid-version=1 --chunker=size-N`
// (Kubo 0.43.1) prints for the first Size fixture bytes. The first three are
// the published check values; the rest sit on chunk and link boundaries
// (174 links * 256 KiB = 45613056) or use other chunk sizes.
var cidVectors = []struct {
	size  int64
	chunk int
	cid   string
}{
	{0, 262144, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
	{262145, 262144, "bafybeic2hufye5pe64jn5rbyvyaemliboahrhc6rxndshuhywymrhk26my"},
	{10485767, 262144, "bafybeidszgjm7lykah2s57j4eqdvzlnrchd7jrie3ujzvpt45bzpyimjpq"},
	{1, 262144, "bafkreic75tvwn76in44nsutynrwws3dzyln4eoo5j2i3izzj245cp62x5e"},
	{1, 1024, "bafkreic75tvwn76in44nsutynrwws3dzyln4eoo5j2i3izzj245cp62x5e"},
	{2048, 262144, "bafkreieoux7lpwb7flhozahte4myddaimc74vy7rco4woopu43g2pqaoae"},
	{2048, 1024, "bafybeiclhb7hkno5uyxjcl4y5v44qpp5goeftjeddn2crvphloqgcderhy"},
	{262143, 262144, "bafkreicy26elxaq2ahp62c45dcisr7anvviezhtw74x2aqi6ux5rdqimim"},
	{262143, 4000, "bafybeihd3fbct5yjqzdvuuxvrsycj2y7cp2idbqu53pv2rppvi3uvf22qe"},
	{262144, 262144, "bafkreidxcblxyoul6a4yk5bw4kr4zfvf4kkhw3fhicwmac6xjfoushqlre"},
	{262144, 1024, "bafybeihjuvoucx4p7d2puf4q2tc6t2ncwip4f66mgxbhjmk4jxzxvtoamq"},
	{262144, 4000, "bafybeihj6reb33rylgh2xvpdfvoe3tgmtroo6wsdj7ps7qq2s2xja6atae"},
	{262145, 1024, "bafybeiga6qa3p3jpw3jwxioepnvbnhyll7776elk4zq2k3mriplta73i74"},
	{262145, 1048576, "bafkreihta4cffq6mfetrmmnanyksyhfxibzbjfkai5o4ujswluho3lcppq"},
	{262145, 4000, "bafybeifcz5wgydivh5dhpf34wh2bntb2lfpmmjifsxayd7ttjcz7g5ydue"},
	{45613056, 262144, "bafybeiacnqck7qktfkixjicbsheepo5hto3ughd4ai2mmocrj4oaxpfgea"},
	{45613056, 1024, "bafybeihrwgxwpjaov6ukkgwr3hewaibzigojuowh2u4dsvqepi3y7akomq"},
	{45613056, 1048576, "bafybeigmztzivxjteq5rfvv44gcecm3brygcwqz2avp4eqywjpblqcmqka"},
	{45613057, 262144, "bafybeihf6wa6ajwr7t4ibtpvkzaivgem2lspm4d6b54sdqadgtb4bxhikm"},
	{45613057, 4000, "bafybeibfe3lzrzwtjijignk4dtxyvxxqksmiilvxfewvlhpif7lo5ktrfy"},
	{1000000, 262144, "bafybeibtadjbkdwad5sa3c3eqan4wwx3t5ymig56ef6sefeijvcu3jven4"},
	{1000000, 1024, "bafybeia3bw2bfswwdjtnoo5e6bjq5gh5l5xcoyyd26pngfx3pf3pfy4q5q"},
	{1000000, 1048576, "bafkreidvt5upw4eiskycmftrqxgxqwspwe7p6mbwi42agqtqfddxsewc24"},
}

func TestFileCIDsMatchIPFS(t *testing.T) {
	for _, v := range cidVectors {
		if testing.Short() && v.size > 1<<20 {
			continue
		}
		root, err := content.Import(context.Background(), fixture.New(v.size), content.Discard, content.ImportOptions{ChunkSize: v.chunk})
		if err != nil {
			t.Fatalf("size %d chunk %d: %v", v.size, v.chunk, err)
		}
		if got := root.CID.String(); got != v.cid {
			t.Errorf("size %d chunk %d: CID %s, want %s", v.size, v.chunk, got, v.cid)
		}
		if root.FileSize != uint64(v.size) {
			t.Errorf("size %d chunk %d: file size %d", v.size, v.chunk, root.FileSize)
		}
	}
}

// writeVectorTree lays out the tree whose CID `ipfs add -r --hidden
// --cid-version=1` gave as treeVectorCID: nested folders, an empty file and
// folder, a hidden folder, a 700000-byte fixture file, two symlinks (one
// dangling) and a folder of 6000 entries, big enough to be HAMT-sharded.
func writeVectorTree(t *testing.T, dir string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"a/b/c", "empty", "big", ".hidden"} {
		must(os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	files := map[string][]byte{
		"a/one.txt":   []byte("hello\n"),
		"a/b/zero":    {},
		"a/b/c/r.bin": fixture.Bytes(700000),
		".hidden/h":   []byte("x"),
	}
	for i := range 6000 {
		files[filepath.Join("big", "entry-"+pad5(i)+"-"+strings.Repeat("x", i%21))] = []byte(itoa(i))
	}
	for name, data := range files {
		must(os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	must(os.Symlink("a/one.txt", filepath.Join(dir, "link")))
	must(os.Symlink("/nonexistent/target", filepath.Join(dir, "a/dangling")))
}

const treeVectorCID = "bafybeidamsrquwusv7q3qfpofcizigppzmx2733pkll7ux34ululund3ue"

// Sub-tree CIDs from the same `ipfs add -r` run.
var treeVectorParts = map[string]string{
	".":           treeVectorCID,
	"big":         "bafybeia2s6szjsx2zwj4jorqssehkw7lgo7r6ciukyefvwarpx6vhrwzhy",
	"empty":       "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354",
	"a":           "bafybeihyonikglyw25yomooakyks4v5jf535aaasinebdqbaobdbzopgbq",
	"link":        "bafybeifda3v5z7ymrsrewwnczmxrka6pzgybmkbnqucq66cvqkoio3j6gu",
	"a/dangling":  "bafybeiemf3deoos7sghiz4jgbowd7safvyflnvxgzayb75gnymjk5wzdgy",
	"a/b/c/r.bin": "bafybeigua4ctarwti2wym52vljie46ysjnzfnfeeb6byhsacdr37v4ovh4",
}

func TestTreeCIDMatchesIPFS(t *testing.T) {
	dir := t.TempDir()
	writeVectorTree(t, dir)
	store := content.NewMemStore()
	got := map[string]string{}
	root, _, err := content.ImportTree(context.Background(), os.DirFS(dir), ".", store, content.TreeOptions{
		Added: func(name string, c cid.Cid, _ uint64) { got[name] = c.String() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if root.String() != treeVectorCID {
		t.Errorf("root %s, want %s", root, treeVectorCID)
	}
	for name, want := range treeVectorParts {
		if got[name] != want {
			t.Errorf("%s: %s, want %s", name, got[name], want)
		}
	}
	// The big folder is sharded and reads back whole.
	bigCID, _ := content.ParseCID(treeVectorParts["big"])
	entries, err := content.ReadDirectory(context.Background(), store, bigCID)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 6000 {
		t.Fatalf("big has %d entries, want 6000", len(entries))
	}
}

func pad5(i int) string {
	s := itoa(i)
	return strings.Repeat("0", 5-len(s)) + s
}

func itoa(i int) string { return strconv.Itoa(i) }
