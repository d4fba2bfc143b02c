package testnet

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts a daemon in its own process group, so a terminal's Ctrl-C
// reaches only the launcher, which stops the daemons itself; and has the
// kernel kill the daemon if its launcher dies first (the launcher never
// ends the OS thread that started a daemon: no goroutine of it locks one).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// threadsStopped reports whether every thread of process pid is stopped by a
// signal (all true) and whether none is (none true). ok is false if the
// states cannot be read.
func threadsStopped(pid int) (all, none, ok bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil || len(tasks) == 0 {
		return false, false, false
	}
	all, none = true, true
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "stat"))
		if err != nil {
			continue // the thread ended
		}
		// "tid (comm) S ...": the state follows the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 >= len(s) {
			return false, false, false
		}
		if s[i+2] == 'T' {
			none = false
		} else {
			all = false
		}
	}
	return all, none, true
}
