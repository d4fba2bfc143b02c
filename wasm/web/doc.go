// Package web serves the browser page of meshfs: the page itself, the
// browser node compiled to WebAssembly (gzip-compressed, as application/wasm)
// with the toolchain's wasm_exec.js that must match it, and the page's
// configuration (the namespace, its voters, and the daemons' WebSocket
// addresses). `make build` compiles the node into dist/, which the daemon
// embeds; a daemon built without it serves the page with a message saying
// so, or the files of another folder (Options.Dist).
package web
