package mount

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestStall(t *testing.T) {
	var s stall
	t0 := time.Unix(1000, 0)
	if s.stalled(t0) {
		t.Fatal("stalled before any call")
	}
	s.note(fmt.Errorf("stat: %w", context.DeadlineExceeded), t0)
	for _, c := range []struct {
		after time.Duration
		want  bool
	}{{0, true}, {stallWindow / 2, true}, {stallWindow, false}, {2 * stallWindow, false}} {
		if got := s.stalled(t0.Add(c.after)); got != c.want {
			t.Errorf("%v after a timeout: stalled %v, want %v", c.after, got, c.want)
		}
	}
	// Calls failed at once do not stretch the stall; an answer ends it.
	s.note(context.Canceled, t0.Add(stallWindow/2))
	s.note(errStalled, t0.Add(stallWindow/2))
	if s.stalled(t0.Add(stallWindow)) {
		t.Error("a call failed at once stretched the stall")
	}
	s.note(errTimeout, t0)
	s.note(errors.New("file does not exist"), t0.Add(time.Millisecond))
	if s.stalled(t0.Add(2 * time.Millisecond)) {
		t.Error("still stalled after an answer")
	}
	s.note(context.DeadlineExceeded, t0)
	s.note(nil, t0)
	if s.stalled(t0) {
		t.Error("still stalled after a success")
	}
}
