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

// WaitFor calls cond every 50 ms until it returns nil or d passes (or ctx
// ends), and then returns cond's last error: the tests' poll with a
// deadline.
func WaitFor(ctx context.Context, d time.Duration, cond func() error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last error
	err := poll(ctx, 50*time.Millisecond, func(context.Context) (string, error) {
		if last = cond(); last != nil {
			return last.Error(), nil
		}
		return "", nil
	})
	if err != nil {
		return fmt.Errorf("after %v: %w", d, last)
	}
	return nil
}
