package peer

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"meshfs/internal/testcert"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"

	"meshfs/content"
)

// selfSignedCert makes a certificate for 127.0.0.1 signed by itself, and
// a pool that trusts it.
func selfSignedCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	c, err := testcert.New(time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return c.TLS, c.Pool
}

// wsClient is a plain libp2p host that dials only WebSocket, checking
// secure WebSocket certificates against roots (the system's when nil).
func wsClient(t *testing.T, roots *x509.CertPool) host.Host {
	t.Helper()
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
	t.Cleanup(func() { h.Close() })
	return h
}

// secureWSAddr returns nd's one secure WebSocket address.
func secureWSAddr(t *testing.T, nd *Node) ma.Multiaddr {
	t.Helper()
	var out []ma.Multiaddr
	for _, a := range nd.Host().Addrs() {
		if IsSecureWebSocket(a) {
			out = append(out, a)
		}
	}
	if len(out) != 1 {
		t.Fatalf("secure WebSocket addresses %v among %v, want one", out, nd.Host().Addrs())
	}
	return out[0]
}

// TestSecureWebSocket starts a node with a certificate on /tls/ws and
// reaches it there from a host that trusts the certificate: a ping and a
// block fetched over the block protocol.
func TestSecureWebSocket(t *testing.T) {
	cert, roots := selfSignedCert(t)
	m := &testMesh{t: t}
	nd := m.add(func(c *Config) {
		c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0/tls/ws"}
		c.WebSocketTLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	b, err := content.NewRawBlock([]byte("over wss"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.stores[0].Put(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	addr := secureWSAddr(t, nd)
	if u, err := webSocketURL(addr); err != nil || !strings.HasPrefix(u, "wss://127.0.0.1:") {
		t.Errorf("browser URL of %s: %q, %v", addr, u, err)
	}
	if got := nd.BrowserAddrs(); len(got) != 1 || !strings.HasPrefix(got[0], addr.String()+"/p2p/") {
		t.Errorf("BrowserAddrs %v, want %s/p2p/…", got, addr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h := wsClient(t, roots)
	if err := h.Connect(ctx, peer.AddrInfo{ID: nd.ID(), Addrs: []ma.Multiaddr{addr}}); err != nil {
		t.Fatalf("connect over %s: %v", addr, err)
	}
	conns := h.Network().ConnsToPeer(nd.ID())
	if len(conns) != 1 || !IsSecureWebSocket(conns[0].RemoteMultiaddr()) {
		t.Fatalf("connections %v, want one over /tls/ws", conns)
	}
	if res := <-ping.Ping(ctx, h, nd.ID()); res.Error != nil {
		t.Fatalf("ping: %v", res.Error)
	}

	s, err := h.NewStream(ctx, nd.ID(), BlockProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bs := &blockStream{s: s, r: bufio.NewReader(s), w: bufio.NewWriter(s)}
	frame, err := bs.ask(encodeRequest(opGet, []cid.Cid{b.CID()}, 0), maxBlockFrame)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	st, c, data, err := decodeBlockFrame(frame)
	if err != nil || st != statusOK || c != b.CID() || string(data) != "over wss" {
		t.Fatalf("get: %v %v %q %v, want ok %v %q", st, c, data, err, b.CID(), "over wss")
	}
}

// TestSecureWebSocketUntrusted checks that the listener really speaks TLS
// with the given certificate: a host that does not trust it cannot connect.
func TestSecureWebSocketUntrusted(t *testing.T) {
	cert, _ := selfSignedCert(t)
	m := &testMesh{t: t}
	nd := m.add(func(c *Config) {
		c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0/wss"}
		c.WebSocketTLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	addr := secureWSAddr(t, nd)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h := wsClient(t, nil)
	err := h.Connect(ctx, peer.AddrInfo{ID: nd.ID(), Addrs: []ma.Multiaddr{addr}})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("connect over %s without trusting the certificate: %v, want an unknown authority", addr, err)
	}
}

// TestSecureWebSocketNeedsCertificate checks that a secure WebSocket
// listen address without a certificate stops the node at start, where
// go-libp2p alone would start without that listener.
func TestSecureWebSocketNeedsCertificate(t *testing.T) {
	for _, addr := range []string{"/ip4/127.0.0.1/tcp/0/tls/ws", "/ip4/127.0.0.1/tcp/0/wss", "/ip4/127.0.0.1/tcp/0/tls/sni/mesh.example/ws"} {
		cfg := testConfig()
		cfg.ListenAddrs = append(cfg.ListenAddrs, addr)
		key, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		nd, err := New(context.Background(), cfg, key, content.NewMemStore(), nil)
		if err == nil {
			nd.Close()
			t.Fatalf("%s without a certificate: node started", addr)
		}
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "WebSocketTLS") {
			t.Errorf("%s without a certificate: %v, want ErrInvalidConfig naming the address and Config.WebSocketTLS", addr, err)
		}
	}
}

// TestSecureWebSocketListenFails checks that a secure WebSocket listener
// that cannot open stops the node at start, where go-libp2p alone would
// start on the other addresses.
func TestSecureWebSocketListenFails(t *testing.T) {
	cert, _ := selfSignedCert(t)
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/tls/ws", busy.Addr().(*net.TCPAddr).Port)
	cfg := testConfig()
	cfg.ListenAddrs = append(cfg.ListenAddrs, addr)
	cfg.WebSocketTLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	nd, err := New(context.Background(), cfg, key, content.NewMemStore(), nil)
	if err == nil {
		nd.Close()
		t.Fatalf("%s on a port in use: node started", addr)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("%s on a port in use: %v, want an error naming it", addr, err)
	}
}

// TestSecureWebSocketName listens on a DNS name: the listener binds to the
// name's address and keeps the name in the address it announces, which is
// how a daemon offers browsers an address matching its certificate.
func TestSecureWebSocketName(t *testing.T) {
	cert, _ := selfSignedCert(t)
	m := &testMesh{t: t}
	nd := m.add(func(c *Config) {
		c.ListenAddrs = []string{"/dns4/localhost/tcp/0/tls/ws"}
		c.WebSocketTLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	addr := secureWSAddr(t, nd)
	if !strings.HasPrefix(addr.String(), "/dns4/localhost/tcp/") {
		t.Fatalf("listening on /dns4/localhost: address %s", addr)
	}
	if got := nd.BrowserAddrs(); len(got) != 1 || !strings.HasPrefix(got[0], addr.String()+"/p2p/") {
		t.Errorf("BrowserAddrs %v, want %s/p2p/…", got, addr)
	}
	if u, err := webSocketURL(addr); err != nil || !strings.HasPrefix(u, "wss://localhost:") {
		t.Errorf("browser URL of %s: %q, %v", addr, u, err)
	}
}

func TestIsSecureWebSocket(t *testing.T) {
	for addr, want := range map[string]bool{
		"/ip4/0.0.0.0/tcp/4103/tls/ws":               true,
		"/ip4/0.0.0.0/tcp/4103/wss":                  true,
		"/dns4/mesh.example/tcp/443/tls/sni/x.y/ws":  true,
		"/ip4/0.0.0.0/tcp/4102/ws":                   false,
		"/ip4/0.0.0.0/tcp/4101":                      false,
		"/ip4/0.0.0.0/udp/4101/quic-v1":              false,
		"/ip4/0.0.0.0/udp/4101/quic-v1/webtransport": false,
		"/dns4/mesh.example/tcp/443/tls/http":        false,
		"/ip6/::/tcp/4103/tls/ws/p2p/12D3KooWHHzSeKaY8xuZVzkLbKFfvNgPPeKhFBGrMbNzbm5akpqu": true,
	} {
		if got := IsSecureWebSocket(ma.StringCast(addr)); got != want {
			t.Errorf("IsSecureWebSocket(%s) = %v, want %v", addr, got, want)
		}
	}
}
