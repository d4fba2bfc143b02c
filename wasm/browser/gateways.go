package browser

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
	"meshfs/wasm/blockstore"
)

// A Transport does the HTTP requests of [Gateways]: [HTTPTransport] with
// net/http, or the browser's fetch() in the wasm build.
type Transport interface {
	// Get returns the body of a 200 answer to GET url with the Accept
	// header accept, a *StatusError for another answer, and another error
	// when no answer came. It may stop reading a body longer than
	// content.MaxBlockSize+1 bytes.
	Get(ctx context.Context, url, accept string) ([]byte, error)
	// OpenCAR sends GET url asking for a CAR and returns its body as
	// sections once a 200 answer starts, or fails as Get does. The
	// sections stop when ctx ends.
	OpenCAR(ctx context.Context, url string) (SectionReader, error)
}

// A SectionReader reads a CARv1 stream section by section: the header,
// then each block's CID followed by its bytes. They are not checked: the
// node verifies each block against the CID it asked for.
type SectionReader interface {
	// Next returns the next sections, at least one, or io.EOF after the
	// last; a stream cut short inside a section fails with
	// io.ErrUnexpectedEOF, a section longer than MaxSectionSize with an
	// error.
	Next() ([]Section, error)
}

// Section is one section of a CAR stream. Data holds its bytes, in a
// slice of its own; or, when Body is set, only those of the block's CID,
// Body holding the block's bytes outside Go's memory (the browser's
// transport leaves them in JavaScript until a reader copies them into a
// buffer of its own, and the cache keeps them from there). A transport
// that hashes faster than Go (the browser's) may hash the block's bytes as
// it reads them: then Sum is their SHA-256 and SumFrom where they start in
// the section, which the node checks is where the CID ends. The node
// verifies the block by comparing Sum with the CID's digest, so Sum must
// be the digest of exactly the bytes the section holds: the transport is
// trusted with that as crypto/sha256 is.
type Section struct {
	Data    []byte
	Body    blockstore.Body
	Sum     *[sha256.Size]byte // nil: not hashed
	SumFrom int
}

// MaxSectionSize is the longest CAR section a SectionReader accepts: the
// largest block and room for its CID.
const MaxSectionSize = content.MaxBlockSize + 1024

// StatusError is a gateway's answer other than 200.
type StatusError struct {
	URL  string
	Code int
}

func (e *StatusError) Error() string { return fmt.Sprintf("GET %s: HTTP %d", e.URL, e.Code) }

// ErrGatewaysDown reports that no gateway was asked: each failed to answer
// lately.
var ErrGatewaysDown = errors.New("browser: every gateway is down")

// Media types of the trustless gateway's answers.
const (
	mediaRaw = "application/vnd.ipld.raw"
	mediaCAR = "application/vnd.ipld.car"
)

// Gateways fetches blocks from IPFS trustless gateways, asking each base
// URL in turn until one answers: one block (GET /ipfs/{cid}?format=raw)
// or a file's blocks as a CAR stream (?format=car&dag-scope=entity). A
// gateway that gives no answer (refused, reset, timed out) is skipped for
// a while, so that reads go to the others or to the mesh without waiting
// for it at every block; one that answers with an error (say, not found)
// is not. It verifies nothing: the node does.
type Gateways struct {
	bases   []string
	tr      Transport
	timeout time.Duration
	downFor time.Duration
	now     func() time.Time

	mu   sync.Mutex
	down map[string]time.Time // base URL: skipped until then
}

// Defaults of NewGateways.
const (
	gatewayTimeout = 10 * time.Second // one block, or a CAR's first byte
	gatewayDownFor = 10 * time.Second
)

// NewGateways returns the gateways at the base URLs (scheme://host:port),
// asked in that order through tr.
func NewGateways(bases []string, tr Transport) *Gateways {
	g := &Gateways{tr: tr, timeout: gatewayTimeout, downFor: gatewayDownFor, now: time.Now, down: map[string]time.Time{}}
	for _, b := range bases {
		g.bases = append(g.bases, strings.TrimRight(b, "/"))
	}
	return g
}

