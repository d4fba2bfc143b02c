package web

import (
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

//go:embed static
var static embed.FS

//go:embed all:dist
var dist embed.FS

// The names of the built files in a dist folder.
const (
	WasmFile     = "meshfs.wasm.gz"
	WasmExecFile = "wasm_exec.js"
)

// Config is what the page needs to start the browser node.
type Config struct {
	Namespace   string   `json:"namespace"`
	Voters      []string `json:"voters"`
	Daemons     []string `json:"daemons"` // WebSocket multiaddrs with /p2p/ID
	Replication int      `json:"replication"`
	WriteQuorum int      `json:"writeQuorum"`
}

// Options configure the handler.
type Options struct {
	// Dist holds meshfs.wasm.gz and wasm_exec.js; nil means the ones built
	// into this binary.
	Dist fs.FS
	// Config returns the page's configuration, asked at every page load.
	Config func(r *http.Request) Config
}

// Handler serves the page at /, its assets, the wasm and /config.json.
func Handler(opts Options) http.Handler {
	if opts.Dist == nil {
		sub, err := fs.Sub(dist, "dist")
		if err != nil {
			panic(err) // the embedded folder always exists
		}
		opts.Dist = sub
	}
	assets, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	h := &handler{opts: opts, assets: assets}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.asset("index.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /app.js", h.asset("app.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /style.css", h.asset("style.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /wasm_exec.js", h.wasmExec)
	mux.HandleFunc("GET /meshfs.wasm", h.wasm)
	mux.HandleFunc("GET /config.json", h.config)
	return mux
}

type handler struct {
	opts   Options
	assets fs.FS

	etagOnce sync.Once
	etag     string
}

func (h *handler) asset(name, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(h.assets, name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	}
}

// built reports whether the handler has a browser node to serve.
func (h *handler) built() bool {
	_, err := fs.Stat(h.opts.Dist, WasmFile)
	return err == nil
}

func (h *handler) wasmExec(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(h.opts.Dist, WasmExecFile)
	if err != nil {
		http.Error(w, "the browser node is not built into this daemon: run make build", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

// wasm serves the compressed node as it is to browsers that take gzip
// (all do) and inflates it for the others. Its ETag is its hash, so a
// browser revalidates it cheaply and never runs a stale build.
func (h *handler) wasm(w http.ResponseWriter, r *http.Request) {
	f, err := h.opts.Dist.Open(WasmFile)
	if err != nil {
		http.Error(w, "the browser node is not built into this daemon: run make build", http.StatusNotFound)
		return
	}
	defer f.Close()
	h.etagOnce.Do(func() {
		if b, err := fs.ReadFile(h.opts.Dist, WasmFile); err == nil {
			sum := sha256.Sum256(b)
			h.etag = `"` + hex.EncodeToString(sum[:16]) + `"`
		}
	})
	hd := w.Header()
	hd.Set("Content-Type", "application/wasm")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Vary", "Accept-Encoding")
	if h.etag != "" {
		hd.Set("ETag", h.etag)
		if r.Header.Get("If-None-Match") == h.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if acceptsGzip(r) {
		hd.Set("Content-Encoding", "gzip")
		if st, err := f.Stat(); err == nil {
			hd.Set("Content-Length", strconv.FormatInt(st.Size(), 10))
		}
		_, _ = io.Copy(w, f)
		return
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = io.Copy(w, zr)
}

func (h *handler) config(w http.ResponseWriter, r *http.Request) {
	var c Config
	if h.opts.Config != nil {
		c = h.opts.Config(r)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	out := struct {
		Config
		Built bool `json:"built"`
	}{c, h.built()}
	_ = json.NewEncoder(w).Encode(out)
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// pages are the URL paths Handler serves.
var pages = []string{"/", "/app.js", "/style.css", "/wasm_exec.js", "/meshfs.wasm", "/config.json"}

// Patterns are Handler's paths as http.ServeMux patterns, for a daemon
// that mounts it beside its API.
func Patterns() []string {
	out := make([]string, len(pages))
	for i, p := range pages {
		if p == "/" {
			p = "/{$}"
		}
		out[i] = "GET " + p
	}
	return out
}

// IsPage reports whether a URL path is one of the page's (public: they
// hold no data of the namespace).
func IsPage(path string) bool { return slices.Contains(pages, path) }
