//go:build unix

package fsclient_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"meshfs/fsclient"
	"meshfs/testnet"
)

// mesh is the testnet every test of the package shares: 3 daemons, all
// voters of the namespace. Each test works in a folder of its own.
var mesh struct {
	net   *testnet.Net
	peers []testnet.Peer
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(func() int {
		if testing.Short() {
			return m.Run()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		bin, cleanup, err := testnet.BuildInTemp(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "build:", err)
			return 1
		}
		defer cleanup()
		dir, err := os.MkdirTemp("", "fsclient-testnet-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		net, err := testnet.Start(ctx, testnet.Config{
			Binary: bin, Dir: dir, Peers: 3, Ready: 60 * time.Second,
			OnExit: func(p testnet.Peer) { fmt.Fprintf(os.Stderr, "peer %d exited: %s; log %s\n", p.Index, p.Exit, p.Log) },
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "testnet:", err)
			return 1
		}
		defer net.Close()
		mesh.net, mesh.peers = net, net.Peers()
		return m.Run()
	}())
}

// client returns a client of peer i, skipping the test in -short mode.
func client(t *testing.T, i int, opts ...fsclient.Option) *fsclient.Client {
	t.Helper()
	if mesh.net == nil {
		t.Skip("no testnet in -short mode")
	}
	c, err := fsclient.New(mesh.peers[i].API, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testDir makes an empty folder for the test (named after it; what an
// earlier run left there is removed) and returns its path.
func testDir(t *testing.T, c *fsclient.Client) string {
	t.Helper()
	dir := "/" + t.Name()
	if err := c.RemoveAll(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if err := c.MkdirAll(t.Context(), dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
