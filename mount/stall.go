package mount

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"time"
)

// stallWindow is how long after a call to the daemon ran out of time the
// next calls fail at once rather than wait as long again.
const stallWindow = time.Second

// errStalled is why a call failed at once: one ran out of time just
// before.
var errStalled = errors.New("mount: the daemon did not answer the call before")

// stall remembers that a call ran out of time. The kernel may make
// several calls for one system call (an entry that fails to revalidate is
// looked up again at once), so without it a system call could take a
// multiple of the timeout to fail when the daemon cannot answer (no
// writer reachable for a strong read or a change). The calls that begin
// within stallWindow after a timeout fail with EIO at once; the first
// after it, or any success, ends the stall.
type stall struct {
	mu sync.Mutex
	at time.Time // when a call last ran out of time; zero if none since a success
}

// stalled reports whether a call beginning at now should fail at once.
func (s *stall) stalled(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.at.IsZero() && now.Sub(s.at) < stallWindow
}

// note records how a call that ended at now went: a timeout starts a
// stall, an answer from the daemon ends one; a call failed at once
// changes nothing.
func (s *stall) note(err error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errTimeout):
		s.at = now
	case errors.Is(err, context.Canceled) || errors.Is(err, errStalled):
	default:
		s.at = time.Time{}
	}
}

// call returns a context bounded by the config's timeout for one call
// to the daemon, already ended (with errStalled) while the daemon is
// stalled; end the call with errno. It is not derived from the FUSE
// request's context on purpose: the kernel interrupts a request at any
// signal of the calling process (the Go runtime's SIGURG included), and a
// commit cut off that way would be lost.
func (m *meshFS) call() (context.Context, context.CancelFunc) {
	if m.stall.stalled(m.now()) {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errStalled)
		return ctx, func() {}
	}
	return context.WithTimeout(context.Background(), m.cfg.Timeout)
}

// errno returns the errno of a call made with a context from call, and
// notes whether it ran out of time.
func (m *meshFS) errno(err error) syscall.Errno {
	m.stall.note(err, m.now())
	return toErrno(err)
}
