package peer

import (
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
)

// addBlockLimits adds the block protocol's explicit stream and memory limits
// (in all and per peer) to limits, so one peer cannot take the whole node.
func addBlockLimits(limits *rcmgr.ScalingLimitConfig, cfg Config) {
	perPeer := cfg.MaxInboundPerPeer
	limits.AddProtocolLimit(BlockProtocol,
		rcmgr.BaseLimit{StreamsInbound: 1024, StreamsOutbound: 1024, Streams: 2048, Memory: cfg.MemoryLimit / 2},
		rcmgr.BaseLimitIncrease{})
	limits.AddProtocolPeerLimit(BlockProtocol,
		rcmgr.BaseLimit{StreamsInbound: 2 * perPeer, StreamsOutbound: 4 * perPeer, Streams: 6 * perPeer, Memory: cfg.MemoryLimit / 8},
		rcmgr.BaseLimitIncrease{})
}
