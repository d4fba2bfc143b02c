package peer

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrQuorum reports that fewer home peers than the write quorum
	// acknowledged a block; the error is a *QuorumError.
	ErrQuorum = errors.New("peer: write quorum not reached")
	// ErrProtocol reports a malformed or oversized block-protocol message.
	ErrProtocol = errors.New("peer: protocol violation")
	// ErrRefused reports that a peer refused a request (busy, or the block
	// was rejected).
	ErrRefused = errors.New("peer: request refused")
	// ErrClosed reports use of a closed node.
	ErrClosed = errors.New("peer: node closed")
	// ErrInvalidConfig reports a configuration that cannot work.
	ErrInvalidConfig = errors.New("peer: invalid configuration")
	// ErrNoPeers reports that no peer could be asked.
	ErrNoPeers = errors.New("peer: no peers to ask")
)

// QuorumError says how many home peers acknowledged a block and why the
// others did not.
type QuorumError struct {
	Block  string // the block's CID
	Acked  int    // home peers that acknowledged it durable
	Need   int    // the write quorum W
	Homes  int    // size of the home set tried
	Causes []error
}

func (e *QuorumError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "block %s: %d of %d home peers acknowledged (write quorum %d)", e.Block, e.Acked, e.Homes, e.Need)
	for i, c := range e.Causes {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Causes)-i)
			break
		}
		fmt.Fprintf(&b, "; %v", c)
	}
	return b.String()
}

func (e *QuorumError) Unwrap() error { return ErrQuorum }
