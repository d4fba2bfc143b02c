package namespace

import (
	"io/fs"
	"maps"
	"slices"
)

// AnyPeer in the access list admits every peer: an open namespace.
const AnyPeer = "*"

// Allow adds Peer (a peer ID in its string form, or AnyPeer) to the
// namespace's access list. Allowing a listed peer changes nothing.
type Allow struct {
	Peer string
}

// Deny removes Peer from the access list. Denying a peer that is not
// listed changes nothing; denying one while AnyPeer is listed leaves it
// allowed (deny AnyPeer too to close the namespace).
type Deny struct {
	Peer string
}

func (Allow) Name() string { return "allow" }
func (Deny) Name() string  { return "deny" }

func (o Allow) apply(s *State) error {
	if o.Peer == "" {
		return pathErr(o.Name(), o.Peer, fs.ErrInvalid)
	}
	s.access[o.Peer] = struct{}{}
	return nil
}

func (o Deny) apply(s *State) error {
	if o.Peer == "" {
		return pathErr(o.Name(), o.Peer, fs.ErrInvalid)
	}
	delete(s.access, o.Peer)
	return nil
}

// Allowed reports whether peer may use the namespace: it is listed, or
// AnyPeer is. The empty string is no peer and never allowed.
func (s *State) Allowed(peer string) bool {
	if peer == "" {
		return false
	}
	_, listed := s.access[peer]
	_, open := s.access[AnyPeer]
	return listed || open
}

// AccessList returns the listed peers, sorted (AnyPeer among them if the
// namespace is open).
func (s *State) AccessList() []string {
	return slices.Sorted(maps.Keys(s.access))
}
