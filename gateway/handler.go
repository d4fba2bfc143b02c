package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// Defaults of Options.
const (
	// DefaultConcurrency is how many blocks a response fetches at once.
	DefaultConcurrency = 16
	// DefaultBlockTimeout bounds the fetch of one block.
	DefaultBlockTimeout = time.Minute
)

// Options tune New. The zero value gives the defaults.
type Options struct {
	// Concurrency is how many blocks a CAR or file response fetches at
	// once; 0 or less means DefaultConcurrency. A CAR response holds at
	// most this many blocks in memory.
	Concurrency int
	// BlockTimeout bounds each block fetch; 0 means DefaultBlockTimeout,
	// negative means no bound. A fetch that times out answers 504 Gateway
	// Timeout, or aborts a response already under way.
	BlockTimeout time.Duration
	// OnError, if set, is called for every request that fails, with the
	// status sent, or 0 when the response had started and was aborted.
	OnError func(r *http.Request, status int, err error)
}

// cacheImmutable is the Cache-Control of everything named by a CID.
const cacheImmutable = "public, max-age=29030400, immutable"

type handler struct {
	g    content.BlockGetter
	opts Options
}

// New returns an http.Handler serving GET and HEAD /ipfs/{cid}[/path...]
// from g, as an IPFS trustless gateway (raw blocks and CARv1 streams,
// chosen by Accept or ?format=) that also serves UnixFS files and
// directory listings as plain responses. Every block comes from g, which
// returns verified blocks; the handler checks that each is the block it
// asked for.
//
// A response that fails after it has started (a block missing halfway
// through a CAR or a file) is aborted with panic(http.ErrAbortHandler), so
// the client sees a broken transfer rather than a short one; middleware
// that recovers panics must let that one through.
//
// Deserialized responses carry "Content-Security-Policy: sandbox": a file
// from the mesh is untrusted, and the handler may share an origin with an
// API.
func New(g content.BlockGetter, opts Options) http.Handler {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.BlockTimeout == 0 {
		opts.BlockTimeout = DefaultBlockTimeout
	}
	return &handler{g: g, opts: opts}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.fail(w, r, http.StatusMethodNotAllowed, fmt.Errorf("gateway: method %s not allowed", r.Method))
		return
	}
	w.Header().Set("Vary", "Accept")
	req, err := parseRequest(r)
	if err != nil {
		h.fail(w, r, statusOf(err), err)
		return
	}
	f := h.fetcher(nil)
	switch req.format {
	case formatRaw:
		err = h.serveRaw(w, r, req, f)
	case formatCAR:
		err = h.serveCAR(w, r, req, f)
	default:
		err = h.servePlain(w, r, req, f)
	}
	if err != nil {
		h.fail(w, r, statusOf(err), err)
	}
}

// fail answers a request that failed before its response started.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	if h.opts.OnError != nil {
		h.opts.OnError(r, status, err)
	}
	http.Error(w, errorText(status, err), status)
}

// abort ends a response that failed after it started.
func (h *handler) abort(r *http.Request, err error) {
	if h.opts.OnError != nil {
		h.opts.OnError(r, 0, err)
	}
	panic(http.ErrAbortHandler)
}

func setImmutable(w http.ResponseWriter, r *http.Request, etag string) {
	hd := w.Header()
	hd.Set("Etag", etag)
	hd.Set("Cache-Control", cacheImmutable)
	hd.Set("X-Ipfs-Path", r.URL.EscapedPath())
}

// serveRaw answers a block request: the block's bytes, as they hash to
// the CID.
func (h *handler) serveRaw(w http.ResponseWriter, r *http.Request, req request, f *fetcher) error {
	if len(req.segs) > 0 {
		return badRequest("a raw block request takes no path; ask for format=car to resolve one")
	}
	data := req.identity
	if data == nil {
		b, err := f.Get(r.Context(), req.root)
		if err != nil {
			return err
		}
		data = b.Data()
	}
	setImmutable(w, r, `"`+req.root.String()+`.raw"`)
	hd := w.Header()
	hd.Set("Content-Type", mediaRaw)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Disposition", `attachment; filename="`+req.root.String()+`.bin"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	return nil
}

