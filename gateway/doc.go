// Package gateway serves content-addressed blocks over HTTP as an IPFS
// trustless gateway (specs.ipfs.tech/http-gateways/trustless-gateway):
// [New] returns an http.Handler for GET and HEAD /ipfs/{cid}[/path...] over
// any [content.BlockGetter]. A client asks, by Accept header or ?format=,
// for one raw block or for a CARv1 stream of the DAG at the end of the path
// (dag-scope=all|entity|block, entity-bytes=from:to), written in
// depth-first order as its blocks arrive, several fetched at once, and
// aborted rather than cut short when a block fails; without either it gets
// the UnixFS file's bytes (with Range support) or a directory listing. Only
// verified blocks go out. [CARWriter] and [CARReader] write and strictly
// read CARv1 streams, for the handler, for tests and for importing CARs.
package gateway
