package chaos

import (
	"sync"
	"time"
)

// Outcome is how an operation ended.
type Outcome int

// The outcomes.
const (
	OK      Outcome = iota // answered: applied, or refused with a definite error the model predicts (Result)
	Failed                 // refused before it was taken: certainly not applied
	Unknown                // timed out or cut: applied or not, at any time after its invocation
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Failed:
		return "failed"
	case Unknown:
		return "unknown"
	}
	return "?"
}

// Kind is what an operation does, named like the API call it makes.
type Kind string

// The kinds of operations the workload does.
const (
	Write  Kind = "write"  // POST fs/write: the whole content of a file, made if missing
	Append Kind = "append" // POST fs/write?append=1&create=0: bytes at the end of an existing file
	Read   Kind = "read"   // GET fs/cat, strong
	Mkdir  Kind = "mkdir"  // POST fs/mkdir (no parents)
	Rename Kind = "rename" // POST fs/mv: Path to To, replacing a file (or an empty folder)
	Remove Kind = "rm"     // POST fs/rm: a file or an empty folder
	List   Kind = "ls"     // GET fs/ls, strong: the names, kinds and sizes in a folder
)

// Kinds lists the kinds in the order summaries show them.
var Kinds = []Kind{Write, Append, Read, List, Mkdir, Rename, Remove}

// Op is one client operation, as the client saw it.
type Op struct {
	Client int
	Kind   Kind
	Path   string // the file or folder (rename's source)
	To     string // rename's target
	// Value is what a write or append sent, or what an ok read or ls
	// answered (a read's bytes; an ls in listing's form).
	Value string
	// Result is, for an OK operation, the error kind the daemon answered
	// ("notexist", "exist", "notdir", "isdir", "notempty", "invalid"), or
	// "" for success: a definite answer the model must predict.
	Result  string
	Invoke  time.Time
	Return  time.Time
	Outcome Outcome
	Err     string // why it failed or is unknown
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
