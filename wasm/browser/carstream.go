package browser

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ipfs/go-cid"

	"meshfs/wasm/blockstore"
)

// carWindow bounds the bytes a carStream holds that no Get took yet: the
// stream reads on only when the reader has taken enough of them.
const carWindow = 32 << 20

// errStalled ends a stream that cannot go on: its window is full of blocks
// no Get takes while a Get waits for one it has not delivered.
var errStalled = errors.New("browser: CAR stream stalled: its window is full of blocks not asked for")

// carStream holds the blocks of one CAR stream, delivered in the order a
// reader of the file asks for them, until a Get takes them. It checks
// nothing: a Get verifies the bytes against the CID it asked for.
//
// A Get waits for a block only while the stream may still deliver it: not
// after the stream ended, nor for a block it delivered already (the CAR
// holds each block once; a file that repeats one gets it from the cache or
// elsewhere).
type carStream struct {
	cancel context.CancelFunc
	window int64 // bytes held at most

	mu        sync.Mutex
	pending   map[cid.Cid]carBlock // delivered, not taken yet
	delivered map[cid.Cid]bool
	bytes     int64         // of pending
	changed   chan struct{} // closed at each change, then replaced
	err       error         // why it ended: io.EOF when complete
}

// newCARStream reads sr's sections into the stream, holding at most
// window bytes not taken (carWindow), until they end, ctx ends or stop is
// called.
func newCARStream(ctx context.Context, sr SectionReader, window int64) *carStream {
	ctx, cancel := context.WithCancel(ctx)
	s := &carStream{cancel: cancel, window: window, pending: map[cid.Cid]carBlock{}, delivered: map[cid.Cid]bool{}, changed: make(chan struct{})}
	go s.run(ctx, sr)
	return s
}

func (s *carStream) run(ctx context.Context, sr SectionReader) {
	header := true
	for {
		if err := s.waitRoom(ctx); err != nil {
			s.end(err)
			return
		}
		secs, err := sr.Next()
		for _, sec := range secs {
			if header { // the roots: not needed, every block is asked for by CID
				header = false
				continue
			}
			n, c, cerr := cid.CidFromBytes(sec.Data)
			if cerr == nil && sec.Body != nil && n != len(sec.Data) {
				cerr = errors.New("bytes after the CID and a body")
			}
			if cerr != nil {
				s.end(fmt.Errorf("browser: CAR section: %w", cerr))
				return
			}
			b := carBlock{data: sec.Data[n:], body: sec.Body}
			if sec.Sum != nil && sec.SumFrom == n {
				b.sum = sec.Sum
			}
			s.deliver(c, b)
		}
		if err != nil {
			if errors.Is(err, io.EOF) && header {
				err = io.ErrUnexpectedEOF // not even a header
			}
			s.end(err)
			return
		}
	}
}

// waitRoom waits until the window has room.
func (s *carStream) waitRoom(ctx context.Context) error {
	s.mu.Lock()
	for s.bytes >= s.window && s.err == nil {
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
	}
	err := s.err
	s.mu.Unlock()
	return err
}

// carBlock is a block's bytes as a CAR stream gave them (in data, or in
// body when set), and their SHA-256 if the transport computed it.
type carBlock struct {
	data []byte
	body blockstore.Body
	sum  *[sha256.Size]byte
}

// size is the number of the block's bytes.
func (b carBlock) size() int {
	if b.body != nil {
		return b.body.Len()
	}
	return len(b.data)
}

func (s *carStream) deliver(c cid.Cid, b carBlock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || s.delivered[c] {
		return
	}
	s.delivered[c] = true
	s.pending[c] = b
	s.bytes += int64(b.size())
	s.changedLocked()
}

// end records why the stream ended (the first reason stands) and wakes
// every waiter; the blocks it delivered can still be taken.
func (s *carStream) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(err)
}

func (s *carStream) endLocked(err error) {
	if s.err != nil {
		return
	}
	s.err = err
	s.cancel()
	s.changedLocked()
}

func (s *carStream) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// stop ends the stream, and drops the blocks not taken.
func (s *carStream) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(context.Canceled)
	clear(s.pending)
	s.bytes = 0
}

// failure returns why the stream ended short, or nil if it did not.
func (s *carStream) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(s.err, io.EOF) {
		return nil
	}
	return s.err
}

// take returns block c as the stream gave it, waiting for it while the
// stream may still deliver it; false when it will not, or when ctx ends
// first.
func (s *carStream) take(ctx context.Context, c cid.Cid) (carBlock, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if b, ok := s.pending[c]; ok {
			delete(s.pending, c)
			s.bytes -= int64(b.size())
			s.changedLocked()
			return b, true
		}
		if s.err != nil || s.delivered[c] {
			return carBlock{}, false
		}
		if s.bytes >= s.window {
			s.endLocked(errStalled)
			return carBlock{}, false
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			s.mu.Lock()
			return carBlock{}, false
		}
		s.mu.Lock()
	}
}
