//go:build js && wasm

// Command wasm is the meshfs browser node compiled to WebAssembly: it
// starts a browser.Node (package meshfs/wasm/browser) with its blocks in
// IndexedDB and its identity in localStorage, joined to the daemons that
// globalThis.meshfsConfig names, and publishes a promise-based API on
// globalThis.meshfs for the page: ready, peers(), status(), ls(path),
// stat(path), readFile(path), read(path, offset, length),
// writeFile(path, Uint8Array|Blob, onProgress) (making missing folders),
// mkdir(path), rename(a, b), rm(path), cat(cid) and root().
package main
