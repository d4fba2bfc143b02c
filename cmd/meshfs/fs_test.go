package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"meshfs/fsclient"
	"meshfs/internal/fixture"
)

// startNamespaceDaemon runs `meshfs daemon` in-process as the one voter of
// its namespace (R=1, W=1) and returns its daemon.json once it is its
// namespace's writer; the daemon stops at the end of the test.
func startNamespaceDaemon(t *testing.T) daemonInfo {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	code, out, errout := meshfs(t, nil, "init", "--repo", repo, "--json")
	var id struct {
		ID string `json:"id"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &id) != nil {
		t.Fatalf("init: %d %q %q", code, out, errout)
	}
	return startDaemonIn(t, repo, func(info daemonInfo) bool {
		code, out, _ := meshfs(t, nil, "fs", "writer", "--json", "--api", info.API)
		return code == 0 && strings.Contains(out, `"writer": "`+id.ID)
	}, "--voters", id.ID, "--replication", "1", "--write-quorum", "1")
}

func TestFSCommands(t *testing.T) {
	info := startNamespaceDaemon(t)
	api := []string{"--api", info.API}
	big := fixture.Bytes(1<<20 + 5)
	local := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(local, big, 0o644); err != nil {
		t.Fatal(err)
	}
	const otherPeer = "12D3KooWHxAMmPoLcyBxi1YKb43K2T2wNxZPnY1AwLRzgDFaXZ1R"
	steps := []fsStep{
		{args: []string{"mkdir", "-p", "/docs/sub"}},
		{args: []string{"mkdir", "/docs"}, code: 1, has: "exists"},
		{args: []string{"write", "/docs/a.txt"}, in: "hello\n"},
		{args: []string{"cat", "/docs/a.txt"}, out: "hello\n"},
		{args: []string{"write", "--append", "/docs/a.txt"}, in: "world\n"},
		{args: []string{"write", "--offset", "0", "/docs/a.txt"}, in: "J"},
		{args: []string{"cat", "--consistency", "sequential", "/docs/a.txt"}, out: "Jello\nworld\n"},
		{args: []string{"write", "/no/such/file"}, in: "x", code: 1, has: "does not exist"},
		{args: []string{"write", "-p", "/new/dir/b"}, in: "b"},
		{args: []string{"put", local, "/docs/big.bin"}, has: "/docs/big.bin (1.0 MiB)"},
		{args: []string{"ls", "/docs"}, out: "a.txt\nbig.bin\nsub\n"},
		{args: []string{"ls", "-l", "/docs"}, has: "-rw-r--r-- 0 0      12 "},
		{args: []string{"ls", "-l", "/docs/a.txt"}, has: " a.txt\n"},
		{args: []string{"stat", "/docs"}, has: "dir"},
		{args: []string{"ln", "-s", "a.txt", "/docs/link"}},
		{args: []string{"cat", "/docs/link"}, out: "Jello\nworld\n"},
		{args: []string{"ls", "-l", "/docs"}, has: " link -> a.txt\n"},
		{args: []string{"chmod", "600", "/docs/a.txt"}},
		{args: []string{"stat", "--json", "/docs/a.txt"}, has: `"mode": "0600"`},
		{args: []string{"stat", "--json", "/docs/a.txt"}, has: `"uid": 0,`},
		{args: []string{"chown", "1000:100", "/docs/a.txt"}},
		{args: []string{"chown", ":7", "/docs/link"}},
		{args: []string{"stat", "/docs/a.txt"}, has: "owner  1000:7\n"},
		{args: []string{"chown", "-h", "5", "/docs/link"}},
		{args: []string{"stat", "--json", "/docs/link"}, has: `"uid": 5,`},
		{args: []string{"stat", "--json", "/docs/a.txt"}, has: `"uid": 1000,`},
		{args: []string{"ls", "-l", "/docs/a.txt"}, has: "-rw------- 1000 7 "},
		{args: []string{"chown", "1", "/docs/nothing"}, code: 1, has: "does not exist"},
		{args: []string{"touch", "--mtime", "2001-02-03T04:05:06Z", "/docs/a.txt"}},
		{args: []string{"stat", "--json", "/docs/a.txt"}, has: `"mtime": "2001-02-03T04:05:06Z"`},
		{args: []string{"touch", "/docs/empty"}},
		{args: []string{"cat", "/docs/empty"}, out: ""},
		{args: []string{"truncate", "5", "/docs/a.txt"}},
		{args: []string{"cat", "/docs/a.txt"}, out: "Jello"},
		{args: []string{"truncate", "1K", "/docs/link"}},
		{args: []string{"stat", "--json", "/docs/a.txt"}, has: `"size": 1024`},
		{args: []string{"mv", "/docs/a.txt", "/docs/c.txt"}},
		{args: []string{"cat", "/docs/a.txt"}, code: 1, has: "file does not exist"},
		{args: []string{"rm", "/docs"}, code: 1, has: "directory not empty"},
		{args: []string{"rm", "-r", "/new"}},
		{args: []string{"rm", "-r", "/new"}, code: 1, has: "does not exist"},
		{args: []string{"rm", "-r", "-f", "/new"}},
		{args: []string{"rm", "-f", "/nothing"}},
		{args: []string{"rm", "/docs/empty"}},
		{args: []string{"root"}, has: "writer  " + info.ID},
		{args: []string{"writer"}, has: info.ID + " (voter)"},
		{args: []string{"allow", "*"}},
		{args: []string{"deny", "*"}},
		{args: []string{"allow", otherPeer}},
	}
	runSteps := func(steps []fsStep) {
		t.Helper()
		for _, s := range steps {
			code, out, errout := meshfs(t, []byte(s.in), append(append([]string{"fs"}, s.args...), api...)...)
			switch {
			case code != s.code:
				t.Fatalf("fs %q: exit %d, want %d; stdout %q, stderr %q", s.args, code, s.code, out, errout)
			case s.out != "" && out != s.out:
				t.Fatalf("fs %q printed %q, want %q", s.args, out, s.out)
			case s.code == 0 && !strings.Contains(out, s.has):
				t.Fatalf("fs %q printed %q, want it to say %q", s.args, out, s.has)
			case s.code != 0 && !strings.Contains(errout, s.has):
				t.Fatalf("fs %q: stderr %q, want it to say %q", s.args, errout, s.has)
			}
		}
	}
	runSteps(steps)

	// cat of the put file, and the JSON of stat and root.
	if code, out, errout := meshfs(t, nil, "fs", "cat", "--api", info.API, "/docs/big.bin"); code != 0 || out != string(big) {
		t.Fatalf("cat of the put file: %d, %d bytes, %q", code, len(out), errout)
	}
	var st map[string]any
	_, out, _ := meshfs(t, nil, "fs", "stat", "--json", "--api", info.API, "/docs/big.bin")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"path", "name", "kind", "size", "mode", "mtime", "cid"} {
		if _, ok := st[k]; !ok {
			t.Errorf("stat --json lacks %q: %s", k, out)
		}
	}
	if st["path"] != "/docs/big.bin" || st["kind"] != "file" || st["size"] != float64(len(big)) || st["mode"] != "0644" {
		t.Errorf("stat --json: %s", out)
	}
	var root map[string]any
	_, out, _ = meshfs(t, nil, "fs", "root", "--json", "--api", info.API)
	if err := json.Unmarshal([]byte(out), &root); err != nil {
		t.Fatal(err)
	}
	if c, _ := root["cid"].(string); !strings.HasPrefix(c, "baf") || root["writer"] != info.ID || root["term"] == nil || root["index"] == nil {
		t.Errorf("root --json: %s", out)
	}

	// Last, as a second voter that never answers leaves the namespace
	// without a quorum: no later change or strong read could complete.
	runSteps([]fsStep{{args: []string{"voters", "add", otherPeer}}})
	// The daemon's view shows the new configuration once it applied it,
	// which may be just after the change returned.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, out, _ := meshfs(t, nil, "fs", "writer", "--api", info.API)
		if strings.Contains(out, otherPeer) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fs writer after voters add: %q", out)
		}
		time.Sleep(20 * time.Millisecond) // poll interval under a deadline
	}
}

