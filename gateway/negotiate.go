package gateway

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
)

// format is the kind of response a request asks for.
type format int

const (
	formatPlain format = iota // deserialized: a file's bytes or a directory listing
	formatRaw                 // one block, application/vnd.ipld.raw
	formatCAR                 // a CARv1 stream, application/vnd.ipld.car
)

// Media types of the trustless responses.
const (
	mediaRaw = "application/vnd.ipld.raw"
	mediaCAR = "application/vnd.ipld.car"
)

// dagScope is the dag-scope parameter of a CAR request.
type dagScope string

const (
	scopeAll    dagScope = "all"
	scopeEntity dagScope = "entity"
	scopeBlock  dagScope = "block"
)

// request is a parsed gateway request.
type request struct {
	root     cid.Cid
	identity []byte   // the bytes of an identity-hashed raw root; nil otherwise
	segs     []string // the path below root, without empty segments
	format   format
	// CAR requests only:
	dups  bool
	scope dagScope
	bytes *entityBytes // nil without entity-bytes
}

// entityBytes is an entity-bytes=from:to parameter. Negative offsets count
// from the end of the file; to is inclusive, toEnd is "*".
type entityBytes struct {
	from, to int64
	toEnd    bool
}

// parseRequest reads the CID, path and wanted response from r.
func parseRequest(r *http.Request) (request, error) {
	var req request
	rest, ok := strings.CutPrefix(r.URL.Path, "/ipfs/")
	if !ok {
		return request{}, badRequest("not an /ipfs/{cid} path: %q", r.URL.Path)
	}
	first, tail, _ := strings.Cut(rest, "/")
	if first == "" {
		return request{}, badRequest("no CID in %q", r.URL.Path)
	}
	var err error
	if req.root, req.identity, err = parseCID(first); err != nil {
		return request{}, err
	}
	for seg := range strings.SplitSeq(tail, "/") {
		switch seg {
		case "":
		case ".", "..":
			return request{}, badRequest("path segment %q in %q", seg, r.URL.Path)
		default:
			req.segs = append(req.segs, seg)
		}
	}

	q := r.URL.Query()
	var carParams map[string]string
	switch f := q.Get("format"); f {
	case "raw":
		req.format = formatRaw
	case "car":
		req.format = formatCAR
		carParams = acceptedCARParams(r.Header.Values("Accept"))
	case "":
		if req.format, carParams, err = negotiate(r.Header.Values("Accept")); err != nil {
			return request{}, err
		}
	default:
		return request{}, badRequest("unsupported format %q: this gateway serves raw, car and plain files", f)
	}
	if req.format != formatCAR {
		return req, nil
	}
	for _, p := range [...]string{"version", "order", "dups"} {
		if v := q.Get("car-" + p); v != "" {
			if carParams == nil {
				carParams = map[string]string{}
			}
			carParams[p] = v
		}
	}
	if !carParamsOK(carParams) {
		return request{}, badRequest("unsupported CAR parameters %v: this gateway writes version=1, order=dfs, dups=n or y", carParams)
	}
	req.dups = carParams["dups"] == "y"

	if s := q.Get("entity-bytes"); s != "" {
		if req.bytes, err = parseEntityBytes(s); err != nil {
			return request{}, err
		}
	}
	switch s := dagScope(q.Get("dag-scope")); s {
	case "":
		req.scope = scopeAll
		if req.bytes != nil {
			req.scope = scopeEntity
		}
	case scopeAll, scopeEntity, scopeBlock:
		if req.bytes != nil && s != scopeEntity {
			return request{}, badRequest("entity-bytes goes with dag-scope=entity, not %s", s)
		}
		req.scope = s
	default:
		return request{}, badRequest("unsupported dag-scope %q: want all, entity or block", s)
	}
	return req, nil
}

// parseCID reads the CID of a request. A CIDv0 becomes the CIDv1 of the
// same dag-pb block. An identity-hashed raw CID (such as the probe CID
// bafkqaaa) is returned with the bytes it holds.
func parseCID(s string) (cid.Cid, []byte, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, nil, badRequest("invalid CID %q: %v", s, err)
	}
	if c.Version() == 0 {
		c = cid.NewCidV1(content.CodecDagPB, c.Hash())
	}
	if c.Version() == 1 && c.Type() == content.CodecRaw && isIdentity(c) {
		d, err := mh.Decode(c.Hash())
		if err != nil {
			return cid.Undef, nil, badRequest("invalid CID %q: %v", s, err)
		}
		return c, append([]byte{}, d.Digest...), nil // never nil: nil means not identity
	}
	if err := content.CheckCID(c); err != nil {
		return cid.Undef, nil, badRequest("%v", err)
	}
	return c, nil, nil
}

