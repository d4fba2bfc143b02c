package mount

import (
	"sync"
	"time"

	"meshfs/fsclient"
)

// listing is a directory's entries as its last Readdir found them; lookups
// within the attribute TTL answer from it, so a READDIRPLUS costs one
// request, not one per entry.
type listing struct {
	mu      sync.Mutex
	at      time.Time
	entries map[string]fsclient.Info
}

// get returns the entry name if the listing is fresh.
func (l *listing) get(name string, now time.Time, ttl time.Duration) (fsclient.Info, bool, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries == nil || now.Sub(l.at) >= ttl {
		return fsclient.Info{}, false, false
	}
	i, ok := l.entries[name]
	return i, ok, true
}

// set keeps entries, found at.
func (l *listing) set(entries map[string]fsclient.Info, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries, l.at = entries, at
}

// drop forgets the listing, after a change in the directory.
func (l *listing) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
}