// fsStep is one command of TestFSCommands and what it should do.
type fsStep struct {
	args []string
	in   string
	code int
	out  string // the whole of stdout, if not ""
	has  string // in stdout, or in stderr on failure
}

func TestFSCommandsWithoutNamespace(t *testing.T) {
	info := startDaemon(t, "--replication", "1", "--write-quorum", "1")
	code, _, errout := meshfs(t, nil, "fs", "ls", "--api", info.API, "/")
	if code != 1 || !strings.Contains(errout, "serves no namespace") {
		t.Fatalf("fs ls on a daemon without a namespace: %d %q", code, errout)
	}
	c, err := fsclient.New(info.API)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(t.Context(), "/"); !errors.Is(err, fsclient.ErrNoNamespace) {
		t.Fatalf("Stat: %v, want ErrNoNamespace", err)
	}
}

func TestFSCommandLineErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"fs"}, 2, "Usage: meshfs fs COMMAND"},
		{[]string{"fs", "bogus"}, 2, `unknown command "bogus"`},
		{[]string{"fs", "help"}, 0, "Commands:"},
		{[]string{"fs", "mkdir", "--help"}, 0, "missing directories"},
		{[]string{"fs", "mkdir"}, 2, "exactly one PATH"},
		{[]string{"fs", "mkdir", "--mode", "999", "/a"}, 2, "octal"},
		{[]string{"fs", "write", "--offset", "3", "--append", "/a"}, 2, "not both"},
		{[]string{"fs", "write", "--offset", "-5", "/a"}, 2, "negative"},
		{[]string{"fs", "write", "--exclusive", "--append", "/a"}, 2, "--exclusive"},
		{[]string{"fs", "put", "x"}, 2, "LOCALFILE and PATH"},
		{[]string{"fs", "put", "--progress", "bogus", "-", "/a"}, 2, "--progress"},
		{[]string{"fs", "ln", "a", "b"}, 2, "give -s"},
		{[]string{"fs", "ln", "-s", "a"}, 2, "TARGET and PATH"},
		{[]string{"fs", "chmod", "rwx", "/a"}, 2, "octal"},
		{[]string{"fs", "chown", "root", "/a"}, 2, "UID, UID:GID or :GID"},
		{[]string{"fs", "chown", "1:", "/a"}, 2, "UID, UID:GID or :GID"},
		{[]string{"fs", "chown", ":", "/a"}, 2, "UID, UID:GID or :GID"},
		{[]string{"fs", "chown", "4294967295", "/a"}, 2, "UID, UID:GID or :GID"},
		{[]string{"fs", "chown", "/a"}, 2, "UID[:GID] and PATH"},
		{[]string{"fs", "truncate", "1X", "/a"}, 2, "size"},
		{[]string{"fs", "truncate", "5"}, 2, "SIZE and PATH"},
		{[]string{"fs", "voters", "frob", "12D3KooWHxAMmPoLcyBxi1YKb43K2T2wNxZPnY1AwLRzgDFaXZ1R"}, 2, "add or rm"},
		{[]string{"fs", "voters", "add", "notapeer"}, 2, "not a peer ID"},
		{[]string{"fs", "allow", "notapeer"}, 2, "not a peer ID"},
		{[]string{"fs", "deny"}, 2, "PEER-ID"},
		{[]string{"fs", "cat", "--consistency", "bogus", "/a"}, 2, "consistency"},
		{[]string{"fs", "ls", "a", "b"}, 2, "at most one"},
		{[]string{"fs", "ls", "--api", "nota url", "/"}, 2, "--api"},
		{[]string{"fs", "touch", "--mtime", "yesterday", "/a"}, 2, "RFC 3339"},
		{[]string{"fs", "root", "extra"}, 2, "no arguments"},
		{[]string{"fs", "rm", "--bogus", "/a"}, 2, "bogus"},
		{[]string{"fs", "stat", "--api", "http://127.0.0.1:1", "/a"}, 1, "no daemon answers"},
	}
	for _, tt := range tests {
		code, _, errout := meshfs(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(errout, tt.msg) {
			t.Errorf("meshfs %q: exit %d, stderr %q; want exit %d mentioning %q", tt.args, code, errout, tt.code, tt.msg)
		}
	}
}

