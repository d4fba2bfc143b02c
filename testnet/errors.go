package testnet

import "errors"

var (
	// ErrInvalidConfig reports a Config that cannot start a mesh.
	ErrInvalidConfig = errors.New("testnet: invalid configuration")
	// ErrNoSuchPeer reports a peer index outside the mesh.
	ErrNoSuchPeer = errors.New("testnet: no such peer")
	// ErrState reports an operation that does not fit the peer's state, such
	// as restarting a running daemon or pausing a dead one.
	ErrState = errors.New("testnet: wrong peer state")
	// ErrPartitioned reports an operation refused while a partition is in
	// place (adding a peer: heal first).
	ErrPartitioned = errors.New("testnet: mesh is partitioned")
	// ErrNotReady reports a daemon or a mesh that did not become ready in
	// time; the error says what was missing.
	ErrNotReady = errors.New("testnet: not ready")
	// ErrDaemonExited reports a daemon that exited while it was being waited
	// for; the error carries the tail of its log.
	ErrDaemonExited = errors.New("testnet: daemon exited")
	// ErrClosed reports use of a closed Net.
	ErrClosed = errors.New("testnet: closed")
	// ErrInUse reports a testnet folder whose daemons still run.
	ErrInUse = errors.New("testnet: folder in use")
)
