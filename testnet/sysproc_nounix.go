//go:build !unix

package testnet

import (
	"os"
	"syscall"
)

// Without Unix signals, Stop and Close kill the daemons and Pause and Resume
// are not supported.
var (
	sigTerm os.Signal = os.Kill
	sigStop os.Signal
	sigCont os.Signal
)

// sysProcAttr starts a daemon like any child process.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// threadsStopped cannot tell here.
func threadsStopped(int) (all, none, ok bool) { return false, false, false }

// pidAlive cannot tell here: it says no.
func pidAlive(int) bool { return false }
