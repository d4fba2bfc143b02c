//go:build js && wasm

// Command wasm is the meshfs browser node compiled to WebAssembly: it
// starts a browser.Node (package meshfs/wasm/browser) with its blocks in
// IndexedDB and its identity in localStorage, joined to the daemons that
// globalThis.meshfsConfig names, and publishes a promise-based API on
// globalThis.meshfs for the page: ready, peers(), status(), ls(path),
// stat(path), readFile(path), read(path, offset, length),
// writeFile(path, Uint8Array|Blob, onProgress) (making missing folders),
// mkdir(path), rename(a, b), rm(path), cat(cid) and root().
//
// The node fetches file bytes over HTTP from the trustless gateway of the
// daemon that served the page (same origin) with the browser's fetch(): a
// read as one CAR stream, which car.js cuts into blocks and hashes with
// crypto.subtle in a Web Worker, off the page's thread (the thread that
// runs Go); the blocks' bytes stay in JavaScript until the file reader
// copies them into buffers it reuses, and the IndexedDB cache stores them
// from there. A read's bytes go straight into the Uint8Array it returns.
package main
