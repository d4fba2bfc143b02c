//go:build !js

package peer

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"
)

// resourceLimits returns the resource manager's limits: libp2p's defaults
// for its own services, scaled to cfg's memory and file descriptors, plus
// the block protocol's own limits.
func resourceLimits(cfg Config) rcmgr.ConcreteLimitConfig {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	addBlockLimits(&limits, cfg)
	return limits.Scale(cfg.MemoryLimit, cfg.MaxFDs)
}

// preferTCP dials TCP addresses at once and the others (QUIC, WebSocket)
// half a second later, so daemons move blocks over TCP: on this kind of
// machine it carries bulk data with less CPU than QUIC, and a dead peer's
// TCP connection closes at once where a QUIC one idles out after 30 s.
func preferTCP(addrs []ma.Multiaddr) []network.AddrDelay {
	out := make([]network.AddrDelay, 0, len(addrs))
	for _, a := range addrs {
		d := 500 * time.Millisecond
		if isPlainTCP(a) {
			d = 0
		}
		out = append(out, network.AddrDelay{Addr: a, Delay: d})
	}
	return out
}

// isPlainTCP reports whether a is a TCP address with no WebSocket on top.
func isPlainTCP(a ma.Multiaddr) bool {
	tcp := false
	for _, c := range a {
		switch c.Protocol().Code {
		case ma.P_TCP:
			tcp = true
		case ma.P_WS, ma.P_WSS, ma.P_TLS:
			return false
		}
	}
	return tcp
}

// splitListenAddrs separates the secure WebSocket listen addresses from
// the others, and reports one that has no certificate for it.
func splitListenAddrs(cfg Config) (others []string, secure []ma.Multiaddr, err error) {
	for _, s := range cfg.ListenAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil || !IsSecureWebSocket(a) {
			others = append(others, s) // libp2p.ListenAddrStrings reports a bad one
			continue
		}
		if cfg.WebSocketTLS == nil {
			return nil, nil, fmt.Errorf("%w: listen address %s is secure WebSocket and needs a certificate (Config.WebSocketTLS)", ErrInvalidConfig, s)
		}
		secure = append(secure, a)
	}
	return others, secure, nil
}

// newHost builds the libp2p host: TCP, QUIC and WebSocket (secure with
// cfg.WebSocketTLS), Noise, Yamux, the resource manager (built with rmOpts)
// and the gater; no relay, no NAT port mapping.
//
// go-libp2p starts when one of its listen addresses works and only logs the
// others' failures. The secure WebSocket ones, which exist for browsers, are
// opened one by one after it, so that their failure (no certificate, port in
// use, a name that resolves to no address of this machine) stops the start.
func newHost(cfg Config, key crypto.PrivKey, gater *Gater, rmOpts ...rcmgr.Option) (host.Host, error) {
	others, secure, err := splitListenAddrs(cfg)
	if err != nil {
		return nil, err
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(resourceLimits(cfg)), rmOpts...)
	if err != nil {
		return nil, fmt.Errorf("peer: resource manager: %w", err)
	}
	h, err := libp2p.New(
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(others...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Transport(websocket.New, websocket.WithTLSConfig(cfg.WebSocketTLS)),
		// TLS 1.3 first (AES-GCM runs on the CPU's AES instructions, several
		// times faster than Noise's ChaCha20 here); Noise for peers that
		// only speak it, such as browsers.
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionGater(gater),
		libp2p.DialRanker(preferTCP),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("peer: host: %w", err)
	}
	for _, a := range secure {
		if err := h.Network().Listen(a); err != nil {
			h.Close()
			return nil, fmt.Errorf("peer: listen on %s: %w", a, err)
		}
	}
	return h, nil
}
