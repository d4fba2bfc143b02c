package namespace

import (
	"io"
	"log"
)

// discardLogger silences the Raft library; the driver reports what matters.
func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
