package mount

import (
	"fmt"
	"time"

	"meshfs/content"
)

// Config says how a mount calls the daemon and what the kernel may cache.
type Config struct {
	// Timeout bounds every call to the daemon, and every read, write or
	// commit of an open file; past it the call fails with EIO.
	Timeout time.Duration
	// AttrTTL is how long the kernel may cache an inode's attributes and a
	// directory entry, and how long a directory listing answers lookups.
	AttrTTL time.Duration
	// AllowOther lets users other than the one who mounted use the mount
	// (the kernel's allow_other); without it even root cannot. Mounting
	// with it needs root, or the fusermount helper and user_allow_other
	// in /etc/fuse.conf.
	AllowOther bool
	// FsName is the mount's source as mount(8) shows it.
	FsName string
	// Debug logs every FUSE request.
	Debug bool

	// CacheSize bounds the block cache, in bytes: reads of a file with no
	// uncommitted changes fetch its blocks from the daemon's gateway,
	// verify them, and keep them there, evicting the least recently used.
	// 0 turns the cache off: reads go through the daemon's /api/v0/cat.
	CacheSize int64
	// CacheDir is the folder of the block cache (see [DefaultCacheDir]);
	// "" keeps it in memory, as does a folder that cannot be made or is
	// in use by another mount.
	CacheDir string
	// ReadAhead is how many blocks a sequential read has in flight.
	ReadAhead int
	// Logf, if set, reports what the mount does not stop for (a cache
	// folder it cannot use).
	Logf func(format string, args ...any)
}

// DefaultCacheSize is the block cache's default bound: 1 GiB.
const DefaultCacheSize = 1 << 30

// DefaultConfig returns a 30s timeout, a 1s attribute TTL, a mount only
// its user may use, and a 1 GiB block cache in memory (set CacheDir) read
// with content.DefaultReadAhead blocks in flight.
func DefaultConfig() Config {
	return Config{
		Timeout:   30 * time.Second,
		AttrTTL:   time.Second,
		FsName:    "meshfs",
		CacheSize: DefaultCacheSize,
		ReadAhead: content.DefaultReadAhead,
	}
}

// Validate reports a config that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Timeout <= 0:
		return fmt.Errorf("%w: timeout %v: must be positive", ErrBadConfig, c.Timeout)
	case c.AttrTTL < 0:
		return fmt.Errorf("%w: attribute TTL %v: must not be negative", ErrBadConfig, c.AttrTTL)
	case c.CacheSize < 0:
		return fmt.Errorf("%w: cache size %d: must not be negative", ErrBadConfig, c.CacheSize)
	case c.ReadAhead < 1:
		return fmt.Errorf("%w: read-ahead %d: must be at least 1 block", ErrBadConfig, c.ReadAhead)
	}
	return nil
}
