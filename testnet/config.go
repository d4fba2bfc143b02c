package testnet

import (
	"fmt"
	"strings"
	"time"
)

// DefaultReady is how long Start, Restart, AddPeer and WaitMesh wait for
// daemons and the mesh when Config.Ready is zero.
const DefaultReady = 60 * time.Second

// Config says what mesh Start launches.
type Config struct {
	// Binary is the path of the meshfs binary.
	Binary string
	// Dir holds the repos (Dir/peer-NN), the daemons' logs
	// (Dir/peer-NN/daemon.log) and Dir/testnet.json. It is created if
	// needed; repos already in it are reused, identities included.
	Dir string
	// Peers is how many daemons to start, at least 1.
	Peers int
	// DaemonArgs are extra flags for every daemon, such as
	// --repair-interval 2s. The flags the testnet sets itself (--repo,
	// --listen, --api, --bootstrap) are refused.
	DaemonArgs []string
	// Ready bounds the wait for the daemons and the mesh (DefaultReady if
	// zero).
	Ready time.Duration
	// Voters is how many of the first peers are the namespace's voters
	// (every daemon gets --voters naming them): 0 means min(3, Peers),
	// negative means no namespace.
	Voters int
	// Open lets any peer change the namespace (fs allow '*'); a testnet is
	// closed otherwise: only its voters may.
	Open bool
	// OnExit, if not nil, is called from its own goroutine with a peer's
	// description when its daemon exits without being asked to.
	OnExit func(Peer)
}

// reservedFlags are the daemon flags the testnet sets for every daemon.
var reservedFlags = []string{"repo", "listen", "api", "bootstrap", "voters"}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Binary == "":
		return fmt.Errorf("%w: no meshfs binary", ErrInvalidConfig)
	case c.Dir == "":
		return fmt.Errorf("%w: no folder", ErrInvalidConfig)
	case c.Peers < 1:
		return fmt.Errorf("%w: %d peers, need at least 1", ErrInvalidConfig, c.Peers)
	case c.Ready < 0:
		return fmt.Errorf("%w: negative ready timeout %v", ErrInvalidConfig, c.Ready)
	case c.Voters > 7 || c.Voters > c.Peers:
		return fmt.Errorf("%w: %d voters of %d peers: at most 7, and no more than the peers", ErrInvalidConfig, c.Voters, c.Peers)
	case c.Open && c.Voters < 0:
		return fmt.Errorf("%w: an open testnet needs a namespace (voters >= 0)", ErrInvalidConfig)
	}
	for _, a := range c.DaemonArgs {
		name, ok := flagName(a)
		if !ok {
			continue
		}
		for _, r := range reservedFlags {
			if name == r {
				return fmt.Errorf("%w: daemon flag --%s is set by the testnet", ErrInvalidConfig, r)
			}
		}
	}
	return nil
}

// voters returns how many peers are voters.
func (c Config) voters() int {
	switch {
	case c.Voters < 0:
		return 0
	case c.Voters == 0:
		return min(3, c.Peers)
	}
	return c.Voters
}

// ready returns the ready timeout in effect.
func (c Config) ready() time.Duration {
	if c.Ready == 0 {
		return DefaultReady
	}
	return c.Ready
}

// flagName returns the name of the flag in the argument a ("-x", "--x",
// "--x=v").
func flagName(a string) (string, bool) {
	if len(a) < 2 || a[0] != '-' {
		return "", false
	}
	name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	name, _, _ = strings.Cut(name, "=")
	return name, name != ""
}
