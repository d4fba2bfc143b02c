package member

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"meshfs/namespace"
)

// Stat describes the inode at p, read at level.
func (m *Member) Stat(ctx context.Context, level Level, p string) (Info, error) {
	if level == Eventual {
		return m.statEventual(ctx, p)
	}
	a, err := m.read(ctx, request{Kind: kindStat, Path: p, Level: level})
	if err != nil {
		return Info{}, err
	}
	if a.Info == nil {
		return Info{}, fmt.Errorf("member: stat %s: empty answer", p)
	}
	return *a.Info, nil
}

// List describes the entries of the directory at p, sorted by name, read
// at level.
func (m *Member) List(ctx context.Context, level Level, p string) ([]Info, error) {
	if level == Eventual {
		return m.listEventual(ctx, p)
	}
	a, err := m.read(ctx, request{Kind: kindList, Path: p, Level: level})
	if err != nil {
		return nil, err
	}
	return a.Entries, nil
}

// Root renders the tree read at level into the mesh and returns its root.
func (m *Member) Root(ctx context.Context, level Level) (RootInfo, error) {
	if level == Eventual {
		r, err := m.findRecord(ctx)
		if err != nil {
			return RootInfo{}, err
		}
		return RootInfo{CID: r.Root, Term: r.Term, Index: r.Index, Writer: r.Writer}, nil
	}
	a, err := m.read(ctx, request{Kind: kindRoot, Level: level})
	if err != nil {
		return RootInfo{}, err
	}
	info := RootInfo{Term: a.Term, Index: a.Index, Writer: a.Writer}
	info.CID, err = parseCID(a.Root)
	return info, err
}

// Pins lists the namespace's pins, read at level (strong or sequential:
// root records do not carry them).
func (m *Member) Pins(ctx context.Context, level Level) ([]PinInfo, error) {
	if level == Eventual {
		level = Sequential
	}
	a, err := m.read(ctx, request{Kind: kindPins, Level: level})
	if err != nil {
		return nil, err
	}
	return a.Pins, nil
}

// voterReadTimeout bounds one voter's answer to a read forwarded to it.
const voterReadTimeout = 2 * time.Second

