// Package browser is the browser's meshfs node: a mesh peer that can dial
// but not listen, a DHT client, a non-voting member of one namespace and a
// local block cache. It reads the tree through a voter (strong) and falls
// back to the newest signed root record (eventual) when no voter answers;
// it chunks files itself, pushes their blocks to their home peers with W
// acknowledgements, and proposes each change through the writer. It builds
// everywhere, so it is tested natively against real daemons; the wasm
// binary in package wasm wraps it for JavaScript.
//
// File bytes come from the local cache first, then from the daemons' IPFS
// trustless gateways over HTTP ([Gateways]: the daemon that served the
// page), then from the mesh. A read of a range of a file
// ([Node.OpenRange]) asks one gateway for the range as a CAR stream and
// takes its blocks as the file reader asks for them; a block the stream
// does not give, or gives wrong, is fetched alone from a gateway, else
// from the mesh, so a read goes on when the daemon that served the page
// dies. Every block is verified against its CID in the node: with Go's
// SHA-256, or with a faster one the wasm binary supplies (Config.Hash, and
// the digests its transport computes as it reads a stream, see [Section]).
// The blocks fetched are written to the cache in batches once no read is
// in progress, so that the cache costs a read nothing.
package browser
