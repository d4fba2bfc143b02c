// CAR streams for the browser node (gateway.go): the body of a trustless
// gateway's CAR answer, cut into sections and hashed, in a Web Worker when
// the page can start one, so that the page's thread, which runs the Go
// node, only copies the blocks into Go.
//
// The node evaluates this file with new Function(source): it returns
// client, which it calls with the source to get {start, open}. A worker
// evaluates it too, as its script: there it answers the page's messages
// instead.
"use strict";

// cidLength returns the length of the CID at the start of section s (a
// CIDv1, or a CIDv0's bare multihash), or -1.
const cidLength = s => {
	if (s.length >= 34 && s[0] === 0x12 && s[1] === 0x20) return 34;
	let i = 0;
	const uvarint = () => {
		for (let x = 0, sh = 0; i < s.length && sh <= 28; sh += 7) {
			const b = s[i++];
			x += (b & 0x7f) * 2 ** sh;
			if (!(b & 0x80)) return x;
		}
		return -1;
	};
	if (uvarint() !== 1 || uvarint() < 0 || uvarint() < 0) return -1; // version, codec, hash function
	const n = uvarint();
	return n < 0 || i + n > s.length ? -1 : i + n;
};

// readCAR fetches url as a CAR: the HTTP status when it is not 200, or
// else {next}, where next() resolves to the sections the next chunks of
// the body complete (at least one) or to null at its end. A block's
// section is {c, b, d}: the bytes of its CID and of its block (views of a
// chunk, or of a copy when it spans chunks), and the SHA-256 of the
// block's (crypto.subtle's; none without crypto.subtle). The header (the
// first section), or a section where no CID is found, is {s}: its bytes.
const readCAR = async (url, signal, maxSection) => {
	const r = await fetch(url, {headers: {Accept: "application/vnd.ipld.car"}, cache: "no-store", signal});
	if (!r.ok) return r.status;
	const reader = r.body.getReader();
	const subtle = globalThis.crypto && globalThis.crypto.subtle;
	let cur = null, filled = 0, len = 0, shift = 0, header = true;
	const section = (out, s) => {
		const off = header ? -1 : cidLength(s);
		header = false;
		if (off < 0) return out.push({s});
		const c = s.subarray(0, off), b = s.subarray(off);
		out.push(subtle ? subtle.digest("SHA-256", b).then(d => ({c, b, d: new Uint8Array(d)})) : {c, b});
	};
	const next = async () => {
		const out = [];
		while (out.length === 0) {
			const {value, done} = await reader.read();
			if (done) {
				if (cur !== null || shift !== 0) throw new Error("CAR stream cut short");
				return null;
			}
			let off = 0;
			while (off < value.length) {
				if (cur === null) {
					const b = value[off++];
					len += (b & 0x7f) * 2 ** shift;
					shift += 7;
					if (b & 0x80) {
						if (shift > 28) throw new Error("CAR section length too long");
						continue;
					}
					const n = len;
					len = 0, shift = 0;
					if (n === 0 || n > maxSection) throw new Error("CAR section of " + n + " bytes");
					if (value.length - off >= n) {
						section(out, value.subarray(off, off + n));
						off += n;
						continue;
					}
					cur = new Uint8Array(n), filled = 0;
				} else {
					const k = Math.min(cur.length - filled, value.length - off);
					cur.set(value.subarray(off, off + k), filled);
					filled += k, off += k;
					if (filled === cur.length) section(out, cur), cur = null;
				}
			}
		}
		return Promise.all(out);
	};
	return {next};
};

