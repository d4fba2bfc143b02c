package chaos

import (
	"sync"
	"time"
)

// Outcome is how an operation ended.
type Outcome int

// The outcomes.
const (
	OK      Outcome = iota // acknowledged
	Failed                 // refused: certainly not applied
	Unknown                // timed out or cut: applied or not
)

// Op is one client operation on one register (a file).
type Op struct {
	Client  int
	Path    string
	Write   bool   // a write of Value, else a read
	Value   string // written, or read ("" for a missing file)
	Invoke  time.Time
	Return  time.Time
	Outcome Outcome
	Err     string
}

// History records operations from many clients.
type History struct {
	mu  sync.Mutex
	ops []Op
}

// Add records a completed operation.
func (h *History) Add(op Op) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Ops returns the operations recorded so far.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}
