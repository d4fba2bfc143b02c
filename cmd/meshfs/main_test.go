package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meshfs/internal/fixture"
)

// meshfs runs the command line in-process and returns its exit code and
// output.
func meshfs(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errout bytes.Buffer
	code := run(context.Background(), args, stdio{in: bytes.NewReader(stdin), out: &out, errout: &errout})
	return code, out.String(), errout.String()
}

func writeFixture(t *testing.T, n int) (string, []byte) {
	t.Helper()
	data := fixture.Bytes(n)
	p := filepath.Join(t.TempDir(), "in.bin")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func TestAddOnlyHashPrintsIPFSCID(t *testing.T) {
	const want = "bafybeic2hufye5pe64jn5rbyvyaemliboahrhc6rxndshuhywymrhk26my"
	p, data := writeFixture(t, 262145)
	code, out, errout := meshfs(t, nil, "add", "--only-hash", "-q", p)
	if code != 0 || out != want+"\n" {
		t.Fatalf("add --only-hash -q: code %d, out %q, err %q", code, out, errout)
	}
	// From standard input, flags after the argument, without -q.
	code, out, _ = meshfs(t, data, "add", "-", "--only-hash")
	if code != 0 || out != "added "+want+" -\n" {
		t.Fatalf("add - --only-hash: code %d, out %q", code, out)
	}
	// Another chunk size gives IPFS's CID for that chunker.
	code, out, _ = meshfs(t, nil, "add", "--only-hash", "-q", "--chunk-size", "1024", p)
	if code != 0 || out != "bafybeiga6qa3p3jpw3jwxioepnvbnhyll7776elk4zq2k3mriplta73i74\n" {
		t.Fatalf("--chunk-size 1024: code %d, out %q", code, out)
	}
}

func TestAddThenCatFromRepo(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	p, data := writeFixture(t, 3_000_001)
	code, out, errout := meshfs(t, nil, "add", "--repo", repo, "-q", p)
	if code != 0 {
		t.Fatalf("add: %d %s", code, errout)
	}
	c := strings.TrimSpace(out)
	code, out, errout = meshfs(t, nil, "cat", "--repo", repo, c)
	if code != 0 || out != string(data) {
		t.Fatalf("cat: code %d, %d bytes, err %q", code, len(out), errout)
	}
	code, out, _ = meshfs(t, nil, "cat", "--repo", repo, c, "--offset", "262140", "--length", "10")
	if code != 0 || out != string(data[262140:262150]) {
		t.Fatalf("cat range: code %d, %q", code, out)
	}
	code, out, _ = meshfs(t, nil, "cat", "--repo", repo, c, "--offset", "2999990")
	if code != 0 || out != string(data[2999990:]) {
		t.Fatalf("cat tail: code %d, %q", code, out)
	}
	t.Setenv("MESHFS_REPO", repo)
	code, out, _ = meshfs(t, nil, "cat", c, "--offset", "5000000")
	if code != 0 || out != "" {
		t.Fatalf("cat past the end: code %d, %q", code, out)
	}
}

func TestAddTreeAndLs(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(root, "sub"), 0o755)
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(root, "sub", "b"), []byte("b"), 0o644)
	repo := filepath.Join(dir, "repo")
	code, _, errout := meshfs(t, nil, "add", "--repo", repo, root)
	if code != 1 || !strings.Contains(errout, "use -r") {
		t.Fatalf("add of a folder without -r: %d %q", code, errout)
	}
	code, out, errout := meshfs(t, nil, "add", "--repo", repo, "-r", root)
	if code != 0 {
		t.Fatalf("add -r: %d %s", code, errout)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := strings.Fields(lines[len(lines)-1])
	if len(lines) != 4 || last[0] != "added" || last[2] != "tree" {
		t.Fatalf("add -r printed %q", out)
	}
	code, out, _ = meshfs(t, nil, "ls", "--repo", repo, last[1])
	if code != 0 || !strings.Contains(out, " a.txt\n") || !strings.Contains(out, " sub\n") {
		t.Fatalf("ls: %d %q", code, out)
	}
	code, _, errout = meshfs(t, nil, "cat", "--repo", repo, last[1])
	if code != 1 || !strings.Contains(errout, "not a file") {
		t.Fatalf("cat of a folder: %d %q", code, errout)
	}
}

