package mount

import (
	"fmt"
	"time"
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
}

// DefaultConfig returns a 30s timeout, a 1s attribute TTL, and a mount
// only its user may use.
func DefaultConfig() Config {
	return Config{
		Timeout: 30 * time.Second,
		AttrTTL: time.Second,
		FsName:  "meshfs",
	}
}

// Validate reports a config that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Timeout <= 0:
		return fmt.Errorf("%w: timeout %v: must be positive", ErrBadConfig, c.Timeout)
	case c.AttrTTL < 0:
		return fmt.Errorf("%w: attribute TTL %v: must not be negative", ErrBadConfig, c.AttrTTL)
	}
	return nil
}
