package gc

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// MaxSummaryFile bounds the summary file a holder or writer reads back
// (256 MiB: a filter for about 200 million blocks at 1%).
const MaxSummaryFile = 256 << 20

// Summarizer is the writer's side of collection (doc.go, rules W1-W3): for
// each root record it publishes, it appends the record's root to the last-K
// window, marks the window and the pins (incrementally over its previous
// mark), builds the summary and stores it in the mesh as a UnixFS file,
// whose CID the record then carries. It is not safe for concurrent use: the
// writer's publisher calls it in order.
type Summarizer struct {
	ns     string
	cfg    Config
	blocks content.BlockGetter
	store  content.BlockPutter

	window []Root
	prev   *Live
	last   cid.Cid // the summary file as of the window's newest root
}

// NewSummarizer returns the summarizer of namespace ns, marking through
// blocks and storing summaries through store.
func NewSummarizer(ns string, cfg Config, blocks content.BlockGetter, store content.BlockPutter) (*Summarizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkNamespace(ns); err != nil {
		return nil, err
	}
	return &Summarizer{ns: ns, cfg: cfg, blocks: blocks, store: store}, nil
}

// Resume seeds the window with the roots of the last summary published (by
// this writer before a restart, or by its predecessor), so the roots it
// kept live stay live. A summary of another namespace is ignored.
func (s *Summarizer) Resume(prev *Summary) {
	if prev == nil || prev.Namespace() != s.ns || len(s.window) > 0 {
		return
	}
	roots := prev.Cover().Roots
	if len(roots) > s.cfg.Roots {
		roots = roots[len(roots)-s.cfg.Roots:]
	}
	s.window = roots
}

// Window returns the roots the next summary keeps live besides the new one.
func (s *Summarizer) Window() []Root { return append([]Root(nil), s.window...) }

// Summarize returns the CID of the summary file as of root, with pins (the
// CIDs pinned in the state at root's index) live too. Publishing the same
// root again returns the same file. A mark that cannot complete (a
// directory or file node is missing) returns ErrIncompleteMark and leaves
// the window as it was, so the record goes out without a summary and the
// next one tries again.
func (s *Summarizer) Summarize(ctx context.Context, root Root, pins []cid.Cid) (cid.Cid, *Summary, error) {
	if n := len(s.window); n > 0 && s.last.Defined() && s.window[n-1] == root {
		return s.last, nil, nil
	}
	// A root not later than the window's newest (a new writer whose first
	// record repeats an index) starts the window afresh from it, keeping
	// the older roots that come before it.
	window := s.window
	for len(window) > 0 && !root.after(window[len(window)-1]) {
		window = window[:len(window)-1]
	}
	window, err := WindowAppend(window, root, s.cfg.Roots)
	if err != nil {
		return cid.Undef, nil, err
	}
	roots := make([]cid.Cid, 0, len(window)+len(pins))
	for _, r := range window {
		roots = append(roots, r.CID)
	}
	roots = append(roots, pins...)
	live, err := Mark(ctx, s.blocks, roots, s.prev, MarkOptions{})
	if err != nil {
		return cid.Undef, nil, err
	}
	if !live.Complete() {
		return cid.Undef, nil, fmt.Errorf("%w: %d blocks missing", ErrIncompleteMark, len(live.Missing()))
	}
	sum, err := NewSummary(live, Cover{Namespace: s.ns, Roots: window, Pins: pins}, s.cfg.FPRate)
	if err != nil {
		return cid.Undef, nil, err
	}
	file, err := content.Import(ctx, bytes.NewReader(sum.Encode()), s.store, content.ImportOptions{})
	if err != nil {
		return cid.Undef, nil, fmt.Errorf("gc: storing the summary: %w", err)
	}
	s.window, s.prev, s.last = window, live, file.CID
	return file.CID, sum, nil
}

// LoadSummary reads and decodes the summary file c through g (every block
// verified by g), refusing one over MaxSummaryFile.
func LoadSummary(ctx context.Context, g content.BlockGetter, c cid.Cid) (*Summary, error) {
	r, err := content.NewFileReader(ctx, g, c, 8)
	if err != nil {
		return nil, fmt.Errorf("gc: summary %s: %w", c, err)
	}
	if r.Size() > MaxSummaryFile {
		return nil, fmt.Errorf("%w: summary file of %d bytes, limit %d", ErrMalformed, r.Size(), MaxSummaryFile)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("gc: summary %s: %w", c, err)
	}
	return DecodeSummary(b)
}

// SummaryBlocks returns the blocks of summary file c as a live set (its
// holders keep them, doc.go rule H2); a file with missing nodes is
// ErrIncompleteMark.
func SummaryBlocks(ctx context.Context, g content.BlockGetter, c cid.Cid) (*Live, error) {
	live, err := Mark(ctx, g, []cid.Cid{c}, nil, MarkOptions{})
	if err != nil {
		return nil, err
	}
	if !live.Complete() {
		return nil, fmt.Errorf("%w: summary file %s", ErrIncompleteMark, c)
	}
	return live, nil
}
