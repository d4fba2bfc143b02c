// Package testrand gives tests a random source whose seed is logged, so a
// failure can be replayed with MESHFS_SEED=N.
package testrand

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// New returns a source seeded from MESHFS_SEED, or at random, and logs the
// seed.
func New(t testing.TB) *rand.Rand {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv("MESHFS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MESHFS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (rerun with MESHFS_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Bytes returns n bytes from r.
func Bytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
