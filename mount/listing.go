package mount

import (
	"context"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"meshfs/fsclient"
)

// listing is a directory's entries as its last Readdir found them; lookups
// within the attribute TTL answer from it, so a READDIRPLUS costs one
// request, not one per entry. An entry the directory stream has just
// handed to the kernel counts as fresh from then on: a READDIRPLUS looks
// each entry up right after it is handed out, and in a large directory on
// a slow machine the stream may take longer than the TTL to reach the
// last entries.
type listing struct {
	mu      sync.Mutex
	at      time.Time // when the listing was made: how fresh the absence of a name is
	entries map[string]*listed
}

// listed is one entry of a listing and since when it counts as fresh.
type listed struct {
	info fsclient.Info
	at   time.Time
}

// get returns the entry name, whether it exists, and whether the listing
// answers for it: the listing is there and the entry (or, for a missing
// name, the listing) is fresh.
func (l *listing) get(name string, now time.Time, ttl time.Duration) (fsclient.Info, bool, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries == nil {
		return fsclient.Info{}, false, false
	}
	e, ok := l.entries[name]
	switch {
	case ok && now.Sub(e.at) < ttl:
		return e.info, true, true
	case !ok && now.Sub(l.at) < ttl:
		return fsclient.Info{}, false, true
	}
	return fsclient.Info{}, false, false
}

// set keeps entries, found at.
func (l *listing) set(entries map[string]fsclient.Info, at time.Time) {
	kept := make(map[string]*listed, len(entries))
	for name, i := range entries {
		kept[name] = &listed{info: i, at: at}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries, l.at = kept, at
}

// handedOut marks the entry name as handed to the kernel at now.
func (l *listing) handedOut(name string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[name]; ok {
		e.at = now
	}
}

// drop forgets the listing, after a change in the directory.
func (l *listing) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
}

// listStream hands a directory's entries to the kernel, marking each in
// the listing as it goes. Like go-fuse's list stream, an entry's offset
// is its position, which Seekdir goes back (or forth) to.
type listStream struct {
	entries []fuse.DirEntry
	next    int
	list    *listing
	now     func() time.Time
}

var (
	_ gofs.DirStream     = (*listStream)(nil)
	_ gofs.FileSeekdirer = (*listStream)(nil)
)

func (s *listStream) HasNext() bool { return s.next < len(s.entries) }

func (s *listStream) Next() (fuse.DirEntry, syscall.Errno) {
	e := s.entries[s.next]
	s.next++
	e.Off = uint64(s.next)
	s.list.handedOut(e.Name, s.now())
	return e, 0
}

func (s *listStream) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if off > uint64(len(s.entries)) {
		return syscall.EINVAL
	}
	s.next = int(off)
	return 0
}

func (s *listStream) Close() {}
