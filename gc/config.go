package gc

import (
	"math"
	"time"
)

// Config holds the collection parameters a mesh agrees on. The writer uses
// Roots and FPRate to build summaries; holders use Grace and LeaseTTL.
type Config struct {
	// Roots is K, how many of the namespace's newest committed roots stay
	// live (1 to MaxCoverRoots; 16 by default).
	Roots int
	// FPRate is the summary's target false-positive rate: the share of
	// dead blocks that look live to a holder (in (0, 0.5]; 0.01 by
	// default). It never makes a live block look dead.
	FPRate float64
	// Grace is how long a block must be seen dead, continuously, before a
	// holder deletes it (1 h by default). It is the second line of defence
	// (doc.go): it covers a Release that never arrived and clock skew.
	Grace time.Duration
	// LeaseTTL is how long a pushed block stays protected before its
	// operation commits (15 min by default); a client asks for at most this
	// and a holder grants at most this from its own clock.
	LeaseTTL time.Duration
}

// DefaultConfig returns K = 16, a 1% false-positive rate, a 1 h grace
// period and 15 min leases.
func DefaultConfig() Config {
	return Config{Roots: 16, FPRate: 0.01, Grace: time.Hour, LeaseTTL: 15 * time.Minute}
}

// Validate reports a parameter out of range, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.Roots < 1 || c.Roots > MaxCoverRoots:
		return invalid("Roots = %d, want 1 to %d", c.Roots, MaxCoverRoots)
	case !(c.FPRate > 0 && c.FPRate <= 0.5) || math.IsNaN(c.FPRate):
		return invalid("FPRate = %v, want (0, 0.5]", c.FPRate)
	case c.Grace <= 0:
		return invalid("Grace = %v, want > 0", c.Grace)
	case c.LeaseTTL <= 0:
		return invalid("LeaseTTL = %v, want > 0", c.LeaseTTL)
	}
	return nil
}
