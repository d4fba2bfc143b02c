package member

import (
	"errors"
	"fmt"
	"io/fs"

	"meshfs/namespace"
)

var (
	// ErrNotAllowed reports a change asked for by a peer that is neither a
	// voter nor on the namespace's access list.
	ErrNotAllowed = errors.New("not allowed to change this namespace")
	// ErrNoWriter reports that no writer could be reached in time.
	ErrNoWriter = errors.New("no namespace writer reachable")
	// ErrUnknownOutcome reports a change whose fate is unknown: it was
	// taken by a writer that lost its term or went silent before it
	// committed, and it may or may not be applied later.
	ErrUnknownOutcome = errors.New("outcome unknown")
	// ErrClosed reports a request to a member that has stopped.
	ErrClosed = errors.New("member closed")
	// ErrBadRequest reports a malformed request from a peer.
	ErrBadRequest = errors.New("bad namespace request")
)

// The kinds an error travels as between members, so errors.Is still works
// on the other side.
var errorKinds = []struct {
	kind string
	err  error
}{
	{"exist", fs.ErrExist},
	{"notexist", fs.ErrNotExist},
	{"invalid", fs.ErrInvalid},
	{"permission", fs.ErrPermission},
	{"notdir", namespace.ErrNotDir},
	{"isdir", namespace.ErrIsDir},
	{"notempty", namespace.ErrNotEmpty},
	{"conflict", namespace.ErrConflict},
	{"badop", namespace.ErrBadOp},
	{"stale", namespace.ErrStaleTerm},
	{"notallowed", ErrNotAllowed},
	{"nowriter", ErrNoWriter},
	{"notwriter", ErrNotWriter},
	{"confpending", ErrConfChangePending},
	{"unknown", ErrUnknownOutcome},
	{"closed", ErrClosed},
	{"badrequest", ErrBadRequest},
}

// wireError is an error as it travels.
type wireError struct {
	Kind string `json:"kind,omitempty"`
	Op   string `json:"op,omitempty"`
	Path string `json:"path,omitempty"`
	Msg  string `json:"msg"`
}

// ErrorKind names the sentinel err wraps ("notexist", "notallowed", ...),
// "" for none: what an error is called on the wire and in the HTTP API.
func ErrorKind(err error) string {
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	return ""
}

// KindError returns the sentinel named kind, nil if none.
func KindError(kind string) error {
	for _, k := range errorKinds {
		if k.kind == kind {
			return k.err
		}
	}
	return nil
}

func encodeError(err error) *wireError {
	if err == nil {
		return nil
	}
	w := &wireError{Msg: err.Error()}
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			w.Kind = k.kind
			break
		}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		w.Op, w.Path = pe.Op, pe.Path
	}
	return w
}

// remoteError is an error that came from another member: its message as
// sent, and the sentinel it wrapped.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

func (w *wireError) decode() error {
	if w == nil {
		return nil
	}
	var kind error
	for _, k := range errorKinds {
		if k.kind == w.Kind {
			kind = k.err
		}
	}
	if w.Op != "" && kind != nil {
		if pe := (&fs.PathError{Op: w.Op, Path: w.Path, Err: kind}); pe.Error() == w.Msg {
			return pe
		}
	}
	if kind == nil {
		return errors.New(w.Msg)
	}
	return &remoteError{msg: w.Msg, kind: kind}
}

// notAllowed is the error for a change from peer.
func notAllowed(peer string) error {
	return fmt.Errorf("peer %s: %w", peer, ErrNotAllowed)
}