// mediaRange is one entry of an Accept header.
type mediaRange struct {
	typ    string
	params map[string]string
	q      float64
}

// parseAccept returns the media ranges of Accept headers, the most
// preferred first (by q, then in order); ranges with q=0 are left out.
func parseAccept(values []string) []mediaRange {
	var out []mediaRange
	for _, v := range values {
		for entry := range strings.SplitSeq(v, ",") {
			parts := strings.Split(entry, ";")
			m := mediaRange{typ: strings.ToLower(strings.TrimSpace(parts[0])), q: 1, params: map[string]string{}}
			if m.typ == "" {
				continue
			}
			for _, p := range parts[1:] {
				k, v, _ := strings.Cut(p, "=")
				k = strings.ToLower(strings.TrimSpace(k))
				v = strings.Trim(strings.TrimSpace(v), `"`)
				if k == "q" {
					if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
						m.q = f
					}
					continue
				}
				m.params[k] = v
			}
			if m.q > 0 {
				out = append(out, m)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b mediaRange) int { return cmp.Compare(b.q, a.q) })
	return out
}

// negotiate picks the response format for Accept headers: the most
// preferred of a raw block, a CAR with parameters this gateway can honour,
// or anything else (a plain response). A request that accepts only formats
// this gateway lacks (a CARv2, dag-json, a tar, ...) is errNotAcceptable.
func negotiate(accept []string) (format, map[string]string, error) {
	unsupported := false
	for _, m := range parseAccept(accept) {
		switch {
		case m.typ == mediaRaw:
			return formatRaw, nil, nil
		case m.typ == mediaCAR:
			if carParamsOK(m.params) {
				return formatCAR, m.params, nil
			}
			unsupported = true
		case strings.HasPrefix(m.typ, "application/vnd.ipld."), strings.HasPrefix(m.typ, "application/vnd.ipfs."), m.typ == "application/x-tar":
			unsupported = true
		default:
			return formatPlain, nil, nil
		}
	}
	if unsupported {
		return 0, nil, errNotAcceptable
	}
	return formatPlain, nil, nil
}

// acceptedCARParams returns the parameters of the most preferred CAR media
// range of Accept headers that this gateway can honour, for a request
// that chose CAR with ?format=car.
func acceptedCARParams(accept []string) map[string]string {
	for _, m := range parseAccept(accept) {
		if m.typ == mediaCAR && carParamsOK(m.params) {
			return m.params
		}
	}
	return nil
}

// carParamsOK reports whether CAR content-type parameters ask for
// something this gateway writes: CARv1, depth-first (or any) order, with
// or without duplicates. Other parameters are ignored.
func carParamsOK(p map[string]string) bool {
	v, o, d := p["version"], p["order"], p["dups"]
	return (v == "" || v == "1") && (o == "" || o == "dfs" || o == "unk") && (d == "" || d == "n" || d == "y")
}

// parseEntityBytes reads "from:to": integers, negative from the end of
// the file, to may be "*" for the end.
func parseEntityBytes(s string) (*entityBytes, error) {
	f, t, ok := strings.Cut(s, ":")
	if !ok {
		return nil, badRequest("entity-bytes %q is not from:to", s)
	}
	var e entityBytes
	var err error
	if e.from, err = strconv.ParseInt(f, 10, 64); err != nil {
		return nil, badRequest("entity-bytes %q: bad from", s)
	}
	if t == "*" {
		e.toEnd = true
	} else if e.to, err = strconv.ParseInt(t, 10, 64); err != nil {
		return nil, badRequest("entity-bytes %q: bad to", s)
	}
	if !e.toEnd && e.from >= 0 && e.to >= 0 && e.to < e.from {
		return nil, badRequest("entity-bytes %q ends before it starts", s)
	}
	return &e, nil
}

// span returns the bytes [from, to) of a file of size bytes that e names;
// from == to if none. A range that starts past the end of the file is a
// bad request.
func (e *entityBytes) span(size uint64) (from, to uint64, err error) {
	if e.from > 0 && uint64(e.from) >= size {
		return 0, 0, badRequest("entity-bytes starts at %d, past the end of a %d-byte file", e.from, size)
	}
	abs := func(v int64) int64 { // a negative offset counts from the end
		if v < 0 {
			v = max(int64(size)+v, 0)
		}
		return min(v, int64(size))
	}
	lo := abs(e.from)
	hi := int64(size) // exclusive
	if !e.toEnd {
		if e.to < 0 && -e.to > int64(size) {
			return 0, 0, nil
		}
		hi = min(abs(e.to)+1, int64(size))
	}
	if hi <= lo {
		return 0, 0, nil
	}
	return uint64(lo), uint64(hi), nil
}
