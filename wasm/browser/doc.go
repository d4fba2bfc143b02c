// Package browser is the browser's meshfs node: a mesh peer that can dial
// but not listen, a DHT client, a non-voting member of one namespace and a
// local block cache. It reads the tree through a voter (strong) and falls
// back to the newest signed root record (eventual) when no voter answers;
// it chunks files itself, pushes their blocks to their home peers with W
// acknowledgements, and proposes each change through the writer. It builds
// everywhere, so it is tested natively against real daemons; the wasm
// binary in package wasm wraps it for JavaScript.
package browser
