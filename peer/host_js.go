//go:build js

package peer

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/sec"
	basichost "github.com/libp2p/go-libp2p/p2p/host/basic"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
)

// newHost builds the browser's libp2p host from go-libp2p's parts (the
// top-level constructor does not build for js/wasm): a swarm whose only
// transport dials out over the browser's WebSocket, Noise, Yamux, the
// resource manager and the gater. A browser cannot listen, so cfg's listen
// addresses are ignored.
func newHost(cfg Config, key crypto.PrivKey, gater *Gater, rmOpts ...rcmgr.Option) (host.Host, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("peer: identity: %w", err)
	}
	ps, err := pstoremem.NewPeerstore()
	if err != nil {
		return nil, fmt.Errorf("peer: peerstore: %w", err)
	}
	if err := ps.AddPrivKey(id, key); err != nil {
		return nil, fmt.Errorf("peer: peerstore: %w", err)
	}
	if err := ps.AddPubKey(id, key.GetPublic()); err != nil {
		return nil, fmt.Errorf("peer: peerstore: %w", err)
	}
	limits := rcmgr.DefaultLimits
	addBlockLimits(&limits, cfg)
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.Scale(cfg.MemoryLimit, cfg.MaxFDs)), rmOpts...)
	if err != nil {
		return nil, fmt.Errorf("peer: resource manager: %w", err)
	}
	bus := eventbus.NewBus()
	sw, err := swarm.NewSwarm(id, ps, bus, swarm.WithResourceManager(rm), swarm.WithConnectionGater(gater))
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("peer: swarm: %w", err)
	}
	nz, err := noise.New(noise.ID, key, nil)
	if err != nil {
		sw.Close()
		return nil, fmt.Errorf("peer: noise: %w", err)
	}
	up, err := upgrader.New([]sec.SecureTransport{nz},
		[]upgrader.StreamMuxer{{ID: yamux.ID, Muxer: yamux.DefaultTransport}}, nil, rm, gater)
	if err != nil {
		sw.Close()
		return nil, fmt.Errorf("peer: upgrader: %w", err)
	}
	if err := sw.AddTransport(newBrowserWebSocket(up, rm)); err != nil {
		sw.Close()
		return nil, fmt.Errorf("peer: transport: %w", err)
	}
	h, err := basichost.NewHost(sw, &basichost.HostOpts{EventBus: bus, EnablePing: true, UserAgent: "meshfs-browser"})
	if err != nil {
		sw.Close()
		return nil, fmt.Errorf("peer: host: %w", err)
	}
	h.Start()
	return h, nil
}
