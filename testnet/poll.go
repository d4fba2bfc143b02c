package testnet

import (
	"context"
	"fmt"
	"time"
)

// poll calls check every interval until the condition holds, check fails,
// or ctx ends. check returns "" when the condition holds, otherwise why it
// does not yet; an error from check ends the poll at once. When ctx ends
// first, the error wraps ErrNotReady and says the last reason.
func poll(ctx context.Context, every time.Duration, check func(context.Context) (string, error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		why, err := check(ctx)
		if err != nil {
			return err
		}
		if why == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s (%w)", ErrNotReady, why, context.Cause(ctx))
		case <-t.C:
		}
	}
}
