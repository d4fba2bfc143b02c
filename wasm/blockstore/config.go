package blockstore

import (
	"fmt"

	"meshfs/content"
)

// Defaults of [DefaultConfig].
const (
	DefaultName     = "meshfs-blocks"
	DefaultMaxBytes = 256 << 20
)

// Config says which database a Store uses and how much it may hold.
type Config struct {
	// Name is the IndexedDB database name (one per origin). Default
	// DefaultName. Unused by NewMemory.
	Name string
	// MaxBytes bounds the block bytes held; past it the least recently used
	// blocks are evicted. It is at least content.MaxBlockSize, so that any
	// block fits. Default DefaultMaxBytes (256 MiB).
	MaxBytes int64
	// Hash, if set, is the SHA-256 a Get verifies blocks with
	// ([content.BlockFromCIDHasher]) instead of crypto/sha256: the browser
	// node passes WebCrypto's.
	Hash content.Hasher
}

// DefaultConfig returns the defaults: database DefaultName, 256 MiB.
func DefaultConfig() Config {
	return Config{Name: DefaultName, MaxBytes: DefaultMaxBytes}
}

// Validate reports a field out of range, wrapping [content.ErrInvalidOption].
func (c Config) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("%w: blockstore: empty database name", content.ErrInvalidOption)
	}
	if c.MaxBytes < content.MaxBlockSize {
		return fmt.Errorf("%w: blockstore: MaxBytes %d is below the largest block (%d bytes)",
			content.ErrInvalidOption, c.MaxBytes, content.MaxBlockSize)
	}
	return nil
}
