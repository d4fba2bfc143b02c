package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"meshfs/internal/testcert"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"

	"meshfs/wasm/web"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key
// into dir as cert.pem and key.pem, and returns a pool that trusts it.
func writeCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	return writeCertUntil(t, dir, time.Now().Add(time.Hour))
}

// writeCertUntil is writeCert for a certificate valid until notAfter.
func writeCertUntil(t *testing.T, dir string, notAfter time.Time) *x509.CertPool {
	t.Helper()
	c, err := testcert.New(notAfter.Add(-2*time.Hour), notAfter)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), c.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), c.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return c.Pool
}

// checkSecureWebSocket finds the daemon's /tls/ws address, checks that the
// page's /config.json offers it to browsers, and connects to it and pings
// the daemon from a host that trusts roots.
func checkSecureWebSocket(t *testing.T, info daemonInfo, roots *x509.CertPool) {
	t.Helper()
	var wss string
	for _, a := range info.Addrs {
		if isSecureWebSocket(a) {
			wss = a
		}
	}
	if wss == "" {
		t.Fatalf("no /tls/ws address among %v", info.Addrs)
	}

	resp, err := http.Get(info.API + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	var pc web.Config
	err = json.NewDecoder(resp.Body).Decode(&pc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pc.Daemons, wss) {
		t.Errorf("config.json daemons %v, want %s among them", pc.Daemons, wss)
	}

	h, err := libp2p.New(
		libp2p.NoListenAddrs,
		libp2p.Transport(websocket.New, websocket.WithTLSClientConfig(&tls.Config{RootCAs: roots})),
		libp2p.Security(noise.ID, noise.New),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ai, err := peer.AddrInfoFromP2pAddr(ma.StringCast(wss))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.Connect(ctx, *ai); err != nil {
		t.Fatalf("connect over %s: %v", wss, err)
	}
	if res := <-ping.Ping(ctx, h, ai.ID); res.Error != nil {
		t.Fatalf("ping over %s: %v", wss, res.Error)
	}
}

func TestDaemonSecureWebSocketFlags(t *testing.T) {
	dir := t.TempDir()
	roots := writeCert(t, dir)
	info := startDaemon(t, "--listen", "/ip4/127.0.0.1/tcp/0/tls/ws",
		"--ws-cert", filepath.Join(dir, "cert.pem"), "--ws-key", filepath.Join(dir, "key.pem"))
	checkSecureWebSocket(t, info, roots)
}

// TestDaemonSecureWebSocketConfig gives the certificate in config.toml,
// by paths relative to the repo.
func TestDaemonSecureWebSocketConfig(t *testing.T) {
	repo := t.TempDir()
	roots := writeCert(t, repo)
	conf := "ws_cert = \"cert.pem\"\nws_key = \"key.pem\"\n"
	if err := os.WriteFile(filepath.Join(repo, configFile), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// startDaemonIn's --listen (loopback TCP) overrides config.toml's; this
	// one adds the secure WebSocket.
	info := startDaemonIn(t, repo, nil, "--listen", "/ip4/127.0.0.1/tcp/0/tls/ws")
	checkSecureWebSocket(t, info, roots)
}

func TestDaemonSecureWebSocketErrors(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir)
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	const wss = "/ip4/127.0.0.1/tcp/0/tls/ws"
	for _, tc := range []struct {
		args []string
		code int
		msg  []string
	}{
		{[]string{"--listen", wss}, 2, []string{wss, "ws_cert", "ws_key", "--ws-cert", "--ws-key"}},
		{[]string{"--listen", "/ip4/127.0.0.1/tcp/0/wss"}, 2, []string{"/wss", "ws_cert"}},
		{[]string{"--listen", wss, "--ws-cert", cert}, 2, []string{"both ws_cert and ws_key"}},
		{[]string{"--listen", wss, "--ws-key", key}, 2, []string{"both ws_cert and ws_key"}},
		{[]string{"--listen", wss, "--ws-cert", cert, "--ws-key", garbage}, 1, []string{garbage, "key"}},
		{[]string{"--listen", wss, "--ws-cert", garbage, "--ws-key", key}, 1, []string{garbage, "certificate"}},
		{[]string{"--listen", wss, "--ws-cert", missing, "--ws-key", key}, 1, []string{missing, "no such file"}},
		{[]string{"--listen", wss, "--ws-cert", key, "--ws-key", cert}, 1, []string{cert, key}},
	} {
		args := append([]string{"daemon", "--repo", filepath.Join(t.TempDir(), "repo"), "--api", "127.0.0.1:0"}, tc.args...)
		code, _, errout := meshfs(t, nil, args...)
		if code != tc.code {
			t.Errorf("meshfs %v: exit %d, want %d: %s", tc.args, code, tc.code, errout)
			continue
		}
		for _, m := range tc.msg {
			if !strings.Contains(errout, m) {
				t.Errorf("meshfs %v: %q does not say %q", tc.args, errout, m)
			}
		}
	}
}

func TestLoadWebSocketTLSExpired(t *testing.T) {
	dir := t.TempDir()
	writeCertUntil(t, dir, time.Now().Add(-time.Hour))
	cert := filepath.Join(dir, "cert.pem")
	var errout strings.Builder
	conf, err := loadWebSocketTLS(cert, filepath.Join(dir, "key.pem"), &errout)
	if err != nil || conf == nil || len(conf.Certificates) != 1 {
		t.Fatalf("expired certificate: %v, %v", conf, err)
	}
	if !strings.Contains(errout.String(), cert) || !strings.Contains(errout.String(), "expired") {
		t.Errorf("expired certificate: warning %q, want one naming %s", errout.String(), cert)
	}
	errout.Reset()
	writeCert(t, dir)
	if _, err := loadWebSocketTLS(cert, filepath.Join(dir, "key.pem"), &errout); err != nil || errout.Len() != 0 {
		t.Errorf("valid certificate: %v, warning %q", err, errout.String())
	}
}