// read runs a read at a voter: this peer's replica if it has one, else
// the voters in turn.
func (m *Member) read(ctx context.Context, req request) (answer, error) {
	req.MinIndex = m.seenIndex()
	if req.Level == "" {
		req.Level = Strong
	}
	if m.isVoter() {
		// This replica answers, unless it cannot confirm the read in a
		// while: cut off, or removed from the voters without knowing it
		// (the writer sends no more entries to a removed voter).
		lctx, cancel := context.WithTimeout(ctx, voterReadTimeout)
		a, err := m.readLocal(lctx, req)
		cancel()
		if err == nil {
			m.saw(a.Index)
		}
		if !errors.Is(err, ErrNoWriter) || ctx.Err() != nil {
			return a, err
		}
	}
	var last error
	v := m.View()
	var others []string
	for _, p := range v.Voters {
		if p != m.cfg.Self {
			others = append(others, p)
		}
	}
	if len(others) == 0 {
		return answer{}, fmt.Errorf("%w: no other voter to ask", ErrNoWriter)
	}
	backoff := 5 * time.Millisecond
	for attempt := 0; ; attempt++ {
		target := others[(attempt+int(RaftID(m.cfg.Self)%7))%len(others)]
		if w := v.Writer; w != "" && w != m.cfg.Self && attempt == 0 {
			target = w
		}
		// A voter cut off from its quorum never confirms a strong read:
		// give each one a while, then ask the next (reads can be retried).
		actx, cancel := context.WithTimeout(ctx, voterReadTimeout)
		a, err := m.ask(actx, target, req)
		cancel()
		if err == nil {
			m.saw(a.Index)
			return a, nil
		}
		if ctx.Err() == nil && errors.Is(err, ErrUnknownOutcome) {
			err = fmt.Errorf("%w: %w", ErrNotSent, err) // a read: nothing to be unknown about
		}
		if !errors.Is(err, ErrNotSent) && !errors.Is(err, ErrNotWriter) && !errors.Is(err, context.DeadlineExceeded) {
			return a, err
		}
		last = err
		select {
		case <-ctx.Done():
			return answer{}, fmt.Errorf("%w: %w (last: %v)", ErrNoWriter, ctx.Err(), last)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// readLocal runs req on this replica once it is linearizable (strong) or
// has applied MinIndex (sequential).
func (m *Member) readLocal(ctx context.Context, req request) (answer, error) {
	type out struct {
		a   answer
		err error
		pub *publication
	}
	done := make(chan out, 1)
	w := &readWait{ctx: ctx, index: req.MinIndex}
	var l0 *loop
	w.run = func(s *namespace.State, applied uint64) {
		if s == nil {
			done <- out{err: ErrClosed}
			return
		}
		a, pub, err := l0.answerRead(req, s, applied)
		done <- out{a: a, err: err, pub: pub}
	}
	err := m.call(ctx, func(l *loop) {
		l0 = l
		if req.Level == Strong {
			l.queued = append(l.queued, w)
		} else {
			l.waiting = append(l.waiting, w)
		}
	})
	if err != nil {
		return answer{}, err
	}
	select {
	case o := <-done:
		if o.err == nil && o.pub != nil {
			select {
			case <-o.pub.done:
				o.err = o.pub.err
			case <-ctx.Done():
				o.err = ctx.Err()
			}
		}
		return o.a, o.err
	case <-ctx.Done():
		return answer{}, fmt.Errorf("%w: the read was not confirmed in time: %w", ErrNoWriter, ctx.Err())
	case <-m.ctx.Done():
		return answer{}, ErrClosed
	}
}

// answerRead answers a read on the loop's goroutine.
func (l *loop) answerRead(req request, s *namespace.State, applied uint64) (answer, *publication, error) {
	term, lead := l.rep.Writer()
	a := answer{Index: applied, Term: term, Writer: l.peers[lead]}
	switch req.Kind {
	case kindStat:
		n, err := s.Stat(req.Path)
		if err != nil {
			return answer{}, nil, err
		}
		info := infoOf(req.Path, n)
		a.Info = &info
	case kindList:
		entries, err := s.ReadDir(req.Path)
		if err != nil {
			return answer{}, nil, err
		}
		a.Entries = make([]Info, 0, len(entries))
		for _, e := range entries {
			p := path.Join("/", req.Path, e.Name)
			n, err := s.Stat(p)
			if err != nil {
				return answer{}, nil, err
			}
			a.Entries = append(a.Entries, infoOf(p, n))
		}
	case kindPins:
		a.Pins = []PinInfo{}
		for _, p := range s.PinList() {
			a.Pins = append(a.Pins, PinInfo{Label: p.Label, CID: p.CID.String()})
		}
	case kindRoot:
		pub, err := l.render(false)
		if err != nil {
			return answer{}, nil, err
		}
		a.Root = pub.record.Root.String()
		return a, pub, nil
	}
	return a, nil, nil
}

// infoOf describes inode n at p.
func infoOf(p string, n namespace.Inode) Info {
	p = path.Join("/", p)
	i := Info{
		Path: p, Name: path.Base(p), Ino: uint64(n.Ino), Kind: n.Kind.String(),
		Mode: n.Mode(), Uid: n.Uid, Gid: n.Gid, Size: n.Size, Mtime: n.Mtime, Tsize: n.Tsize, Target: n.Target,
	}
	if n.CID.Defined() {
		i.CID = n.CID.String()
	}
	return i
}

// Writer returns what this member knows of the namespace, asking a voter
// for the writer, term and voters when it runs no replica itself.
func (m *Member) Writer(ctx context.Context) (View, error) {
	if m.isVoter() {
		return m.View(), nil
	}
	v := m.View()
	var last error
	for i := range v.Voters {
		target := v.Voters[(i+int(RaftID(m.cfg.Self)%7))%len(v.Voters)]
		a, err := m.ask(ctx, target, request{Kind: kindWriter})
		if err != nil {
			last = err
			continue
		}
		m.mu.Lock()
		if a.Writer != "" {
			m.view.Writer = a.Writer
		}
		m.view.Term = max(m.view.Term, a.Term)
		if len(a.Voters) > 0 {
			m.view.Voters = a.Voters
		}
		m.mu.Unlock()
		return m.View(), nil
	}
	return v, fmt.Errorf("%w: no voter answers: %v", ErrNoWriter, last)
}
