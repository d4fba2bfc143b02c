//go:build unix && !linux

package testnet

import "syscall"

// sysProcAttr puts a daemon in its own process group, so a terminal's Ctrl-C
// reaches only the launcher, which stops the daemons itself.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// threadsStopped cannot tell here: Pause and Resume return once the signal
// is sent.
func threadsStopped(int) (all, none, ok bool) { return false, false, false }
