package content

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ipfs/go-cid"
)

// ErrStoreFailed is returned by a DiskStore's Puts once it could not make
// a batch of blocks durable: a failed sync may have consumed the report of
// a write error that concerns later blocks too, so the store takes no more
// blocks until it is reopened. Blocks acknowledged before stay good, and
// every block read is verified anyway.
var ErrStoreFailed = errors.New("content: store failed to make blocks durable; reopen it")

// diskCommitQueue is how many Puts may wait to be taken into a batch; a
// batch takes all of them.
const diskCommitQueue = 1024

// putRequest is one Put waiting for its batch to be made durable.
type putRequest struct {
	cid   cid.Cid
	final string     // the block's path
	tmp   string     // its temporary file until renamed; "" if the bytes were already in place
	size  int64      // the block's size when tmp is set
	done  chan error // the batch's outcome; buffered, so that a Put may stop waiting
}

// The committer is one goroutine that makes batches of Puts durable. Each
// round it takes every Put waiting (a batch), makes one sync, which makes
// durable the data of the batch's temporary files and their names, renames
// them into place and tells the batch's Puts they are done. So under load
// one sync serves a batch of many blocks (group commit), and a Put waits
// for one sync. The renames are made durable by the next round's sync, or
// by Close's; if a crash comes first, the temporary file is still there,
// whole, under a name that holds its CID, and the next open renames it
// into place (recoverTemporaries). How a sync is done is the platform's
// batchSyncer: one syncfs of the store's file system on Linux, an fsync of
// each file and folder elsewhere.

func (s *DiskStore) startCommitter() {
	s.commits = make(chan *putRequest, diskCommitQueue)
	s.committed = make(chan struct{})
	go s.runCommitter()
}

// runCommitter commits batches until Close closes s.commits and the last
// requests are committed, then makes the last renames durable.
func (s *DiskStore) runCommitter() {
	defer close(s.committed)
	n := 0
	renamed := false // renames not yet synced
	for open := true; open; {
		var batch []*putRequest
		batch, open = takeBatch(s.commits, true)
		if len(batch) == 0 {
			continue
		}
		err := s.sync(n, batch)
		n++
		if err != nil {
			s.abandon(batch, err)
			continue
		}
		renamed = s.installAll(batch) || renamed
	}
	if renamed && s.failure() == nil {
		_ = s.sync(n, nil) // a failure is the next open's to find
	}
}

// sync makes durable the data and names of every file written before it,
// the batch's among them, and the renames done before it; sync number n.
// A failed sync fails the store (ErrStoreFailed).
func (s *DiskStore) sync(n int, batch []*putRequest) error {
	if err := s.failure(); err != nil {
		return err
	}
	if hook := s.opts.beforeSync; hook != nil {
		if err := hook(n); err != nil {
			return s.fail(fmt.Errorf("sync hook: %w", err))
		}
	}
	if err := s.syncer.sync(requestDirs(batch)); err != nil {
		return s.fail(fmt.Errorf("syncing blocks: %w", err))
	}
	return nil
}

// installAll renames the batch's files, whose data and names are durable,
// into place and tells each request its outcome; it reports whether it
// renamed any.
func (s *DiskStore) installAll(batch []*putRequest) (renamed bool) {
	for _, r := range batch {
		moved := r.tmp != ""
		if err := s.install(r); err != nil {
			os.Remove(r.tmp)
			r.done <- fmt.Errorf("renaming into place: %w", err)
			continue
		}
		renamed = renamed || moved
		r.done <- nil
	}
	return renamed
}

// abandon removes the batch's temporary files and tells its requests err.
func (s *DiskStore) abandon(batch []*putRequest, err error) {
	for _, r := range batch {
		if r.tmp != "" {
			os.Remove(r.tmp)
		}
		r.done <- err
	}
}

// install renames r's temporary file, whose data is durable, into place.
func (s *DiskStore) install(r *putRequest) error {
	if r.tmp == "" {
		return nil
	}
	mu := s.stripe(r.cid)
	mu.Lock()
	defer mu.Unlock()
	s.countMu.RLock()
	defer s.countMu.RUnlock()
	old, oldErr := os.Lstat(r.final)
	if err := os.Rename(r.tmp, r.final); err != nil {
		return err
	}
	r.tmp = ""
	if oldErr == nil {
		s.count(-1, -old.Size())
	}
	s.count(1, r.size)
	return nil
}

// fail records the store's first failed sync and returns err as Puts see
// it.
func (s *DiskStore) fail(err error) error {
	s.failed.CompareAndSwap(nil, &err)
	return fmt.Errorf("%w: %w", ErrStoreFailed, err)
}

// failure returns the error Puts fail with once a sync has failed, or nil.
func (s *DiskStore) failure() error {
	if p := s.failed.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrStoreFailed, *p)
	}
	return nil
}

// takeBatch returns the requests waiting in reqs, waiting for one first
// if wait is set; open is false once reqs is closed.
func takeBatch(reqs <-chan *putRequest, wait bool) (batch []*putRequest, open bool) {
	if wait {
		r, ok := <-reqs
		if !ok {
			return nil, false
		}
		batch = append(batch, r)
	}
	for {
		select {
		case r, ok := <-reqs:
			if !ok {
				return batch, false
			}
			batch = append(batch, r)
		default:
			return batch, true
		}
	}
}

// requestDirs returns the folders of the requests' blocks, each once, in
// the order first met.
func requestDirs(reqs []*putRequest) []string {
	seen := make(map[string]bool, len(reqs))
	var dirs []string
	for _, r := range reqs {
		d := filepath.Dir(r.final)
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}