func TestLsFormat(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.Local)
	infos := []fs.FileInfo{
		fileInfoOf(t, `{"name":"d","kind":"dir","mode":"0755","uid":1000,"gid":100,"size":3,"mtime_ns":`+ns(now.Add(-time.Hour))+`}`),
		fileInfoOf(t, `{"name":"f","kind":"file","mode":"0644","size":12345,"mtime_ns":`+ns(now.AddDate(-1, 0, 0))+`}`),
		fileInfoOf(t, `{"name":"l","kind":"symlink","mode":"0777","uid":65534,"gid":7,"size":1,"mtime_ns":`+ns(now)+`,"target":"f"}`),
	}
	var b bytes.Buffer
	writeLong(&b, infos, now)
	want := "drwxr-xr-x  1000 100     3 Jun  1 11:00 d\n" +
		"-rw-r--r--     0   0 12345 Jun  1  2025 f\n" +
		"lrwxrwxrwx 65534   7     1 Jun  1 12:00 l -> f\n"
	if b.String() != want {
		t.Errorf("ls -l:\n%s\nwant\n%s", b.String(), want)
	}
}

// ns formats t as mtime_ns.
func ns(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

// fileInfoOf returns the fs.FileInfo of the API's JSON for an inode.
func fileInfoOf(t *testing.T, js string) fs.FileInfo {
	t.Helper()
	var i fsclient.Info
	if err := json.Unmarshal([]byte(js), &i); err != nil {
		t.Fatal(err)
	}
	return i.FileInfo()
}

func TestParseSize(t *testing.T) {
	for s, want := range map[string]int64{"0": 0, "1000": 1000, "4K": 4096, "2m": 2 << 20, "1G": 1 << 30} {
		if got, ok := parseSize(s); !ok || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "-1", "K", "1T", "1.5M", "99999999999G"} {
		if _, ok := parseSize(s); ok {
			t.Errorf("parseSize(%q) accepted", s)
		}
	}
}
