//go:build unix

package testnet

import (
	"errors"
	"os"
	"syscall"
)

// The signals of the faults: SIGTERM to stop, SIGSTOP and SIGCONT to pause
// and resume.
var (
	sigTerm os.Signal = syscall.SIGTERM
	sigStop os.Signal = syscall.SIGSTOP
	sigCont os.Signal = syscall.SIGCONT
)

// pidAlive reports whether a process with this pid exists.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