func TestCommandLineErrors(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	p, _ := writeFixture(t, 10)
	meshfs(t, nil, "add", "--repo", repo, p)
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "Usage"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"add"}, 2, "exactly one"},
		{[]string{"add", "--api", "http://127.0.0.1:1", p}, 1, "no daemon answers"},
		{[]string{"add", "--only-hash", "--chunk-size", "10", p}, 2, "chunk size"},
		{[]string{"add", "--only-hash", "--bogus", p}, 2, "bogus"},
		{[]string{"add", "--only-hash", filepath.Join(repo, "missing")}, 1, "no such file"},
		{[]string{"cat", "--repo", repo, "nope"}, 2, "unsupported CID"},
		{[]string{"cat", "--repo", repo, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}, 1, "not found"},
		{[]string{"cat", "--repo", filepath.Join(repo, "none"), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}, 1, "no repo"},
		{[]string{"cat", "--repo", repo, "--offset", "-1", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}, 2, "negative"},
		{[]string{"add", "--only-hash", "--", p, "-q"}, 2, "exactly one"},
		{[]string{"add", "--repo", filepath.Join(repo, "new"), "--progress=bogus", p}, 2, "--progress"},
		{[]string{"add", "--help"}, 0, "ipfs add --cid-version=1"},
		{[]string{"help"}, 0, "Commands:"},
	}
	for _, tt := range tests {
		code, _, errout := meshfs(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(errout, tt.msg) {
			t.Errorf("meshfs %q: exit %d, stderr %q; want exit %d mentioning %q", tt.args, code, errout, tt.code, tt.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(repo, "new")); !os.IsNotExist(err) {
		t.Errorf("a usage error created a repo: %v", err)
	}
	// After "--", a file may be named like a flag.
	dash := filepath.Join(t.TempDir(), "-q")
	os.WriteFile(dash, []byte("hello\n"), 0o644)
	t.Chdir(filepath.Dir(dash))
	code, out, errout := meshfs(t, nil, "add", "--only-hash", "--", "-q")
	if code != 0 || out != "added bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am -q\n" {
		t.Errorf("add -- -q: exit %d, %q, %q", code, out, errout)
	}
}

func TestCatReportsCorruptBlock(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	p, _ := writeFixture(t, 1000)
	_, out, _ := meshfs(t, nil, "add", "--repo", repo, "-q", p)
	c := strings.TrimSpace(out)
	f := filepath.Join(repo, "blocks", c[len(c)-3:len(c)-1], c)
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	data[500] ^= 1
	os.WriteFile(f, data, 0o644)
	code, out, errout := meshfs(t, nil, "cat", "--repo", repo, c)
	if code != 1 || out != "" || !strings.Contains(errout, "corrupt block") || !strings.Contains(errout, "quarantined") {
		t.Fatalf("cat of a corrupt block: exit %d, %d bytes out, stderr %q", code, len(out), errout)
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	p, err := newProgress(&buf, "always", "adding", 1000)
	if err != nil {
		t.Fatal(err)
	}
	p.Set(1000)
	p.Done()
	if !strings.Contains(buf.String(), "100.0%") || !strings.HasSuffix(buf.String(), "\n") {
		t.Errorf("progress drew %q", buf.String())
	}
	buf.Reset()
	p, _ = newProgress(&buf, "auto", "adding", 1000) // a buffer is no terminal
	p.Set(500)
	p.Done()
	if buf.Len() != 0 {
		t.Errorf("auto progress on a non-terminal drew %q", buf.String())
	}
	if _, err := newProgress(&buf, "sometimes", "x", 0); err == nil {
		t.Error("bad mode accepted")
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1 << 30: "1.0 GiB"} {
		if got := human(n); got != want {
			t.Errorf("human(%d) = %q, want %q", n, got, want)
		}
	}
}
