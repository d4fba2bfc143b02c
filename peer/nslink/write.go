package nslink

import (
	"context"
	"fmt"

	"meshfs/member"
	meshpeer "meshfs/peer"
)

// EndWrite ends the leaser l of a write whose namespace change returned
// (c, err), what naming the write in errors. A change that failed leaves
// its blocks to expire and returns err as it is; one that committed has
// its blocks released at c's index, and if they are no longer held by a
// write quorum the result is member.ErrUnknownOutcome (wrapped): the
// change is in the tree, but its content may not last.
func EndWrite(ctx context.Context, l *meshpeer.Leaser, c member.Commit, err error, what string) error {
	if err != nil {
		l.Done()
		return err
	}
	if err := l.Committed(ctx, c.Index); err != nil {
		return fmt.Errorf("%w: %s committed, but its content may be lost: %w", member.ErrUnknownOutcome, what, err)
	}
	return nil
}
