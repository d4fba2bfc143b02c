package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startDaemon runs `meshfs daemon` in-process on a new repo and returns its
// daemon.json once it is ready; the daemon stops at the end of the test.
func startDaemon(t *testing.T, args ...string) daemonInfo {
	t.Helper()
	return startDaemonIn(t, filepath.Join(t.TempDir(), "repo"), nil, args...)
}

// startDaemonIn runs `meshfs daemon` in-process on repo and returns its
// daemon.json once it is written and ready(info) holds (nil: at once).
func startDaemonIn(t *testing.T, repo string, ready func(daemonInfo) bool, args ...string) daemonInfo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errout bytes.Buffer
	go func() {
		done <- run(ctx, append([]string{"daemon", "--repo", repo, "--listen", "/ip4/127.0.0.1/tcp/0", "--api", "127.0.0.1:0"}, args...),
			stdio{in: strings.NewReader(""), out: &out, errout: &errout})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("daemon exit code %d", code)
		}
		if _, err := os.Stat(filepath.Join(repo, daemonFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("daemon.json left after a clean stop: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(repo, daemonFile))
		if err == nil {
			var info daemonInfo
			if err := json.Unmarshal(b, &info); err != nil {
				t.Fatal(err)
			}
			if ready == nil || ready(info) {
				return info
			}
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("daemon exited with %d: %s", code, errout.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon not ready after 30 s")
		}
	}
}

func TestDaemonServesTheCommands(t *testing.T) {
	info := startDaemon(t, "--replication", "1", "--write-quorum", "1")
	if _, err := os.Stat(filepath.Join(info.Repo, configFile)); err != nil {
		t.Fatalf("no config file: %v", err)
	}
	p, data := writeFixture(t, 1<<20+7)

	code, out, errout := meshfs(t, nil, "add", "-q", "--api", info.API, p)
	if code != 0 {
		t.Fatalf("add: %d %s", code, errout)
	}
	cid := strings.TrimSpace(out)
	if _, want, _ := meshfs(t, nil, "add", "--only-hash", "-q", p); strings.TrimSpace(want) != cid {
		t.Fatalf("daemon CID %s, local CID %s", cid, want)
	}
	code, out, errout = meshfs(t, nil, "cat", "--api", info.API, cid)
	if code != 0 || out != string(data) {
		t.Fatalf("cat: %d %s (%d bytes)", code, errout, len(out))
	}
	code, out, _ = meshfs(t, nil, "cat", "--api", info.API, cid, "--offset", "1000", "--length", "10")
	if code != 0 || out != string(data[1000:1010]) {
		t.Fatalf("cat range: %d %q", code, out)
	}
	dst := filepath.Join(t.TempDir(), "got.bin")
	if code, _, errout := meshfs(t, nil, "get", "--api", info.API, cid, "-o", dst); code != 0 {
		t.Fatalf("get: %s", errout)
	}
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get wrote different bytes: %v", err)
	}
	code, out, _ = meshfs(t, nil, "block", "where", "--api", info.API, cid)
	if code != 0 || strings.TrimSpace(out) != info.ID {
		t.Fatalf("block where: %d %q, want %s", code, out, info.ID)
	}
	code, out, _ = meshfs(t, nil, "status", "--api", info.API)
	if code != 0 || !strings.Contains(out, info.ID) || !strings.Contains(out, "stored") {
		t.Fatalf("status: %d %q", code, out)
	}
	if code, _, _ := meshfs(t, nil, "peers", "--api", info.API); code != 0 {
		t.Fatalf("peers: %d", code)
	}
	// A missing block is a clear error, not a hang.
	code, _, errout = meshfs(t, nil, "cat", "--api", info.API, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
	if code != 1 || !strings.Contains(errout, "not found") {
		t.Fatalf("cat of a missing block: %d %q", code, errout)
	}
}

func TestDaemonQuorumError(t *testing.T) {
	info := startDaemon(t) // R=3, W=2, alone
	p, _ := writeFixture(t, 100)
	code, _, errout := meshfs(t, nil, "add", "--api", info.API, p)
	if code != 1 || !strings.Contains(errout, "1 of 1 home peers acknowledged (write quorum 2)") {
		t.Fatalf("add with one peer: %d %q", code, errout)
	}
}

func TestDaemonCommandLineErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"daemon"}, 2, "--repo"},
		{[]string{"daemon", "--repo", t.TempDir(), "--replication", "2", "--write-quorum", "3"}, 2, "write quorum 3"},
		{[]string{"daemon", "--repo", t.TempDir(), "--bootstrap", "/ip4/127.0.0.1/tcp/1"}, 2, "bootstrap"},
		{[]string{"cat", "--api", "nota url", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}, 2, "--api"},
		{[]string{"cat", "--api", "http://127.0.0.1:1", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}, 1, "no daemon answers"},
		{[]string{"get", "--api", "http://127.0.0.1:1", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}, 2, "-o FILE"},
		{[]string{"block", "nope"}, 2, "block where"},
		{[]string{"status", "--api", "http://127.0.0.1:1"}, 1, "no daemon answers"},
	} {
		code, _, errout := meshfs(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(errout, tc.msg) {
			t.Errorf("meshfs %v: exit %d, %q; want %d and %q", tc.args, code, errout, tc.code, tc.msg)
		}
	}
}

func TestDaemonRejectsUnknownSetting(t *testing.T) {
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, configFile), []byte("replicaton = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errout := meshfs(t, nil, "daemon", "--repo", repo)
	if code != 1 || !strings.Contains(errout, `unknown setting "replicaton"`) {
		t.Fatalf("daemon with a misspelled setting: %d %q", code, errout)
	}
}
