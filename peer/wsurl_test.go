package peer

import (
	"errors"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
)

func TestWebSocketURL(t *testing.T) {
	tests := []struct {
		addr, want string
	}{
		{"/ip4/127.0.0.1/tcp/4102/ws", "ws://127.0.0.1:4102/"},
		{"/ip6/::1/tcp/4102/ws", "ws://[::1]:4102/"},
		{"/dns4/mesh.example/tcp/443/wss", "wss://mesh.example:443/"},
		{"/dns/mesh.example/tcp/443/tls/ws", "wss://mesh.example:443/"},
		{"/ip4/127.0.0.1/tcp/4102/ws/p2p/12D3KooWHHzSeKaY8xuZVzkLbKFfvNgPPeKhFBGrMbNzbm5akpqu", "ws://127.0.0.1:4102/"},
		{"/ip4/127.0.0.1/tcp/4101", ""},
		{"/ip4/127.0.0.1/udp/4101/quic-v1", ""},
		{"/p2p/12D3KooWHHzSeKaY8xuZVzkLbKFfvNgPPeKhFBGrMbNzbm5akpqu", ""},
	}
	for _, tt := range tests {
		got, err := webSocketURL(ma.StringCast(tt.addr))
		if tt.want == "" {
			if !errors.Is(err, ErrNotWebSocket) {
				t.Errorf("%s: got %q, %v; want ErrNotWebSocket", tt.addr, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
}
