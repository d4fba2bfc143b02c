// Package browser holds the end-to-end tests of the browser node: a real
// testnet of daemons serving the page, and a real headless Chromium that
// loads it, starts the wasm node and reads and writes the namespace through
// window.meshfs, checked against the daemons' own API.
package browser
