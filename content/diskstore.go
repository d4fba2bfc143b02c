package content

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/internal/atomicfile"
)

var (
	_ Store        = (*DiskStore)(nil)
	_ BufferGetter = (*DiskStore)(nil)
)

// Layout of a DiskStore folder.
const (
	diskFormatFile  = "FORMAT"
	diskFormat      = "meshfs-blockstore 1\n"
	diskTmpPrefix   = ".tmp-" // temporary block files, in their shard folder
	diskLockFile    = "LOCK"
	diskQuarantine  = ".quarantine"
	diskShardChars  = 2
	diskLockStripes = 256
)

// DiskStore keeps each block in a file of its own, named by its CID, in
// 1024 shard folders (by the CID string's next-to-last two characters, as
// IPFS's flatfs does), each made when a block first goes into it.
//
// Put writes a temporary file, named after the block's CID, in the
// block's shard folder and hands it to the store's committer, which makes
// the Puts waiting at that moment durable together (group commit,
// diskstore_commit.go): one sync makes their data and names durable, then
// they are renamed into place and the Puts return. So an acknowledged
// block survives a crash: under its name, or, if the crash came before a
// later sync made the rename durable, under its temporary name, from
// which the next open renames it into place once its bytes match its CID.
// A torn write is never visible under a block's name: temporary files
// start with a dot, are never taken for blocks, and those that do not
// hold their whole block are removed when the store is next opened. (A
// block deleted before its rename was durable may so come back after a
// crash; it is garbage again, nothing is lost.) Get checks every block
// against its CID; a file that fails is moved to the quarantine folder and
// reported as a *CorruptBlockError, never returned.
type DiskStore struct {
	dir     string
	unlock  func() error
	seed    maphash.Seed
	stripes [diskLockStripes]sync.Mutex // serialize installs, Deletes and quarantines per CID
	closed  atomic.Bool

	// Puts hold closeMu shared while they hand a block to the committer;
	// Close holds it exclusively to stop new ones.
	closeMu   sync.RWMutex
	commits   chan *putRequest // to the committer
	committed chan struct{}    // closed when the committer has ended
	syncer    *batchSyncer     // how a batch is made durable on this platform
	failed    atomic.Pointer[error]

	opts diskOptions

	// The counters are computed by the first Stat (a walk of every shard),
	// so that opening a store to read one file stays cheap. Installs,
	// Delete and quarantine hold countMu shared while they change a file
	// and its count; the walk holds it exclusively.
	countMu sync.RWMutex
	counted bool
	blocks  atomic.Int64
	bytes   atomic.Int64
}

// diskOptions are a DiskStore's internal settings.
type diskOptions struct {
	// volatile stores for a cache: see OpenCacheStore.
	volatile bool
	// beforeSync, if set, runs before the committer's sync number n (from
	// 0); an error fails the sync.
	beforeSync func(n int) error
}

// OpenDiskStore opens (creating it if needed) the store in dir, which one
// process at a time may hold open (ErrStoreLocked otherwise). It removes
// the temporary files of Puts that a crash cut short.
func OpenDiskStore(dir string) (*DiskStore, error) {
	return openDiskStore(dir, diskOptions{})
}

// OpenCacheStore opens (creating it if needed) a DiskStore in dir for a
// cache of blocks that can be fetched again: its Put returns once the
// block is in place under its name, without making it durable, so it
// costs no sync of the file system. A crash may lose the blocks put last
// or leave one torn under its name; like any copy that fails its CID, Get
// reports it as a *CorruptBlockError and quarantines it, never returns
// it. Everything else is as with OpenDiskStore, and a folder may be
// opened either way.
func OpenCacheStore(dir string) (*DiskStore, error) {
	return openDiskStore(dir, diskOptions{volatile: true})
}

