package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"meshfs/content"
	"meshfs/gateway"
	"meshfs/member"
	meshpeer "meshfs/peer"
	"meshfs/peer/nslink"
	"meshfs/wasm/web"
)

// The daemon's HTTP API. Requests and answers are JSON except the bodies of
// add (the file's bytes) and cat (the file's bytes). Errors are
// {"error": "..."} with a status that says what kind:
// 400 bad input, 404 not found, 503 too few peers, 504 timed out.
const (
	apiAdd       = "/api/v0/add"
	apiCat       = "/api/v0/cat"
	apiWhere     = "/api/v0/block/where"
	apiHomes     = "/api/v0/block/homes"
	apiStatus    = "/api/v0/status"
	apiPeers     = "/api/v0/peers"
	apiRepair    = "/api/v0/repair"
	apiPartition = "/debug/partition"
	apiHeal      = "/debug/heal"
	apiForgeRoot = "/debug/root-record"
	// headerSize carries a file's size before its bytes on cat.
	headerSize = "X-Meshfs-Size"
)

// addResult is the answer to an add.
type addResult struct {
	CID  string `json:"cid"`
	Size uint64 `json:"size"`
	// Pinned says the namespace pinned the file; PinError why it did not.
	Pinned   bool   `json:"pinned,omitempty"`
	PinError string `json:"pin_error,omitempty"`
}

type api struct {
	node *meshpeer.Node
	ns   *member.Member // nil when this peer serves no namespace
	ref  *nslink.Ref
	now  func() time.Time
	// fsTimeout bounds a namespace call (fsRequestTimeout by default).
	fsTimeout time.Duration
}

func newAPI(node *meshpeer.Node, ns *member.Member, ref *nslink.Ref, reg *prometheus.Registry, testControl bool, fsTimeout time.Duration, page http.Handler) http.Handler {
	if fsTimeout <= 0 {
		fsTimeout = fsRequestTimeout
	}
	a := &api{node: node, ns: ns, ref: ref, now: time.Now, fsTimeout: fsTimeout}
	mux := http.NewServeMux()
	// The browser page at /, with the browser node and its configuration.
	for _, p := range web.Patterns() {
		mux.Handle(p, page)
	}
	a.routeFS(mux)
	a.routePins(mux)
	mux.HandleFunc("POST "+apiAdd, a.add)
	mux.HandleFunc("GET "+apiCat, a.cat)
	mux.HandleFunc("GET "+apiWhere, a.where)
	mux.HandleFunc("GET "+apiHomes, a.homes)
	mux.HandleFunc("GET "+apiStatus, a.status)
	mux.HandleFunc("GET "+apiPeers, a.peers)
	mux.HandleFunc("POST "+apiRepair, a.repair)
	mux.HandleFunc("POST "+apiGC, a.gcPass)
	// The IPFS trustless gateway: raw blocks, CARs and file bytes, fetched
	// through the mesh and verified.
	gw := gateway.New(node, gateway.Options{})
	mux.Handle("GET /ipfs/", gw)
	mux.Handle("HEAD /ipfs/", gw)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Go's profiler, for finding what limits a transfer.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	if testControl {
		mux.HandleFunc("POST "+apiPartition, a.partition)
		mux.HandleFunc("POST "+apiHeal, a.heal)
		mux.HandleFunc("POST "+apiForgeRoot, a.forgeRoot)
	}
	return mux
}