// FetchRaw returns the bytes the first gateway that answers gives for c.
func (g *Gateways) FetchRaw(ctx context.Context, c cid.Cid) ([]byte, error) {
	var b []byte
	err := g.each(ctx, func(base string) error {
		url := base + "/ipfs/" + c.String() + "?format=raw"
		fctx, cancel := context.WithTimeout(ctx, g.timeout)
		defer cancel()
		var err error
		if b, err = g.tr.Get(fctx, url, mediaRaw); err == nil && len(b) > content.MaxBlockSize {
			err = fmt.Errorf("%w: GET %s: %d bytes", content.ErrBlockTooLarge, url, len(b))
		}
		return err
	})
	return b, err
}

// StreamCAR returns the blocks of file root's DAG that hold its bytes
// [from, to] (to < 0: to the end) as a CAR from the first gateway that
// answers, in the order a reader of those bytes asks for them. The stream
// ends with ctx.
func (g *Gateways) StreamCAR(ctx context.Context, root cid.Cid, from, to int64) (SectionReader, error) {
	q := "?format=car&dag-scope=entity"
	if from > 0 || to >= 0 {
		end := "*"
		if to >= 0 {
			end = fmt.Sprint(to)
		}
		q += fmt.Sprintf("&entity-bytes=%d:%s", from, end)
	}
	var sr SectionReader
	err := g.each(ctx, func(base string) error {
		// The timeout covers the wait for the answer to start, not the
		// stream: the reader waits on the stream's blocks itself.
		sctx, cancel := context.WithCancel(ctx)
		timer := time.AfterFunc(g.timeout, cancel)
		r, err := g.tr.OpenCAR(sctx, base+"/ipfs/"+root.String()+q)
		if !timer.Stop() && err == nil {
			err = context.DeadlineExceeded
		}
		if err != nil {
			cancel()
			return err
		}
		sr = cancelAtEnd{r, cancel}
		return nil
	})
	return sr, err
}

// cancelAtEnd is a SectionReader that ends its context after the last
// section or a failure.
type cancelAtEnd struct {
	SectionReader
	cancel context.CancelFunc
}

func (c cancelAtEnd) Next() ([]Section, error) {
	s, err := c.SectionReader.Next()
	if err != nil {
		c.cancel()
	}
	return s, err
}

// each calls f with each base URL not down until one returns nil.
func (g *Gateways) each(ctx context.Context, f func(base string) error) error {
	var errs []error
	for _, base := range g.bases {
		if !g.isUp(base) {
			continue
		}
		err := f(base)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if se := (*StatusError)(nil); !errors.As(err, &se) {
			g.setDown(base)
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return ErrGatewaysDown
	}
	return errors.Join(errs...)
}

func (g *Gateways) isUp(base string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.down[base]
	if ok && g.now().After(until) {
		delete(g.down, base)
		return true
	}
	return !ok
}

func (g *Gateways) setDown(base string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.down[base] = g.now().Add(g.downFor)
}

// HTTPTransport is a Transport over an http.Client (nil: the default
// client).
type HTTPTransport struct{ Client *http.Client }

var _ Transport = HTTPTransport{}

func (t HTTPTransport) do(ctx context.Context, url, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	c := t.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &StatusError{URL: url, Code: resp.StatusCode}
	}
	return resp, nil
}

// Get implements Transport.
func (t HTTPTransport) Get(ctx context.Context, url, accept string) ([]byte, error) {
	resp, err := t.do(ctx, url, accept)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, content.MaxBlockSize+1))
}

// OpenCAR implements Transport.
func (t HTTPTransport) OpenCAR(ctx context.Context, url string) (SectionReader, error) {
	resp, err := t.do(ctx, url, mediaCAR)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { resp.Body.Close() })
	return &sectionReader{r: bufio.NewReaderSize(resp.Body, 64<<10), body: resp.Body}, nil
}

// sectionReader reads sections from a CAR body, one per Next.
type sectionReader struct {
	r    *bufio.Reader
	body io.Closer
	err  error
}

func (s *sectionReader) Next() ([]Section, error) {
	if s.err != nil {
		return nil, s.err
	}
	b, err := readSection(s.r)
	if err != nil {
		s.err = err
		s.body.Close()
		return nil, err
	}
	return []Section{{Data: b}}, nil
}

// readSection reads one varint-prefixed section.
func readSection(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	switch {
	case errors.Is(err, io.EOF):
		return nil, io.EOF
	case err != nil:
		return nil, unexpected(err)
	case n == 0 || n > MaxSectionSize:
		return nil, fmt.Errorf("browser: CAR section of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, unexpected(err)
	}
	return b, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