// serveCAR answers a CAR request: the blocks that prove the path, then
// the DAG at its end as far as dag-scope and entity-bytes take it, in
// depth-first order, streamed as they arrive.
func (h *handler) serveCAR(w http.ResponseWriter, r *http.Request, req request, f *fetcher) error {
	ctx := r.Context()
	var (
		res  resolution
		root *walkItem
	)
	if req.identity == nil {
		var err error
		if res, err = resolve(ctx, f.Get, req.root, req.segs); err != nil {
			return err
		}
		if root, err = walkRoot(res.term, req); err != nil {
			return err
		}
	} else if len(req.segs) > 0 {
		return fmt.Errorf("%w: %s holds no links", errNoPath, req.root)
	}

	etag := carETag(req)
	dups := "n"
	if req.dups {
		dups = "y"
	}
	setImmutable(w, r, etag)
	hd := w.Header()
	hd.Set("Content-Type", mediaCAR+"; version=1; order=dfs; dups="+dups)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Disposition", `attachment; filename="`+req.root.String()+`.car"`)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	// The response has started: from here on a failure aborts it.
	cw, err := NewCARWriter(w, req.root)
	if err != nil {
		h.abort(r, err)
	}
	if root == nil { // an identity CID: its bytes are in the CID, never in a CAR
		return nil
	}
	wk := newWalker(f.Get, h.opts.Concurrency, req.dups)
	for _, b := range res.path {
		if !wk.claim(b.CID()) {
			continue
		}
		if err := cw.WriteBlock(b); err != nil {
			h.abort(r, err)
		}
	}
	// Blocks go out as they come: what is written is flushed whenever the
	// walk has to wait for a fetch.
	rc, dirty := http.NewResponseController(w), true
	emit := func(b content.Block) error {
		dirty = true
		return cw.WriteBlock(b)
	}
	idle := func() {
		if dirty {
			dirty = false
			_ = rc.Flush() // a broken connection fails the next write
		}
	}
	if err := wk.walk(ctx, root, emit, idle); err != nil {
		h.abort(r, err)
	}
	return nil
}

// walkRoot returns the walk's first item for the node at the end of a
// CAR request's path.
func walkRoot(term node, req request) (*walkItem, error) {
	it := &walkItem{c: term.blk.CID(), blk: term.blk, fetched: true, kind: itemBlock}
	switch req.scope {
	case scopeAll:
		it.kind = itemAll
	case scopeEntity:
		switch term.kind {
		case kindRawFile, kindFile:
			it.kind = itemAll // a file's entity is its whole DAG
			if req.bytes != nil {
				size, err := term.fileSize()
				if err != nil {
					return nil, err
				}
				from, to, err := req.bytes.span(size)
				if err != nil {
					return nil, err
				}
				if from == to {
					it.kind = itemBlock // nothing in range: the root tells why
				} else {
					it.kind, it.from, it.to, it.size = itemFile, from, to, size
				}
			}
		case kindDir, kindHAMT:
			it.kind = itemShards
		}
	}
	return it, nil
}

// carETag names a CAR response: the same request always gets the same
// bytes.
func carETag(req request) string {
	hash := fnv.New64a()
	for _, s := range req.segs {
		hash.Write([]byte(s))
		hash.Write([]byte{0})
	}
	if e := req.bytes; e != nil {
		fmt.Fprintf(hash, "%d:%d:%v", e.from, e.to, e.toEnd)
	}
	dups := "n"
	if req.dups {
		dups = "y"
	}
	return fmt.Sprintf(`"%s.car.%s.dfs.%s.%016x"`, req.root, req.scope, dups, hash.Sum64())
}

