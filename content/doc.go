// Package content is meshfs's content layer: immutable, content-addressed
// blocks and the files and directories built from them, with no network.
//
// A [Block] is at most [MaxBlockSize] bytes plus the CIDv1 (sha2-256) that
// names them; the only ways to make one hash the bytes or check them against
// a given CID, so a Block in hand is always verified. Files are cut by a
// [Chunker] into raw leaves and linked into a balanced UnixFS DAG of dag-pb
// nodes ([FileBuilder], [Import]), byte for byte the DAG that
// `ipfs add --cid-version=1` makes, so a file's CID is the same in meshfs and
// in IPFS. Directories are UnixFS directories, HAMT-sharded past the size
// where IPFS shards ([BuildDirectory]). A [FileReader] reads a file DAG back
// through any [BlockGetter], streaming or at random offsets, with several
// blocks in flight.
//
// Blocks live in a [Store]: [DiskStore] is durable (a block is fsynced before
// Put returns, a torn write is never visible, every read is re-verified and a
// corrupt file is quarantined) and [MemStore] keeps them in memory. The
// package builds for GOOS=js GOARCH=wasm; its I/O is limited to the stores
// and the reader's fetching, and the DAG layout itself ([FileBuilder]) is
// pure.
package content
