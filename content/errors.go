package content

import (
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
)

// Sentinel errors of the content layer; check them with [errors.Is].
var (
	// ErrBlockTooLarge is returned for a block over MaxBlockSize bytes. It is
	// detected before the bytes are hashed or, when reading, buffered.
	ErrBlockTooLarge = errors.New("content: block too large")
	// ErrNotFound is returned when a store or getter does not have a block.
	ErrNotFound = errors.New("content: block not found")
	// ErrHashMismatch is returned when bytes do not hash to the CID they
	// were presented under.
	ErrHashMismatch = errors.New("content: bytes do not match CID")
	// ErrCorruptBlock is returned by a store whose stored copy of a block no
	// longer matches its CID; the copy has been quarantined.
	ErrCorruptBlock = errors.New("content: corrupt block in store")
	// ErrUnsupportedCID is returned for a CID that is not v1 sha2-256 with
	// the raw or dag-pb codec.
	ErrUnsupportedCID = errors.New("content: unsupported CID")
	// ErrMalformed is returned by the dag-pb and UnixFS decoders for bytes
	// that are not a valid node.
	ErrMalformed = errors.New("content: malformed node")
	// ErrNotFile is returned when a DAG that should be a UnixFS file is not.
	ErrNotFile = errors.New("content: not a UnixFS file")
	// ErrInvalidOption is returned for an out-of-range option, such as a
	// chunk size outside [MinChunkSize, MaxChunkSize].
	ErrInvalidOption = errors.New("content: invalid option")
	// ErrStoreClosed is returned by a store after Close.
	ErrStoreClosed = errors.New("content: store closed")
	// ErrStoreLocked is returned when another process has the store open.
	ErrStoreLocked = errors.New("content: store in use by another process")
)

// CorruptBlockError says which block a store found corrupt and where its bad
// copy was moved. It wraps ErrCorruptBlock.
type CorruptBlockError struct {
	CID         cid.Cid
	Quarantined string // path of the quarantined copy, empty if it could not be moved
	Reason      error  // why it is corrupt (e.g. ErrHashMismatch)
}

func (e *CorruptBlockError) Error() string {
	s := fmt.Sprintf("content: corrupt block %s in store: %v", e.CID, e.Reason)
	if e.Quarantined != "" {
		s += " (quarantined at " + e.Quarantined + ")"
	}
	return s
}

// Unwrap lets errors.Is match ErrCorruptBlock and the reason.
func (e *CorruptBlockError) Unwrap() []error { return []error{ErrCorruptBlock, e.Reason} }

// notFound wraps ErrNotFound with the CID that was asked for.
func notFound(c cid.Cid) error { return fmt.Errorf("%w: %s", ErrNotFound, c) }

// malformed wraps ErrMalformed with a description.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