func openDiskStore(dir string, opts diskOptions) (*DiskStore, error) {
	s := &DiskStore{dir: dir, seed: maphash.MakeSeed(), opts: opts}
	if err := s.init(); err != nil {
		if s.syncer != nil {
			s.syncer.close()
		}
		if s.unlock != nil {
			s.unlock()
		}
		return nil, fmt.Errorf("content: open disk store %s: %w", dir, err)
	}
	s.startCommitter()
	return s, nil
}

func (s *DiskStore) init() error {
	if err := mkdirAllDurable(s.dir); err != nil {
		return err
	}
	unlock, err := lockDir(s.dir)
	if err != nil {
		return err
	}
	s.unlock = unlock
	fresh := false // a new store has no temporary files to remove
	format, err := os.ReadFile(filepath.Join(s.dir, diskFormatFile))
	switch {
	case err == nil && string(format) != diskFormat:
		return fmt.Errorf("unknown store format %q", format)
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		if err := s.create(); err != nil {
			return err
		}
		fresh = true
	default:
		return err
	}
	if !fresh {
		if err := s.recoverTemporaries(); err != nil {
			return err
		}
	}
	y, err := openBatchSyncer(s.dir)
	if err != nil {
		return err
	}
	s.syncer = y
	return nil
}

// recoverTemporaries finishes or removes the Puts that a crash cut short.
// A temporary block file is named after its block's CID; if its bytes
// match that CID, a sync may have made it durable and its Put may have
// been acknowledged before the rename into place was durable
// (diskstore_commit.go), so it is renamed into place, unless a good copy
// is there. Any other temporary file (torn, or the format file's) is
// removed. No Put of ours is under way, and the lock keeps other
// processes out. The renames are made durable by the store's next sync;
// a crash before it leaves the same files to recover again.
func (s *DiskStore) recoverTemporaries() error {
	stray, _ := filepath.Glob(filepath.Join(s.dir, diskTmpPrefix+"*"))
	for _, p := range stray {
		os.Remove(p)
	}
	for p, err := range s.files(true) {
		if err != nil {
			return err
		}
		if !strings.HasPrefix(filepath.Base(p), diskTmpPrefix) {
			continue
		}
		if final, ok := s.recoverable(p); ok {
			if err := os.Rename(p, final); err == nil {
				continue
			}
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// recoverable reports whether the temporary file at p holds the whole
// block its name gives, in its right shard folder, and the store holds no
// good copy of it; if so it returns the block's path.
func (s *DiskStore) recoverable(p string) (final string, ok bool) {
	key, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(p), diskTmpPrefix), ".")
	c, err := cid.Decode(key)
	if err != nil || CheckCID(c) != nil || c.String() != key {
		return "", false
	}
	final = s.path(key)
	if filepath.Dir(final) != filepath.Dir(p) || !wholeBlockFile(p, c) {
		return "", false
	}
	if wholeBlockFile(final, c) {
		return "", false // already in place: the temporary file is a spare
	}
	return final, true
}

// wholeBlockFile reports whether the file at p holds exactly block c.
func wholeBlockFile(p string, c cid.Cid) bool {
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > MaxBlockSize {
		return false
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	_, err = BlockFromCID(c, data)
	return err == nil
}

// IsDiskStore reports whether dir holds a DiskStore.
func IsDiskStore(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, diskFormatFile))
	return err == nil
}

// mkdirAllDurable creates dir and any missing parents, fsyncing each new
// folder's parent so the folders survive a crash.
func mkdirAllDurable(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := mkdirAllDurable(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(dir))
}

// create lays out a new store; the format file is written last, so a
// store without it is incomplete and is laid out again. The shard folders
// are made by the first Put into each (diskstore_put.go), so that opening
// a new store costs a few folders, not 1024.
func (s *DiskStore) create() error {
	spreadSubdirs(s.dir)
	if err := os.MkdirAll(filepath.Join(s.dir, diskQuarantine), 0o755); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dir, diskFormatFile), []byte(diskFormat), diskTmpPrefix+diskFormatFile+".*")
}

// count adds a block of the given size (negative: removes) to the counters,
// once they exist. The caller holds countMu shared.
func (s *DiskStore) count(blocks, bytes int64) {
	if s.counted {
		s.blocks.Add(blocks)
		s.bytes.Add(bytes)
	}
}

