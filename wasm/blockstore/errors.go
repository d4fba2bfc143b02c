package blockstore

import "errors"

// Sentinel errors of the browser block store; check them with [errors.Is].
// A Store also returns the content layer's sentinels: [content.ErrNotFound],
// [content.ErrStoreClosed], [content.ErrUnsupportedCID], and a
// [*content.CorruptBlockError] (wrapping [content.ErrCorruptBlock]) for a
// stored block that no longer matches its CID.
var (
	// ErrUnavailable is returned by [Open] when IndexedDB cannot be used:
	// outside a browser, in a context without indexedDB, or when the browser
	// refuses to open the database (some private modes do). The caller falls
	// back to [NewMemory] or [content.NewMemStore].
	ErrUnavailable = errors.New("blockstore: IndexedDB unavailable")

	// errBadRecord is a backend's report that the value stored under a
	// block's key is not a block's bytes; the Store treats it as corruption.
	errBadRecord = errors.New("blockstore: stored value is not a block")
)
