//go:build !(js && wasm)

package blockstore

import (
	"context"
	"fmt"
)

// Open would open the IndexedDB block store; outside a browser build
// (GOOS=js GOARCH=wasm) there is no IndexedDB, so it validates cfg and
// returns an error wrapping [ErrUnavailable].
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: IndexedDB exists only in a browser build (GOOS=js GOARCH=wasm)", ErrUnavailable)
}