// etagMatch reports whether an If-None-Match header names etag.
func etagMatch(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// servePlain answers a request for deserialized content: a file's bytes,
// a directory listing or a symlink's target.
func (h *handler) servePlain(w http.ResponseWriter, r *http.Request, req request, f *fetcher) error {
	ctx := r.Context()
	if req.identity != nil {
		if len(req.segs) > 0 {
			return fmt.Errorf("%w: %s holds no links", errNoPath, req.root)
		}
		setImmutable(w, r, `"`+req.root.String()+`"`)
		setPlainHeaders(w, http.DetectContentType(req.identity))
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(req.identity))
		return nil
	}
	res, err := resolve(ctx, f.Get, req.root, req.segs)
	if err != nil {
		return err
	}
	term := res.term
	switch term.kind {
	case kindRawFile, kindFile:
		return h.serveFile(w, r, res, h.fetcher(&term.blk))
	case kindDir, kindHAMT:
		if !strings.HasSuffix(r.URL.Path, "/") {
			// Relative links in the listing need the trailing slash.
			esc := r.URL.EscapedPath()
			loc := esc[strings.LastIndex(esc, "/")+1:] + "/"
			if r.URL.RawQuery != "" {
				loc += "?" + r.URL.RawQuery
			}
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusMovedPermanently)
			return nil
		}
		return h.serveListing(w, r, term, h.fetcher(&term.blk))
	case kindSymlink:
		setImmutable(w, r, `"`+term.blk.CID().String()+`"`)
		setPlainHeaders(w, "text/plain; charset=utf-8")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(term.fsd.Data))
		return nil
	}
	return fmt.Errorf("%w: %s", errNotUnixFS, term.blk.CID())
}

// setPlainHeaders sets the headers of a deserialized response, whose
// bytes come from anyone: a sandboxed document cannot script its origin.
func setPlainHeaders(w http.ResponseWriter, ctype string) {
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "sandbox")
}

// serveFile answers with a UnixFS file's bytes, honouring Range requests.
func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, res resolution, f *fetcher) error {
	c := res.term.blk.CID()
	fr, err := content.NewFileReader(r.Context(), f.getter(), c, h.opts.Concurrency)
	if err != nil {
		return err
	}
	defer fr.Close()
	ctype := ""
	if res.name != "" {
		ctype = mime.TypeByExtension(path.Ext(res.name))
	}
	if ctype == "" {
		head := make([]byte, 512)
		n, err := fr.ReadAt(head, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		ctype = http.DetectContentType(head[:n])
	}
	setImmutable(w, r, `"`+c.String()+`"`)
	setPlainHeaders(w, ctype)
	body := &fileBody{fr: fr, size: fr.Size()}
	body.limit = rangeEnd(r.Header.Get("Range"), body.size)
	http.ServeContent(w, r, res.name, time.Time{}, body)
	// For several ranges, ServeContent reads in a goroutine of its own that
	// may outlive it when the client goes: Close stops its reads.
	fr.Close()
	if err := body.failure(); err != nil {
		h.abort(r, err)
	}
	return nil
}

// rangeEnd returns where the bytes a Range header asks for end, when it
// asks for one range with a known end, or size otherwise: a file body
// reads ahead no further.
func rangeEnd(header string, size int64) int64 {
	spec, ok := strings.CutPrefix(header, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return size
	}
	start, end, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok || start == "" {
		return size
	}
	e, err := strconv.ParseInt(end, 10, 64)
	if err != nil || e < 0 || e >= size {
		return size
	}
	return e + 1
}

// fileBody is a file for http.ServeContent: it reads ahead up to limit
// (the end of the range asked for; later reads go on past it), and keeps
// the first read error, so that the handler can abort the response.
type fileBody struct {
	fr          *content.FileReader
	size, limit int64

	mu  sync.Mutex
	pos int64
	cur io.ReadCloser // the bytes from pos on, while reading
	err error
}

// failure returns the first read error.
func (b *fileBody) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func (b *fileBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.pos >= b.size {
			return 0, io.EOF
		}
		if b.cur == nil {
			end := b.size
			if b.pos < b.limit {
				end = b.limit
			}
			rc, err := b.fr.Range(b.pos, end-b.pos)
			if err != nil {
				b.err = err
				return 0, err
			}
			b.cur = rc
		}
		n, err := b.cur.Read(p)
		b.pos += int64(n)
		if errors.Is(err, io.EOF) {
			b.close()
			err = nil
			if n == 0 {
				continue
			}
		}
		if err != nil {
			b.err = err
		}
		return n, err
	}
}

