package browser

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"meshfs/member"
)

func TestStrongOrEventual(t *testing.T) {
	noVoter := fmt.Errorf("%w: no voter answers", member.ErrNoWriter)
	tests := []struct {
		name      string
		strong    error // what the strong read returns
		eventual  error
		cancelled bool // the caller's context ends first
		wantLevel member.Level
		wantErr   error
	}{
		{name: "strong answers", wantLevel: member.Strong},
		{name: "strong says not found", strong: fs.ErrNotExist, wantLevel: member.Strong, wantErr: fs.ErrNotExist},
		{name: "no voter: eventual", strong: noVoter, wantLevel: member.Eventual},
		{name: "voter too slow: eventual", strong: context.DeadlineExceeded, wantLevel: member.Eventual},
		{name: "eventual fails too", strong: noVoter, eventual: fs.ErrNotExist, wantLevel: member.Eventual, wantErr: fs.ErrNotExist},
		{name: "caller gave up", strong: noVoter, cancelled: true, wantLevel: member.Strong, wantErr: member.ErrNoWriter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var asked []member.Level
			read := func(ctx context.Context, l member.Level) (string, error) {
				asked = append(asked, l)
				if l == member.Strong {
					if tt.cancelled {
						cancel()
					}
					if tt.strong != nil {
						return "", tt.strong
					}
					return "strong", nil
				}
				if tt.eventual != nil {
					return "", tt.eventual
				}
				return "eventual", nil
			}
			v, level, err := strongOrEventual(ctx, time.Second, t.Logf, read)
			if level != tt.wantLevel || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("got %q at %s, %v; want level %s, error %v", v, level, err, tt.wantLevel, tt.wantErr)
			}
			if err == nil && v != string(level) {
				t.Fatalf("got %q from the %s read", v, level)
			}
			if want := 1 + btoi(level == member.Eventual); len(asked) != want {
				t.Fatalf("asked %v", asked)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestParseDaemons(t *testing.T) {
	const id = "12D3KooWHHzSeKaY8xuZVzkLbKFfvNgPPeKhFBGrMbNzbm5akpqu"
	infos, err := parseDaemons([]string{
		"/ip4/127.0.0.1/tcp/4102/ws/p2p/" + id,
		"/ip6/::1/tcp/4102/ws/p2p/" + id,
	})
	if err != nil || len(infos) != 1 || len(infos[0].Addrs) != 2 || infos[0].ID.String() != id {
		t.Fatalf("two addresses of one daemon: %+v, %v", infos, err)
	}
	for _, bad := range [][]string{nil, {"not a multiaddr"}, {"/ip4/127.0.0.1/tcp/4102/ws"}} {
		if _, err := parseDaemons(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := parseDaemons(nil); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("no daemons: %v, want ErrNoDaemon", err)
	}
}
