package gc

import (
	"errors"
	"fmt"
)

// Sentinel errors of package gc; check them with [errors.Is].
var (
	// ErrIncompleteMark is returned when a live set is used for something
	// that needs it complete (building a [Summary]) while some dag-pb node
	// under its roots could not be fetched or decoded: the blocks below
	// such a node are unknown, so nothing may be collected on its word.
	ErrIncompleteMark = errors.New("gc: incomplete mark")
	// ErrMalformed is returned by the decoders ([DecodeSummary],
	// [DecodeDeadSince], [DecodeLeases]) for bytes that are not the
	// canonical encoding of a valid value.
	ErrMalformed = errors.New("gc: malformed encoding")
	// ErrInvalidConfig is returned by [Config.Validate] and by constructors
	// given out-of-range parameters.
	ErrInvalidConfig = errors.New("gc: invalid config")
	// ErrSummaryMismatch is returned by [CheckSummary] for a summary that
	// does not describe the root record it came with.
	ErrSummaryMismatch = errors.New("gc: summary does not match root record")
	// ErrStaleSummary is returned by [CheckSummary] for a summary older
	// than the one the holder already trusts.
	ErrStaleSummary = errors.New("gc: summary older than the trusted one")
)

// malformed wraps ErrMalformed with a description.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// invalid wraps ErrInvalidConfig with a description.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}
