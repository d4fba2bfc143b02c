// Package blockstore is the browser node's block cache: a [content.Store]
// over the browser's IndexedDB, bounded in bytes, that evicts the least
// recently used blocks and re-verifies every block it reads.
//
// The browser node keeps only the blocks it read or wrote; the mesh holds
// the durable copies, so eviction loses nothing. Open it once per page and
// fall back to memory when the browser will not give a database:
//
//	s, err := blockstore.Open(ctx, blockstore.DefaultConfig())
//	if errors.Is(err, blockstore.ErrUnavailable) { // e.g. some private modes
//		s, err = blockstore.NewMemory(blockstore.DefaultConfig())
//	}
//
// [NewMemory] is the same Store over a map, with the same bound; outside a
// GOOS=js GOARCH=wasm build, [Open] always fails with [ErrUnavailable].
//
// Behaviour, beyond the [content.Store] contract:
//   - Bound: Config.MaxBytes (256 MiB by default, at least
//     [content.MaxBlockSize]). A Put that passes it evicts the least recently
//     used blocks in the same IndexedDB transaction that adds the block
//     ([Store.PutMany] adds many in one transaction, for a cache filled in
//     batches; [Store.PutBodies] too, from bytes held outside Go's memory,
//     storing JavaScript arrays as they are). A
//     Get and a Put of a block already held count as uses; Has, All and
//     Stat do not.
//   - Recency survives a reload: each use takes the next stamp of a logical
//     clock (no wall clock, so no ties or skew), kept per block in IndexedDB
//     and loaded at Open. Stamps are written with the next write, every 64
//     distinct blocks read, by [Store.Flush] and by [Store.Close]; a tab
//     killed without either loses at most the last few dozen uses' order,
//     never blocks. A page should call Flush on pagehide.
//   - Verification: every Get re-hashes the bytes against the CID
//     ([content.BlockFromCID], or [content.BlockFromCIDHasher] with
//     Config.Hash); a block that does not match, or a stored
//     value that is not bytes, is deleted and reported as a
//     [*content.CorruptBlockError] (wrapping [content.ErrCorruptBlock]).
//   - Open repairs the database: records without blocks, blocks without
//     records and keys that are not CIDv1 strings are deleted, and blocks
//     past a lowered bound are evicted.
//
// The database (Config.Name, version 1) has two object stores keyed by CID
// string: "blocks" holds each block's bytes as a Uint8Array, "meta" holds
// {size, used}. The Store's account of sizes and recency lives in memory
// (lru.go, pure Go, tested natively); it is authoritative while the Store
// is open, so only one Store per database should be open in a page, and a
// connection closes itself when another asks to upgrade or delete the
// database (operations fail after that).
//
// IndexedDB is asynchronous: each operation starts its transaction under
// the Store's mutex (so IndexedDB applies them in the order the account
// changed) and then waits on a channel fed by js.FuncOf callbacks, which
// only send and return; a context that ends aborts a write's transaction
// (undone in the account) or abandons a read.
//
// The IndexedDB tests run under Node.js with an in-memory IndexedDB
// (testdata/nodeexec installs the pinned npm package fake-indexeddb on
// first use):
//
//	GOOS=js GOARCH=wasm go test -exec "$PWD/wasm/blockstore/testdata/nodeexec" ./wasm/blockstore/
//
// A plain `go test` runs the same Store tests over the memory backend.
package blockstore
