// Preloaded by nodeexec into Node.js before Go's wasm_exec_node.js: sets
// globalThis.indexedDB (and IDBKeyRange, IDBRequest, ...) to fake-indexeddb,
// an in-memory IndexedDB, so that the js/wasm tests reach the same API as in
// a browser. Each test process starts with no databases.
"use strict";
require("fake-indexeddb/auto");
