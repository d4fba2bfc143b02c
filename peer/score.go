package peer

import (
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// scoreboard keeps what this node has learned of each peer's behaviour: how
// many corrupt blocks it served or pushed, its run of failed requests, and
// how many requests are in flight to it. Peers past the corruption threshold
// are bad for good (until restart); peers with a run of failures are suspect
// for a backoff. The clock is injected.
type scoreboard struct {
	mu        sync.Mutex
	now       func() time.Time
	threshold int           // corrupt blocks that make a peer bad
	backoff   time.Duration // how long a peer with failures stays suspect
	peers     map[peer.ID]*peerScore
}

type peerScore struct {
	corrupt      int
	failures     int // consecutive
	suspectUntil time.Time
	inflight     int
	refused      int       // its requests refused here since refusedSince
	refusedSince time.Time // the start of the flood window they count in
}

// A peer whose requests this node refuses floodRefusals times within
// floodWindow is flooding it: block requests over its limit of requests
// in progress (an honest peer never has more in progress than its stream
// pool holds, fewer than the limit), and frames over our protocols'
// limits (which honest peers never send). Malformed requests do not
// count: a newer peer's request kind looks malformed to an older one.
const (
	floodRefusals = 64
	floodWindow   = 10 * time.Second
)

func newScoreboard(threshold int, backoff time.Duration, now func() time.Time) *scoreboard {
	return &scoreboard{now: now, threshold: threshold, backoff: backoff, peers: map[peer.ID]*peerScore{}}
}

func (s *scoreboard) get(p peer.ID) *peerScore {
	ps := s.peers[p]
	if ps == nil {
		ps = &peerScore{}
		s.peers[p] = ps
	}
	return ps
}

// corrupt records a corrupt block from p and reports whether p has just
// become bad.
func (s *scoreboard) corrupt(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.get(p)
	ps.corrupt++
	return ps.corrupt == s.threshold
}

// refused records a request of p refused here (over its limit, or
// oversized), and reports whether p has just become a flooder
// (floodRefusals within floodWindow).
func (s *scoreboard) refused(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.get(p)
	now := s.now()
	if now.Sub(ps.refusedSince) > floodWindow {
		ps.refused, ps.refusedSince = 0, now
	}
	ps.refused++
	return ps.refused == floodRefusals
}

// failure records a failed request to p (unreachable, timed out, reset).
// Three in a row make p suspect for the backoff.
func (s *scoreboard) failure(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.get(p)
	ps.failures++
	if ps.failures >= 3 {
		ps.suspectUntil = s.now().Add(s.backoff)
	}
}

// success records an answered request to p.
func (s *scoreboard) success(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.get(p)
	ps.failures = 0
	ps.suspectUntil = time.Time{}
}

// bad reports whether p served or pushed too many corrupt blocks.
func (s *scoreboard) bad(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.peers[p]
	return ps != nil && ps.corrupt >= s.threshold
}

// avoid reports whether p should not be asked now: bad or suspect.
func (s *scoreboard) avoid(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.avoidLocked(p)
}

func (s *scoreboard) avoidLocked(p peer.ID) bool {
	ps := s.peers[p]
	return ps != nil && (ps.corrupt >= s.threshold || s.now().Before(ps.suspectUntil))
}

// begin and end bracket a request to p, for load spreading.
func (s *scoreboard) begin(p peer.ID) {
	s.mu.Lock()
	s.get(p).inflight++
	s.mu.Unlock()
}

func (s *scoreboard) end(p peer.ID) {
	s.mu.Lock()
	s.get(p).inflight--
	s.mu.Unlock()
}

// rank orders peers for a read: peers to avoid last, then peers that served
// corrupt blocks, then fewest requests in flight; ties keep the given
// (closeness) order.
func (s *scoreboard) rank(ps []peer.ID) []peer.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	type r struct {
		avoid            bool
		corrupt, pending int
	}
	keys := make(map[peer.ID]r, len(ps))
	for _, p := range ps {
		var x r
		if sc := s.peers[p]; sc != nil {
			x = r{s.avoidLocked(p), sc.corrupt, sc.inflight}
		}
		keys[p] = x
	}
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b peer.ID) int {
		ka, kb := keys[a], keys[b]
		switch {
		case ka.avoid != kb.avoid:
			if ka.avoid {
				return 1
			}
			return -1
		case ka.corrupt != kb.corrupt:
			return ka.corrupt - kb.corrupt
		}
		return ka.pending - kb.pending
	})
	return out
}