// The worker's side: it reads each stream the page opens ({id, url,
// maxSection, window}) and posts {id, status} or {id, ok}, then batches of
// sections {id, secs} (their arrays transferred, not copied) while fewer
// than window bytes wait for the page's {id, ack: bytes}, then {id, end}
// or {id, error}. {id, abort} stops a stream.
const serve = () => {
	const streams = new Map();
	self.onmessage = async ({data: m}) => {
		const st = streams.get(m.id);
		if (m.ack !== undefined || m.abort) {
			if (st) {
				if (m.abort) st.ac.abort();
				else st.out -= m.ack;
				if (st.wake) st.wake(), st.wake = null;
			}
			return;
		}
		const s = {ac: new AbortController(), out: 0, wake: null};
		streams.set(m.id, s);
		try {
			const r = await readCAR(m.url, s.ac.signal, m.maxSection);
			if (typeof r === "number") {
				self.postMessage({id: m.id, status: r});
				return;
			}
			self.postMessage({id: m.id, ok: true});
			for (;;) {
				while (s.out >= m.window && !s.ac.signal.aborted) await new Promise(w => s.wake = w);
				const secs = await r.next();
				if (secs === null) {
					self.postMessage({id: m.id, end: true});
					return;
				}
				// The arrays' buffers (the chunks, and the copies of the
				// sections that spanned chunks, which nothing here uses any
				// more) are moved to the page, not copied.
				const transfer = new Set();
				for (const x of secs) {
					for (const k of ["s", "c", "b"]) if (x[k]) transfer.add(x[k].buffer), s.out += x[k].length;
				}
				self.postMessage({id: m.id, secs}, [...transfer]);
			}
		} catch (e) {
			self.postMessage({id: m.id, error: String(e)});
		} finally {
			streams.delete(m.id);
		}
	};
};

// The page's side, made from this very source: open(url, signal,
// maxSection) is readCAR, through the worker when there is one (made by
// start() or the first open(); when it cannot be made, on the page's
// thread).
const client = source => {
	let worker;
	const streams = new Map();
	let seq = 0;
	const startWorker = () => {
		try {
			const blob = new Blob(["(function () {" + source + "\n})()"], {type: "text/javascript"});
			const w = new Worker(URL.createObjectURL(blob));
			w.onmessage = ({data: m}) => {
				const st = streams.get(m.id);
				if (st) st.push(m);
			};
			w.onerror = e => {
				// The worker failed to start: fail its streams, and go on
				// without it.
				worker = null;
				for (const st of streams.values()) st.push({error: "CAR worker: " + (e.message || "failed")});
			};
			return w;
		} catch (e) {
			return null;
		}
	};
	// start makes the worker, ahead of the first stream.
	const start = () => {
		if (worker === undefined) worker = typeof Worker === "function" ? startWorker() : null;
	};
	const open = (url, signal, maxSection) => {
		start();
		if (!worker) return readCAR(url, signal, maxSection);
		const w = worker, id = ++seq, window = 8 << 20;
		return new Promise((resolve, reject) => {
			const queue = [];
			let waiter = null, opened = false;
			const st = {
				push: m => {
					if (!opened) {
						opened = true;
						if (m.ok) return resolve({next});
						streams.delete(id);
						return m.status !== undefined ? resolve(m.status) : reject(new Error(m.error));
					}
					if (m.end || m.error) streams.delete(id);
					queue.push(m);
					if (waiter) waiter(), waiter = null;
				},
			};
			const next = async () => {
				while (queue.length === 0) await new Promise(r => waiter = r);
				const m = queue.shift();
				if (m.error) {
					queue.unshift(m);
					throw new Error(m.error);
				}
				if (m.end) {
					queue.unshift(m);
					return null;
				}
				let n = 0;
				for (const x of m.secs) for (const k of ["s", "c", "b"]) if (x[k]) n += x[k].length;
				w.postMessage({id, ack: n});
				return m.secs;
			};
			streams.set(id, st);
			if (signal) {
				const abort = () => {
					w.postMessage({id, abort: true});
					st.push({error: "aborted"});
				};
				if (signal.aborted) abort();
				else signal.addEventListener("abort", abort, {once: true});
			}
			w.postMessage({id, url: new URL(url, location.href).href, maxSection, window});
		});
	};
	return {start, open};
};

if (typeof WorkerGlobalScope !== "undefined" && self instanceof WorkerGlobalScope) {
	serve();
} else {
	return client;
}