// recount walks the store to set the counters; the caller holds countMu.
func (s *DiskStore) recount() error {
	var blocks, bytes int64
	for p, err := range s.files(false) {
		if err != nil {
			return err
		}
		if c, err := cid.Decode(filepath.Base(p)); err != nil || CheckCID(c) != nil {
			continue // not a block file
		}
		fi, err := os.Lstat(p)
		if err != nil {
			continue // deleted meanwhile
		}
		blocks++
		bytes += fi.Size()
	}
	s.blocks.Store(blocks)
	s.bytes.Store(bytes)
	s.counted = true
	return nil
}

// path returns where the block whose CID string is key lives: in the
// shard folder named by the key's next-to-last two characters.
func (s *DiskStore) path(key string) string {
	n := len(key)
	return filepath.Join(s.dir, key[n-1-diskShardChars:n-1], key)
}

func (s *DiskStore) stripe(c cid.Cid) *sync.Mutex {
	return &s.stripes[maphash.String(s.seed, c.KeyString())%diskLockStripes]
}

// writeFileAtomic writes data to a temporary file beside path (named by
// the os.CreateTemp pattern tmpPattern), fsyncs it, renames it to path and
// fsyncs the folder: for the store's own small files (blocks go through
// Put's group commit).
func writeFileAtomic(path string, data []byte, tmpPattern string) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), tmpPattern)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(path))
}

// Get implements BlockGetter. The bytes are verified against c; a mismatch
// quarantines the file and returns a *CorruptBlockError.
func (s *DiskStore) Get(ctx context.Context, c cid.Cid) (Block, error) {
	return s.GetBuffer(ctx, c, nil)
}

// GetBuffer implements BufferGetter: Get, reading into buf when it is large
// enough.
func (s *DiskStore) GetBuffer(ctx context.Context, c cid.Cid, buf []byte) (Block, error) {
	if err := s.usable(c); err != nil {
		return Block{}, err
	}
	if err := ctx.Err(); err != nil {
		return Block{}, err
	}
	p := s.path(c.String())
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Block{}, notFound(c)
	}
	if err != nil {
		return Block{}, fmt.Errorf("content: get %s: %w", c, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Block{}, fmt.Errorf("content: get %s: %w", c, err)
	}
	if fi.Size() > MaxBlockSize {
		return Block{}, s.quarantine(c, fi, fmt.Errorf("%w: file is %d bytes", ErrBlockTooLarge, fi.Size()))
	}
	data := buf[:0]
	if int64(cap(buf)) < fi.Size() {
		data = make([]byte, fi.Size())
	}
	data = data[:fi.Size()]
	if _, err := io.ReadFull(f, data); err != nil {
		return Block{}, fmt.Errorf("content: get %s: %w", c, err)
	}
	b, err := BlockFromCID(c, data)
	if err != nil {
		return Block{}, s.quarantine(c, fi, err)
	}
	return b, nil
}

// quarantine moves the corrupt file (the one described by read, unless a
// Put replaced it meanwhile) out of the store.
func (s *DiskStore) quarantine(c cid.Cid, read fs.FileInfo, reason error) error {
	cerr := &CorruptBlockError{CID: c, Reason: reason}
	mu := s.stripe(c)
	mu.Lock()
	defer mu.Unlock()
	s.countMu.RLock()
	defer s.countMu.RUnlock()
	p := s.path(c.String())
	now, err := os.Lstat(p)
	if err != nil || !os.SameFile(now, read) {
		return cerr // already gone or replaced by a Put
	}
	q := filepath.Join(s.dir, diskQuarantine, c.String()+"."+strconv.FormatInt(time.Now().UnixNano(), 10))
	if err := os.Rename(p, q); err != nil {
		return cerr
	}
	_ = atomicfile.SyncDir(filepath.Dir(p))
	_ = atomicfile.SyncDir(filepath.Dir(q))
	cerr.Quarantined = q
	s.count(-1, -now.Size())
	return cerr
}

