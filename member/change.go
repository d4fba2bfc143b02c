package member

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go.etcd.io/raft/v3"
	"slices"
	"time"

	"meshfs/namespace"
)

// Commit says where a change landed in the log.
type Commit struct {
	Index uint64
	Term  uint64
}

// Do applies op to the tree through the writer, on behalf of this peer,
// and returns once it has committed (or failed). A change that a writer
// refused before committing (it lost its term, or was not the writer) is
// sent again to the current writer; a change whose fate is unknown fails
// with ErrUnknownOutcome.
func (m *Member) Do(ctx context.Context, op namespace.Op) (Commit, error) {
	b, err := namespace.EncodeOp(op)
	if err != nil {
		return Commit{}, err
	}
	a, err := m.toWriter(ctx, request{Kind: kindApply, Op: b}, func(ctx context.Context) (answer, error) {
		return m.applyLocal(ctx, m.cfg.Self, op)
	})
	if err != nil {
		return Commit{}, err
	}
	m.saw(a.Index)
	return Commit{Index: a.Index, Term: a.Term}, nil
}

// SetVoter adds (or, with remove, removes) the voter peer through a Raft
// configuration change.
func (m *Member) SetVoter(ctx context.Context, peer string, remove bool) (Commit, error) {
	if peer == "" {
		return Commit{}, fmt.Errorf("member: no peer ID: %w", ErrBadRequest)
	}
	a, err := m.toWriter(ctx, request{Kind: kindVoter, Path: peer, Remove: remove}, func(ctx context.Context) (answer, error) {
		return m.voterLocal(ctx, m.cfg.Self, peer, remove)
	})
	if err != nil {
		return Commit{}, err
	}
	m.saw(a.Index)
	return Commit{Index: a.Index, Term: a.Term}, nil
}

// applyLocal proposes op on this replica for peer from and waits.
func (m *Member) applyLocal(ctx context.Context, from string, op namespace.Op) (answer, error) {
	return m.waitChange(ctx, func(l *loop, done chan result) { l.propose(from, op, done) })
}

func (m *Member) voterLocal(ctx context.Context, from, peer string, remove bool) (answer, error) {
	return m.waitChange(ctx, func(l *loop, done chan result) { l.proposeVoter(from, peer, remove, done) })
}

// waitChange runs propose on the loop and waits for the change's fate.
func (m *Member) waitChange(ctx context.Context, propose func(*loop, chan result)) (answer, error) {
	if !m.isVoter() {
		return answer{}, &notWriterError{}
	}
	done := make(chan result, 1)
	if err := m.call(ctx, func(l *loop) { propose(l, done) }); err != nil {
		return answer{}, err
	}
	select {
	case r := <-done:
		if r.err != nil {
			return answer{}, r.err
		}
		return answer{Index: r.index, Term: r.term}, nil
	case <-ctx.Done():
		// Proposed, maybe committed: nobody can say now.
		return answer{}, fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
	case <-m.ctx.Done():
		return answer{}, ErrUnknownOutcome
	}
}

// retryable reports whether a change refused with err certainly did not
// happen and may go to another writer.
func retryable(err error) bool {
	return errors.Is(err, ErrNotWriter) || errors.Is(err, namespace.ErrStaleTerm) || errors.Is(err, ErrNotSent) ||
		errors.Is(err, raft.ErrProposalDropped) || errors.Is(err, ErrConfChangePending)
}

// ErrNotSent is what a Transport wraps when a request certainly did not
// reach the peer (it could not be dialled).
var ErrNotSent = errors.New("request not sent")

// toWriter sends a change to the writer: locally when this replica is it,
// else over the transport, following "not the writer" answers and moving
// on from writers that are gone, until ctx ends.
func (m *Member) toWriter(ctx context.Context, req request, local func(context.Context) (answer, error)) (answer, error) {
	var last error
	backoff := 5 * time.Millisecond
	named, redirects := "", 0 // the writer the last refusal named
	for attempt := 0; ; attempt++ {
		target := m.writerTarget(attempt)
		if named != "" {
			target, named = named, ""
		}
		var a answer
		var err error
		if target == m.cfg.Self {
			a, err = local(ctx)
		} else {
			a, err = m.ask(ctx, target, req)
		}
		if err == nil || !retryable(err) {
			return a, err
		}
		var nw *notWriterError
		if errors.As(err, &nw) && nw.writer != "" && nw.writer != target && redirects < 3 {
			m.setWriterHint(nw.writer)
			named, last = nw.writer, err
			redirects++
			continue // go straight to the writer named
		}
		redirects = 0
		m.setWriterHint("")
		last = err
		select {
		case <-ctx.Done():
			return answer{}, fmt.Errorf("%w: %w (last: %v)", ErrNoWriter, ctx.Err(), last)
		case <-m.ctx.Done():
			return answer{}, ErrClosed
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// ask sends req to peer and decodes the answer (its error included).
func (m *Member) ask(ctx context.Context, peer string, req request) (answer, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return answer{}, err
	}
	rb, err := m.cfg.Transport.Request(ctx, peer, b)
	if err != nil {
		if errors.Is(err, ErrNotSent) || req.Kind != kindApply && req.Kind != kindVoter {
			return answer{}, fmt.Errorf("%w: %w", ErrNotSent, err)
		}
		return answer{}, fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
	}
	a, err := decodeAnswer(rb)
	if err != nil {
		return answer{}, err
	}
	if a.Err != nil {
		err := a.Err.decode()
		if errors.Is(err, ErrNotWriter) {
			return a, &notWriterError{term: a.Term, writer: a.Writer}
		}
		return a, err
	}
	return a, nil
}

// writerTarget picks who to send a change or a read to: the writer this
// member knows of, else the voters in turn.
func (m *Member) writerTarget(attempt int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.view.Writer != "" {
		return m.view.Writer
	}
	if m.running && slices.Contains(m.view.Voters, m.cfg.Self) {
		return m.cfg.Self // the local replica answers, or names the writer
	}
	m.hint++
	return m.view.Voters[(m.hint+attempt)%len(m.view.Voters)]
}

// setWriterHint records who a voter said the writer is (for members without
// a replica; a replica's own loop knows better).
func (m *Member) setWriterHint(w string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.running {
		m.view.Writer = w
	}
}