func (b *fileBody) Seek(offset int64, whence int) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	pos := offset
	switch whence {
	case io.SeekCurrent:
		pos += b.pos
	case io.SeekEnd:
		pos += b.size
	}
	if pos < 0 {
		return b.pos, errors.New("gateway: seek before the start of a file")
	}
	if pos != b.pos {
		b.close()
		b.pos = pos
	}
	return pos, nil
}

// close ends the current stream; b.mu is held.
func (b *fileBody) close() {
	if b.cur != nil {
		b.cur.Close()
		b.cur = nil
	}
}

var listingTemplate = template.Must(template.New("listing").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Path}}</title></head>
<body>
<h1>{{.Path}}</h1>
<p>{{.CID}}: {{len .Entries}} entries</p>
<table>
<tr><th>Name</th><th>DAG size</th><th>CID</th></tr>
{{range .Entries}}<tr><td><a href="./{{.Href}}">{{.Name}}</a></td><td>{{.Tsize}}</td><td>{{.CID}}</td></tr>
{{end}}</table>
</body></html>
`))

type listingEntry struct {
	content.DirEntry
	Href string
}

// serveListing answers with an HTML list of a directory's entries.
func (h *handler) serveListing(w http.ResponseWriter, r *http.Request, term node, f *fetcher) error {
	c := term.blk.CID()
	entries, err := content.ReadDirectory(r.Context(), f.getter(), c)
	if err != nil {
		return err
	}
	data := struct {
		Path    string
		CID     cid.Cid
		Entries []listingEntry
	}{Path: r.URL.Path, CID: c}
	for _, e := range entries {
		data.Entries = append(data.Entries, listingEntry{DirEntry: e, Href: url.PathEscape(e.Name)})
	}
	var buf bytes.Buffer
	if err := listingTemplate.Execute(&buf, data); err != nil {
		return err
	}
	w.Header().Set("X-Ipfs-Path", r.URL.EscapedPath())
	setPlainHeaders(w, "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
	return nil
}

// fetcher gets blocks for one request: each fetch bounded by the block
// timeout, checked to be the block asked for, and a block already in hand
// served without a fetch.
type fetcher struct {
	g       content.BlockGetter
	timeout time.Duration
	known   content.Block
}

func (h *handler) fetcher(known *content.Block) *fetcher {
	f := &fetcher{g: h.g, timeout: h.opts.BlockTimeout}
	if known != nil {
		f.known = *known
	}
	return f
}

// Get implements content.BlockGetter.
func (f *fetcher) Get(ctx context.Context, c cid.Cid) (content.Block, error) {
	return f.fetch(ctx, c, func(ctx context.Context) (content.Block, error) { return f.g.Get(ctx, c) })
}

func (f *fetcher) fetch(ctx context.Context, c cid.Cid, get func(context.Context) (content.Block, error)) (content.Block, error) {
	if f.known.Defined() && f.known.CID().Equals(c) {
		return f.known, nil
	}
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	b, err := get(ctx)
	if err != nil {
		return content.Block{}, err
	}
	if !b.CID().Equals(c) {
		return content.Block{}, fmt.Errorf("%w: asked for %s, got %s", content.ErrHashMismatch, c, b.CID())
	}
	return b, nil
}

// getter returns f as a content.BlockGetter, a content.BufferGetter too
// when the handler's getter is one, so that file reads reuse buffers.
func (f *fetcher) getter() content.BlockGetter {
	if bg, ok := f.g.(content.BufferGetter); ok {
		return bufferFetcher{f, bg}
	}
	return f
}

type bufferFetcher struct {
	*fetcher
	bg content.BufferGetter
}

// GetBuffer implements content.BufferGetter.
func (f bufferFetcher) GetBuffer(ctx context.Context, c cid.Cid, buf []byte) (content.Block, error) {
	return f.fetch(ctx, c, func(ctx context.Context) (content.Block, error) { return f.bg.GetBuffer(ctx, c, buf) })
}