// usable checks that the store is open and c is a CID it can hold.
func (s *DiskStore) usable(c cid.Cid) error {
	if s.closed.Load() {
		return ErrStoreClosed
	}
	return CheckCID(c)
}

// Has implements Store. It does not read or verify the block.
func (s *DiskStore) Has(_ context.Context, c cid.Cid) (bool, error) {
	if err := s.usable(c); err != nil {
		return false, err
	}
	_, err := os.Lstat(s.path(c.String()))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Delete implements Store; the removal is durable when it returns.
func (s *DiskStore) Delete(_ context.Context, c cid.Cid) error {
	if err := s.usable(c); err != nil {
		return err
	}
	p := s.path(c.String())
	mu := s.stripe(c)
	mu.Lock()
	defer mu.Unlock()
	s.countMu.RLock()
	defer s.countMu.RUnlock()
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("content: delete %s: %w", c, err)
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("content: delete %s: %w", c, err)
	}
	s.count(-1, -fi.Size())
	return atomicfile.SyncDir(filepath.Dir(p))
}

// All implements Store, shard by shard.
func (s *DiskStore) All(ctx context.Context) iter.Seq2[cid.Cid, error] {
	return func(yield func(cid.Cid, error) bool) {
		for p, err := range s.files(false) {
			if err == nil {
				err = ctx.Err()
			}
			if err != nil {
				yield(cid.Undef, err)
				return
			}
			c, err := cid.Decode(filepath.Base(p))
			if err != nil || CheckCID(c) != nil {
				continue // not a block file
			}
			if !yield(c, nil) {
				return
			}
		}
	}
}

// files yields the paths of the files in every shard folder: only those
// that may be blocks, or also temporary files.
func (s *DiskStore) files(withTemporary bool) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if s.closed.Load() {
			yield("", ErrStoreClosed)
			return
		}
		shards, err := os.ReadDir(s.dir)
		if err != nil {
			yield("", err)
			return
		}
		for _, sh := range shards {
			if !sh.IsDir() || len(sh.Name()) != diskShardChars {
				continue
			}
			entries, err := os.ReadDir(filepath.Join(s.dir, sh.Name()))
			if err != nil {
				yield("", err)
				return
			}
			names := make([]string, 0, len(entries))
			for _, e := range entries {
				if e.Type().IsRegular() && (withTemporary || !strings.HasPrefix(e.Name(), ".")) {
					names = append(names, e.Name())
				}
			}
			slices.Sort(names)
			for _, n := range names {
				if !yield(filepath.Join(s.dir, sh.Name(), n), nil) {
					return
				}
			}
		}
	}
}

// Stat implements Store. The first call walks the store; later calls read
// counters kept up to date since.
func (s *DiskStore) Stat(context.Context) (StoreStat, error) {
	if s.closed.Load() {
		return StoreStat{}, ErrStoreClosed
	}
	s.countMu.RLock()
	counted := s.counted
	s.countMu.RUnlock()
	if !counted {
		if err := s.countOnce(); err != nil {
			return StoreStat{}, fmt.Errorf("content: counting blocks in %s: %w", s.dir, err)
		}
	}
	return StoreStat{Blocks: s.blocks.Load(), Bytes: s.bytes.Load()}, nil
}

func (s *DiskStore) countOnce() error {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	if s.counted {
		return nil
	}
	return s.recount()
}

// Dir returns the store's folder.
func (s *DiskStore) Dir() string { return s.dir }

// Close implements Store and lets other processes open the store. It
// waits for the Puts under way: every Put that returned without an error
// is durable.
func (s *DiskStore) Close() error {
	s.closeMu.Lock()
	if s.closed.Swap(true) {
		s.closeMu.Unlock()
		return nil
	}
	close(s.commits) // no Put is handing one over: they hold closeMu
	s.closeMu.Unlock()
	<-s.committed
	return errors.Join(s.syncer.close(), s.unlock())
}