// apiError writes err as JSON with the status its kind calls for.
func apiError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, errBadRequest), errors.Is(err, content.ErrUnsupportedCID),
		errors.Is(err, content.ErrInvalidOption), errors.Is(err, content.ErrNotFile):
		code = http.StatusBadRequest
	case errors.Is(err, content.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		code = http.StatusNotFound
	case errors.Is(err, content.ErrNotDirectory):
		code = http.StatusBadRequest
	case errors.Is(err, meshpeer.ErrQuorum), errors.Is(err, meshpeer.ErrNoPeers):
		code = http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	case errors.Is(err, content.ErrCorruptBlock), errors.Is(err, content.ErrHashMismatch):
		code = http.StatusBadGateway
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

var errBadRequest = errors.New("bad request")

func badRequest(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, a...))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// cidArg parses the CID in the query parameter "arg".
func cidArg(r *http.Request) (cid.Cid, error) {
	s := r.URL.Query().Get("arg")
	if s == "" {
		return cid.Undef, badRequest("missing ?arg=CID")
	}
	c, err := content.ParseCID(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return c, nil
}

// pathCIDArg resolves the IPFS path in ?arg= to the CID it names.
func (a *api) pathCIDArg(r *http.Request) (cid.Cid, error) {
	s := r.URL.Query().Get("arg")
	if s == "" {
		return cid.Undef, badRequest("missing ?arg=CID")
	}
	root, names, err := content.ParseIPFSPath(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return content.ResolvePath(r.Context(), a.node, root, names)
}

func intArg(r *http.Request, name string, def int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < -1 {
		return 0, badRequest("%s=%q is not a valid number", name, s)
	}
	return v, nil
}

// add imports the request body as a file, pushing every block to its home
// peers with the write quorum.
func (a *api) add(w http.ResponseWriter, r *http.Request) {
	chunk, err := intArg(r, "chunk-size", content.DefaultChunkSize)
	if err == nil {
		err = content.CheckChunkSize(int(chunk))
	}
	if err != nil {
		apiError(w, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	// The blocks stay leased at their homes until the pin has committed
	// (or failed), so collection cannot take them however long that takes.
	leaser := a.node.NewLeaser()
	root, err := content.Import(r.Context(), r.Body, leaser, content.ImportOptions{
		ChunkSize: int(chunk),
		// Enough blocks in flight to keep every home peer's disk busy.
		Parallel: 256,
	})
	if err != nil {
		leaser.Done()
		apiError(w, fmt.Errorf("add: %w", err))
		return
	}
	res := addResult{CID: root.CID.String(), Size: root.FileSize}
	// What is added is pinned (the garbage collector frees what nothing
	// reaches), unless ?pin=0. A pin refused (this peer may not change the
	// namespace, no writer) does not undo the add: the answer says so.
	if a.ns == nil || r.URL.Query().Get("pin") == "0" {
		leaser.Done()
		writeJSON(w, http.StatusOK, res)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.fsTimeout)
	defer cancel()
	commit, err := a.pin(ctx, "", root.CID, leaser)
	if err != nil {
		leaser.Done()
		res.PinError = err.Error()
		writeJSON(w, http.StatusOK, res)
		return
	}
	if err := nslink.EndWrite(ctx, leaser, commit, nil, "the pin of add "+root.CID.String()); err != nil {
		apiError(w, err)
		return
	}
	res.Pinned = true
	writeJSON(w, http.StatusOK, res)
}

// cat streams a file's bytes, or a range of them, verified block by block.
// ?arg= is a CID, or a path below one (CID/a/b or /ipfs/CID/a/b).
func (a *api) cat(w http.ResponseWriter, r *http.Request) {
	c, err := a.pathCIDArg(r)
	if err != nil {
		apiError(w, err)
		return
	}
	a.serveFile(w, r, c)
}

// serveFile streams the file c, or the range ?offset= and ?length= ask
// for, verified block by block.
func (a *api) serveFile(w http.ResponseWriter, r *http.Request, c cid.Cid) {
	off, err := intArg(r, "offset", 0)
	if err != nil {
		apiError(w, err)
		return
	}
	n, err := intArg(r, "length", -1)
	if err != nil {
		apiError(w, err)
		return
	}
	fr, err := content.NewFileReader(r.Context(), a.node, c, 32)
	if err != nil {
		apiError(w, err)
		return
	}
	defer fr.Close()
	if n < 0 {
		n = fr.Size()
	}
	rng, err := fr.Range(off, n)
	if err != nil {
		apiError(w, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	defer rng.Close()
	want := max(0, min(n, fr.Size()-off))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(headerSize, strconv.FormatInt(fr.Size(), 10))
	w.Header().Set("Content-Length", strconv.FormatInt(want, 10))
	sw := &sentWriter{ResponseWriter: w}
	if _, err := io.Copy(sw, rng); err != nil {
		if !sw.sent {
			// Nothing is out (the first block could not be had): the
			// status can still say why.
			w.Header().Del("Content-Length")
			w.Header().Del(headerSize)
			apiError(w, err)
			return
		}
		// The status is out: abort so the client sees a broken transfer,
		// never a short file that looks whole.
		panic(http.ErrAbortHandler)
	}
}

// sentWriter notes whether anything was written to the response.
type sentWriter struct {
	http.ResponseWriter
	sent bool
}

func (s *sentWriter) Write(p []byte) (int, error) {
	s.sent = true
	return s.ResponseWriter.Write(p)
}

func (a *api) where(w http.ResponseWriter, r *http.Request) {
	c, err := cidArg(r)
	if err != nil {
		apiError(w, err)
		return
	}
	holders, err := a.node.Where(r.Context(), c)
	if err != nil {
		apiError(w, err)
		return
	}
	out := make([]string, len(holders))
	for i, p := range holders {
		out[i] = p.String()
	}
	writeJSON(w, http.StatusOK, map[string]any{"cid": c.String(), "holders": out})
}

// homes returns a block's home set: from this peer's view of the mesh, or
// with ?lookup=1 from a DHT lookup, with the time the lookup took.
func (a *api) homes(w http.ResponseWriter, r *http.Request) {
	c, err := cidArg(r)
	if err != nil {
		apiError(w, err)
		return
	}
	start := time.Now()
	var homes []peer.ID
	if r.URL.Query().Get("lookup") == "1" {
		if homes, err = a.node.LookupHomes(r.Context(), c); err != nil {
			apiError(w, err)
			return
		}
	} else {
		homes = a.node.Homes(c)
	}
	took := time.Since(start)
	out := make([]string, len(homes))
	for i, p := range homes {
		out[i] = p.String()
	}
	writeJSON(w, http.StatusOK, map[string]any{"cid": c.String(), "homes": out, "took_ns": took.Nanoseconds()})
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	st, err := a.node.Status(r.Context())
	if err != nil {
		apiError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *api) peers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.node.Peers())
}

func (a *api) repair(w http.ResponseWriter, r *http.Request) {
	rep, err := a.node.Repair(r.Context())
	if err != nil {
		apiError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// partition blocks the peers named in the JSON body {"peers": [...]}.
func (a *api) partition(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Peers []string `json:"peers"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		apiError(w, badRequest("body: %v", err))
		return
	}
	var ids []peer.ID
	for _, s := range req.Peers {
		id, err := peer.Decode(s)
		if err != nil {
			apiError(w, badRequest("peer %q: %v", s, err))
			return
		}
		ids = append(ids, id)
	}
	a.node.Partition(ids...)
	writeJSON(w, http.StatusOK, map[string]int{"blocked": len(ids)})
}

func (a *api) heal(w http.ResponseWriter, _ *http.Request) {
	a.node.Heal()
	writeJSON(w, http.StatusOK, map[string]bool{"healed": true})
}

// forgeRoot signs a root record of this peer's namespace with this peer's
// key, with the root, term and index asked for, and publishes it, trusting
// itself as a voter for the occasion (?forge=1): a test's adversary.
func (a *api) forgeRoot(w http.ResponseWriter, r *http.Request) {
	if a.ns == nil {
		fsError(w, errNoNamespace)
		return
	}
	c, err := cidArg(r)
	term, terr := intArg(r, "term", 0)
	index, ierr := intArg(r, "index", 0)
	if err = errors.Join(err, terr, ierr); err != nil {
		apiError(w, err)
		return
	}
	if r.URL.Query().Get("forge") == "1" {
		self := a.node.ID()
		a.ref.Extra.Store(&self)
	}
	signed, err := a.node.SignRoot(meshpeer.RootRecord{
		Namespace: a.ns.View().Namespace, Root: c, Term: uint64(term), Index: uint64(index), Time: a.now().UnixNano(),
	})
	if err == nil {
		err = a.node.PublishRoot(r.Context(), signed)
	}
	if err != nil {
		apiError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"published": true})
}
