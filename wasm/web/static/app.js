// The meshfs page: it starts the browser node (meshfs.wasm) with the
// configuration the daemon gives, then browses, reads and writes the
// namespace through globalThis.meshfs. Everything below is that API's
// client; no file bytes go through the daemon's HTTP API.
"use strict";

const $ = (id) => document.getElementById(id);
let cwd = "/";
let online = false;

function say(text, info) {
  const d = document.createElement("div");
  d.textContent = text;
  if (info) d.className = "info";
  $("msg").appendChild(d);
  setTimeout(() => d.remove(), info ? 3000 : 8000);
}

// explain turns a rejected call into a sentence a person can act on.
function explain(what, err) {
  const kind = err && err.kind;
  const why = {
    notexist: "it does not exist",
    exist: "something with that name already exists",
    notallowed: "this browser is not allowed to change the namespace (ask for `meshfs fs allow`)",
    nowriter: "no writer is reachable right now: the mesh may be offline or electing one",
    unknown: "the mesh did not say whether it was applied; refresh to see",
    notempty: "the folder is not empty",
    notdir: "a part of the path is not a folder",
    isdir: "it is a folder",
  }[kind];
  say(`${what} failed: ${why || (err && err.message) || err}`);
}

function size(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

function join(dir, name) { return dir === "/" ? "/" + name : dir + "/" + name; }

function setState(cls, text) { const s = $("state"); s.className = "badge " + cls; s.textContent = text; }

async function status() {
  try {
    const [st, peers] = await Promise.all([meshfs.status(), meshfs.peers()]);
    const list = $("peers");
    list.replaceChildren(...peers.map((p) => {
      const li = document.createElement("li");
      li.textContent = (p.voter ? "voter " : "") + p.id.slice(-8) + " " + (p.addr || "");
      return li;
    }));
    online = peers.length > 0;
    setState(online ? "ok" : "bad", online ? `online · ${peers.length} peers` : "offline: no daemon reachable");
    $("writer").textContent = st.writer ? `writer …${st.writer.slice(-8)} · term ${st.term}` : "no writer known";
    $("self").textContent = "this tab …" + st.self.slice(-8);
  } catch (e) { setState("bad", "error: " + e.message); }
}

function crumbs() {
  const nav = $("crumbs");
  nav.replaceChildren();
  const parts = cwd.split("/").filter(Boolean);
  const add = (label, path) => {
    const a = document.createElement("a");
    a.textContent = label;
    a.onclick = () => openDir(path);
    nav.append(a, " / ");
  };
  add("root", "/");
  parts.forEach((p, i) => add(p, "/" + parts.slice(0, i + 1).join("/")));
}

async function openDir(dir) {
  try {
    const entries = await meshfs.ls(dir);
    cwd = dir;
    crumbs();
    $("level").textContent = entries.length ? `read: ${entries[0].level}` : "";
    entries.sort((a, b) => (a.kind === "dir") === (b.kind === "dir") ? a.name.localeCompare(b.name) : a.kind === "dir" ? -1 : 1);
    const rows = entries.map((e) => {
      const tr = document.createElement("tr");
      const name = document.createElement("td");
      name.className = "name";
      name.textContent = e.kind === "dir" ? e.name + "/" : e.name;
      name.onclick = () => e.kind === "dir" ? openDir(e.path) : preview(e);
      const sz = document.createElement("td");
      sz.className = "num";
      sz.textContent = e.kind === "dir" ? "" : size(e.size);
      const mt = document.createElement("td");
      mt.textContent = new Date(e.mtime).toLocaleString();
      const acts = document.createElement("td");
      acts.className = "acts";
      const btn = (label, f) => { const b = document.createElement("button"); b.textContent = label; b.onclick = f; acts.append(b); };
      if (e.kind === "file") btn("Download", () => download(e));
      btn("Rename", () => rename(e));
      btn("Delete", () => remove(e));
      tr.append(name, sz, mt, acts);
      return tr;
    });
    $("list").tBodies[0].replaceChildren(...rows);
  } catch (e) { explain("Listing " + dir, e); }
}

const textLike = /\.(txt|md|json|js|go|c|h|py|sh|csv|log|html|css|xml|yaml|yml|toml)$/i;
const imageLike = /\.(png|jpe?g|gif|webp|svg)$/i;

async function preview(e) {
  const pv = $("pv");
  pv.textContent = "Reading " + e.name + "…";
  try {
    if (imageLike.test(e.name)) {
      const data = await meshfs.readFile(e.path);
      const img = document.createElement("img");
      img.src = URL.createObjectURL(new Blob([data], { type: e.name.endsWith(".svg") ? "image/svg+xml" : "" }));
      pv.replaceChildren(img);
    } else if (textLike.test(e.name) || e.size <= 64 * 1024) {
      const data = await meshfs.read(e.path, 0, Math.min(e.size, 256 * 1024));
      const pre = document.createElement("pre");
      pre.textContent = new TextDecoder().decode(data) + (e.size > data.length ? "\n…" : "");
      pv.replaceChildren(pre);
    } else {
      pv.textContent = `${e.name}: ${size(e.size)}, no preview for this kind of file.`;
    }
    const cid = document.createElement("div");
    cid.className = "muted";
    cid.textContent = "CID " + e.cid;
    pv.append(cid);
  } catch (err) { pv.textContent = ""; explain("Reading " + e.path, err); }
}

async function download(e) {
  try {
    const data = await meshfs.readFile(e.path);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([data]));
    a.download = e.name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (err) { explain("Downloading " + e.path, err); }
}

async function rename(e) {
  const to = prompt("Rename or move " + e.path + " to:", e.path);
  if (!to || to === e.path) return;
  try { await meshfs.rename(e.path, to); say("Renamed to " + to, true); } catch (err) { explain("Renaming " + e.path, err); }
  openDir(cwd);
}

async function remove(e) {
  if (!confirm("Delete " + e.path + (e.kind === "dir" ? " and everything in it" : "") + "?")) return;
  try { await meshfs.rm(e.path); } catch (err) { explain("Deleting " + e.path, err); }
  openDir(cwd);
}

async function upload(files) {
  const total = files.reduce((s, f) => s + f.size, 0);
  let before = 0;
  $("progress").hidden = false;
  for (const f of files) {
    const t0 = performance.now();
    try {
      await meshfs.writeFile(join(cwd, f.name), f, (done) => {
        $("bar").value = total ? (before + done) / total : 1;
        $("ptext").textContent = `${f.name}: ${size(done)} of ${size(f.size)}`;
      });
      const s = (performance.now() - t0) / 1000;
      say(`Uploaded ${f.name} (${size(f.size)}, ${(f.size / 1048576 / Math.max(s, 0.001)).toFixed(1)} MiB/s)`, true);
    } catch (err) { explain("Uploading " + f.name, err); }
    before += f.size;
  }
  $("progress").hidden = true;
  openDir(cwd);
}

function wire() {
  $("up").onclick = () => openDir(cwd === "/" ? "/" : cwd.slice(0, cwd.lastIndexOf("/")) || "/");
  $("refresh").onclick = () => openDir(cwd);
  $("mkdir").onclick = async () => {
    const name = prompt("New folder in " + cwd + ":");
    if (!name) return;
    try { await meshfs.mkdir(join(cwd, name)); } catch (err) { explain("Making " + name, err); }
    openDir(cwd);
  };
  $("pick").onchange = (ev) => { upload([...ev.target.files]); ev.target.value = ""; };
  const drop = $("drop");
  drop.ondragover = (ev) => { ev.preventDefault(); drop.classList.add("over"); };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (ev) => { ev.preventDefault(); drop.classList.remove("over"); upload([...ev.dataTransfer.files]); };
}

async function boot() {
  wire();
  let cfg;
  try {
    cfg = await (await fetch("/config.json")).json();
  } catch (e) { setState("bad", "offline: the daemon that served this page does not answer"); return; }
  if (!cfg.built) { setState("bad", "the browser node is not built into this daemon: run make build"); return; }
  // An https page may open only secure WebSockets (docs/wss.md).
  if (location.protocol === "https:") cfg.daemons = cfg.daemons.filter((a) => /\/(wss|tls\/ws)(\/|$)/.test(a) || /\/tls\/sni\/[^/]+\/ws(\/|$)/.test(a));
  if (!cfg.daemons.length) { setState("bad", "no daemon address this page may dial (an https page needs wss: see docs/wss.md)"); return; }
  globalThis.meshfsConfig = cfg;
  const go = new Go();
  const { instance } = await WebAssembly.instantiateStreaming(fetch("/meshfs.wasm"), go.importObject);
  go.run(instance);
  try {
    await meshfs.ready;
  } catch (e) { setState("bad", "could not start: " + e.message); return; }
  globalThis.meshfsReadyMs = performance.now();
  await status();
  setInterval(status, 3000);
  openDir("/");
}

boot();
